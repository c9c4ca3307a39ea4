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
	first, hi, err := sc.chunkEnd(ctx, lo)
	if err != nil {
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
		latest            [3]string // the latest times the reads saw: rows (two halves), report lines
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
	// The rows with their notes, in one walk of the rows; a ledger file
	// not migrated yet (a read-only reader is newer) has its notes read
	// apart (readNotes). The chunk's two halves are read side by side:
	// the rows' read is most of a chunk's reads, and the next chunk waits
	// for its end.
	var halves [2]struct {
		rows  []*reconcile.Row
		notes []report.Note
	}
	mid := hi // the first half's end, in [lo, hi]
	if half := int64(scanChunk / 2); first <= math.MaxInt64-half {
		mid = min(hi, max(lo, first+half-1))
	}
	for i, r := range [2][2]int64{{lo, mid}, {mid, hi}} {
		h, size := &halves[i], scanChunk/2
		if i == 1 {
			size = scanChunk - size
		}
		run("rows", func() (err error) {
			h.rows, h.notes, latest[i], err = sc.readRows(ctx, r[0], r[1], notes, size)
			if err != nil && notes && missing(err) {
				if h.rows, _, latest[i], err = sc.readRows(ctx, r[0], r[1], false, size); err == nil {
					h.notes, err = sc.readNotes(ctx, r[0], r[1])
				}
			}
			return err
		})
	}
	run("quotes", func() (err error) { quotes, err = sc.readQuotes(ctx, lo, hi); return err })
	run("webhooks", func() (err error) { hooks, err = sc.readHooks(ctx, lo, hi); return err })
	run("transitions", func() error {
		return transitionEvidence(ctx, q, batch, lo, hi, func(row int, to string) {
			statuses = append(statuses, rowText{row, to})
		}, func(row int, at string) {
			actions = append(actions, rowText{row, at})
		})
	})
	run("report lines", func() (err error) { lines, latest[2], err = sc.readLines(ctx, lo, hi); return err })
	wg.Wait()
	if len(errs) > 0 {
		return c, 0, errors.Join(errs...)
	}
	c.rows = slices.Concat(halves[0].rows, halves[1].rows)
	c.notes = slices.Concat(halves[0].notes, halves[1].notes)
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

// chunkEnd is the chunk after row lo: its first row, and its end, the
// range of scanChunk row numbers from first, or math.MaxInt64 when no row
// lies beyond that range (the last chunk; first is then lo when no row
// is left). Two seeks of the rows' key:
// a batch's row numbers are dense, so a range of numbers is a chunk of
// rows, and a sparse batch's chunks merely hold fewer rows (each at
// least one). Walking scanChunk keys to the chunk's last row (LIMIT 1
// OFFSET) took ~0.75 cpu-s of a 1M-row report, before each chunk's reads.
func (sc *batchScan) chunkEnd(ctx context.Context, lo int64) (first, hi int64, err error) {
	var next sql.NullInt64
	if err := sc.q.QueryRowContext(ctx, `SELECT min(row_no) FROM rows WHERE batch_id = ? AND row_no > ?`,
		sc.batch, lo).Scan(&next); err != nil {
		return 0, 0, err
	}
	if !next.Valid {
		return lo, math.MaxInt64, nil
	}
	if next.Int64 > math.MaxInt64-int64(scanChunk) {
		return next.Int64, math.MaxInt64, nil
	}
	hi = next.Int64 + int64(scanChunk) - 1
	var more bool
	if err := sc.q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM rows WHERE batch_id = ? AND row_no > ?)`,
		sc.batch, hi).Scan(&more); err != nil {
		return 0, 0, err
	}
	if !more {
		return next.Int64, math.MaxInt64, nil
	}
	return next.Int64, hi, nil
}

// metaKeys are the meta names of the batch's rows, as the report shows
// them (report.Source): every name of every row's meta object, through
// the card-number redaction, sorted. SQLite lists the names (json_each): decoding
// every row's meta in Go took ~0.1 s of a 100k-row report. The batch's
// rows are listed in metaParts ranges of row numbers side by side on the
// read pool: the walk is the one read of the whole batch before a CSV's
// first row (at 1M rows 1.3 cpu-s, 4.2 s of wall time alone, measured
// under load).
func (sc *batchScan) metaKeys(ctx context.Context) ([]string, error) {
	fail := func(err error) error { return fmt.Errorf("reconcile %s: meta names: %w", sc.batch, err) }
	var first, last sql.NullInt64
	if err := sc.q.QueryRowContext(ctx, `SELECT min(row_no), max(row_no) FROM rows WHERE batch_id = ?`, sc.batch).
		Scan(&first, &last); err != nil {
		return nil, fail(err)
	}
	seen := map[string]bool{}
	if !first.Valid {
		return slices.Sorted(maps.Keys(seen)), nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	step := (last.Int64-first.Int64)/metaParts + 1
	for lo := first.Int64; lo <= last.Int64; lo += step {
		hi := min(lo+step-1, last.Int64)
		wg.Go(func() {
			var names []string
			err := eachRow(ctx, sc.q, `SELECT DISTINCT j.key FROM rows r, json_each(r.meta) j
				WHERE r.batch_id = ? AND r.row_no >= ? AND r.row_no <= ? AND r.meta <> '' AND json_valid(r.meta)
				AND json_type(r.meta) = 'object'`, []any{sc.batch, lo, hi},
				func(s scanner) error {
					var k string
					if err := s.Scan(&k); err != nil {
						return err
					}
					names = append(names, k)
					return nil
				})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			for _, k := range names {
				seen[cardmask.Redact(k)] = true
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, fail(errors.Join(errs...))
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// metaParts is how many ranges of rows metaKeys lists side by side: the
// read pool's connections.
const metaParts = 4
