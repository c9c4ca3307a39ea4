package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// batchLoad is a batch being read for the reconciliation and the report.
type batchLoad struct {
	d    *reconcile.Batch
	byNo map[int]*reconcile.Row
	asOf string // the latest stored time seen
}

func (l *batchLoad) seen(t string) {
	if t > l.asOf {
		l.asOf = t
	}
}

// hookRec is a webhook as read, before it is put on its row.
type hookRec struct {
	reconcile.Hook
	row      int
	session  string
	seq      int64
	recorded string
}

type statusRec struct {
	row int
	to  string
}

// loadBatch reads the batch (its summary, counted from the rows read),
// its rows (with quotes), the webhooks that finished them, session/status
// answers, when 3-D Secure links were recorded, report lines, covered days
// and exceptions. The independent
// reads run side by side on the read pool.
func (db *DB) loadBatch(ctx context.Context, batch string) (*ledgerapi.BatchSummary, *reconcile.Batch, error) {
	ld := &batchLoad{d: &reconcile.Batch{ID: batch, Covered: map[string]bool{}, Zone: db.ReportZone, ManifestTotals: money.Totals{}},
		byNo: map[int]*reconcile.Row{}}
	d := ld.d
	fail := func(what string, err error) error { return fmt.Errorf("reconcile %s: %s: %w", batch, what, err) }

	var manifestRows sql.NullInt64
	var totals sql.NullString
	var times [6]sql.NullString
	err := db.r.QueryRowContext(ctx, `SELECT manifest_rows, manifest_totals, first_seen_at, accepted_at, approved_at,
		cancelled_at, released_at, finished_at FROM batches WHERE id = ?`, batch).
		Scan(&manifestRows, &totals, &times[0], &times[1], &times[2], &times[3], &times[4], &times[5])
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("batch %s: %w", batch, errNotFound)
	}
	if err != nil {
		return nil, nil, fail("batch", err)
	}
	d.HasManifest, d.ManifestRows = manifestRows.Valid, int(manifestRows.Int64)
	if totals.Valid {
		if err := json.Unmarshal([]byte(totals.String), &d.ManifestTotals); err != nil {
			return nil, nil, fail("manifest totals", err)
		}
	}
	for _, t := range times {
		if t.Valid {
			ld.seen(t.String)
		}
	}

	// Side by side: the summary, the rows, and the evidence about them.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		errs     []error
		sum      *ledgerapi.BatchSummary
		hooks    []*hookRec
		statuses []statusRec
		lines    []*reconcile.Line
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
			sum = &list[0]
		}
		return err
	})
	run("rows", func() error { return ld.loadRows(ctx, db.r, batch) })
	run("webhooks", func() error {
		// By the metadata (covering index), and by session for the few
		// webhooks without it.
		const cols = `e.session_id, e.type, e.payout_status, e.amount_minor, e.currency, e.error_code, e.stream_seq, e.recorded_at`
		var amount sql.NullInt64 // scanned into for every webhook
		var currency string
		return eachRow(ctx, db.r, `SELECT coalesce(e.ref_row, 0), `+cols+` FROM bank_events e
			WHERE e.ref_batch = ? AND e.type IN ('payment_finished', 'payment_refunded')
			UNION ALL SELECT s.row_no, `+cols+` FROM bank_events e JOIN sessions s ON s.session_id = e.session_id
			WHERE e.ref_batch = '' AND e.type IN ('payment_finished', 'payment_refunded') AND s.batch_id = ?`,
			[]any{batch, batch}, func(s scanner) error {
				h := &hookRec{}
				if err := s.Scan(&h.row, &h.session, &h.Type, &h.PayoutStatus, &amount, &currency, &h.ErrorCode,
					&h.seq, &h.recorded); err != nil {
					return err
				}
				if amount.Valid {
					h.Amount = &money.Amount{Minor: amount.Int64, Currency: currency}
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
		if err := eachRow(ctx, db.r, `SELECT day FROM bank_days`, nil, func(s scanner) error {
			var day string
			if err := s.Scan(&day); err != nil {
				return err
			}
			d.Covered[day] = true
			return nil
		}); err != nil {
			return err
		}
		return eachRow(ctx, db.r, `SELECT row_no, line, report_id, operation_id, session_id, type, transaction_date,
			amount_minor, currency, gross_minor, fee_minor, fee_currency FROM bank_report_lines WHERE batch_id = ?`,
			[]any{batch}, func(s scanner) error {
				l := &reconcile.Line{}
				var gross, fee sql.NullInt64
				var feeCur string
				if err := s.Scan(&l.RefRow, &l.Line, &l.Report, &l.Op, &l.Session, &l.Type, &l.Date,
					&l.Amount.Minor, &l.Amount.Currency, &gross, &fee, &feeCur); err != nil {
					return err
				}
				if gross.Valid {
					l.Gross = &money.Amount{Minor: gross.Int64, Currency: l.Amount.Currency}
				}
				if fee.Valid {
					l.Fee = &money.Amount{Minor: fee.Int64, Currency: feeCur}
				}
				lines = append(lines, l)
				return nil
			})
	})
	actions := map[int]string{} // row → when its latest 3-D Secure link was recorded
	run("3-D Secure links", func() error {
		// By the partial index transitions_action (migration 0070).
		return eachRow(ctx, db.r, `SELECT row_no, max(at) FROM transitions WHERE batch_id = ? AND to_state = 'action_required'
			GROUP BY row_no`, []any{batch}, func(s scanner) error {
			var row int
			var at string
			if err := s.Scan(&row, &at); err != nil {
				return err
			}
			actions[row] = at
			return nil
		})
	})
	var opened, closed []string // the exceptions' times, as stored
	run("exceptions", func() error {
		// Open and closed: a closed key is not found again.
		return eachRow(ctx, db.r, `SELECT id, category, key, coalesce(row_no, 0), detail, opened_at, coalesce(closed_at, '')
			FROM exceptions WHERE batch_id = ? ORDER BY id`, []any{batch}, func(s scanner) error {
			e := &reconcile.Recorded{}
			var open, shut string
			if err := s.Scan(&e.ID, &e.Category, &e.Key, &e.Row, &e.Detail, &open, &shut); err != nil {
				return err
			}
			e.OpenedAt, e.Closed = parseTime(open), shut != ""
			opened, closed = append(opened, open), append(closed, shut)
			d.Exceptions = append(d.Exceptions, e)
			return nil
		})
	})
	wg.Wait()
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}

	if sum == nil {
		return nil, nil, fmt.Errorf("batch %s: %w", batch, errNotFound)
	}

	// Put the evidence on the rows.
	seqs := map[int]int64{} // the stream sequence of each row's webhook
	for _, h := range hooks {
		r := ld.byNo[h.row]
		if r == nil || (h.session != "" && r.OwnSession() != "" && h.session != r.OwnSession()) {
			continue // another session's news is the exceptions' business
		}
		if r.Hook == nil || h.seq > seqs[r.No] {
			r.Hook, seqs[r.No] = &h.Hook, h.seq
		}
		ld.seen(h.recorded)
	}
	for _, st := range statuses {
		if r := ld.byNo[st.row]; r != nil {
			r.StatusSays = st.to
		}
	}
	for row, at := range actions {
		if r := ld.byNo[row]; r != nil {
			r.ActionAt = parseTime(at)
		}
	}
	kept := lines[:0]
	for _, l := range lines {
		if at, ok := reports[l.Report]; ok {
			ld.seen(at)
			kept = append(kept, l)
		}
	}
	lines = kept
	sort.Slice(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if ra, rb := reports[a.Report], reports[b.Report]; ra != rb {
			return ra < rb
		}
		if a.Report != b.Report {
			return a.Report < b.Report
		}
		return a.Line < b.Line
	})
	for _, l := range lines {
		if r := ld.byNo[l.RefRow]; r != nil {
			r.Lines = append(r.Lines, l)
		} else {
			d.Orphans = append(d.Orphans, l)
		}
	}
	for i := range opened {
		ld.seen(opened[i])
		ld.seen(closed[i])
	}
	if ld.asOf != "" {
		d.AsOf = parseTime(ld.asOf)
	}
	d.Status = sum.Status
	// The summary's counts, as DB.Batch makes them, from the rows read.
	sum.ByState, sum.PaidTotals, sum.FailedTotals = map[payout.State]int{}, money.Totals{}, money.Totals{}
	for _, r := range d.Rows {
		sum.ByState[r.State]++
		switch r.State {
		case payout.StateSucceeded:
			sum.PaidTotals.Add(r.Amount)
		case payout.StateFailed, payout.StateCancelled:
			sum.FailedTotals.Add(r.Amount)
		}
	}
	sum.Exceptions = 0
	for _, e := range d.Exceptions {
		if !e.Closed {
			sum.Exceptions++
		}
	}
	return sum, d, nil
}

// loadRows reads the batch's rows with their quotes, in row order.
func (ld *batchLoad) loadRows(ctx context.Context, db *sql.DB, batch string) error {
	quotes := map[int64]*ledgerapi.Quote{}
	if err := eachRow(ctx, db, `SELECT id, fx_rate, source_minor, source_currency, dest_minor, dest_currency,
		transfer_fee_minor, sms_fee_minor, fee_currency, payment_minor, payment_currency FROM quotes
		WHERE batch_id = ?`, []any{batch}, func(s scanner) error {
		var id int64
		q := &ledgerapi.Quote{}
		if err := s.Scan(&id, &q.FXRate, &q.Source.Minor, &q.Source.Currency, &q.Destination.Minor, &q.Destination.Currency,
			&q.TransferFee.Minor, &q.SMSFee.Minor, &q.TransferFee.Currency, &q.Payment.Minor, &q.Payment.Currency); err != nil {
			return err
		}
		q.SMSFee.Currency = q.TransferFee.Currency
		quotes[id] = q
		return nil
	}); err != nil {
		return err
	}
	ld.d.Rows = make([]*reconcile.Row, 0, 1024)
	var latest string
	// The columns that need converting, scanned into the same variables
	// for every row (locals handed to Scan would each be allocated).
	var (
		fee, paid, quote                          sql.NullInt64
		feeCur, paidCur, received, moved, updated string
	)
	err := eachRow(ctx, db, `SELECT row_no, amount_minor, currency, attempt, fee_minor, fee_currency, paid_minor, paid_currency,
		quote_id, reference, method, recipient, destination, state, session_id, confirm_session, payout_id, error_code, reason,
		action_url, tcn, received_at, moved_at, updated_at FROM rows WHERE batch_id = ? ORDER BY row_no`,
		[]any{batch}, func(s scanner) error {
			r := &reconcile.Row{}
			if err := s.Scan(&r.No, &r.Amount.Minor, &r.Amount.Currency, &r.Attempt, &fee, &feeCur, &paid, &paidCur,
				&quote, &r.Reference, &r.Method, &r.Recipient, &r.Destination, &r.State, &r.SessionID, &r.ConfirmSession,
				&r.PayoutID, &r.ErrorCode, &r.Reason, &r.ActionURL, &r.TCN, &received, &moved, &updated); err != nil {
				return err
			}
			r.ReceivedAt, r.MovedAt, r.UpdatedAt = parseTime(received), parseTime(moved), parseTime(updated)
			if fee.Valid {
				r.Fee = &money.Amount{Minor: fee.Int64, Currency: feeCur}
			}
			if paid.Valid {
				r.Paid = &money.Amount{Minor: paid.Int64, Currency: paidCur}
			}
			if q := quotes[quote.Int64]; quote.Valid && q != nil {
				r.QuoteRate, r.QuoteSource, r.QuoteDest = q.FXRate, &q.Source, &q.Destination
				commission := q.TransferFee
				commission.Minor += q.SMSFee.Minor
				r.QuoteFee, r.QuotePayment = &commission, &q.Payment
			}
			latest = max(latest, updated)
			ld.d.Rows = append(ld.d.Rows, r)
			ld.byNo[r.No] = r
			return nil
		})
	ld.seen(latest) // the only goroutine of loadBatch that touches asOf
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
