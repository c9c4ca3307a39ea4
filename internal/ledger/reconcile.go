package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// Exception categories the reconciliation finds (with ExceptionAfterCancel,
// ExceptionTwoOperations and ExceptionInDoubt, which the transitions and
// the sweeper open too).
const (
	ExceptionNotInRecords      = "paid_not_in_records"    // the bank paid an operation that names no row of ours
	ExceptionAmountMismatch    = "amount_mismatch"        // the bank paid another amount or currency than the row's
	ExceptionMissingFromReport = "missing_from_report"    // a success on a day a bank report covers, missing from it
	ExceptionReturned          = "returned_after_success" // paid, then returned by the recipient's bank
	ExceptionBatchTotals       = "batch_totals"           // the rows do not add up to the manifest, or paid ≠ reported
)

// Reconciliation statuses of a row.
const (
	ReconMatched        = "matched"         // our record, the bank's webhooks and its report agree (or nothing was paid and the bank reports nothing)
	ReconAwaitingBank   = "awaiting_bank"   // not final yet: queued, at the bank, or waiting for its answer
	ReconAwaitingReport = "awaiting_report" // paid by webhook or session/status; no imported report covers the day yet
	ReconException      = "exception"       // an open exception names the row; see its categories
)

// ReconStatuses lists the reconciliation statuses in report order.
var ReconStatuses = []string{ReconMatched, ReconAwaitingBank, ReconAwaitingReport, ReconException}

// exceptionLabels say what each category means, for finance.
var exceptionLabels = map[string]string{
	ExceptionNotInRecords:      "paid but not in our records",
	ExceptionAfterCancel:       "bank says paid while we say failed",
	ExceptionAmountMismatch:    "amount or currency mismatch",
	ExceptionTwoOperations:     "two bank operations for one row",
	ExceptionMissingFromReport: "success missing from the bank's report",
	ExceptionReturned:          "returned after success",
	ExceptionInDoubt:           "in doubt past its deadline",
	ExceptionStalled:           "no final word from the bank past its deadline",
	ExceptionBatchTotals:       "batch totals do not add up",
	ExceptionGateMismatch:      "bank's payout did not match the row; cancelled at the gate",
	ExceptionDeadLetter:        "job or webhook exhausted its deliveries",
	ExceptionUnknownHook:       "webhook for a row we do not know",
	ExceptionManifest:          "batch rejected or its manifest differs",
	ExceptionRowConflict:       "row arrived again with different data",
	ExceptionLateRow:           "row arrived after its batch was sealed",
	ExceptionIntakeInvalid:     "intake message unreadable",
}

// categoryOrder is the order categories are listed in.
var categoryOrder = []string{
	ExceptionNotInRecords, ExceptionAfterCancel, ExceptionAmountMismatch, ExceptionTwoOperations,
	ExceptionMissingFromReport, ExceptionReturned, ExceptionInDoubt, ExceptionStalled, ExceptionBatchTotals,
	ExceptionGateMismatch, ExceptionDeadLetter, ExceptionUnknownHook, ExceptionManifest,
	ExceptionRowConflict, ExceptionLateRow, ExceptionIntakeInvalid,
}

// ExceptionLabel says in plain words what an exception category means.
func ExceptionLabel(category string) string {
	if l, ok := exceptionLabels[category]; ok {
		return l
	}
	return strings.ReplaceAll(category, "_", " ")
}

func categoryRank(c string) int {
	if i := slices.Index(categoryOrder, c); i >= 0 {
		return i
	}
	return len(categoryOrder)
}

// reconcileOwned are the categories the reconciliation closes again when
// what it found no longer holds (a late report line arrived, a batch now
// adds up). The others stay open until a person closes them.
var reconcileOwned = []string{ExceptionMissingFromReport, ExceptionBatchTotals}

// reportGrace is how long before the ledger recorded a success the bank
// may have finished it (a late webhook, a poll): a success counts as
// missing from the reports only when they cover the days of both ends.
const reportGrace = 2 * time.Hour

// Finding is an exception the reconciliation found. Key is the exception's
// key (category:…), the same key a transition or the sweeper uses for the
// same fact, so a finding is recorded once.
type Finding struct {
	Category string `json:"category"`
	Key      string `json:"key"`
	Row      int    `json:"row,omitempty"` // 0: the batch as a whole
	Detail   string `json:"detail"`
}

// RowReconciliation is one row's reconciliation status.
type RowReconciliation struct {
	Row        int      `json:"row"`
	Status     string   `json:"status"`
	Categories []string `json:"categories,omitempty"`
}

// OpenException is an exception in a reconciliation: recorded (with its
// id and opening time) or found now and not recorded yet.
type OpenException struct {
	ID       int64  `json:"id,omitempty"`
	Category string `json:"category"`
	Key      string `json:"key"`
	Row      int    `json:"row,omitempty"`
	Detail   string `json:"detail"`
	OpenedAt string `json:"opened_at,omitempty"` // RFC 3339 UTC; empty when not recorded yet
}

// Reconciliation is a batch reconciled at one ledger state.
type Reconciliation struct {
	Batch string `json:"batch"`
	// AsOf is the latest time recorded in the state the reconciliation
	// read (transitions, webhooks, imported reports, exceptions).
	AsOf time.Time           `json:"as_of"`
	Rows []RowReconciliation `json:"rows"`
	// Counts are rows by status (every status present).
	Counts map[string]int `json:"counts"`
	// Findings are what the comparison found now, recorded or not.
	Findings []Finding `json:"findings"`
	// Exceptions are the batch's open exceptions: the recorded ones and
	// the findings not recorded yet, by row then category.
	Exceptions []OpenException `json:"exceptions"`
	// Paid is what the ledger recorded paid (succeeded or returned rows,
	// transfers on their destination side); Reported what the bank's
	// imported reports list as paid for the batch, once per operation.
	Paid     money.Totals `json:"paid"`
	Reported money.Totals `json:"reported"`
	// Opened counts exceptions Service.Reconcile recorded; Closed those
	// it closed because their finding no longer holds.
	Opened int `json:"opened,omitempty"`
	Closed int `json:"closed,omitempty"`

	data *batchData
}

// Reconcile compares, for every row of the batch, what we asked for, what
// the bank's webhooks said, what session/status said and what the bank's
// imported daily reports list, and returns each row's status and the
// exceptions found. It reads only (the read pool) and depends on nothing
// but the ledger's state, so it returns the same for the same state;
// Service.Reconcile also records what it found.
func (db *DB) Reconcile(ctx context.Context, batch string) (*Reconciliation, error) {
	d, err := db.loadBatch(ctx, batch)
	if err != nil {
		return nil, err
	}
	return d.reconcile(), nil
}

// Reconcile reconciles a batch (see DB.Reconcile) and records what it
// found: new exceptions are opened (once per key), and exceptions of the
// categories the reconciliation owns (missing from report, batch totals)
// whose finding no longer holds are closed.
func (s *Service) Reconcile(ctx context.Context, batch string) (*Reconciliation, error) {
	rec, err := s.db.Reconcile(ctx, batch)
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for _, f := range rec.Findings {
		found[f.Key] = true
	}
	var stale []string
	for _, e := range rec.data.exceptions {
		if e.closed == "" && slices.Contains(reconcileOwned, e.category) && !found[e.key] {
			stale = append(stale, e.key)
		}
	}
	err = s.w.Do(ctx, func(tx *Tx) error {
		rec.Opened, rec.Closed = 0, 0
		for _, f := range rec.Findings {
			opened, err := openException(tx, f.Category, strings.TrimPrefix(f.Key, f.Category+":"), batch, f.Row, f.Detail)
			if err != nil {
				return err
			}
			if opened {
				rec.Opened++
				s.log.Warn("reconciliation exception", LogKeyBatch, batch, LogKeyRow, f.Row, LogKeyCategory, f.Category,
					LogKeyReason, f.Detail)
			}
		}
		for _, key := range stale {
			r, err := tx.Exec(`UPDATE exceptions SET closed_at = ?, resolution = ? WHERE key = ? AND closed_at IS NULL`,
				formatTime(tx.Now), "reconciled: no longer found", key)
			if err != nil {
				return fmt.Errorf("close exception %s: %w", key, err)
			}
			n, _ := r.RowsAffected()
			rec.Closed += int(n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record reconciliation of %s: %w", batch, err)
	}
	if rec.Closed > 0 {
		closed := map[string]bool{}
		for _, k := range stale {
			closed[k] = true
		}
		rec.Exceptions = slices.DeleteFunc(rec.Exceptions, func(e OpenException) bool { return closed[e.Key] })
	}
	if rec.Opened+rec.Closed > 0 {
		s.log.Info("batch reconciled", LogKeyBatch, batch, LogKeyOpened, rec.Opened, LogKeyClosed, rec.Closed,
			LogKeyMatched, rec.Counts[ReconMatched], LogKeyExcepted, rec.Counts[ReconException])
	}
	return rec, nil
}

// batchData is everything the reconciliation and the report read about a
// batch, loaded in a few queries.
type batchData struct {
	sum            *ledgerapi.BatchSummary
	manifestRows   sql.NullInt64
	manifestTotals money.Totals
	asOf           string
	rows           []*reconRow
	byNo           map[int]*reconRow
	orphans        []*reportLine // lines naming this batch but no row of it
	covered        map[string]bool
	exceptions     []*excRec
}

type reconRow struct {
	No                        int
	Reference, Method         string
	Recipient, Destination    string
	Amount                    money.Amount
	State                     payout.State
	Attempt                   int
	SessionID, ConfirmSession string
	PayoutID                  string
	ErrorCode, Reason         string
	Fee, Paid                 *money.Amount
	ReceivedAt, MovedAt       string
	UpdatedAt                 string
	QuoteRate                 string
	QuoteSource, QuoteDest    *money.Amount
	Hook                      *hookFact
	StatusSays                string
	Lines                     []*reportLine
	recon                     *RowReconciliation
}

// hookFact is the latest payment_finished / payment_refunded webhook for a
// row's own session.
type hookFact struct {
	Type, PayoutStatus, ErrorCode string
	Amount                        *money.Amount
	seq                           int64
}

type reportLine struct {
	Report, ImportedAt string
	Line               int
	Op, Session, Type  string
	Date               string
	Amount             money.Amount
	RefRow             int // the row it concerns; 0: none of ours
}

type excRec struct {
	id                    int64
	category, key, detail string
	row                   int
	opened, closed        string
}

// ownSession is the session that pays the row: the one holding the
// confirm, else the row's session.
func (r *reconRow) ownSession() string { return firstNonEmpty(r.ConfirmSession, r.SessionID) }

func (d *batchData) seen(t string) {
	if t > d.asOf {
		d.asOf = t
	}
}

// loadBatch reads the batch, its rows (with quotes), the webhooks that
// finished them, session/status answers, report lines, covered days and
// exceptions. The independent reads run side by side on the read pool.
func (db *DB) loadBatch(ctx context.Context, batch string) (*batchData, error) {
	d := &batchData{byNo: map[int]*reconRow{}, covered: map[string]bool{}, manifestTotals: money.Totals{}}
	fail := func(what string, err error) error { return fmt.Errorf("reconcile %s: %s: %w", batch, what, err) }

	var totals sql.NullString
	var times [6]sql.NullString
	err := db.r.QueryRowContext(ctx, `SELECT manifest_rows, manifest_totals, first_seen_at, accepted_at, approved_at,
		cancelled_at, released_at, finished_at FROM batches WHERE id = ?`, batch).
		Scan(&d.manifestRows, &totals, &times[0], &times[1], &times[2], &times[3], &times[4], &times[5])
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("batch %s: %w", batch, errNotFound)
	}
	if err != nil {
		return nil, fail("batch", err)
	}
	if totals.Valid {
		if err := json.Unmarshal([]byte(totals.String), &d.manifestTotals); err != nil {
			return nil, fail("manifest totals", err)
		}
	}
	for _, t := range times {
		if t.Valid {
			d.seen(t.String)
		}
	}

	// Side by side: the summary, the rows, and the evidence about them.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		errs     []error
		hooks    []*hookRec
		statuses []statusRec
		lines    []*reportLine
		reports  = map[string]string{} // complete report → imported_at
	)
	run := func(what string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, fail(what, err))
				mu.Unlock()
			}
		}()
	}
	run("summary", func() error {
		list, err := db.batchesUncounted(ctx, `WHERE id = ?`, batch)
		if err == nil && len(list) == 1 {
			d.sum = &list[0]
		}
		return err
	})
	run("rows", func() error { return d.loadRows(ctx, db.r, batch) })
	run("webhooks", func() error {
		// By the metadata (covering index), and by session for the few
		// webhooks without it.
		const cols = `e.session_id, e.type, e.payout_status, e.amount_minor, e.currency, e.error_code, e.stream_seq, e.recorded_at`
		return eachRow(ctx, db.r, `SELECT coalesce(e.ref_row, 0), `+cols+` FROM bank_events e
			WHERE e.ref_batch = ? AND e.type IN ('payment_finished', 'payment_refunded')
			UNION ALL SELECT s.row_no, `+cols+` FROM bank_events e JOIN sessions s ON s.session_id = e.session_id
			WHERE e.ref_batch = '' AND e.type IN ('payment_finished', 'payment_refunded') AND s.batch_id = ?`,
			[]any{batch, batch}, func(s scanner) error {
				h := &hookRec{}
				var amount sql.NullInt64
				if err := s.Scan(&h.row, &h.session, &h.Type, &h.PayoutStatus, &amount, &h.currency, &h.ErrorCode,
					&h.seq, &h.recorded); err != nil {
					return err
				}
				if amount.Valid {
					h.Amount = &money.Amount{Minor: amount.Int64, Currency: h.currency}
				}
				hooks = append(hooks, h)
				return nil
			})
	})
	run("status answers", func() error {
		return eachRow(ctx, db.r, `SELECT row_no, to_state FROM transitions WHERE batch_id = ? AND source = 'status' ORDER BY id`,
			[]any{batch}, func(s scanner) error {
				var st statusRec
				if err := s.Scan(&st.row, &st.to); err != nil {
					return err
				}
				statuses = append(statuses, st)
				return nil
			})
	})
	run("report lines", func() error {
		if err := eachRow(ctx, db.r, `SELECT id, imported_at FROM bank_reports WHERE complete = 1`, nil, func(s scanner) error {
			var id, at string
			if err := s.Scan(&id, &at); err != nil {
				return err
			}
			reports[id] = at
			return nil
		}); err != nil {
			return err
		}
		if err := eachRow(ctx, db.r, `SELECT DISTINCT d.day FROM bank_report_days d JOIN bank_reports r ON r.id = d.report_id
			WHERE r.complete = 1`, nil, func(s scanner) error {
			var day string
			if err := s.Scan(&day); err != nil {
				return err
			}
			d.covered[day] = true
			return nil
		}); err != nil {
			return err
		}
		return eachRow(ctx, db.r, `SELECT row_no, line, report_id, operation_id, session_id, type, transaction_date,
			amount_minor, currency FROM bank_report_lines WHERE batch_id = ?`,
			[]any{batch}, func(s scanner) error {
				l := &reportLine{}
				if err := s.Scan(&l.RefRow, &l.Line, &l.Report, &l.Op, &l.Session, &l.Type, &l.Date,
					&l.Amount.Minor, &l.Amount.Currency); err != nil {
					return err
				}
				lines = append(lines, l)
				return nil
			})
	})
	run("exceptions", func() error {
		// Open and closed: a closed key is not found again.
		return eachRow(ctx, db.r, `SELECT id, category, key, coalesce(row_no, 0), detail, opened_at, coalesce(closed_at, '')
			FROM exceptions WHERE batch_id = ? ORDER BY id`, []any{batch}, func(s scanner) error {
			e := &excRec{}
			if err := s.Scan(&e.id, &e.category, &e.key, &e.row, &e.detail, &e.opened, &e.closed); err != nil {
				return err
			}
			d.exceptions = append(d.exceptions, e)
			return nil
		})
	})
	wg.Wait()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// Put the evidence on the rows.
	for _, h := range hooks {
		r := d.byNo[h.row]
		if r == nil || (h.session != "" && r.ownSession() != "" && h.session != r.ownSession()) {
			continue // another session's news is the exceptions' business
		}
		if r.Hook == nil || h.seq > r.Hook.seq {
			r.Hook = &h.hookFact
		}
		d.seen(h.recorded)
	}
	for _, st := range statuses {
		if r := d.byNo[st.row]; r != nil {
			r.StatusSays = st.to
		}
	}
	kept := lines[:0]
	for _, l := range lines {
		if at, ok := reports[l.Report]; ok {
			l.ImportedAt = at
			d.seen(at)
			kept = append(kept, l)
		}
	}
	lines = kept
	sort.Slice(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if a.ImportedAt != b.ImportedAt {
			return a.ImportedAt < b.ImportedAt
		}
		if a.Report != b.Report {
			return a.Report < b.Report
		}
		return a.Line < b.Line
	})
	for _, l := range lines {
		if r := d.byNo[l.RefRow]; r != nil {
			r.Lines = append(r.Lines, l)
		} else {
			d.orphans = append(d.orphans, l)
		}
	}
	for _, e := range d.exceptions {
		d.seen(e.opened)
		d.seen(e.closed)
	}
	// The summary's counts, as DB.Batch makes them, from the rows read.
	sum := d.sum
	sum.ByState, sum.PaidTotals, sum.FailedTotals = map[payout.State]int{}, money.Totals{}, money.Totals{}
	for _, r := range d.rows {
		sum.ByState[r.State]++
		switch r.State {
		case payout.StateSucceeded:
			sum.PaidTotals.Add(r.Amount)
		case payout.StateFailed, payout.StateCancelled:
			sum.FailedTotals.Add(r.Amount)
		}
	}
	sum.Exceptions = 0
	for _, e := range d.exceptions {
		if e.closed == "" {
			sum.Exceptions++
		}
	}
	return d, nil
}

// hookRec is a webhook as read, before it is put on its row.
type hookRec struct {
	hookFact
	row               int
	session, currency string
	recorded          string
}

type statusRec struct {
	row int
	to  string
}

// loadRows reads the batch's rows with their quotes, in row order.
func (d *batchData) loadRows(ctx context.Context, db *sql.DB, batch string) error {
	quotes := map[int64]*ledgerapi.Quote{}
	if err := eachRow(ctx, db, `SELECT id, fx_rate, source_minor, source_currency, dest_minor, dest_currency FROM quotes
		WHERE batch_id = ?`, []any{batch}, func(s scanner) error {
		var id int64
		q := &ledgerapi.Quote{}
		if err := s.Scan(&id, &q.FXRate, &q.Source.Minor, &q.Source.Currency, &q.Destination.Minor, &q.Destination.Currency); err != nil {
			return err
		}
		quotes[id] = q
		return nil
	}); err != nil {
		return err
	}
	d.rows = make([]*reconRow, 0, 1024)
	var latest string
	err := eachRow(ctx, db, `SELECT row_no, amount_minor, currency, attempt, fee_minor, fee_currency, paid_minor, paid_currency,
		quote_id, reference, method, recipient, destination, state, session_id, confirm_session, payout_id, error_code, reason,
		received_at, moved_at, updated_at FROM rows WHERE batch_id = ? ORDER BY row_no`,
		[]any{batch}, func(s scanner) error {
			r := &reconRow{}
			var fee, paid, quote sql.NullInt64
			var feeCur, paidCur string
			if err := s.Scan(&r.No, &r.Amount.Minor, &r.Amount.Currency, &r.Attempt, &fee, &feeCur, &paid, &paidCur,
				&quote, &r.Reference, &r.Method, &r.Recipient, &r.Destination, &r.State, &r.SessionID, &r.ConfirmSession,
				&r.PayoutID, &r.ErrorCode, &r.Reason, &r.ReceivedAt, &r.MovedAt, &r.UpdatedAt); err != nil {
				return err
			}
			if fee.Valid {
				r.Fee = &money.Amount{Minor: fee.Int64, Currency: feeCur}
			}
			if paid.Valid {
				r.Paid = &money.Amount{Minor: paid.Int64, Currency: paidCur}
			}
			if q := quotes[quote.Int64]; quote.Valid && q != nil {
				r.QuoteRate, r.QuoteSource, r.QuoteDest = q.FXRate, &q.Source, &q.Destination
			}
			latest = max(latest, r.UpdatedAt)
			d.rows = append(d.rows, r)
			d.byNo[r.No] = r
			return nil
		})
	d.seen(latest) // the only goroutine of loadBatch that touches asOf
	return err
}

// eachRow runs a query on the read pool and calls fn for every row.
func eachRow(ctx context.Context, db *sql.DB, query string, args []any, fn func(scanner) error) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// bankAmount is what the bank should report as paid out for the row, in
// the currency it reports: the row's amount, or for a transfer paid in
// another currency than the row's, the quote's side in that currency.
func (r *reconRow) bankAmount(currency string) (money.Amount, bool) {
	return expectedIn(currency, r.Amount, r.QuoteSource, r.QuoteDest)
}

func expectedIn(currency string, amount money.Amount, quoteSource, quoteDest *money.Amount) (money.Amount, bool) {
	switch {
	case currency == amount.Currency:
		return amount, true
	case quoteDest != nil && quoteDest.Currency == currency:
		return *quoteDest, true
	case quoteSource != nil && quoteSource.Currency == currency:
		return *quoteSource, true
	}
	return money.Amount{}, false
}

// reconcileMove opens, as a row moves, the exceptions its move alone
// proves (the reconciliation finds them again under the same keys): a
// success paying another amount or currency than the row's, and a return
// after success.
func (s *Service) reconcileMove(tx *Tx, r *rowRec, t *ledgerapi.Transition) error {
	key := fmt.Sprintf("%s/%d", r.Batch, r.Row)
	label := fmt.Sprintf("row %d (%s)", r.Row, r.Reference)
	switch {
	case t.To == payout.StateReturned:
		_, err := openException(tx, ExceptionReturned, key, r.Batch, r.Row,
			fmt.Sprintf("%s was paid, then returned by the recipient's bank (%s: %s)", label, t.Evidence.Source,
				firstNonEmpty(t.Evidence.Detail, t.Reason, t.Evidence.HookType)))
		return err
	case t.To == payout.StateSucceeded && t.Paid != nil:
		var src, dst *money.Amount
		if r.QuoteID.Valid {
			if q, err := quoteByID(tx, r.QuoteID.Int64); err == nil {
				src, dst = &q.Source, &q.Destination
			}
		}
		paid := money.New(t.Paid.Minor, t.Paid.Currency)
		if want, ok := expectedIn(paid.Currency, r.Amount, src, dst); ok && want == paid {
			return nil
		}
		asked := r.Amount.String()
		if dst != nil && dst.Currency != r.Amount.Currency {
			asked += " (" + dst.String() + " at the quoted rate)"
		}
		opened, err := openException(tx, ExceptionAmountMismatch, key+"/paid", r.Batch, r.Row,
			fmt.Sprintf("the bank reported %s paid %s (%s); we asked for %s", label, paid, t.Evidence.Source, asked))
		if opened {
			s.log.Error("bank paid another amount than the row's", LogKeyBatch, r.Batch, LogKeyRow, r.Row,
				LogKeyReference, r.Reference, LogKeySession, t.SessionID)
		}
		return err
	}
	return nil
}

// paidAmount is what the ledger expects the bank to report for the row:
// the destination side for a transfer, the row's amount otherwise.
func (r *reconRow) paidAmount() money.Amount {
	if r.QuoteDest != nil && payout.Method(r.Method) == payout.MethodTransfer {
		return *r.QuoteDest
	}
	return r.Amount
}

func (r *reconRow) label() string { return fmt.Sprintf("row %d (%s)", r.No, r.Reference) }

// reconcile compares the loaded state and sets every row's status.
func (d *batchData) reconcile() *Reconciliation {
	batch := d.sum.Batch
	rec := &Reconciliation{Batch: batch, Counts: map[string]int{}, data: d, Rows: make([]RowReconciliation, 0, len(d.rows))}
	if d.asOf != "" {
		rec.AsOf = parseTime(d.asOf)
	}
	closedKeys := map[string]bool{}
	openByRow := map[int][]*excRec{}
	for _, e := range d.exceptions {
		if e.closed != "" {
			closedKeys[e.key] = true
		} else {
			openByRow[e.row] = append(openByRow[e.row], e)
		}
	}
	recorded := map[string]bool{}
	for _, e := range d.exceptions {
		recorded[e.key] = true
	}
	var found []Finding
	add := func(cat string, row int, key, format string, args ...any) {
		k := cat + ":" + key
		if closedKeys[k] {
			return // a person closed it
		}
		found = append(found, Finding{Category: cat, Key: k, Row: row, Detail: redactCards(fmt.Sprintf(format, args...))})
	}
	rejected := d.sum.Status == payout.BatchRejected
	pending := 0 // rows not final, or paid on a day no report covers yet
	paid, reported := money.Totals{}, money.Totals{}
	for _, r := range d.rows {
		n := len(found)
		key := fmt.Sprintf("%s/%d", batch, r.No)
		// Paid operations the reports list for the row, once per operation.
		var advice, refunds []*reportLine
		seenOps := map[string]bool{}
		for _, l := range r.Lines {
			switch l.Type {
			case bank131.ReportAdvice:
				if !seenOps[l.Op] {
					seenOps[l.Op] = true
					advice = append(advice, l)
					reported.Add(l.Amount)
				}
			case bank131.ReportRefund:
				refunds = append(refunds, l)
			}
		}
		if r.State == payout.StateReturned || len(refunds) > 0 {
			how := "the ledger recorded it returned"
			if len(refunds) > 0 {
				l := refunds[0]
				how = fmt.Sprintf("the bank's report lists refund %s of %s on %s", l.Op, l.Amount, l.Date)
			}
			add(ExceptionReturned, r.No, key, "%s was paid, then returned by the recipient's bank: %s", r.label(), how)
		}
		if len(advice) > 0 && (r.State == payout.StateFailed || r.State == payout.StateCancelled || rejected) {
			l := advice[0]
			st := string(r.State)
			if rejected {
				st = "not paid (batch rejected)"
			}
			add(ExceptionAfterCancel, r.No, key, "the bank's report lists %s paid (%s %s, session %s) but the ledger recorded %s %s",
				r.label(), l.Op, l.Amount, l.Session, r.label(), st)
		}
		// Which operation is the row's own; any other is a second payment.
		own := -1
		for i, l := range advice {
			if (r.PayoutID != "" && l.Op == r.PayoutID) || (own < 0 && l.Session != "" && l.Session == r.ownSession()) {
				own = i
			}
		}
		if own < 0 && len(advice) > 0 {
			own = 0
		}
		for i, l := range advice {
			if i == own {
				continue
			}
			k := key + "/" + l.Op
			if l.Session != "" && l.Session != advice[own].Session {
				k = key + "/" + l.Session
			}
			add(ExceptionTwoOperations, r.No, k, "two bank operations for one row: the bank's report lists %s (session %s, %s) and %s (session %s, %s) for %s",
				advice[own].Op, advice[own].Session, advice[own].Amount, l.Op, l.Session, l.Amount, r.label())
		}
		for _, l := range advice {
			if want, ok := r.bankAmount(l.Amount.Currency); !ok || want != l.Amount {
				add(ExceptionAmountMismatch, r.No, key+"/"+l.Op, "the bank's report lists %s paid %s for %s; we asked for %s",
					l.Op, l.Amount, r.label(), r.expected())
			}
		}
		if r.Paid != nil {
			if want, ok := r.bankAmount(r.Paid.Currency); !ok || want != *r.Paid {
				add(ExceptionAmountMismatch, r.No, key+"/paid", "the bank reported %s paid %s (webhook or session/status); we asked for %s",
					r.label(), r.Paid, r.expected())
			}
		}
		reportDue := r.State == payout.StateSucceeded && len(advice) == 0
		if reportDue {
			at := parseTime(r.MovedAt)
			d1, d0 := at.Format(time.DateOnly), at.Add(-reportGrace).Format(time.DateOnly)
			if d.covered[d1] && d.covered[d0] {
				add(ExceptionMissingFromReport, r.No, key, "%s succeeded at %s (session %s, payout %s) but the bank's report for %s does not list it",
					r.label(), rfc3339(r.MovedAt), r.ownSession(), r.PayoutID, d1)
				reportDue = false
			}
		}
		if r.State == payout.StateSucceeded || r.State == payout.StateReturned {
			paid.Add(r.paidAmount())
		}

		// The row's status.
		rr := &RowReconciliation{Row: r.No}
		cats := map[string]bool{}
		for _, e := range openByRow[r.No] {
			cats[e.category] = true
		}
		for _, f := range found[n:] {
			cats[f.Category] = true
		}
		if rejected {
			cats[ExceptionManifest] = true
		}
		for c := range cats {
			rr.Categories = append(rr.Categories, c)
		}
		sortCategories(rr.Categories)
		switch {
		case len(rr.Categories) > 0:
			rr.Status = ReconException
		case r.State == payout.StateSucceeded && reportDue:
			rr.Status = ReconAwaitingReport
		case r.State.Terminal():
			rr.Status = ReconMatched
		default:
			rr.Status = ReconAwaitingBank
		}
		if !r.State.Terminal() || reportDue {
			pending++
		}
		rec.Counts[rr.Status]++
		rec.Rows = append(rec.Rows, *rr)
		r.recon = &rec.Rows[len(rec.Rows)-1]
	}
	for _, st := range ReconStatuses {
		rec.Counts[st] += 0
	}

	// The batch as a whole.
	for _, l := range d.orphans {
		if l.Type == bank131.ReportAdvice {
			reported.Add(l.Amount)
		}
		add(ExceptionNotInRecords, 0, l.Op+"/"+l.Type, "the bank's report lists %s %s of %s, session %q, for row %s/%d, which the ledger does not know",
			l.Type, l.Op, l.Amount, l.Session, batch, l.RefRow)
	}
	if d.manifestRows.Valid && !rejected && d.sum.Status != payout.BatchReceiving {
		rowTotals := money.Totals{}
		for _, r := range d.rows {
			rowTotals.Add(r.Amount)
		}
		if int64(len(d.rows)) != d.manifestRows.Int64 || !rowTotals.Equal(d.manifestTotals) {
			add(ExceptionBatchTotals, 0, batch+"/manifest", "the batch's rows add up to %d rows, %s; its manifest says %d rows, %s",
				len(d.rows), dash(rowTotals.String()), d.manifestRows.Int64, dash(d.manifestTotals.String()))
		}
	}
	if pending == 0 && len(d.rows) > 0 && !paid.Equal(reported) {
		add(ExceptionBatchTotals, 0, batch+"/paid", "the ledger paid %s in this batch; the bank's reports list %s for it",
			dash(paid.String()), dash(reported.String()))
	}
	rec.Findings = found
	rec.Paid, rec.Reported = paid, reported

	// Open exceptions: recorded, then found and not recorded yet.
	for _, e := range d.exceptions {
		if e.closed == "" {
			rec.Exceptions = append(rec.Exceptions, OpenException{ID: e.id, Category: e.category, Key: e.key, Row: e.row,
				Detail: e.detail, OpenedAt: rfc3339(e.opened)})
		}
	}
	for _, f := range found {
		if !recorded[f.Key] {
			rec.Exceptions = append(rec.Exceptions, OpenException{Category: f.Category, Key: f.Key, Row: f.Row, Detail: f.Detail})
		}
	}
	sort.SliceStable(rec.Exceptions, func(i, j int) bool {
		a, b := rec.Exceptions[i], rec.Exceptions[j]
		if a.Row != b.Row {
			return a.Row < b.Row
		}
		if ra, rb := categoryRank(a.Category), categoryRank(b.Category); ra != rb {
			return ra < rb
		}
		return a.Key < b.Key
	})
	return rec
}

// expected says what we asked the bank to pay for the row.
func (r *reconRow) expected() string {
	if r.QuoteDest != nil && r.QuoteDest.Currency != r.Amount.Currency {
		return fmt.Sprintf("%s (%s at the quoted rate)", r.Amount, r.QuoteDest)
	}
	return r.Amount.String()
}

func sortCategories(cs []string) {
	sort.Slice(cs, func(i, j int) bool {
		if ra, rb := categoryRank(cs[i]), categoryRank(cs[j]); ra != rb {
			return ra < rb
		}
		return cs[i] < cs[j]
	})
}

// rfc3339 formats a stored time as RFC 3339 in UTC, to the second.
func rfc3339(stored string) string {
	if stored == "" {
		return ""
	}
	return parseTime(stored).UTC().Format("2006-01-02T15:04:05Z")
}

func dash(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
