package ledger

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/payrun/payrun/internal/cardmask"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/report"
)

// scanChunk is how many rows a batch scan reads at a time: what a report
// holds of a batch of any size is about two chunks.
var scanChunk = 2048

// batchScan reads a batch for its reconciliation and its report: openScan
// reads its head (the batch, its exceptions, the covered days and the
// complete bank reports), each its rows in row order, chunk by chunk, with
// the evidence about them: quotes, finishing webhooks, session/status
// answers, 3-D Secure links, report lines and notes, the reads of a chunk
// side by side on the read pool (as the whole batch's were before: the
// reads are not one transaction, so a state read while rows move may mix
// moments, as it always could). An archived batch is read from its
// archive.
type batchScan struct {
	q       *sql.DB // the read pool
	batch   string
	sum     *ledgerapi.BatchSummary // counted by each from the rows read
	d       *reconcile.Batch        // the head: Rows are each's; Orphans and AsOf set once each is done
	reports map[string]string       // complete report → imported_at
	asOf    string                  // the latest stored time seen
	archive *DB                     // the archive read from, closed with the scan
	main    *DB                     // the ledger read from when the batch was not archived
}

func (sc *batchScan) seen(t string) {
	if t > sc.asOf {
		sc.asOf = t
	}
}

// Close closes the archive the scan read from, if any.
func (sc *batchScan) Close() {
	if sc.archive != nil {
		sc.archive.Close()
	}
}

// openScan begins a scan of the batch and reads its head.
func (db *DB) openScan(ctx context.Context, batch string) (*batchScan, error) {
	if adb, err := db.archive(ctx, batch); err != nil {
		return nil, err
	} else if adb != nil {
		sc, err := adb.openScan(ctx, batch) // an archived batch: from its archive
		if err != nil {
			adb.Close()
			return nil, err
		}
		sc.archive = adb
		return sc, nil
	}
	sc := &batchScan{q: db.r, main: db, batch: batch, reports: map[string]string{},
		d: &reconcile.Batch{ID: batch, Covered: map[string]bool{}, Zone: db.ReportZone, ManifestTotals: money.Totals{}}}
	if err := sc.head(ctx); err != nil {
		return nil, err
	}
	return sc, nil
}

// head reads the batch, its summary, exceptions, the covered days and the
// complete reports.
func (sc *batchScan) head(ctx context.Context) error {
	batch, d, tx := sc.batch, sc.d, sc.q
	fail := func(what string, err error) error { return fmt.Errorf("reconcile %s: %s: %w", batch, what, err) }
	var manifestRows sql.NullInt64
	var totals sql.NullString
	var times [6]sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT manifest_rows, manifest_totals, first_seen_at, accepted_at, approved_at,
		cancelled_at, released_at, finished_at FROM batches WHERE id = ?`, batch).
		Scan(&manifestRows, &totals, &times[0], &times[1], &times[2], &times[3], &times[4], &times[5])
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("batch %s: %w", batch, errNotFound)
	}
	if err != nil {
		return fail("batch", err)
	}
	d.HasManifest, d.ManifestRows = manifestRows.Valid, int(manifestRows.Int64)
	if totals.Valid {
		if err := json.Unmarshal([]byte(totals.String), &d.ManifestTotals); err != nil {
			return fail("manifest totals", err)
		}
	}
	for _, t := range times {
		if t.Valid {
			sc.seen(t.String)
		}
	}
	list, err := batchesUncountedIn(ctx, tx, `WHERE id = ?`, batch)
	if err != nil {
		return fail("summary", err)
	}
	if len(list) != 1 {
		return fmt.Errorf("batch %s: %w", batch, errNotFound)
	}
	sc.sum = &list[0]
	d.Status = sc.sum.Status
	sc.sum.ByState, sc.sum.PaidTotals, sc.sum.FailedTotals = map[payout.State]int{}, money.Totals{}, money.Totals{}

	if err := eachRow(ctx, tx, `SELECT id, imported_at FROM bank_reports WHERE complete = 1`, nil, func(s scanner) error {
		var id, at string
		if err := s.Scan(&id, &at); err != nil {
			return err
		}
		sc.reports[id] = at
		return nil
	}); err != nil {
		return fail("report lines", err)
	}
	if err := eachRow(ctx, tx, `SELECT day FROM bank_days`, nil, func(s scanner) error {
		var day string
		if err := s.Scan(&day); err != nil {
			return err
		}
		d.Covered[day] = true
		return nil
	}); err != nil {
		return fail("report lines", err)
	}
	// Open and closed: a closed key is not found again.
	err = eachRow(ctx, tx, `SELECT id, category, key, coalesce(row_no, 0), detail, opened_at, coalesce(closed_at, '')
		FROM exceptions WHERE batch_id = ? ORDER BY id`, []any{batch}, func(s scanner) error {
		e := &reconcile.Recorded{}
		var open, shut string
		if err := s.Scan(&e.ID, &e.Category, &e.Key, &e.Row, &e.Detail, &open, &shut); err != nil {
			return err
		}
		e.OpenedAt, e.Closed = parseTime(open), shut != ""
		sc.seen(open)
		sc.seen(shut)
		d.Exceptions = append(d.Exceptions, e)
		if !e.Closed {
			sc.sum.Exceptions++
		}
		return nil
	})
	if err != nil {
		return fail("exceptions", err)
	}
	return nil
}

// scanned is a chunk of rows read, with their notes (in row order, for
// the rows that have any), or why reading stopped.
type scanned struct {
	rows  []*reconcile.Row
	notes []report.Note
	err   error
}

// each reads the rows in row order, with their notes when notes is set,
// and calls fn for every row (with its note, nil when it has none). The
// next chunk is read while fn works through this one. Once the last row
// was given to fn, the batch's Orphans, AsOf and the summary's counts are
// set.
func (sc *batchScan) each(ctx context.Context, notes bool, fn func(*reconcile.Row, *report.Note) error) error {
	ctx, cancel := context.WithCancel(ctx)
	chunks := make(chan scanned, 1)
	defer func() {
		cancel()
		for range chunks { // the reader is done with the transaction
		}
	}()
	go func() {
		defer close(chunks)
		lo := int64(math.MinInt64)
		for {
			c, hi, err := sc.readChunk(ctx, lo, notes)
			if err != nil {
				c.err = err
			}
			select {
			case chunks <- c:
			case <-ctx.Done():
				return
			}
			if err != nil || hi == math.MaxInt64 {
				return
			}
			lo = hi
		}
	}()
	sum := sc.sum
	for c := range chunks {
		if c.err != nil {
			return fmt.Errorf("reconcile %s: %w", sc.batch, c.err)
		}
		ni := 0
		for _, r := range c.rows {
			var note *report.Note
			for ni < len(c.notes) && c.notes[ni].Row < r.No {
				ni++
			}
			if ni < len(c.notes) && c.notes[ni].Row == r.No {
				note = &c.notes[ni]
			}
			sum.ByState[r.State]++
			switch r.State {
			case payout.StateSucceeded:
				sum.PaidTotals.Add(r.Amount)
			case payout.StateFailed, payout.StateCancelled:
				sum.FailedTotals.Add(r.Amount)
			}
			if err := fn(r, note); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The chunks are read apart: a batch archived meanwhile was pruned
	// from under the later ones, and what was read is not the batch.
	if sc.main != nil {
		if _, archived, err := sc.main.archivedAt(ctx, sc.batch); err != nil {
			return fmt.Errorf("reconcile %s: %w", sc.batch, err)
		} else if archived {
			return fmt.Errorf("reconcile %s: the batch was archived while it was read; read it again (from its archive)", sc.batch)
		}
	}
	slices.SortStableFunc(sc.d.Orphans, sc.lineOrder)
	if sc.asOf != "" {
		sc.d.AsOf = parseTime(sc.asOf)
	}
	return nil
}

// lineOrder orders report lines as they were imported: by the report's
// import time, the report, the line.
func (sc *batchScan) lineOrder(a, b *reconcile.Line) int {
	return cmp.Or(cmp.Compare(sc.reports[a.Report], sc.reports[b.Report]), cmp.Compare(a.Report, b.Report), cmp.Compare(a.Line, b.Line))
}

// readChunk reads the rows after row lo (at most scanChunk) and the
// evidence about the rows in (lo, hi]; hi is math.MaxInt64 for the last
// chunk, whose range takes whatever lies beyond the last row (report
// lines naming no row of ours). The reads run side by side on the read
// pool.
func (sc *batchScan) readChunk(ctx context.Context, lo int64, notes bool) (scanned, int64, error) {
	var c scanned
	q, batch := sc.q, sc.batch
	// The chunk's last row: a walk of the rows' primary key, no column read.
	hi := int64(math.MaxInt64)
	err := q.QueryRowContext(ctx, `SELECT row_no FROM rows WHERE batch_id = ? AND row_no > ? ORDER BY row_no LIMIT 1 OFFSET ?`,
		batch, lo, scanChunk-1).Scan(&hi)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return c, 0, fmt.Errorf("rows: %w", err)
	}

	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		errs              []error
		hooks             []chunkHook
		quotes            []rowQuote
		statuses, actions []rowText
		lines             []*reconcile.Line
		latest            [2]string // the latest times the reads saw: rows, report lines
	)
	run := func(what string, fn func() error) {
		wg.Go(func() {
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
				mu.Unlock()
			}
		})
	}
	run("rows", func() (err error) { c.rows, latest[0], err = sc.readRows(ctx, lo, hi); return err })
	run("quotes", func() (err error) { quotes, err = sc.readQuotes(ctx, lo, hi); return err })
	run("webhooks", func() (err error) { hooks, err = sc.readHooks(ctx, lo, hi); return err })
	run("transitions", func() error {
		return transitionEvidence(ctx, q, batch, lo, hi, func(row int, to string) {
			statuses = append(statuses, rowText{row, to})
		}, func(row int, at string) {
			actions = append(actions, rowText{row, at})
		})
	})
	run("report lines", func() (err error) { lines, latest[1], err = sc.readLines(ctx, lo, hi); return err })
	if notes {
		run("descriptions and meta", func() (err error) { c.notes, err = sc.readNotes(ctx, lo, hi); return err })
	}
	wg.Wait()
	if len(errs) > 0 {
		return c, 0, errors.Join(errs...)
	}
	for _, t := range latest {
		sc.seen(t)
	}

	// Put the evidence on the rows.
	find := func(no int) *reconcile.Row {
		i, ok := slices.BinarySearchFunc(c.rows, no, func(r *reconcile.Row, no int) int { return cmp.Compare(r.No, no) })
		if !ok {
			return nil
		}
		return c.rows[i]
	}
	for i := range quotes {
		if q, r := &quotes[i], find(quotes[i].row); r != nil {
			r.QuoteRate, r.QuoteSource, r.QuoteDest, r.QuoteFee, r.QuotePayment = q.rate, &q.source, &q.dest, &q.fee, &q.payment
		}
	}
	seqs := map[int]int64{} // the stream sequence of each row's webhook
	for i := range hooks {
		h := &hooks[i]
		r := find(h.row)
		if r == nil || (h.session != "" && r.OwnSession() != "" && h.session != r.OwnSession()) {
			continue // another session's news is the exceptions' business
		}
		if r.Hook == nil || h.seq > seqs[r.No] {
			r.Hook, seqs[r.No] = &h.Hook, h.seq
		}
		sc.seen(h.recorded)
	}
	for _, st := range statuses {
		if r := find(st.row); r != nil {
			r.StatusSays = st.text
		}
	}
	for _, a := range actions {
		if r := find(a.row); r != nil {
			r.ActionAt = parseTime(a.text)
		}
	}
	slices.SortStableFunc(lines, sc.lineOrder)
	for _, l := range lines {
		if r := find(l.RefRow); r != nil {
			r.Lines = append(r.Lines, l)
		} else {
			sc.d.Orphans = append(sc.d.Orphans, l)
		}
	}
	return c, hi, nil
}

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
// allocation each.
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
// it.
func (sc *batchScan) readHooks(ctx context.Context, lo, hi int64) ([]chunkHook, error) {
	const cols = `e.session_id, e.type, e.payout_status, e.amount_minor, e.currency, e.error_code, e.stream_seq, e.recorded_at`
	out := make([]chunkHook, 0, scanChunk) // about one a row
	var amounts amountSlab
	var c rawCheck
	err := eachRaw(ctx, sc.q, `SELECT e.ref_row, `+cols+` FROM bank_events e
		WHERE e.ref_batch = ?1 AND e.ref_row > ?2 AND e.ref_row <= ?3 AND e.type IN ('payment_finished', 'payment_refunded')
		UNION ALL SELECT s.row_no, `+cols+` FROM bank_events e JOIN sessions s ON s.session_id = e.session_id
		WHERE e.ref_batch = '' AND e.type IN ('payment_finished', 'payment_refunded') AND s.batch_id = ?1
		AND s.row_no > ?2 AND s.row_no <= ?3`,
		[]any{sc.batch, lo, hi}, func(v rawRow) error {
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
		})
	return out, err
}

// readLines reads the lines of complete reports about the rows in (lo,
// hi]; latest is the latest import of a report they are in.
func (sc *batchScan) readLines(ctx context.Context, lo, hi int64) ([]*reconcile.Line, string, error) {
	var out []*reconcile.Line
	var latest string
	var c rawCheck
	// Lines and amounts from slabs (amountSlab): a line was ~400 B and
	// three allocations.
	slab := make([]reconcile.Line, 0, scanChunk)
	var amounts amountSlab
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

// readRows reads the rows in (lo, hi]; latest is the latest update among
// them. Their quotes are readQuotes'.
func (sc *batchScan) readRows(ctx context.Context, lo, hi int64) (rows []*reconcile.Row, latest string, err error) {
	rows = make([]*reconcile.Row, 0, scanChunk)
	// The rows and their amounts live in a few slabs per chunk, not an
	// allocation each (a row and its amounts were ~1 KB and four
	// allocations). A slab that fills is followed by a new one: what was
	// given out stays where it is.
	slab := make([]reconcile.Row, 0, scanChunk)
	var amounts amountSlab
	var c rawCheck
	err = eachRaw(ctx, sc.q, `SELECT r.row_no, r.amount_minor, r.currency, r.attempt, r.fee_minor, r.fee_currency,
		r.paid_minor, r.paid_currency, r.reference, r.method, r.recipient, r.destination, r.state, r.session_id,
		r.confirm_session, r.payout_id, r.error_code, r.reason, r.action_url, r.tcn, r.received_at, r.moved_at, r.updated_at
		FROM rows r WHERE r.batch_id = ? AND r.row_no > ? AND r.row_no <= ? ORDER BY r.row_no`,
		[]any{sc.batch, lo, hi}, func(v rawRow) error {
			if len(slab) == cap(slab) {
				slab = make([]reconcile.Row, 0, scanChunk)
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
			return nil
		})
	return rows, latest, err
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

// readNotes reads the notes of the rows in (lo, hi] (notesQueries).
func (sc *batchScan) readNotes(ctx context.Context, lo, hi int64) ([]report.Note, error) {
	var out []report.Note
	var n report.Note // read into for every row, then copied
	var c rawCheck
	read := func(v rawRow) error {
		n.Meta = nil
		n.Row, n.Description = int(c.int(v, 0)), c.text(v, 2)
		meta, reason, decision, by, why := c.text(v, 1), c.text(v, 3), c.text(v, 4), c.text(v, 5), c.text(v, 6)
		stop, stopBy, stopWhy, to, toRow := c.text(v, 7), c.text(v, 8), c.text(v, 9), c.text(v, 10), c.int(v, 11)
		parent, parentRow := c.text(v, 12), c.int(v, 13)
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
		out = append(out, n)
		return nil
	}
	var err error
	for _, q := range notesQueries {
		out = out[:0]
		err = eachRaw(ctx, sc.q, q, []any{sc.batch, lo, hi}, read)
		if err == nil || !strings.Contains(err.Error(), "no such") {
			break
		}
	}
	return out, err
}

// metaKeys are the meta names of the batch's rows, as the report shows
// them (report.Source): every name of every row's meta object, through
// the card-number redaction, sorted. SQLite lists the names (json_each): decoding
// every row's meta in Go took ~0.1 s of a 100k-row report.
func (sc *batchScan) metaKeys(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	err := eachRow(ctx, sc.q, `SELECT DISTINCT j.key FROM rows r, json_each(r.meta) j
		WHERE r.batch_id = ? AND r.meta <> '' AND json_valid(r.meta) AND json_type(r.meta) = 'object'`, []any{sc.batch},
		func(s scanner) error {
			var k string
			if err := s.Scan(&k); err != nil {
				return err
			}
			seen[cardmask.Redact(k)] = true
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: meta names: %w", sc.batch, err)
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
