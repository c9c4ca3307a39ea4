package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// The duplicate guard. Every row is checked when the ledger records it,
// before its batch can be sealed (so before anything of it can be
// released), against every earlier row still in the ledger:
//
//   - a repeat: an earlier row with the same reference in another batch,
//     paid or still in flight (not failed, cancelled or returned, its batch
//     not rejected), recorded within RepeatRetention;
//   - a probable duplicate: an earlier row, in another batch or the same
//     one, with the same payee (payout.PayeeKey) and the same amount and
//     currency under another reference, paid or in flight, recorded within
//     DuplicateWindow.
//
// "Earlier" is the intake's order: recorded before, or in the same group
// with a lower stream sequence, so of two batches carrying one reference
// exactly one is held. A held row stays received (rows.held = 1, its
// reason in holds) whatever happens to the rest of its batch, until a
// person releases or drops it (Service.ReleaseHeld, Service.DropHeld).

// Hold kinds.
const (
	HoldRepeat    = "repeat"
	HoldDuplicate = "duplicate"
)

// earlierRow is an earlier row a new row repeats.
type earlierRow struct {
	row                     int // the new row
	kind                    string
	batch                   string
	no                      int
	reference               string
	state                   payout.State
	movedAt                 string
	payee                   []byte
	amount                  money.Amount
	sameBatch, newReference bool
	unknown                 bool // a row of a batch this ledger does not have (orphanRepeats)
}

// paidAfterAll says a row of o was paid by the bank after the ledger
// finished it failed or cancelled (a paid_after_cancel exception, open or
// closed: the money went out whatever a person wrote when closing it).
const paidAfterAll = `EXISTS (SELECT 1 FROM exceptions e WHERE e.batch_id = o.batch_id AND e.row_no = o.row_no
	AND e.category = 'paid_after_cancel')`

// repeatQuery finds the best earlier row of another batch than ?2 with the
// reference ?1 that counts (paid or in flight, or paid after all, recorded
// since ?3), paid first, then the earliest in the intake's order: with
// ?4 = 1 every row of another batch is earlier (a batch made in the
// ledger, after every row it is checked against); else earlier is the
// intake's order before a row recorded at ?5 with stream sequence ?6.
const repeatQuery = `SELECT o.batch_id, o.row_no, o.reference, o.state, o.moved_at, o.state = 'succeeded' OR ` + paidAfterAll + ` AS paid
	FROM rows o
	WHERE o.reference = ?1 AND o.batch_id <> ?2 AND o.received_at >= ?3
	AND (o.state NOT IN ('failed', 'cancelled', 'returned') OR ` + paidAfterAll + `)
	AND (SELECT b.status FROM batches b WHERE b.id = o.batch_id) <> 'rejected'
	AND (?4 = 1 OR o.received_at < ?5 OR (o.received_at = ?5 AND o.intake_seq < ?6))
	ORDER BY paid DESC, o.received_at, o.intake_seq, o.batch_id, o.row_no LIMIT 1`

// liveRepeatQuery finds, when a person releases a held row of batch ?2,
// the best row of another batch with the same reference ?1 that is paid
// or in flight now, recorded since ?3 (the one the hold names, or another
// released or paid since). A row still received and held is not (its own
// release is checked in turn).
const liveRepeatQuery = `SELECT o.batch_id, o.row_no, o.reference, o.state, o.moved_at, o.state = 'succeeded' OR ` + paidAfterAll + ` AS paid
	FROM rows o
	WHERE o.reference = ?1 AND o.batch_id <> ?2 AND o.received_at >= ?3
	AND ((o.state NOT IN ('failed', 'cancelled', 'returned') AND NOT (o.state = 'received' AND o.held = 1)) OR ` + paidAfterAll + `)
	AND (SELECT b.status FROM batches b WHERE b.id = o.batch_id) NOT IN ('rejected', 'cancelled')
	ORDER BY paid DESC, o.received_at, o.intake_seq, o.batch_id, o.row_no LIMIT 1`

// scanRepeat reads a repeatQuery's row; a row paid after all reads as paid.
func scanRepeat(row *sql.Row, c *earlierRow) error {
	var paid bool
	if err := row.Scan(&c.batch, &c.no, &c.reference, &c.state, &c.movedAt, &paid); err != nil {
		return err
	}
	if paid {
		c.state = payout.StateSucceeded
	}
	return nil
}

// guardRow is a row the guard checks: just recorded, never held.
type guardRow struct {
	batch     string
	row       int
	reference string
	payee     []byte // nil: no payee
	amount    money.Amount
	seq       uint64
	hashes    guardHashes
}

// guardHashes are a row's reference and payee hashes for the guard's
// indexes (refHash, payeeKey), made while the intake parses the row.
type guardHashes struct {
	ok         bool // made; else the guard makes them
	ref, payee uint64
}

// hashGuard makes a row's guardHashes.
func hashGuard(reference string, payee []byte, a money.Amount) guardHashes {
	h := guardHashes{ok: true, ref: refHash(reference)}
	if payee != nil {
		h.payee = payeeKey(payee, a)
	}
	return h
}

// guardMark is what the guard's indexes say of a group's rows: the rows
// whose reference the filter may have (maybe), and the payee index's
// candidates of each row (by position; most have none).
type guardMark struct {
	maybe []bool
	cands map[int][]rowRef
}

// guardMarks looks rows up in the guard's indexes and takes them in, in
// order (refFilter.testAndAdd, payeeIndex.candidatesAdd), with each index
// locked once.
func guardMarks(rows []guardRow, refs *refFilter, payees *payeeIndex, window, at time.Time) guardMark {
	m := guardMark{maybe: make([]bool, len(rows))}
	hs := make([]guardHashes, len(rows))
	for i := range rows {
		r := &rows[i]
		if hs[i] = r.hashes; !hs[i].ok {
			hs[i] = hashGuard(r.reference, r.payee, r.amount)
		}
	}
	refs.mu.Lock()
	for i := range rows {
		m.maybe[i] = refs.testAndAddLocked(hs[i].ref)
	}
	refs.mu.Unlock()
	payees.mu.Lock()
	defer payees.mu.Unlock()
	for i := range rows {
		r := &rows[i]
		if r.payee == nil {
			continue
		}
		if c := payees.candidatesAddLocked(hs[i].payee, window, r.batch, r.row, at); len(c) > 0 {
			if m.cands == nil {
				m.cands = map[int][]rowRef{}
			}
			m.cands[i] = c
		}
	}
	return m
}

// guard checks rows just recorded, in the order given (the intake's), and
// holds those that repeat an earlier row; it returns how many it held.
// Each row is then taken into the guard's indexes, so a later row is
// checked against it. allEarlier takes every other batch's row as earlier
// (a resubmitted batch).
func (s *Service) guard(tx *Tx, rows []guardRow, allEarlier bool) (int, error) {
	g, err := s.guardIndex()
	if err != nil {
		return 0, err
	}
	if g.refs.Load().full() {
		if err := s.rebuildRefs(tx, g); err != nil {
			return 0, err
		}
	}
	refs := g.refs.Load()
	refSince := formatTime(tx.Now.Add(-s.cfg.RepeatRetention))
	window := tx.Now.Add(-s.cfg.DuplicateWindow)
	now := formatTime(tx.Now)
	// First the indexes, in memory and in the rows' order, each index
	// locked once for all the rows: each row is taken in as it is looked
	// up, so a later row is checked against it. Then SQLite, for the rows
	// the indexes may have seen before.
	mark := guardMarks(rows, refs, g.payees, window, tx.Now)
	held := 0
	var orphans map[string]*earlierRow // read once, when a row needs it
	for i, r := range rows {
		var e *earlierRow
		if mark.maybe[i] {
			s.stats.refProbes.Add(1)
			c := &earlierRow{kind: HoldRepeat}
			err := scanRepeat(tx.QueryRow(repeatQuery, r.reference, r.batch, refSince, allEarlier, now, int64(r.seq)), c)
			switch {
			case err == nil:
				e = c
			case !isNoRows(err):
				return held, fmt.Errorf("guard row %s/%d: %w", r.batch, r.row, err)
			}
			if e == nil || e.state != payout.StateSucceeded {
				if orphans == nil {
					if orphans, err = orphanRepeats(tx, refSince); err != nil {
						return held, err
					}
				}
				if o := orphans[r.reference]; o != nil && (e == nil || o.better(e)) {
					c := *o
					e = &c
				}
			}
		}
		if cands := mark.cands[i]; e == nil && len(cands) > 0 {
			var place *intakePlace
			if !allEarlier {
				place = &intakePlace{at: now, seq: r.seq}
			}
			if e, err = earlierAmong(tx, cands, r.payee, r.amount, r.reference, rowRef{r.batch, r.row}, window, place, false); err != nil {
				return held, err
			}
		}
		if e == nil {
			continue
		}
		e.row, e.sameBatch = r.row, e.batch == r.batch
		if err := s.hold(tx, r.batch, e); err != nil {
			return held, err
		}
		held++
	}
	return held, nil
}

// guardCapturedCard checks a widget row whose card came through its
// recipient link (its payee known only now) for a probable duplicate, as
// the intake checks a file's rows, holds it when it is one (with an
// exception of its own asking a person to decide: the batch's was opened,
// or closed, at its seal), and takes the payee into the index so later
// rows are compared with it. A row held already (a repeat) is not checked
// again: it waits for a decision anyway.
func (s *Service) guardCapturedCard(tx *Tx, r *rowRec, payee []byte) error {
	g, err := s.guardIndex()
	if err != nil {
		return err
	}
	defer g.payees.add(payee, r.Amount, r.Batch, r.Row, tx.Now)
	if r.Held {
		return nil
	}
	e, err := earlierPayee(tx, g.payees, payee, r.Amount, r.Reference, rowRef{r.Batch, r.Row}, tx.Now.Add(-s.cfg.DuplicateWindow), nil, false)
	if err != nil || e == nil {
		return err
	}
	e.row, e.sameBatch = r.Row, e.batch == r.Batch
	// A row held at intake and released by a person while it waited for
	// its card has its decided line in holds (one a row): the new finding
	// replaces it, undecided, so a person decides again (the first
	// decision stays in decisions and the audit log).
	if _, err := tx.Exec(`UPDATE holds SET kind = ?, earlier_batch = ?, earlier_row = ?, reason = ?, held_at = ?,
		decision = '', decided_by = '', decided_at = NULL, decision_reason = '' WHERE batch_id = ? AND row_no = ?`,
		e.kind, e.batch, e.no, e.reason(r.Reference), formatTime(tx.Now), r.Batch, r.Row); err != nil {
		return fmt.Errorf("hold %s/%d again: %w", r.Batch, r.Row, err)
	}
	if err := s.hold(tx, r.Batch, e); err != nil {
		return err
	}
	_, err = openException(tx, reconcile.HeldRows, fmt.Sprintf("%s/%d/card", r.Batch, r.Row), r.Batch, r.Row, fmt.Sprintf(
		"row %d's card, given through its recipient link, is a probable duplicate of an earlier payout; the row waits until a person releases or drops it", r.Row))
	return err
}

// guardIndex returns the guard's in-memory indexes, loading them if the
// start could not.
func (s *Service) guardIndex() (*guardIndex, error) {
	s.gidxMu.Lock()
	defer s.gidxMu.Unlock()
	if s.gidx != nil {
		return s.gidx, nil
	}
	now := s.db.Now()
	g, err := loadGuardIndex(context.Background(), s.db, now.Add(-s.cfg.RepeatRetention), now.Add(-s.cfg.DuplicateWindow))
	if err != nil {
		return nil, err
	}
	s.gidx = g
	return g, nil
}

// rebuildRefs replaces a full reference filter by one twice its size,
// from the rows in tx (the writer's: it sees the rows recorded in it).
func (s *Service) rebuildRefs(tx *Tx, g *guardIndex) error {
	var n int
	since := formatTime(tx.Now.Add(-s.cfg.RepeatRetention))
	if err := tx.QueryRow(`SELECT count(*) FROM rows WHERE received_at >= ?`, since).Scan(&n); err != nil {
		return fmt.Errorf("rebuild references: %w", err)
	}
	f := newRefFilter(2 * n)
	rows, err := tx.Query(`SELECT reference FROM rows WHERE received_at >= ?`, since)
	if err != nil {
		return fmt.Errorf("rebuild references: %w", err)
	}
	defer rows.Close()
	var ref string
	for rows.Next() {
		if err := rows.Scan(&ref); err != nil {
			return fmt.Errorf("rebuild references: %w", err)
		}
		f.add(ref)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rebuild references: %w", err)
	}
	g.refs.Store(f)
	s.log.Info("duplicate guard: reference filter rebuilt", "references", n)
	return nil
}

// better orders the earlier rows a held row may name: a repeat before a
// probable duplicate, a paid row before one in flight, then the oldest.
func (e *earlierRow) better(o *earlierRow) bool {
	if (e.kind == HoldRepeat) != (o.kind == HoldRepeat) {
		return e.kind == HoldRepeat
	}
	if ep, op := e.state == payout.StateSucceeded, o.state == payout.StateSucceeded; ep != op {
		return ep
	}
	return e.batch < o.batch || e.batch == o.batch && e.no < o.no
}

// reason says why a row is held, naming the earlier row: "E-001/2026-11
// was paid on 2026-12-01 in batch b… row 1".
func (e *earlierRow) reason(reference string) string {
	where := fmt.Sprintf("in batch %s row %d", e.batch, e.no)
	if e.unknown {
		where += " (the bank's webhooks name it; this ledger does not have that batch: restored from an older backup?)"
	}
	if e.sameBatch {
		where = fmt.Sprintf("in this batch, row %d", e.no)
	}
	status := fmt.Sprintf("is in flight %s (%s, not paid yet)", where, e.state)
	paid := e.state == payout.StateSucceeded
	if paid {
		status = fmt.Sprintf("was paid on %s %s", dayOf(e.movedAt), where)
	}
	if e.kind == HoldRepeat {
		return fmt.Sprintf("%s %s", reference, status)
	}
	noun := "payee"
	if k, err := payout.PayeeKeyFromBytes(e.payee); err == nil {
		noun = k.Kind.Noun()
	}
	if paid {
		return fmt.Sprintf("probable duplicate: the same %s was paid %s as %s on %s %s", noun, e.amount, e.reference,
			dayOf(e.movedAt), where)
	}
	return fmt.Sprintf("probable duplicate: the same %s and amount %s as %s, which %s", noun, e.amount, e.reference, status)
}

// dayOf is the date (UTC) of a stored time.
func dayOf(stored string) string { return parseTime(stored).UTC().Format(time.DateOnly) }

// hold holds one row for the earlier row it repeats.
func (s *Service) hold(tx *Tx, batch string, e *earlierRow) error {
	r, err := loadRow(tx, batch, e.row)
	if err != nil {
		return err
	}
	reason := e.reason(r.Reference)
	if _, err := tx.Exec(`INSERT INTO holds (batch_id, row_no, kind, earlier_batch, earlier_row, reason, held_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, batch, e.row, e.kind, e.batch, e.no, reason, formatTime(tx.Now)); err != nil {
		return fmt.Errorf("hold %s/%d: %w", batch, e.row, err)
	}
	if _, err := tx.Exec(`UPDATE rows SET held = 1, reason = ?, updated_at = ? WHERE batch_id = ? AND row_no = ?`,
		reason, formatTime(tx.Now), batch, e.row); err != nil {
		return fmt.Errorf("hold %s/%d: %w", batch, e.row, err)
	}
	if err := logTransition(tx, r, r.State, r.State, r.Gen, r.Attempt,
		ledgerapi.Evidence{Source: ledgerSource, Detail: "held by the duplicate guard: " + reason}, "", "", "", "", "", reason); err != nil {
		return err
	}
	s.log.Warn("row held by the duplicate guard", logkey.Batch, batch, logkey.Row, e.row, logkey.Reference, r.Reference,
		"kind", e.kind, "earlier_batch", e.batch, "earlier_row", e.no)
	return nil
}

// sealHeld counts a batch's held rows when it is sealed (or made) and
// opens the exception that asks a person to decide about them.
func (s *Service) sealHeld(tx *Tx, batch string) (int, error) {
	n, err := heldRows(tx, batch)
	if err != nil || n == 0 {
		return n, err
	}
	what := "rows are"
	if n == 1 {
		what = "row is"
	}
	_, err = openException(tx, reconcile.HeldRows, batch, batch, 0, fmt.Sprintf(
		"%d %s held as repeats or probable duplicates of earlier payouts; each waits until a person releases or drops it", n, what))
	return n, err
}

// heldRows counts the rows of a batch the guard holds now (by their
// holds without a decision: a million-row batch is not read for it).
func heldRows(tx *Tx, batch string) (int, error) {
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM holds WHERE batch_id = ? AND decision = ''`, batch).Scan(&n); err != nil {
		return 0, fmt.Errorf("count held rows of %s: %w", batch, err)
	}
	return n, nil
}

// heldByKind counts the rows of a batch the guard holds, as repeats and
// as probable duplicates: the facts the approval policy judges a sealed
// batch by (auth.Facts).
func heldByKind(tx *Tx, batch string) (repeats, duplicates int, err error) {
	if err := tx.QueryRow(`SELECT coalesce(sum(kind = ?), 0), coalesce(sum(kind <> ?), 0) FROM holds WHERE batch_id = ? AND decision = ''`,
		HoldRepeat, HoldRepeat, batch).Scan(&repeats, &duplicates); err != nil {
		return 0, 0, fmt.Errorf("count held rows of %s: %w", batch, err)
	}
	return repeats, duplicates, nil
}

// HasHeldRows reports whether the guard holds rows of the batch that wait
// for a person's decision: the predicate an approval policy asks.
func (db *DB) HasHeldRows(ctx context.Context, batch string) (bool, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM holds WHERE batch_id = ? AND decision = ''`, batch).Scan(&n); err != nil {
		return false, fmt.Errorf("count held rows of %s: %w", batch, err)
	}
	return n > 0, nil
}

// Hold is a row the duplicate guard held, with the decision about it.
type Hold = ledgerapi.Hold

// Holds lists the rows of a batch the guard held (waiting or decided), in
// row order; limit ≤ 0 lists them all.
func (db *DB) Holds(ctx context.Context, batch string, limit int) ([]Hold, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.r.QueryContext(ctx, `SELECT h.row_no, r.reference, r.amount_minor, r.currency, h.kind, h.earlier_batch,
		h.earlier_row, h.reason, h.held_at, h.decision, h.decided_by, h.decided_at, h.decision_reason
		FROM holds h JOIN rows r ON r.batch_id = h.batch_id AND r.row_no = h.row_no
		WHERE h.batch_id = ? ORDER BY h.row_no LIMIT ?`, batch, limit)
	if err != nil {
		return nil, fmt.Errorf("list holds of %s: %w", batch, err)
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		var h Hold
		var held string
		var decided sql.NullString
		if err := rows.Scan(&h.Row, &h.Reference, &h.Amount.Minor, &h.Amount.Currency, &h.Kind, &h.EarlierBatch, &h.EarlierRow,
			&h.Reason, &held, &h.Decision, &h.DecidedBy, &decided, &h.DecisionReason); err != nil {
			return nil, fmt.Errorf("list holds of %s: %w", batch, err)
		}
		h.HeldAt = parseTime(held)
		h.DecidedAt = scanTime(decided)
		out = append(out, h)
	}
	return out, rows.Err()
}
