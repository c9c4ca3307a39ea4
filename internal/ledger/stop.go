package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/reconcile"
)

// Stopping exactly where asked. A batch or a row on hold starts nothing
// new: the transitions that begin work at the bank are refused (and with
// them Transition.Sending, the fence in front of every call that opens or
// starts work), the release and the sweeper's re-enqueue pass it by, and
// the gate answers wait to a session at ready_to_confirm instead of
// confirming or cancelling it. Resume re-enqueues the rows before the
// bank with a new gen and asks the gate again for every row it told to
// wait (a hook job replaying the webhook from PAYRUN_HOOKS, else a poll).
// A cancelled row settles as the rows of a cancelled batch do.

// Hold puts a batch (cmd.Row 0) or one row on hold.
func (s *Service) Hold(ctx context.Context, cmd ledgerapi.RowCommand) error {
	if err := checkCommand(cmd.Batch, cmd.By, &cmd.Reason); err != nil {
		return err
	}
	err := s.w.Do(ctx, func(tx *Tx) error {
		if err := decidedAs(ctx, tx); err != nil {
			return err
		}
		if cmd.Row == 0 {
			return s.holdBatch(tx, cmd.Batch, ledgerapi.HoldByOperator, cmd.By, cmd.Reason)
		}
		r, err := loadRow(tx, cmd.Batch, cmd.Row)
		if err != nil {
			return err
		}
		switch {
		case r.State.Terminal():
			return fmt.Errorf("%w: row %d of %s is %s", errInvalid, r.Row, r.Batch, r.State)
		case r.Stop == stopCancel:
			return fmt.Errorf("%w: row %d of %s was cancelled", errInvalid, r.Row, r.Batch)
		case r.Stop == stopHold:
			return nil
		}
		if err := setStop(tx, r, stopHold, cmd.By, cmd.Reason); err != nil {
			return err
		}
		return recordDecision(tx, cmd.By, ActionHold, cmd.Batch, cmd.Row, cmd.Reason, "at "+string(r.State))
	})
	if err != nil {
		return err
	}
	s.log.Info("on hold", logkey.Batch, cmd.Batch, logkey.Row, cmd.Row, "by", cardmask.Redact(cmd.By), "reason", cardmask.Redact(cmd.Reason))
	return nil
}

// holdBatch puts a batch on hold; a batch on hold already keeps its first
// hold.
func (s *Service) holdBatch(tx *Tx, batch, source, by, reason string) error {
	st, _, err := batchStatus(tx, batch)
	if err != nil {
		return err
	}
	switch st {
	case payout.BatchCancelled, payout.BatchRejected, payout.BatchDone:
		return fmt.Errorf("%w: batch %s is %s", errInvalid, batch, st)
	}
	res, err := tx.Exec(`UPDATE batches SET hold_source = ?, hold_by = ?, hold_reason = ?, hold_at = ? WHERE id = ? AND hold_source = ''`,
		source, by, reason, formatTime(tx.Now), batch)
	if err != nil {
		return fmt.Errorf("hold batch %s: %w", batch, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return recordDecision(tx, by, ActionHold, batch, 0, reason, "by the "+source)
}

// setStop records a person's hold or cancel of one row.
func setStop(tx *Tx, r *rowRec, stop, by, reason string) error {
	if _, err := tx.Exec(`UPDATE rows SET stop = ?, stop_by = ?, stop_reason = ?, updated_at = ? WHERE batch_id = ? AND row_no = ?`,
		stop, by, reason, formatTime(tx.Now), r.Batch, r.Row); err != nil {
		return fmt.Errorf("%s %s/%d: %w", stop, r.Batch, r.Row, err)
	}
	r.Stop = stop
	return nil
}

// Resume ends the hold of a batch (cmd.Row 0; the breaker's too) or of one
// row: rows before the bank get a new pay job, and every session the gate
// told to wait is asked about again.
func (s *Service) Resume(ctx context.Context, cmd ledgerapi.RowCommand) error {
	if err := checkCommand(cmd.Batch, cmd.By, &cmd.Reason); err != nil {
		return err
	}
	var jobs []ledgerapi.Job
	var ids []string
	err := s.w.Do(ctx, func(tx *Tx) error {
		if err := decidedAs(ctx, tx); err != nil {
			return err
		}
		var err error
		if cmd.Row == 0 {
			jobs, ids, err = s.resumeBatch(tx, cmd)
		} else {
			jobs, ids, err = s.resumeRow(tx, cmd)
		}
		if err != nil {
			return err
		}
		tx.After(func() {
			s.publishPolls(jobs, ids)
			wake(s.kick)
			wake(s.release)
		})
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Info("resumed", logkey.Batch, cmd.Batch, logkey.Row, cmd.Row, "by", cardmask.Redact(cmd.By),
		"reason", cardmask.Redact(cmd.Reason), "asked_again", len(jobs))
	return nil
}

func (s *Service) resumeBatch(tx *Tx, cmd ledgerapi.RowCommand) ([]ledgerapi.Job, []string, error) {
	if _, _, err := batchStatus(tx, cmd.Batch); err != nil {
		return nil, nil, err
	}
	var source string
	if err := tx.QueryRow(`SELECT hold_source FROM batches WHERE id = ?`, cmd.Batch).Scan(&source); err != nil {
		return nil, nil, fmt.Errorf("read batch %s: %w", cmd.Batch, err)
	}
	if source == "" {
		return nil, nil, fmt.Errorf("%w: batch %s is not on hold", errInvalid, cmd.Batch)
	}
	if _, err := tx.Exec(`UPDATE batches SET hold_source = '', hold_by = '', hold_reason = '', hold_at = NULL WHERE id = ?`, cmd.Batch); err != nil {
		return nil, nil, fmt.Errorf("resume batch %s: %w", cmd.Batch, err)
	}
	// The breaker counts afresh: the rows that tripped it are behind it.
	if _, err := tx.Exec(`DELETE FROM breaker_window WHERE batch_id = ?`, cmd.Batch); err != nil {
		return nil, nil, fmt.Errorf("resume batch %s: %w", cmd.Batch, err)
	}
	if err := closeBatchExceptions(tx, cmd.Batch, "resumed by "+cmd.By+": "+cmd.Reason, reconcile.BankFailures, reconcile.WaitingForFunds); err != nil {
		return nil, nil, err
	}
	if err := recordDecision(tx, cmd.By, ActionResume, cmd.Batch, 0, cmd.Reason, "the "+source+"'s hold"); err != nil {
		return nil, nil, err
	}
	detail := "resumed by " + cmd.By
	if err := requeueRows(tx, cmd.Batch, 0, detail); err != nil {
		return nil, nil, err
	}
	// Rows released or resumed one by one while the batch was on hold are
	// still received: the batch's release takes them again.
	if _, err := tx.Exec(`UPDATE batches SET release_done = 0 WHERE id = ?1 AND status = ?2 AND release_done = 1
		AND EXISTS (SELECT 1 FROM rows WHERE batch_id = ?1 AND state = 'received' AND held = 0 AND stop = '')`,
		cmd.Batch, payout.BatchReleased); err != nil {
		return nil, nil, fmt.Errorf("resume batch %s: %w", cmd.Batch, err)
	}
	return s.reask(tx, cmd.Batch, 0)
}

func (s *Service) resumeRow(tx *Tx, cmd ledgerapi.RowCommand) ([]ledgerapi.Job, []string, error) {
	r, err := loadRow(tx, cmd.Batch, cmd.Row)
	if err != nil {
		return nil, nil, err
	}
	if r.Stop != stopHold {
		return nil, nil, fmt.Errorf("%w: row %d of %s is not on hold", errInvalid, r.Row, r.Batch)
	}
	if err := setStop(tx, r, "", "", ""); err != nil {
		return nil, nil, err
	}
	if err := recordDecision(tx, cmd.By, ActionResume, cmd.Batch, cmd.Row, cmd.Reason, "at "+string(r.State)); err != nil {
		return nil, nil, err
	}
	if r.BatchHold != "" {
		return nil, nil, nil // the batch's own hold still stops it
	}
	detail := "resumed by " + cmd.By
	if r.State == payout.StateReceived && !r.Held {
		return nil, nil, s.releaseOne(tx, r, detail)
	}
	if err := requeueRows(tx, cmd.Batch, cmd.Row, detail); err != nil {
		return nil, nil, err
	}
	return s.reask(tx, cmd.Batch, cmd.Row)
}

// beforeBankStates are the states whose rows a resume hands a new pay job
// (the processor continues from the state).
const beforeBankStates = `('queued', 'claimed', 'quoted', 'opening', 'session_open', 'starting')`

// requeueRows gives the rows of batch (row 0: every row not held one by
// one) that stand before the bank a new gen, so the publisher sends each a
// new pay job; the move is logged as a transition to the same state.
func requeueRows(tx *Tx, batch string, row int, detail string) error {
	now := formatTime(tx.Now)
	where := `batch_id = ?1 AND state IN ` + beforeBankStates + ` AND stop = '' AND (?2 = 0 OR row_no = ?2)`
	// The transitions log, written into moves directly (compact.go).
	keys, err := keysForMoves(tx, batch, tx.Now, ledgerapi.SourceOperator, "", detail+"; a new pay job")
	if err != nil {
		return fmt.Errorf("re-enqueue rows of %s: %w", batch, err)
	}
	if _, err := tx.Exec(movesInsert+movesSelect("state", "state", "gen + 1", "session_id")+` FROM rows
		WHERE batch_id = ?7 AND state IN `+beforeBankStates+` AND stop = '' AND (?8 = 0 OR row_no = ?8)`,
		append(keys, batch, row)...); err != nil {
		return fmt.Errorf("re-enqueue rows of %s: %w", batch, err)
	}
	if _, err := tx.Exec(`UPDATE rows SET gen = gen + 1, moved_at = ?3, updated_at = ?3 WHERE `+where, batch, row, now); err != nil {
		return fmt.Errorf("re-enqueue rows of %s: %w", batch, err)
	}
	return nil
}

// reask finds the rows of batch (row 0: all) whose session the gate told
// to wait and returns a job that asks the gate again for each: the
// webhook it answered, replayed from PAYRUN_HOOKS, else a poll.
func (s *Service) reask(tx *Tx, batch string, row int) ([]ledgerapi.Job, []string, error) {
	rows, err := tx.Query(`SELECT g.row_no, g.session_id FROM gate_checks g
		WHERE g.batch_id = ?1 AND (?2 = 0 OR g.row_no = ?2) AND g.decision = 'wait'
		AND g.id = (SELECT max(x.id) FROM gate_checks x WHERE x.batch_id = g.batch_id AND x.row_no = g.row_no)`, batch, row)
	if err != nil {
		return nil, nil, fmt.Errorf("find rows waiting at the gate in %s: %w", batch, err)
	}
	type waiting struct {
		row     int
		session string
	}
	var list []waiting
	for rows.Next() {
		var w waiting
		if err := rows.Scan(&w.row, &w.session); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("find rows waiting at the gate in %s: %w", batch, err)
		}
		list = append(list, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("find rows waiting at the gate in %s: %w", batch, err)
	}
	var jobs []ledgerapi.Job
	var ids []string
	for _, w := range list {
		r, err := loadRow(tx, batch, w.row)
		if err != nil {
			return nil, nil, err
		}
		if r.State.Terminal() || r.onHold() {
			continue
		}
		// The webhook the gate answered, by the sequence the processor
		// gave, else as the ledger's hooks consumer recorded it.
		var seq int64
		// hook_events.h is the webhook id's compact form (migration 0141),
		// found by the index of its first 8 bytes (0170).
		const hookKeyOf = `CASE WHEN length(g.hook_id) = 64 AND lower(hex(unhex(g.hook_id))) = g.hook_id THEN unhex(g.hook_id) ELSE g.hook_id END`
		err = tx.QueryRow(`SELECT coalesce(nullif(g.hook_seq, 0), (SELECT e.stream_seq FROM hook_events e WHERE substr(e.h, 1, 8) = substr(`+hookKeyOf+`, 1, 8) AND e.h = `+hookKeyOf+`))
			FROM gate_checks g WHERE g.batch_id = ? AND g.row_no = ? AND g.session_id = ? AND g.hook_id <> ''
			AND (g.hook_seq > 0 OR EXISTS (SELECT 1 FROM hook_events e WHERE substr(e.h, 1, 8) = substr(`+hookKeyOf+`, 1, 8) AND e.h = `+hookKeyOf+`)) ORDER BY g.id DESC LIMIT 1`,
			batch, w.row, w.session).Scan(&seq)
		switch {
		case err == nil:
			j := ledgerapi.Job{Kind: ledgerapi.JobHook, Batch: batch, Row: w.row, Gen: r.Gen, IntakeSeq: r.IntakeSeq,
				RowDigest: fmt.Sprintf("%x", r.Digest), SessionID: w.session, HookSeq: uint64(seq)}
			jobs = append(jobs, j)
			ids = append(ids, queue.JobMsgID(batch, w.row, r.Gen)+":h"+strconv.FormatInt(seq, 10)+"@"+strconv.FormatInt(tx.Now.UnixMilli(), 10))
		case errors.Is(err, sql.ErrNoRows):
			j, id, err := s.schedulePoll(tx, r)
			if err != nil {
				return nil, nil, err
			}
			jobs, ids = append(jobs, j), append(ids, id)
		default:
			return nil, nil, fmt.Errorf("find the webhook of %s/%d: %w", batch, w.row, err)
		}
	}
	return jobs, ids, nil
}

// CancelRow cancels one row. A row not at the bank yet is cancelled now;
// a row being opened is settled by the next processor without calling the
// bank (in doubt if its single-request payout may have been sent); a row
// whose session may wait at ready_to_confirm gets a poll, and the gate
// cancels it at the bank. A row whose money may already move (confirming
// or later) cannot be cancelled: it finishes as the bank says.
func (s *Service) CancelRow(ctx context.Context, cmd ledgerapi.RowCommand) error {
	if err := checkCommand(cmd.Batch, cmd.By, &cmd.Reason); err != nil {
		return err
	}
	if cmd.Row < 1 {
		return fmt.Errorf("%w: a row number is required", errInvalid)
	}
	var jobs []ledgerapi.Job
	var ids []string
	err := s.w.Do(ctx, func(tx *Tx) error {
		if err := decidedAs(ctx, tx); err != nil {
			return err
		}
		r, err := loadRow(tx, cmd.Batch, cmd.Row)
		if err != nil {
			return err
		}
		switch {
		case r.State.Terminal():
			if r.State == payout.StateCancelled {
				return nil
			}
			return fmt.Errorf("%w: row %d of %s is %s", errInvalid, r.Row, r.Batch, r.State)
		case r.State.MoneyMayMove():
			return fmt.Errorf("%w: row %d of %s is %s: the bank may be paying it; it finishes as the bank says", errInvalid, r.Row, r.Batch, r.State)
		case r.BatchStatus == payout.BatchRejected:
			return fmt.Errorf("%w: batch %s was rejected", errInvalid, r.Batch)
		}
		reason := "cancelled by " + cmd.By + ": " + cmd.Reason
		if err := setStop(tx, r, stopCancel, cmd.By, cmd.Reason); err != nil {
			return err
		}
		if err := recordDecision(tx, cmd.By, ActionCancel, cmd.Batch, cmd.Row, cmd.Reason, "at "+string(r.State)); err != nil {
			return err
		}
		if r.Held {
			if _, err := tx.Exec(`UPDATE holds SET decision = 'dropped', decided_by = ?, decided_at = ?, decision_reason = ?
				WHERE batch_id = ? AND row_no = ? AND decision = ''`, cmd.By, formatTime(tx.Now), reason, r.Batch, r.Row); err != nil {
				return fmt.Errorf("drop hold of %s/%d: %w", r.Batch, r.Row, err)
			}
			if _, err := tx.Exec(`UPDATE rows SET held = 0 WHERE batch_id = ? AND row_no = ?`, r.Batch, r.Row); err != nil {
				return fmt.Errorf("drop hold of %s/%d: %w", r.Batch, r.Row, err)
			}
			if n, err := heldRows(tx, r.Batch); err != nil {
				return err
			} else if n == 0 {
				if err := closeBatchExceptions(tx, r.Batch, "every held row was decided", reconcile.HeldRows); err != nil {
					return err
				}
			}
		}
		switch {
		case slices.Contains(notAtBank, r.State):
			return s.cancelOne(tx, r, reason, "row_cancelled", ledgerapi.SourceOperator, reason)
		case r.State == payout.StateOpening || r.State == payout.StateSessionOpen || r.State == payout.StateStarting:
			// A new pay job: the processor settles the row without the bank.
			if err := requeueCancelled(tx, r, reason); err != nil {
				return err
			}
		}
		if (r.State == payout.StateStarting || r.State == payout.StatePayoutStarted) && (r.SessionID != "" || r.ConfirmSession != "") {
			j, id, err := s.schedulePoll(tx, r)
			if err != nil {
				return err
			}
			jobs, ids = append(jobs, j), append(ids, id)
		}
		tx.After(func() {
			s.publishPolls(jobs, ids)
			wake(s.kick)
		})
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Info("row cancelled", logkey.Batch, cmd.Batch, logkey.Row, cmd.Row, "by", cardmask.Redact(cmd.By), "reason", cardmask.Redact(cmd.Reason))
	return nil
}

// requeueCancelled gives a cancelled row that was being opened a new gen:
// its processor settles it against the cancel.
func requeueCancelled(tx *Tx, r *rowRec, reason string) error {
	now := formatTime(tx.Now)
	if _, err := tx.Exec(`UPDATE rows SET gen = gen + 1, moved_at = ?, updated_at = ? WHERE batch_id = ? AND row_no = ?`,
		now, now, r.Batch, r.Row); err != nil {
		return fmt.Errorf("re-enqueue %s/%d: %w", r.Batch, r.Row, err)
	}
	return logTransition(tx, r, r.State, r.State, r.Gen+1, r.Attempt,
		ledgerapi.Evidence{Source: ledgerapi.SourceOperator, Detail: reason + "; a new pay job settles it"}, "", r.SessionID, "", "", "", "")
}

// ourCodes are error codes payrun gives a failed row itself, not the
// bank's: the breaker does not count them.
var ourCodes = []string{"", "batch_cancelled", "row_cancelled", "held_dropped", "gate_mismatch", "invalid_row", "session_cancelled", CodeNoCard}

// breaker counts a row that finished (succeeded or failed) in its batch's
// window and puts the batch on hold when BreakerFailures of the last
// BreakerWindow finished rows failed with the same bank code.
func (s *Service) breaker(tx *Tx, r *rowRec, to payout.State, code string) error {
	if s.cfg.BreakerFailures < 0 || (to != payout.StateSucceeded && to != payout.StateFailed) {
		return nil
	}
	if to == payout.StateSucceeded || slices.Contains(ourCodes, code) {
		code = ""
	}
	var n int
	if err := tx.QueryRow(`UPDATE batches SET finished_n = finished_n + 1 WHERE id = ? RETURNING finished_n`, r.Batch).Scan(&n); err != nil {
		return fmt.Errorf("count finished rows of %s: %w", r.Batch, err)
	}
	if _, err := tx.Exec(`INSERT INTO breaker_window (batch_id, slot, code) VALUES (?, ?, ?)
		ON CONFLICT (batch_id, slot) DO UPDATE SET code = excluded.code`, r.Batch, n%s.cfg.BreakerWindow, code); err != nil {
		return fmt.Errorf("count finished rows of %s: %w", r.Batch, err)
	}
	if code == "" {
		return nil
	}
	var failed int
	if err := tx.QueryRow(`SELECT count(*) FROM breaker_window WHERE batch_id = ? AND code = ?`, r.Batch, code).Scan(&failed); err != nil {
		return fmt.Errorf("count failures of %s: %w", r.Batch, err)
	}
	if failed < s.cfg.BreakerFailures {
		return nil
	}
	var source string
	if err := tx.QueryRow(`SELECT hold_source FROM batches WHERE id = ?`, r.Batch).Scan(&source); err != nil {
		return fmt.Errorf("read batch %s: %w", r.Batch, err)
	}
	if source != "" || r.BatchStatus == payout.BatchCancelled || r.BatchStatus == payout.BatchDone {
		return nil
	}
	window := min(n, s.cfg.BreakerWindow)
	reason := fmt.Sprintf("%d of the last %d finished rows failed with the bank's code %s (%s)", failed, window, code,
		cardmask.Redact(bank131.Reason(code)))
	if err := s.holdBatch(tx, r.Batch, ledgerapi.HoldByBreaker, "breaker", reason); err != nil {
		return err
	}
	if _, err := openException(tx, reconcile.BankFailures, fmt.Sprintf("%s/%s/%d", r.Batch, code, n), r.Batch, 0,
		"batch put on hold: "+reason+"; nothing new starts until a person resumes or cancels it"); err != nil {
		return err
	}
	s.log.Error("breaker: batch on hold", logkey.Batch, r.Batch, "code", code, "failed", failed, "of", window)
	return nil
}
