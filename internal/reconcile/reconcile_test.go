package reconcile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

const day = "2026-11-25"

// paidAt is when the rows of the tests were paid: 2026-11-25 09:00 UTC.
var paidAt = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func rub(minor int64) money.Amount { return money.New(minor, "RUB") }

func ptr(a money.Amount) *money.Amount { return &a }

// row is row no of 1000.0<no> RUB in state, paid in full by session ps_<no>
// (payout po_<no>) when it succeeded or was returned.
func row(no int, state payout.State) *Row {
	r := &Row{No: no, Reference: "E-" + string(rune('0'+no)), Method: string(payout.MethodCard), Amount: rub(100000 + int64(no)),
		State: state, Attempt: 1, SessionID: sid("ps", no), PayoutID: sid("po", no), MovedAt: paidAt, ReceivedAt: paidAt.Add(-time.Hour),
		UpdatedAt: paidAt}
	if state == payout.StateSucceeded || state == payout.StateReturned {
		r.Paid = ptr(r.Amount)
	}
	return r
}

func sid(prefix string, no int) string { return prefix + "_" + string(rune('0'+no)) }

// advice is a report line paying the row's own operation.
func advice(r *Row) *Line {
	return &Line{Report: "r1", Line: r.No, Op: r.PayoutID, Session: r.SessionID, Type: bank131.ReportAdvice, Date: day,
		Amount: r.Amount, RefRow: r.No}
}

// batch is a released batch of rows whose manifest agrees with them; the
// reports cover day (the bank's days are UTC days here).
func batch(rows ...*Row) *Batch {
	b := &Batch{ID: "b1", Status: payout.BatchReleased, HasManifest: true, ManifestTotals: money.Totals{},
		Covered: map[string]bool{day: true}, Zone: time.UTC, AsOf: paidAt, Rows: rows}
	b.ManifestRows = len(rows)
	for _, r := range rows {
		b.ManifestTotals.Add(r.Amount)
	}
	return b
}

func keys(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Key)
	}
	return out
}

func TestReconcile(t *testing.T) {
	tests := []struct {
		name     string
		batch    func() *Batch
		status   map[int]Status
		cats     map[int][]Category
		findings []string // keys, in the order found
	}{
		{
			name: "matched: paid, and the report lists it",
			batch: func() *Batch {
				r := row(1, payout.StateSucceeded)
				r.Lines = []*Line{advice(r)}
				return batch(r, row(2, payout.StateFailed), row(3, payout.StateCancelled))
			},
			status: map[int]Status{1: StatusMatched, 2: StatusMatched, 3: StatusMatched},
		},
		{
			name: "not final: awaiting the bank",
			batch: func() *Batch {
				return batch(row(1, payout.StatePayoutStarted), row(2, payout.StateQueued))
			},
			status: map[int]Status{1: StatusAwaitingBank, 2: StatusAwaitingBank},
		},
		{
			name: "paid on a day no report covers: awaiting the report, nothing missing",
			batch: func() *Batch {
				b := batch(row(1, payout.StateSucceeded))
				b.Covered = map[string]bool{"2026-11-24": true}
				return b
			},
			status: map[int]Status{1: StatusAwaitingReport},
		},
		{
			name: "success missing from a report covering the day; paid differs from reported",
			batch: func() *Batch {
				r := row(2, payout.StateSucceeded)
				r.Lines = []*Line{advice(r)}
				return batch(row(1, payout.StateSucceeded), r)
			},
			status:   map[int]Status{1: StatusException, 2: StatusMatched},
			cats:     map[int][]Category{1: {MissingFromReport}},
			findings: []string{"missing_from_report:b1/1", "batch_totals:b1/paid"},
		},
		{
			name: "report grace: recorded at 00:30, the day before is not covered",
			batch: func() *Batch {
				r := row(1, payout.StateSucceeded)
				r.MovedAt = time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)
				b := batch(r)
				b.Covered = map[string]bool{"2026-11-26": true}
				return b
			},
			status: map[int]Status{1: StatusAwaitingReport},
		},
		{
			name: "the bank's days are Moscow days: 23:30 UTC is the next day",
			batch: func() *Batch {
				r := row(1, payout.StateSucceeded)
				r.MovedAt = time.Date(2026, 11, 25, 23, 30, 0, 0, time.UTC)
				b := batch(r)
				b.Zone = nil // bank131.ReportZone(): Moscow
				b.Covered = map[string]bool{"2026-11-26": true}
				return b
			},
			status:   map[int]Status{1: StatusException},
			cats:     map[int][]Category{1: {MissingFromReport}},
			findings: []string{"missing_from_report:b1/1", "batch_totals:b1/paid"},
		},
		{
			name: "the bank deducted its fee from the payout",
			batch: func() *Batch {
				r := row(1, payout.StateSucceeded)
				l := advice(r)
				l.Gross, l.Fee = ptr(r.Amount), ptr(rub(1500))
				l.Amount = rub(r.Amount.Minor - 1500)
				r.Lines = []*Line{l}
				return batch(r)
			},
			status:   map[int]Status{1: StatusException},
			cats:     map[int][]Category{1: {AmountMismatch}},
			findings: []string{"amount_mismatch:b1/1/po_1", "batch_totals:b1/paid"},
		},
		{
			name: "bank says paid while we say failed",
			batch: func() *Batch {
				r := row(1, payout.StateFailed)
				r.Lines = []*Line{advice(r)}
				return batch(r)
			},
			status:   map[int]Status{1: StatusException},
			cats:     map[int][]Category{1: {PaidAfterCancel}},
			findings: []string{"paid_after_cancel:b1/1", "batch_totals:b1/paid"},
		},
		{
			name: "a rejected batch: every row is the manifest's exception, a paid one also paid after cancel",
			batch: func() *Batch {
				r := row(1, payout.StateReceived)
				r.Lines = []*Line{advice(r)}
				b := batch(r, row(2, payout.StateReceived))
				b.Status = payout.BatchRejected
				return b
			},
			status:   map[int]Status{1: StatusException, 2: StatusException},
			cats:     map[int][]Category{1: {PaidAfterCancel, Manifest}, 2: {Manifest}},
			findings: []string{"paid_after_cancel:b1/1"},
		},
		{
			name: "two operations for one row; the same operation in two reports counts once",
			batch: func() *Batch {
				r := row(1, payout.StateSucceeded)
				own := advice(r)
				again := *own
				again.Report = "r2"
				second := &Line{Report: "r1", Line: 9, Op: "po_9", Session: "ps_9", Type: bank131.ReportAdvice, Date: day,
					Amount: r.Amount, RefRow: 1}
				r.Lines = []*Line{own, &again, second}
				return batch(r)
			},
			status:   map[int]Status{1: StatusException},
			cats:     map[int][]Category{1: {TwoOperations}},
			findings: []string{"two_operations:b1/1/ps_9", "batch_totals:b1/paid"},
		},
		{
			name: "another amount in the report and by webhook",
			batch: func() *Batch {
				r := row(1, payout.StateSucceeded)
				l := advice(r)
				l.Amount = rub(99900)
				r.Lines = []*Line{l}
				r.Paid = ptr(money.New(100001, "USD"))
				return batch(r)
			},
			status:   map[int]Status{1: StatusException},
			cats:     map[int][]Category{1: {AmountMismatch}},
			findings: []string{"amount_mismatch:b1/1/po_1", "amount_mismatch:b1/1/paid", "batch_totals:b1/paid"},
		},
		{
			name: "a transfer paid in the quote's destination currency matches",
			batch: func() *Batch {
				r := row(1, payout.StateSucceeded)
				r.Method = string(payout.MethodTransfer)
				r.QuoteSource, r.QuoteDest, r.QuoteRate = ptr(r.Amount), ptr(money.New(1100, "USD")), "90.9100"
				r.Paid = ptr(*r.QuoteDest)
				l := advice(r)
				l.Amount = *r.QuoteDest
				r.Lines = []*Line{l}
				return batch(r)
			},
			status: map[int]Status{1: StatusMatched},
		},
		{
			name: "returned after success: by the ledger's record and by a refund line",
			batch: func() *Batch {
				r1 := row(1, payout.StateReturned)
				r1.Lines = []*Line{advice(r1)}
				r2 := row(2, payout.StateSucceeded)
				refund := advice(r2)
				refund.Op, refund.Type = "rf_2", bank131.ReportRefund
				r2.Lines = []*Line{advice(r2), refund}
				return batch(r1, r2)
			},
			status:   map[int]Status{1: StatusException, 2: StatusException},
			cats:     map[int][]Category{1: {ReturnedAfterSuccess}, 2: {ReturnedAfterSuccess}},
			findings: []string{"returned_after_success:b1/1", "returned_after_success:b1/2"},
		},
		{
			name: "an operation naming no row of ours, and rows that do not add up to the manifest",
			batch: func() *Batch {
				r := row(1, payout.StateQueued)
				b := batch(r)
				b.ManifestRows = 2
				b.Orphans = []*Line{{Report: "r1", Line: 3, Op: "po_x", Session: "ps_x", Type: bank131.ReportAdvice, Date: day,
					Amount: rub(500), RefRow: 7}}
				return b
			},
			status:   map[int]Status{1: StatusAwaitingBank},
			findings: []string{"paid_not_in_records:po_x/Advice", "batch_totals:b1/manifest"},
		},
		{
			name: "a batch still receiving rows is not held to its manifest",
			batch: func() *Batch {
				b := batch(row(1, payout.StateReceived))
				b.Status, b.ManifestRows = payout.BatchReceiving, 5
				return b
			},
			status: map[int]Status{1: StatusAwaitingBank},
		},
		{
			name: "a key a person closed is not found again; an open recorded one marks its row",
			batch: func() *Batch {
				b := batch(row(1, payout.StateSucceeded), row(2, payout.StateInDoubt))
				b.Exceptions = []*Recorded{
					{ID: 1, Category: MissingFromReport, Key: "missing_from_report:b1/1", Row: 1, OpenedAt: paidAt, Closed: true},
					{ID: 2, Category: BatchTotals, Key: "batch_totals:b1/paid", OpenedAt: paidAt, Closed: true},
					{ID: 3, Category: InDoubt, Key: "in_doubt:b1/2/1", Row: 2, Detail: "in doubt", OpenedAt: paidAt},
				}
				return b
			},
			status: map[int]Status{1: StatusMatched, 2: StatusException},
			cats:   map[int][]Category{2: {InDoubt}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.batch()
			rec := b.Reconcile()
			require.Len(t, rec.Rows, len(b.Rows))
			for i, r := range b.Rows {
				got := rec.Rows[i]
				require.Equal(t, r.No, got.Row)
				require.Equal(t, tt.status[r.No], got.Status, "row %d", r.No)
				require.Equal(t, tt.cats[r.No], got.Categories, "row %d", r.No)
			}
			require.Equal(t, tt.findings, keys(rec.Findings))
			for _, st := range Statuses {
				require.Contains(t, rec.Counts, st)
			}
			require.Equal(t, rec, b.Reconcile(), "the same data give the same result")
		})
	}
}

func TestReconcileTotals(t *testing.T) {
	r1 := row(1, payout.StateSucceeded)
	r1.Lines = []*Line{advice(r1)}
	r2 := row(2, payout.StateSucceeded)
	r2.Method = string(payout.MethodTransfer)
	r2.QuoteSource, r2.QuoteDest = ptr(r2.Amount), ptr(money.New(1100, "USD"))
	r2.Paid = ptr(*r2.QuoteDest)
	l := advice(r2)
	l.Amount = *r2.QuoteDest
	again := *l
	again.Report = "r2"
	r2.Lines = []*Line{l, &again}
	b := batch(r1, r2)
	b.Orphans = []*Line{{Op: "po_x", Type: bank131.ReportAdvice, Amount: rub(500)}}
	rec := b.Reconcile()
	require.Equal(t, money.Totals{"RUB": 100001, "USD": 1100}, rec.Paid, "transfers count on their destination side")
	require.Equal(t, money.Totals{"RUB": 100501, "USD": 1100}, rec.Reported, "once per operation, orphans too")
	require.Equal(t, []string{"paid_not_in_records:po_x/Advice", "batch_totals:b1/paid"}, keys(rec.Findings))
}

// TestReconcileExceptions: the open exceptions are the recorded ones and
// the findings not recorded yet (once), by row (the batch's own first),
// then category order, then key; details pass the card-number redaction.
func TestReconcileExceptions(t *testing.T) {
	r1 := row(1, payout.StateFailed)
	r1.Reference = "4242424242424242"
	r1.Lines = []*Line{advice(r1)}
	r2 := row(2, payout.StateSucceeded)
	b := batch(r1, r2)
	b.Exceptions = []*Recorded{
		{ID: 7, Category: MissingFromReport, Key: "missing_from_report:b1/2", Row: 2, Detail: "recorded", OpenedAt: paidAt},
		{ID: 8, Category: DeadLetter, Key: "dead_letter:b1/1/x", Row: 1, Detail: "dead", OpenedAt: paidAt.Add(time.Minute)},
	}
	rec := b.Reconcile()
	var got []string
	for _, e := range rec.Exceptions {
		got = append(got, e.Key)
	}
	require.Equal(t, []string{"batch_totals:b1/paid", "paid_after_cancel:b1/1", "dead_letter:b1/1/x", "missing_from_report:b1/2"}, got)
	require.Equal(t, "2026-11-25T09:01:00Z", rec.Exceptions[2].OpenedAt)
	require.Empty(t, rec.Exceptions[1].OpenedAt, "found now, not recorded")
	require.Equal(t, "recorded", rec.Exceptions[3].Detail, "the recorded exception, not the finding again")
	require.Contains(t, rec.Exceptions[1].Detail, "row 1 (424242******4242)")
	require.NotContains(t, rec.Exceptions[1].Detail, "4242424242424242")
}

func TestMoveFinding(t *testing.T) {
	base := Move{Batch: "b1", Row: 3, Reference: "E-3", Amount: rub(150050), Source: "webhook", Why: "payment_refunded"}
	tests := []struct {
		name   string
		move   func(m *Move)
		want   Category
		key    string
		detail string
	}{
		{name: "returned", move: func(m *Move) { m.To = payout.StateReturned }, want: ReturnedAfterSuccess, key: "b1/3",
			detail: "row 3 (E-3) was paid, then returned by the recipient's bank (webhook: payment_refunded)"},
		{name: "paid as asked", move: func(m *Move) { m.To, m.Paid = payout.StateSucceeded, ptr(rub(150050)) }},
		{name: "paid as asked, currency in lower case", move: func(m *Move) {
			m.To, m.Paid = payout.StateSucceeded, &money.Amount{Minor: 150050, Currency: "rub"}
		}},
		{name: "succeeded without an amount", move: func(m *Move) { m.To = payout.StateSucceeded }},
		{name: "another amount", move: func(m *Move) { m.To, m.Paid = payout.StateSucceeded, ptr(rub(99)) },
			want: AmountMismatch, key: "b1/3/paid", detail: "the bank reported row 3 (E-3) paid 0.99 RUB (webhook); we asked for 1500.50 RUB"},
		{name: "a transfer paid on the quote's side", move: func(m *Move) {
			m.To, m.QuoteSource, m.QuoteDest, m.Paid = payout.StateSucceeded, ptr(rub(150050)), ptr(money.New(1650, "USD")),
				ptr(money.New(1650, "USD"))
		}},
		{name: "a transfer paid another amount", move: func(m *Move) {
			m.To, m.QuoteSource, m.QuoteDest, m.Paid = payout.StateSucceeded, ptr(rub(150050)), ptr(money.New(1650, "USD")),
				ptr(money.New(1600, "USD"))
		}, want: AmountMismatch, key: "b1/3/paid",
			detail: "the bank reported row 3 (E-3) paid 16.00 USD (webhook); we asked for 1500.50 RUB (16.50 USD at the quoted rate)"},
		{name: "another move", move: func(m *Move) { m.To = payout.StateFailed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base
			tt.move(&m)
			f, ok := m.Finding()
			require.Equal(t, tt.want != "", ok)
			if !ok {
				return
			}
			require.Equal(t, Finding{Category: tt.want, Key: tt.key, Row: 3, Detail: tt.detail}, f)
		})
	}
}

func TestCategories(t *testing.T) {
	seen := map[Category]bool{}
	for _, c := range Categories {
		require.False(t, seen[c], "%s listed twice", c)
		seen[c] = true
		require.NotEqual(t, string(c), c.Label(), "%s has a label", c)
	}
	require.Len(t, labels, len(Categories))
	require.Equal(t, "returned after success", ReturnedAfterSuccess.Label())
	require.Equal(t, "something new", Category("something_new").Label())

	cs := []Category{"zzz_new", Manifest, "aaa_new", PaidNotInRecords, InDoubt}
	SortCategories(cs)
	require.Equal(t, []Category{PaidNotInRecords, InDoubt, Manifest, "aaa_new", "zzz_new"}, cs)

	var owned []Category
	for _, c := range Categories {
		if c.Owned() {
			owned = append(owned, c)
		}
	}
	require.Equal(t, []Category{MissingFromReport, BatchTotals}, owned)
}

// TestTimeTextIsTheLayout: TimeText writes what time.Format does with its
// layout, for times in any zone and year.
func TestTimeTextIsTheLayout(t *testing.T) {
	moscow := time.FixedZone("MSK", 3*3600)
	for _, tm := range []time.Time{
		time.Date(2026, 11, 25, 23, 59, 59, 999999999, moscow),
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 12, 0, 0, 0, time.UTC),
		time.Unix(1764000000, 123).In(moscow),
	} {
		if got, want := TimeText(tm), tm.UTC().Format(timeTextLayout); got != want {
			t.Errorf("TimeText(%v) = %q, want %q", tm, got, want)
		}
	}
	for i := int64(0); i < 2000; i++ {
		tm := time.Unix(i*7919*3607+i, 0)
		if got, want := TimeText(tm), tm.UTC().Format(timeTextLayout); got != want {
			t.Fatalf("TimeText(%v) = %q, want %q", tm, got, want)
		}
	}
	if TimeText(time.Time{}) != "" {
		t.Error("the zero time is not empty")
	}
}
