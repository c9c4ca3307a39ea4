package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// A person's decisions about the rows the duplicate guard held (release,
// drop), and the record of decisions.

// ReleaseHeld releases a row the guard held: it is paid as its batch is
// (now, if the batch was released already). The decision is recorded with
// who and why in the same transaction.
func (s *Service) ReleaseHeld(ctx context.Context, cmd ledgerapi.RowCommand) error {
	return s.decideHeld(ctx, cmd, ActionRelease)
}

// DropHeld drops a row the guard held: it is cancelled and never paid.
func (s *Service) DropHeld(ctx context.Context, cmd ledgerapi.RowCommand) error {
	return s.decideHeld(ctx, cmd, ActionDrop)
}

func (s *Service) decideHeld(ctx context.Context, cmd ledgerapi.RowCommand, action string) error {
	if err := checkCommand(cmd.Batch, cmd.By, &cmd.Reason); err != nil {
		return err
	}
	var stale *earlierRow
	err := s.w.Do(ctx, func(tx *Tx) error {
		stale = nil
		if err := decidedAs(ctx, tx); err != nil {
			return err
		}
		r, err := loadRow(tx, cmd.Batch, cmd.Row)
		if err != nil {
			return err
		}
		var decision string
		err = tx.QueryRow(`SELECT decision FROM holds WHERE batch_id = ? AND row_no = ?`, cmd.Batch, cmd.Row).Scan(&decision)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: row %d of %s was not held by the duplicate guard", errInvalid, cmd.Row, cmd.Batch)
		}
		if err != nil {
			return fmt.Errorf("read hold of %s/%d: %w", cmd.Batch, cmd.Row, err)
		}
		word := map[string]string{ActionRelease: "released", ActionDrop: "dropped"}[action]
		if decision != "" {
			if decision == word {
				return nil // the same decision again
			}
			return fmt.Errorf("%w: row %d of %s was %s already", errInvalid, cmd.Row, cmd.Batch, decision)
		}
		switch r.BatchStatus {
		case payout.BatchRejected:
			return fmt.Errorf("%w: batch %s was rejected; nothing of it is paid", errInvalid, cmd.Batch)
		case payout.BatchReceiving:
			// The seal counts the holds for the approval policy: a row is
			// decided once the batch and its totals can be seen whole.
			return fmt.Errorf("%w: batch %s is still arriving; decide its held rows once it is sealed", errInvalid, cmd.Batch)
		}
		if action == ActionRelease && r.State == payout.StateReceived {
			if stale, err = s.liveRepeat(tx, r, cmd.Row); err != nil || stale != nil {
				return err
			}
		}
		now := formatTime(tx.Now)
		if _, err := tx.Exec(`UPDATE holds SET decision = ?, decided_by = ?, decided_at = ?, decision_reason = ?
			WHERE batch_id = ? AND row_no = ?`, word, cmd.By, now, cmd.Reason, cmd.Batch, cmd.Row); err != nil {
			return fmt.Errorf("decide hold of %s/%d: %w", cmd.Batch, cmd.Row, err)
		}
		if _, err := tx.Exec(`UPDATE rows SET held = 0, reason = '', updated_at = ? WHERE batch_id = ? AND row_no = ?`, now, cmd.Batch, cmd.Row); err != nil {
			return fmt.Errorf("decide hold of %s/%d: %w", cmd.Batch, cmd.Row, err)
		}
		detail := word + " by " + cmd.By + ": " + cmd.Reason
		if err := recordDecision(tx, cmd.By, action, cmd.Batch, cmd.Row, cmd.Reason, ""); err != nil {
			return err
		}
		if r.State == payout.StateReceived {
			if action == ActionDrop {
				if err := s.cancelOne(tx, r, "dropped by "+cmd.By+": "+cmd.Reason, "held_dropped", ledgerapi.SourceOperator, detail); err != nil {
					return err
				}
			} else if err := s.releaseOne(tx, r, detail); err != nil {
				return err
			}
		}
		if n, err := heldRows(tx, cmd.Batch); err != nil {
			return err
		} else if n == 0 {
			if err := closeBatchExceptions(tx, cmd.Batch, "every held row was decided", reconcile.HeldRows); err != nil {
				return err
			}
		}
		return finishBatch(tx, cmd.Batch)
	})
	if err != nil {
		return err
	}
	if stale != nil {
		return s.restateHold(ctx, cmd, stale)
	}
	s.log.Info("held row decided", logkey.Batch, cmd.Batch, logkey.Row, cmd.Row, "decision", action, "by", cardmask.Redact(cmd.By),
		"reason", cardmask.Redact(cmd.Reason))
	wake(s.kick)
	return nil
}

// liveRepeat finds, at the release of held row r, the best earlier row it
// repeats now when that is not the row its hold names (the hold was
// written when the row was recorded; another re-export, or another payment
// to the same payee, may have been released or paid since, or the named
// row failed while another counts). The release is then refused and the
// hold restated. Both of the guard's rules are asked again: the reference
// (a row of another batch paid or in flight, liveRepeatQuery) and the
// payee (the same payee and amount under another reference, paid or in
// flight, within DuplicateWindow: earlierPayee), rows still held for a
// person's decision left out; the best is the one better orders first
// (a repeat, then a paid row). A hold that names the best row stands: a
// person who releases a row knowing it repeats a payment knows enough, and
// naming each of two earlier rows in turn would never let a release
// through.
func (s *Service) liveRepeat(tx *Tx, r *rowRec, row int) (*earlierRow, error) {
	var named string
	var namedRow int
	var payee []byte
	if err := tx.QueryRow(`SELECT h.earlier_batch, h.earlier_row, o.payee FROM holds h, rows o
		WHERE h.batch_id = ? AND h.row_no = ? AND o.batch_id = h.batch_id AND o.row_no = h.row_no`, r.Batch, row).
		Scan(&named, &namedRow, &payee); err != nil {
		return nil, fmt.Errorf("read hold of %s/%d: %w", r.Batch, row, err)
	}
	best := &earlierRow{kind: HoldRepeat, row: row}
	err := scanRepeat(tx.QueryRow(liveRepeatQuery, r.Reference, r.Batch, formatTime(tx.Now.Add(-s.cfg.RepeatRetention))), best)
	switch {
	case isNoRows(err):
		best = nil
	case err != nil:
		return nil, fmt.Errorf("check held row %s/%d again: %w", r.Batch, row, err)
	}
	if best == nil && payee != nil {
		g, err := s.guardIndex()
		if err != nil {
			return nil, err
		}
		if best, err = earlierPayee(tx, g.payees, payee, r.Amount, r.Reference, rowRef{r.Batch, row},
			tx.Now.Add(-s.cfg.DuplicateWindow), nil, true); err != nil {
			return nil, fmt.Errorf("check held row %s/%d again: %w", r.Batch, row, err)
		}
		if best != nil {
			best.row, best.sameBatch = row, best.batch == r.Batch
		}
	}
	if best == nil || best.batch == named && best.no == namedRow {
		return nil, nil
	}
	return best, nil
}

// restateHold names in a held row's hold the row it repeats now, and
// refuses the release that found it: the person decides again on what is
// true now.
func (s *Service) restateHold(ctx context.Context, cmd ledgerapi.RowCommand, e *earlierRow) error {
	var reason string
	err := s.w.Do(ctx, func(tx *Tx) error {
		r, err := loadRow(tx, cmd.Batch, cmd.Row)
		if err != nil {
			return err
		}
		reason = e.reason(r.Reference)
		if _, err := tx.Exec(`UPDATE holds SET kind = ?, earlier_batch = ?, earlier_row = ?, reason = ?
			WHERE batch_id = ? AND row_no = ? AND decision = ''`, e.kind, e.batch, e.no, reason, cmd.Batch, cmd.Row); err != nil {
			return fmt.Errorf("restate hold of %s/%d: %w", cmd.Batch, cmd.Row, err)
		}
		if _, err := tx.Exec(`UPDATE rows SET reason = ?, updated_at = ? WHERE batch_id = ? AND row_no = ? AND held = 1`,
			reason, formatTime(tx.Now), cmd.Batch, cmd.Row); err != nil {
			return fmt.Errorf("restate hold of %s/%d: %w", cmd.Batch, cmd.Row, err)
		}
		return logTransition(tx, r, r.State, r.State, r.Gen, r.Attempt,
			ledgerapi.Evidence{Source: ledgerSource, Detail: "hold restated by the duplicate guard: " + reason}, "", "", "", "", "", reason)
	})
	if err != nil {
		return err
	}
	s.log.Warn("release of a held row refused: it repeats another row now", logkey.Batch, cmd.Batch, logkey.Row, cmd.Row,
		"earlier_batch", e.batch, "earlier_row", e.no)
	return ledgerapi.Errorf(ledgerapi.CodeConflict, "row %d of %s was not released: %s now; its hold says so, look again",
		cmd.Row, cmd.Batch, reason)
}

// releaseOne moves a received row to queued when its batch was released
// and nothing stops it; otherwise the batch's release takes it later.
func (s *Service) releaseOne(tx *Tx, r *rowRec, detail string) error {
	if r.State != payout.StateReceived || r.BatchStatus != payout.BatchReleased || r.CardWait {
		return nil // a row waiting for its card: the capture releases it
	}
	var stop, hold string
	if err := tx.QueryRow(`SELECT r.stop, b.hold_source FROM rows r, batches b WHERE b.id = r.batch_id AND r.batch_id = ? AND r.row_no = ?`,
		r.Batch, r.Row).Scan(&stop, &hold); err != nil {
		return fmt.Errorf("read %s/%d: %w", r.Batch, r.Row, err)
	}
	if stop != "" || hold != "" {
		return nil // its resume releases it
	}
	return s.apply(tx, r, &ledgerapi.Transition{Batch: r.Batch, Row: r.Row, To: payout.StateQueued,
		Evidence: ledgerapi.Evidence{Source: ledgerSource, Detail: detail}})
}

// cancelOne cancels one row that is not at the bank yet.
func (s *Service) cancelOne(tx *Tx, r *rowRec, reason, code string, source ledgerapi.Source, detail string) error {
	return s.apply(tx, r, &ledgerapi.Transition{Batch: r.Batch, Row: r.Row, To: payout.StateCancelled, ErrorCode: code,
		Reason: reason, Evidence: ledgerapi.Evidence{Source: source, Detail: detail}})
}

// Actions a person (or the breaker) takes, as the decisions table keeps them.
const (
	ActionRelease  = "release"
	ActionDrop     = "drop"
	ActionCancel   = "cancel"
	ActionHold     = "hold"
	ActionResume   = "resume"
	ActionResubmit = "resubmit"
	ActionApprove  = "approve"
)

// recordDecision keeps a decision with who and why; row 0 is the batch.
func recordDecision(tx *Tx, actor, action, batch string, row int, reason, detail string) error {
	var rowArg any
	if row > 0 {
		rowArg = row
	}
	if _, err := tx.Exec(`INSERT INTO decisions (at, actor, action, batch_id, row_no, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		formatTime(tx.Now), actor, action, batch, rowArg, reason, detail); err != nil {
		return fmt.Errorf("record decision %s on %s: %w", action, batch, err)
	}
	return nil
}

// DecisionRecord is a recorded decision on a batch or a row.
type DecisionRecord = ledgerapi.DecisionRecord

// Decisions lists the decisions taken on a batch, oldest first.
func (db *DB) Decisions(ctx context.Context, batch string) ([]DecisionRecord, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT at, actor, action, coalesce(row_no, 0), reason, detail FROM decisions
		WHERE batch_id = ? ORDER BY id`, batch)
	if err != nil {
		return nil, fmt.Errorf("list decisions of %s: %w", batch, err)
	}
	defer rows.Close()
	var out []DecisionRecord
	for rows.Next() {
		var d DecisionRecord
		var at string
		if err := rows.Scan(&at, &d.By, &d.Action, &d.Row, &d.Reason, &d.Detail); err != nil {
			return nil, fmt.Errorf("list decisions of %s: %w", batch, err)
		}
		d.At = parseTime(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// checkCommand refuses a person's command without a batch, a name or a
// reason, or with a reason over MaxReason characters: every decision is
// recorded with who and why. The reason is trimmed and passes the card
// masker (it is stored and shown back).
func checkCommand(batch, by string, reason *string) error {
	*reason = cleanReason(*reason)
	switch {
	case !payout.ValidBatchID(batch):
		return fmt.Errorf("%w: %s is not a batch id", errInvalid, strconv.Quote(cardmask.Redact(batch)))
	case strings.TrimSpace(by) == "":
		return fmt.Errorf("%w: who decides is required", errInvalid)
	case *reason == "":
		return fmt.Errorf("%w: a reason is required", errInvalid)
	}
	return checkReason(*reason)
}

// MaxReason bounds the reason a person gives for a decision, in characters.
const MaxReason = 500

// cleanReason is a reason as the ledger keeps it: trimmed, card numbers
// masked.
func cleanReason(s string) string { return cardmask.Redact(strings.TrimSpace(s)) }

// checkReason refuses a reason over MaxReason characters, or with a
// character that is not text (checkText).
func checkReason(reason string) error {
	if n := utf8.RuneCountInString(reason); n > MaxReason {
		return fmt.Errorf("%w: the reason is %d characters long; at most %d", errInvalid, n, MaxReason)
	}
	return checkText("the reason", reason)
}

// checkText refuses what a person wrote (a reason, a comment) when it
// holds a character that is not text, as the payout file's cells do
// (internal/batch): a control character but tab and line breaks (an ANSI
// escape rewrites what `ledger audit` shows on a terminal), a C1 control,
// an invisible format character (Unicode Cf: a bidirectional override
// makes a page show the text reversed) or a line or paragraph separator.
func checkText(what, s string) error {
	pos := 0
	for _, r := range s {
		pos++
		bad := r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r >= 0x7f && r <= 0x9f ||
			r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Cf, r)
		if bad {
			return fmt.Errorf("%w: %s holds the character U+%04X (a control or invisible character) at character %d; "+
				"write it as plain text", errInvalid, what, r, pos)
		}
	}
	return nil
}

// closeBatchExceptions closes a batch's open exceptions of the categories.
func closeBatchExceptions(tx *Tx, batch, resolution string, categories ...reconcile.Category) error {
	for _, c := range categories {
		if _, err := tx.Exec(`UPDATE exceptions SET closed_at = ?, resolution = ?
			WHERE batch_id = ? AND category = ? AND closed_at IS NULL`, formatTime(tx.Now), resolution, batch, string(c)); err != nil {
			return fmt.Errorf("close exceptions of %s: %w", batch, err)
		}
	}
	return nil
}
