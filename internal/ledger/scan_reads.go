// The reads of one chunk of a batch scan: its rows, webhooks, report lines,
// quotes and notes, each one query over the chunk's range of rows.

package ledger

import (
	"context"
	"fmt"
	"strings"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/report"
)

// chunkHook is a finishing webhook as read, before it is put on its row.
type chunkHook struct {
	reconcile.Hook
	row      int
	session  string
	seq      int64
	recorded string
}

// rowText is a row's value read beside it.
type rowText struct {
	row  int
	text string
}

// amountSlab gives out amounts from a few arrays instead of one
// allocation each. Made with the capacity a chunk is expected to need
// (growing from nothing, by doubling, a chunk's arrays were twice what it
// used).
type amountSlab []money.Amount

func (s *amountSlab) add(minor int64, currency string) *money.Amount {
	if len(*s) == cap(*s) {
		*s = make([]money.Amount, 0, max(64, 2*cap(*s)))
	}
	*s = append(*s, money.Amount{Minor: minor, Currency: currency})
	return &(*s)[len(*s)-1]
}

// readHooks reads the finishing webhooks of the rows in (lo, hi]: by the
// metadata (covering index), and by session for the few webhooks without
// it. From hook_events by the type's code (migration 0173: the covering
// index hook_events_finished is partial on the code); a file before it
// (an archive opened read-only) through bank_events, as before.
func (sc *batchScan) readHooks(ctx context.Context, lo, hi int64) ([]chunkHook, error) {
	out := make([]chunkHook, 0, scanChunk) // about one a row
	amounts := make(amountSlab, 0, scanChunk)
	var c rawCheck
	fn := func(v rawRow) error {
		h := chunkHook{row: int(c.int(v, 0)), session: c.text(v, 1), seq: c.int(v, 7), recorded: c.text(v, 8)}
		h.Type, h.PayoutStatus, h.ErrorCode = c.text(v, 2), c.text(v, 3), c.text(v, 6)
		if amount, ok := c.nullInt(v, 4); ok {
			h.Amount = amounts.add(amount, c.text(v, 5))
		}
		if c.err != nil {
			return fmt.Errorf("row %d: %w", h.row, c.err)
		}
		out = append(out, h)
		return nil
	}
	err := eachRaw(ctx, sc.q, finishingHooks, []any{sc.batch, lo, hi}, fn)
	if err != nil && len(out) == 0 && strings.Contains(err.Error(), "no such column: e.ty") {
		err = eachRaw(ctx, sc.q, finishingHooksBefore0173, []any{sc.batch, lo, hi}, fn)
	}
	return out, err
}

// finishingHooks is readHooks' query: each column one of bank_events'
// expressions (migrations 0163, 0173), so the covering index gives it.
const finishingHooks = `SELECT e.ref_row, ` + finishingHookCols + ` FROM hook_events e JOIN batch_keys b ON b.k = e.bk
		WHERE b.batch_id = ?1 AND e.ref_row > ?2 AND e.ref_row <= ?3 AND e.ty IN (2, 3)
		UNION ALL SELECT s.row_no, ` + finishingHookCols + ` FROM hook_events e JOIN batch_keys b ON b.k = e.bk
		JOIN sessions s ON s.session_id = (CASE WHEN typeof(e.sid) = 'integer' THEN 'ps_' || e.sid ELSE e.sid END)
		WHERE b.batch_id = '' AND e.ty IN (2, 3) AND s.batch_id = ?1 AND s.row_no > ?2 AND s.row_no <= ?3`

const finishingHookCols = `(CASE WHEN typeof(e.sid) = 'integer' THEN 'ps_' || e.sid ELSE e.sid END),
		CASE e.ty WHEN 2 THEN 'payment_finished' WHEN 3 THEN 'payment_refunded' ELSE e.ty END,
		CASE e.ps WHEN 1 THEN 'in_progress' WHEN 2 THEN 'pending' WHEN 3 THEN 'succeeded' WHEN 4 THEN 'failed' ELSE e.ps END,
		e.amount_minor, e.currency, e.error_code, e.stream_seq, (CASE WHEN typeof(e.rec) = 'integer'
		THEN strftime('%Y-%m-%dT%H:%M:%S', e.rec / 1000000000, 'unixepoch') || printf('.%09dZ', e.rec % 1000000000)
		ELSE e.rec END)`

// finishingHooksBefore0173 is readHooks' query of a file before migration
// 0173, through bank_events.
const finishingHooksBefore0173 = `SELECT e.ref_row, ` + finishingHookColsBefore0173 + ` FROM bank_events e
		WHERE e.ref_batch = ?1 AND e.ref_row > ?2 AND e.ref_row <= ?3 AND e.type IN ('payment_finished', 'payment_refunded')
		UNION ALL SELECT s.row_no, ` + finishingHookColsBefore0173 + ` FROM bank_events e JOIN sessions s ON s.session_id = e.session_id
		WHERE e.ref_batch = '' AND e.type IN ('payment_finished', 'payment_refunded') AND s.batch_id = ?1
		AND s.row_no > ?2 AND s.row_no <= ?3`

const finishingHookColsBefore0173 = `e.session_id, e.type, e.payout_status, e.amount_minor, e.currency, e.error_code, e.stream_seq, e.recorded_at`

// readLines reads the lines of complete reports about the rows in (lo,
// hi]; latest is the latest import of a report they are in.
func (sc *batchScan) readLines(ctx context.Context, lo, hi int64) ([]*reconcile.Line, string, error) {
	var out []*reconcile.Line
	var latest string
	var c rawCheck
	// Lines and amounts from slabs (amountSlab): a line was ~400 B and
	// three allocations.
	slab := make([]reconcile.Line, 0, scanChunk)
	amounts := make(amountSlab, 0, scanChunk) // the fees; the gross when a report gives it
	err := eachRaw(ctx, sc.q, `SELECT row_no, line, report_id, operation_id, session_id, type, transaction_date,
		amount_minor, currency, gross_minor, fee_minor, fee_currency FROM bank_report_lines
		WHERE batch_id = ? AND row_no > ? AND row_no <= ?`, []any{sc.batch, lo, hi}, func(v rawRow) error {
		if len(slab) == cap(slab) {
			slab = make([]reconcile.Line, 0, scanChunk)
		}
		slab = slab[:len(slab)+1]
		l := &slab[len(slab)-1]
		*l = reconcile.Line{RefRow: int(c.int(v, 0)), Line: int(c.int(v, 1)), Report: c.text(v, 2), Op: c.text(v, 3),
			Session: c.text(v, 4), Type: c.text(v, 5), Date: c.text(v, 6),
			Amount: money.Amount{Minor: c.int(v, 7), Currency: c.text(v, 8)}}
		gross, hasGross := c.nullInt(v, 9)
		fee, hasFee := c.nullInt(v, 10)
		feeCur := c.text(v, 11)
		if c.err != nil {
			return fmt.Errorf("row %d line %d: %w", l.RefRow, l.Line, c.err)
		}
		at, ok := sc.reports[l.Report]
		if !ok {
			slab = slab[:len(slab)-1] // not a complete report's: its place is the next line's
			return nil
		}
		latest = max(latest, at)
		if hasGross {
			l.Gross = amounts.add(gross, l.Amount.Currency)
		}
		if hasFee {
			l.Fee = amounts.add(fee, feeCur)
		}
		out = append(out, l)
		return nil
	})
	return out, latest, err
}

// transitionEvidence reads, for the rows in (lo, hi], what the
// transitions say beside the rows' state: what session/status said last
// (status, in the order recorded: the last call wins) and when each row's
// latest 3-D Secure link was recorded (action). It is the report's only
// read of transitions.
func transitionEvidence(ctx context.Context, q readQuerier, batch string, lo, hi int64,
	status func(row int, to string), action func(row int, at string)) error {
	var row int
	var v string
	// By the partial index transitions_status (migration 0030).
	if err := eachRow(ctx, q, `SELECT row_no, to_state FROM transitions WHERE batch_id = ? AND source = 'status'
		AND row_no > ? AND row_no <= ? ORDER BY id`, []any{batch, lo, hi}, func(s scanner) error {
		if err := s.Scan(&row, &v); err != nil {
			return err
		}
		status(row, v)
		return nil
	}); err != nil {
		return fmt.Errorf("status answers: %w", err)
	}
	// By the partial index transitions_action (migration 0070).
	if err := eachRow(ctx, q, `SELECT row_no, max(at) FROM transitions WHERE batch_id = ? AND to_state = 'action_required'
		AND row_no > ? AND row_no <= ? GROUP BY row_no`, []any{batch, lo, hi}, func(s scanner) error {
		if err := s.Scan(&row, &v); err != nil {
			return err
		}
		action(row, v)
		return nil
	}); err != nil {
		return fmt.Errorf("3-D Secure links: %w", err)
	}
	return nil
}

// rowsCols are what readRows reads of every row; rowsNotesCols what it
// reads beside them for the notes (as notesQueries[0] does).
const (
	rowsCols = `r.row_no, r.amount_minor, r.currency, r.attempt, r.fee_minor, r.fee_currency,
		r.paid_minor, r.paid_currency, r.reference, r.method, r.recipient, r.destination, r.state, r.session_id,
		r.confirm_session, r.payout_id, r.error_code, r.reason, r.action_url, r.tcn, r.received_at, r.moved_at, r.updated_at`
	rowsNotesCols = `r.meta, r.description, coalesce(h.reason, ''), coalesce(h.decision, ''),
		coalesce(h.decided_by, ''), coalesce(h.decision_reason, ''), r.stop, r.stop_by, r.stop_reason,
		r.resubmitted_to, r.resubmitted_row, r.parent_batch, r.parent_row, h.row_no IS NOT NULL`
	rowsNoteAt = 23 // rowsNotesCols' first column
)

// readRows reads the rows in (lo, hi]; latest is the latest update among
// them. Their quotes are readQuotes'. With notes set it reads their notes
// too (readNotes' for the rows that have any), in the same walk of the
// rows: read apart, the rows' pages were read twice (~0.3 of the ~0.5
// cpu-s the rows' read took per 100k rows, measured under load). size
// is how many rows are expected (the slabs' size).
func (sc *batchScan) readRows(ctx context.Context, lo, hi int64, notes bool, size int) (rows []*reconcile.Row, ns []report.Note, latest string, err error) {
	size = max(size, 1)
	rows = make([]*reconcile.Row, 0, size)
	// The rows and their amounts live in a few slabs per chunk, not an
	// allocation each (a row and its amounts were ~1 KB and four
	// allocations). A slab that fills is followed by a new one: what was
	// given out stays where it is.
	slab := make([]reconcile.Row, 0, size)
	amounts := make(amountSlab, 0, 2*size) // a paid row's fee and paid amount
	var c rawCheck
	var n report.Note // read into for every row, then copied
	query := `SELECT ` + rowsCols + ` FROM rows r WHERE r.batch_id = ? AND r.row_no > ? AND r.row_no <= ? ORDER BY r.row_no`
	if notes {
		query = `SELECT ` + rowsCols + `, ` + rowsNotesCols + ` FROM rows r
			LEFT JOIN holds h ON h.batch_id = r.batch_id AND h.row_no = r.row_no
			WHERE r.batch_id = ? AND r.row_no > ? AND r.row_no <= ? ORDER BY r.row_no`
	}
	err = eachRaw(ctx, sc.q, query, []any{sc.batch, lo, hi}, func(v rawRow) error {
		if len(slab) == cap(slab) {
			slab = make([]reconcile.Row, 0, size)
		}
		slab = slab[:len(slab)+1]
		r := &slab[len(slab)-1]
		r.No, r.Amount.Minor, r.Amount.Currency, r.Attempt = int(c.int(v, 0)), c.int(v, 1), c.text(v, 2), int(c.int(v, 3))
		r.Reference, r.Method, r.Recipient, r.Destination = c.text(v, 8), c.text(v, 9), c.text(v, 10), c.text(v, 11)
		r.State, r.SessionID, r.ConfirmSession = payout.State(c.text(v, 12)), c.text(v, 13), c.text(v, 14)
		r.PayoutID, r.ErrorCode, r.Reason, r.ActionURL, r.TCN = c.text(v, 15), c.text(v, 16), c.text(v, 17), c.text(v, 18), c.text(v, 19)
		updated := c.text(v, 22)
		r.ReceivedAt, r.MovedAt, r.UpdatedAt = parseTime(c.text(v, 20)), parseTime(c.text(v, 21)), parseTime(updated)
		if fee, ok := c.nullInt(v, 4); ok {
			r.Fee = amounts.add(fee, c.text(v, 5))
		}
		if paid, ok := c.nullInt(v, 6); ok {
			r.Paid = amounts.add(paid, c.text(v, 7))
		}
		if c.err != nil {
			return fmt.Errorf("row %d: %w", r.No, c.err)
		}
		latest = max(latest, updated)
		rows = append(rows, r)
		if notes {
			// What notesQueries[0] selects: a row with any of it.
			held := c.int(v, rowsNoteAt+13) != 0
			if c.text(v, rowsNoteAt) != "" || c.text(v, rowsNoteAt+1) != "" || held || c.text(v, rowsNoteAt+6) != "" ||
				c.text(v, rowsNoteAt+9) != "" || c.text(v, rowsNoteAt+11) != "" {
				n.Row = r.No
				if err := readNote(&n, &c, v, rowsNoteAt); err != nil {
					return err
				}
				ns = append(ns, n)
			}
		}
		return nil
	})
	return rows, ns, latest, err
}

// rowQuote is the quote of a row (a transfer's), as read.
type rowQuote struct {
	row                        int
	rate                       string
	source, dest, fee, payment money.Amount // fee: the commission, transfer and SMS fee
}

// readQuotes reads the quotes of the rows in (lo, hi] that have one (the
// transfers): read with every row, its ten columns were fetched, and
// mostly as NULLs, for every card row.
func (sc *batchScan) readQuotes(ctx context.Context, lo, hi int64) ([]rowQuote, error) {
	var out []rowQuote
	err := eachRow(ctx, sc.q, `SELECT r.row_no, q.fx_rate, q.source_minor, q.source_currency, q.dest_minor, q.dest_currency,
		q.transfer_fee_minor, q.sms_fee_minor, q.fee_currency, q.payment_minor, q.payment_currency
		FROM rows r JOIN quotes q ON q.id = r.quote_id AND q.batch_id = r.batch_id
		WHERE r.batch_id = ? AND r.row_no > ? AND r.row_no <= ? AND r.quote_id IS NOT NULL`,
		[]any{sc.batch, lo, hi}, func(s scanner) error {
			var q rowQuote
			var transfer, sms int64
			if err := s.Scan(&q.row, &q.rate, &q.source.Minor, &q.source.Currency, &q.dest.Minor, &q.dest.Currency,
				&transfer, &sms, &q.fee.Currency, &q.payment.Minor, &q.payment.Currency); err != nil {
				return err
			}
			q.fee.Minor = transfer + sms
			out = append(out, q)
			return nil
		})
	return out, err
}

// notesQueries read, in row order, what the report shows beside a row's
// payout for the rows in (?2, ?3] that have any of it: the description
// and meta, why the row was held or stopped and what a person decided,
// where a failed row was resubmitted (or a resubmitted row came from).
// The later ones are for a ledger file the running ledger has not
// migrated yet (a read-only reader is newer): no row has what it lacks.
var notesQueries = []string{
	`SELECT r.row_no, r.meta, r.description, coalesce(h.reason, ''), coalesce(h.decision, ''),
		coalesce(h.decided_by, ''), coalesce(h.decision_reason, ''), r.stop, r.stop_by, r.stop_reason,
		r.resubmitted_to, r.resubmitted_row, r.parent_batch, r.parent_row
		FROM rows r LEFT JOIN holds h ON h.batch_id = r.batch_id AND h.row_no = r.row_no
		WHERE r.batch_id = ?1 AND r.row_no > ?2 AND r.row_no <= ?3 AND (r.meta <> '' OR r.description <> ''
		OR h.row_no IS NOT NULL OR r.stop <> '' OR r.resubmitted_to <> '' OR r.parent_batch <> '') ORDER BY r.row_no`,
	`SELECT row_no, meta, description, '', '', '', '', '', '', '', '', 0, '', 0 FROM rows
		WHERE batch_id = ?1 AND row_no > ?2 AND row_no <= ?3 AND (meta <> '' OR description <> '') ORDER BY row_no`,
	`SELECT row_no, meta, '', '', '', '', '', '', '', '', '', 0, '', 0 FROM rows
		WHERE batch_id = ?1 AND row_no > ?2 AND row_no <= ?3 AND meta <> '' ORDER BY row_no`,
}

// readNotes reads the notes of the rows in (lo, hi] (notesQueries): for a
// ledger file whose rows readRows cannot read with their notes.
func (sc *batchScan) readNotes(ctx context.Context, lo, hi int64) ([]report.Note, error) {
	var out []report.Note
	var n report.Note // read into for every row, then copied
	var c rawCheck
	read := func(v rawRow) error {
		n.Row = int(c.int(v, 0))
		if err := readNote(&n, &c, v, 1); err != nil {
			return err
		}
		out = append(out, n)
		return nil
	}
	var err error
	for _, q := range notesQueries {
		out = out[:0]
		err = eachRaw(ctx, sc.q, q, []any{sc.batch, lo, hi}, read)
		if err == nil || !missing(err) {
			break
		}
	}
	return out, err
}

// missing reports whether err is a read's of a table or column a ledger
// file not migrated yet lacks.
func missing(err error) bool { return strings.Contains(err.Error(), "no such") }

// readNote reads into n (its Row set) the note in v's columns from at
// on, in notesQueries' order after the row number: meta, description,
// why held, the decision, by whom and why, the stop, by whom and why, the
// resubmission and its row, the parent batch and its row.
func readNote(n *report.Note, c *rawCheck, v rawRow, at int) error {
	n.Meta = nil
	n.Description = c.text(v, at+1)
	meta, reason, decision, by, why := c.text(v, at), c.text(v, at+2), c.text(v, at+3), c.text(v, at+4), c.text(v, at+5)
	stop, stopBy, stopWhy, to, toRow := c.text(v, at+6), c.text(v, at+7), c.text(v, at+8), c.text(v, at+9), c.int(v, at+10)
	parent, parentRow := c.text(v, at+11), c.int(v, at+12)
	if c.err != nil {
		return fmt.Errorf("row %d: %w", n.Row, c.err)
	}
	if meta != "" {
		m, err := decodeMeta(meta)
		if err != nil {
			return fmt.Errorf("row %d: meta: %w", n.Row, err)
		}
		n.Meta = m
	}
	n.Held, n.Decision, n.Resubmit = "", "", ""
	switch {
	case reason != "":
		n.Held = "held: " + reason
	case stop == stopHold:
		n.Held = "on hold by " + stopBy + ": " + stopWhy
	case stop == stopCancel:
		n.Held = "cancelled by " + stopBy + ": " + stopWhy
	}
	if decision != "" {
		n.Decision = decision + " by " + by + ": " + why
	}
	switch {
	case to != "":
		n.Resubmit = fmt.Sprintf("resubmitted in batch %s row %d", to, toRow)
	case parent != "":
		n.Resubmit = fmt.Sprintf("resubmits batch %s row %d", parent, parentRow)
	}
	return nil
}
