package ledger

import (
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// bankLine is one line of a constructed bank daily report.
type bankLine struct {
	op, session string
	batch       string // metadata names batch/row; "" means no metadata
	row         int
	typ         string    // default Advice
	at          time.Time // finishedAt; default 2026-11-25 09:00 UTC
	amount      string    // major units
	currency    string    // default RUB
	fee         string    // default 10.00
}

// bankReportCSV writes lines as the bank writes its daily report: the
// documented columns, times in Moscow time, the fee on top of the amount.
func bankReportCSV(lines ...bankLine) string {
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	w.Write(bank131.ReportColumns)
	for _, l := range lines {
		meta := ""
		if l.batch != "" {
			meta = string(payout.BankRef{Batch: l.batch, Row: l.row, Reference: fmt.Sprintf("E-%05d", l.row)}.Metadata())
		}
		typ, at, cur, fee := l.typ, l.at, l.currency, l.fee
		if typ == "" {
			typ = bank131.ReportAdvice
		}
		if at.IsZero() {
			at = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
		}
		if cur == "" {
			cur = "RUB"
		}
		if fee == "" {
			fee = "10.00"
		}
		pay := money.MustParse(l.amount, cur)
		gross, err := pay.Add(money.MustParse(fee, cur))
		if err != nil {
			panic(err)
		}
		msk := at.In(bank131.ReportZone())
		w.Write([]string{l.op, msk.Add(-5 * time.Second).Format(time.DateTime), msk.Format(time.DateTime), typ, "0", l.session,
			"100-C-000000", meta, "424242******4242", "payrun_payouts", gross.Decimal(), pay.Decimal(), fee, cur})
	}
	w.Flush()
	return sb.String()
}

// importCSV imports a constructed report under the bank's file name for
// day, as the bank delivers it: after the day is over in Moscow (the clock
// moves on to 03:00 Moscow time of the next day when it is earlier).
func importCSV(t *testing.T, s *Service, c *clock, day string, lines ...bankLine) *ledgerapi.ReportImport {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, day, bank131.ReportZone())
	require.NoError(t, err)
	if at := d.AddDate(0, 0, 1).Add(3 * time.Hour); c.Now().Before(at) {
		c.Add(at.Sub(c.Now()))
	}
	res, err := s.ImportBankReport(context.Background(), strings.NewReader(bankReportCSV(lines...)),
		fmt.Sprintf("all_%s_%s.csv", day, day))
	require.NoError(t, err)
	require.True(t, res.Complete)
	return res
}

// drive applies transitions to a row, each of which must apply.
func drive(t *testing.T, s *Service, batch string, row int, trs ...ledgerapi.Transition) {
	t.Helper()
	for _, tr := range trs {
		tr.Batch, tr.Row = batch, row
		if tr.Evidence.Source == "" {
			tr.Evidence.Source = ledgerapi.SourceProcessor
		}
		r := move(t, s, tr)
		require.Nil(t, r.Error, "%s/%d → %s", batch, row, tr.To)
		require.True(t, r.Applied, "%s/%d → %s", batch, row, tr.To)
	}
}

// startRow takes a released row to payout_started with session and payout ids.
func startRow(t *testing.T, s *Service, batch string, row int, session, payoutID string) {
	t.Helper()
	drive(t, s, batch, row,
		ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: fmt.Sprintf("%s/%d/init", batch, row)},
		ledgerapi.Transition{To: payout.StatePayoutStarted, SessionID: session, PayoutID: payoutID})
}

// payRow takes a released row to succeeded as the payment_finished webhook
// does, and records that webhook as evidence.
func payRow(t *testing.T, s *Service, batch string, row int, session, payoutID string, paid money.Amount) {
	t.Helper()
	startRow(t, s, batch, row, session, payoutID)
	fee := rub(1000)
	hookID := fmt.Sprintf("hook-%s-%d", session, row)
	drive(t, s, batch, row, ledgerapi.Transition{To: payout.StateSucceeded, SessionID: session, PayoutID: payoutID,
		Paid: &paid, Fee: &fee, Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookID: hookID, HookType: "payment_finished"}})
	recordEvent(t, s, bankEvent{HookID: hookID, Type: "payment_finished", SessionID: session, SessionStatus: "succeeded",
		PayoutID: payoutID, PayoutStatus: "succeeded", Amount: bankAmount(paid), Ref: &payout.BankRef{Batch: batch, Row: row}})
}

// failRow takes a released row to failed with the bank's error code.
func failRow(t *testing.T, s *Service, batch string, row int, session, payoutID, code string) {
	t.Helper()
	startRow(t, s, batch, row, session, payoutID)
	hookID := fmt.Sprintf("hook-%s-%d", session, row)
	drive(t, s, batch, row, ledgerapi.Transition{To: payout.StateFailed, SessionID: session, ErrorCode: code,
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookID: hookID, HookType: "payment_finished"}})
	recordEvent(t, s, bankEvent{HookID: hookID, Type: "payment_finished", SessionID: session, SessionStatus: "succeeded",
		PayoutID: payoutID, PayoutStatus: "failed", ErrorCode: code, Ref: &payout.BankRef{Batch: batch, Row: row}})
}

func recordEvent(t *testing.T, s *Service, ev bankEvent) {
	t.Helper()
	ev.Body = []byte(`{"type":"` + ev.Type + `"}`)
	ev.ReceivedAt = s.db.Now()
	require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error { return s.recordHook(tx, ev) }))
}

func bankAmount(a money.Amount) *bank131.Amount {
	return &bank131.Amount{Amount: a.Minor, Currency: a.Currency}
}

// rowAmount is makeBatch's amount of row i.
func rowAmount(i int) money.Amount { return rub(100000 + int64(i)) }

// categories lists the categories of exceptions, in order.
func categories(list []Exception) []reconcile.Category {
	var out []reconcile.Category
	for _, e := range list {
		out = append(out, e.Category)
	}
	return out
}

func rowStatus(rec *Reconciliation, row int) reconcile.RowResult {
	for _, r := range rec.Rows {
		if r.Row == row {
			return r
		}
	}
	return reconcile.RowResult{}
}

// TestReconcileCategories constructs every reconciliation status and
// exception category on a real SQLite file and checks the row's status,
// its categories and the exceptions recorded.
func TestReconcileCategories(t *testing.T) {
	const day = "2026-11-25"
	type env struct {
		s *Service
		c *clock
		b string
	}
	tests := []struct {
		name     string
		rows     int
		setup    func(t *testing.T, e env)
		want     map[int]reconcile.Status     // row → status
		cats     map[int][]reconcile.Category // row → categories
		batchExc []reconcile.Category         // batch-level exception categories
	}{
		{
			name: "matched: webhook, report and row agree",
			rows: 2,
			setup: func(t *testing.T, e env) {
				payRow(t, e.s, e.b, 1, "ps_1", "po_1", rowAmount(1))
				importCSV(t, e.s, e.c, day, bankLine{op: "po_1", session: "ps_1", batch: e.b, row: 1, amount: "1000.01"})
			},
			want: map[int]reconcile.Status{1: reconcile.StatusMatched, 2: reconcile.StatusAwaitingBank},
		},
		{
			name: "failed and cancelled rows match when the bank reports nothing",
			rows: 2,
			setup: func(t *testing.T, e env) {
				failRow(t, e.s, e.b, 1, "ps_1", "po_1", "card_number_does_not_exist")
				drive(t, e.s, e.b, 2, ledgerapi.Transition{To: payout.StateCancelled, Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceOperator}})
				importCSV(t, e.s, e.c, day)
			},
			want: map[int]reconcile.Status{1: reconcile.StatusMatched, 2: reconcile.StatusMatched},
		},
		{
			name: "awaiting report: paid by webhook, no report covers the day",
			rows: 1,
			setup: func(t *testing.T, e env) {
				payRow(t, e.s, e.b, 1, "ps_1", "po_1", rowAmount(1))
				importCSV(t, e.s, e.c, "2026-11-24", bankLine{op: "po_other", session: "ps_other", amount: "5.00"})
			},
			want: map[int]reconcile.Status{1: reconcile.StatusAwaitingReport},
		},
		{
			name: "paid but not in our records",
			rows: 1,
			setup: func(t *testing.T, e env) {
				payRow(t, e.s, e.b, 1, "ps_1", "po_1", rowAmount(1))
				importCSV(t, e.s, e.c, day, bankLine{op: "po_1", session: "ps_1", batch: e.b, row: 1, amount: "1000.01"},
					bankLine{op: "po_9", session: "ps_9", batch: e.b, row: 9, amount: "700.00"})
			},
			want:     map[int]reconcile.Status{1: reconcile.StatusMatched},
			batchExc: []reconcile.Category{reconcile.PaidNotInRecords, reconcile.BatchTotals},
		},
		{
			name: "bank says paid while we say failed",
			rows: 1,
			setup: func(t *testing.T, e env) {
				failRow(t, e.s, e.b, 1, "ps_1", "po_1", "provider_timeout")
				importCSV(t, e.s, e.c, day, bankLine{op: "po_1", session: "ps_1", batch: e.b, row: 1, amount: "1000.01"})
			},
			want:     map[int]reconcile.Status{1: reconcile.StatusException},
			cats:     map[int][]reconcile.Category{1: {reconcile.PaidAfterCancel}},
			batchExc: []reconcile.Category{reconcile.BatchTotals},
		},
		{
			name: "amount or currency mismatch",
			rows: 2,
			setup: func(t *testing.T, e env) {
				payRow(t, e.s, e.b, 1, "ps_1", "po_1", rowAmount(1))
				payRow(t, e.s, e.b, 2, "ps_2", "po_2", rowAmount(2))
				importCSV(t, e.s, e.c, day, bankLine{op: "po_1", session: "ps_1", batch: e.b, row: 1, amount: "999.00"},
					bankLine{op: "po_2", session: "ps_2", batch: e.b, row: 2, amount: "1000.02", currency: "USD"})
			},
			want:     map[int]reconcile.Status{1: reconcile.StatusException, 2: reconcile.StatusException},
			cats:     map[int][]reconcile.Category{1: {reconcile.AmountMismatch}, 2: {reconcile.AmountMismatch}},
			batchExc: []reconcile.Category{reconcile.BatchTotals},
		},
		{
			name: "two bank operations for one row",
			rows: 1,
			setup: func(t *testing.T, e env) {
				payRow(t, e.s, e.b, 1, "ps_1", "po_1", rowAmount(1))
				importCSV(t, e.s, e.c, day, bankLine{op: "po_1", session: "ps_1", batch: e.b, row: 1, amount: "1000.01"},
					bankLine{op: "po_2", session: "ps_2", batch: e.b, row: 1, amount: "1000.01"})
			},
			want:     map[int]reconcile.Status{1: reconcile.StatusException},
			cats:     map[int][]reconcile.Category{1: {reconcile.TwoOperations}},
			batchExc: []reconcile.Category{reconcile.BatchTotals},
		},
		{
			name: "success missing from the report",
			rows: 2,
			setup: func(t *testing.T, e env) {
				payRow(t, e.s, e.b, 1, "ps_1", "po_1", rowAmount(1))
				payRow(t, e.s, e.b, 2, "ps_2", "po_2", rowAmount(2))
				importCSV(t, e.s, e.c, day, bankLine{op: "po_2", session: "ps_2", batch: e.b, row: 2, amount: "1000.02"})
			},
			want:     map[int]reconcile.Status{1: reconcile.StatusException, 2: reconcile.StatusMatched},
			cats:     map[int][]reconcile.Category{1: {reconcile.MissingFromReport}},
			batchExc: []reconcile.Category{reconcile.BatchTotals},
		},
		{
			name: "returned after success",
			rows: 1,
			setup: func(t *testing.T, e env) {
				payRow(t, e.s, e.b, 1, "ps_1", "po_1", rowAmount(1))
				importCSV(t, e.s, e.c, day, bankLine{op: "po_1", session: "ps_1", batch: e.b, row: 1, amount: "1000.01"},
					bankLine{op: "rf_1", session: "ps_1", batch: e.b, row: 1, amount: "1000.01", typ: bank131.ReportRefund})
				require.Equal(t, payout.StateReturned, mustRow(t, e.s, e.b, 1).State)
			},
			want: map[int]reconcile.Status{1: reconcile.StatusException},
			cats: map[int][]reconcile.Category{1: {reconcile.ReturnedAfterSuccess}},
		},
		{
			name: "in doubt past its deadline",
			rows: 1,
			setup: func(t *testing.T, e env) {
				drive(t, e.s, e.b, 1,
					ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"},
					ledgerapi.Transition{To: payout.StateOpening, IdemKey: e.b + "/1/init"},
					ledgerapi.Transition{To: payout.StateInDoubt, Reason: "timeout on session/init/payout"})
				e.c.Add(2 * time.Hour)
				res, err := e.s.Sweep(context.Background())
				require.NoError(t, err)
				require.Equal(t, 1, res.Doubts)
			},
			want: map[int]reconcile.Status{1: reconcile.StatusException},
			cats: map[int][]reconcile.Category{1: {reconcile.InDoubt}},
		},
		{
			name: "batch totals do not add up to the manifest",
			rows: 2,
			setup: func(t *testing.T, e env) {
				require.NoError(t, e.s.w.Do(context.Background(), func(tx *Tx) error {
					_, err := tx.Exec(`UPDATE batches SET manifest_totals = '{"RUB":200000}' WHERE id = ?`, e.b)
					return err
				}))
			},
			want:     map[int]reconcile.Status{1: reconcile.StatusAwaitingBank, 2: reconcile.StatusAwaitingBank},
			batchExc: []reconcile.Category{reconcile.BatchTotals},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c, b := released(t, tt.rows)
			tt.setup(t, env{s: s, c: c, b: b.ID})
			rec, err := s.Reconcile(context.Background(), b.ID)
			require.NoError(t, err)
			for row, want := range tt.want {
				got := rowStatus(rec, row)
				require.Equal(t, want, got.Status, "row %d: %+v", row, got)
				require.Equal(t, tt.cats[row], got.Categories, "row %d", row)
			}
			// Every category found is recorded, on its row or the batch.
			exc, err := s.db.Exceptions(b.ID, false)
			require.NoError(t, err)
			var rowCats = map[int][]reconcile.Category{}
			var batchCats []reconcile.Category
			for _, e := range exc {
				if e.Row == 0 {
					batchCats = append(batchCats, e.Category)
				} else {
					rowCats[e.Row] = append(rowCats[e.Row], e.Category)
				}
			}
			for row, cats := range tt.cats {
				got := slices.Clone(rowCats[row])
				slices.Sort(got)
				require.Equal(t, cats, slices.Compact(got), "recorded exceptions of row %d", row)
			}
			slices.Sort(batchCats)
			want := slices.Clone(tt.batchExc)
			slices.Sort(want)
			require.Equal(t, want, batchCats, "batch-level exceptions")

			// Reconciling the same state again finds the same and records nothing new.
			again, err := s.Reconcile(context.Background(), b.ID)
			require.NoError(t, err)
			require.Zero(t, again.Opened)
			require.Zero(t, again.Closed)
			require.Equal(t, rec.Rows, again.Rows)
		})
	}
}

// TestReportSettlesInDoubt: the daily report is evidence that settles a
// row in doubt (single-request mode, outcome unknown): the row succeeds
// with source "report", its session is adopted, and the in-doubt exception
// closes.
func TestReportSettlesInDoubt(t *testing.T) {
	s, c, b := released(t, 1)
	drive(t, s, b.ID, 1,
		ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: b.ID + "/1/init"},
		ledgerapi.Transition{To: payout.StateInDoubt, Reason: "timeout"})
	c.Add(2 * time.Hour)
	_, err := s.Sweep(context.Background())
	require.NoError(t, err)
	open, err := s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Equal(t, []reconcile.Category{reconcile.InDoubt}, categories(open))

	res := importCSV(t, s, c, "2026-11-25", bankLine{op: "po_1", session: "ps_1", batch: b.ID, row: 1, amount: "1000.01",
		at: time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)})
	require.Equal(t, 1, res.Settled)
	require.Equal(t, []string{b.ID}, res.Batches)
	row := mustRow(t, s, b.ID, 1)
	require.Equal(t, payout.StateSucceeded, row.State)
	require.Equal(t, "ps_1", row.SessionID)
	require.Equal(t, "po_1", row.PayoutID)
	require.Equal(t, rowAmount(1), *row.Paid)
	tr, err := s.db.Transitions(context.Background(), b.ID, 1)
	require.NoError(t, err)
	last := tr[len(tr)-1]
	require.Equal(t, ledgerapi.SourceReport, last.Evidence.Source)
	require.Equal(t, payout.StateInDoubt, last.From)

	open, err = s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Empty(t, open)
	rec, err := s.db.Reconcile(context.Background(), b.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusMatched, rowStatus(rec, 1).Status)
}

// TestMissingFromReportCloses: a later report that lists the row closes
// the exception the earlier one caused.
func TestMissingFromReportCloses(t *testing.T) {
	s, c, b := released(t, 1)
	payRow(t, s, b.ID, 1, "ps_1", "po_1", rowAmount(1))
	importCSV(t, s, c, "2026-11-25")
	open, err := s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Equal(t, []reconcile.Category{reconcile.MissingFromReport, reconcile.BatchTotals}, categories(open))

	res := importCSV(t, s, c, "2026-11-25", bankLine{op: "po_1", session: "ps_1", batch: b.ID, row: 1, amount: "1000.01"})
	require.Zero(t, res.Settled)
	open, err = s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Empty(t, open)
	all, err := s.db.Exceptions(b.ID, true)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "reconciled: no longer found", all[0].Resolution)
	rec, err := s.db.Reconcile(context.Background(), b.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusMatched, rowStatus(rec, 1).Status)
}

// TestReportGrace: a success the ledger recorded shortly after midnight
// (the bank's, Moscow's) may have finished at the bank the day before; it
// is missing only when the reports cover both days.
func TestReportGrace(t *testing.T) {
	s, c, b := released(t, 1)
	c.Add(12*time.Hour + 30*time.Minute) // 2026-11-25 21:30 UTC, 2026-11-26 00:30 in Moscow
	payRow(t, s, b.ID, 1, "ps_1", "po_1", rowAmount(1))
	importCSV(t, s, c, "2026-11-26")
	rec, err := s.db.Reconcile(context.Background(), b.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusAwaitingReport, rowStatus(rec, 1).Status)
	importCSV(t, s, c, "2026-11-25")
	rec, err = s.db.Reconcile(context.Background(), b.ID)
	require.NoError(t, err)
	require.Equal(t, []reconcile.Category{reconcile.MissingFromReport}, rowStatus(rec, 1).Categories)
}

// dump renders every table the import or reconciliation may write.
func dump(t *testing.T, db *DB) string {
	t.Helper()
	var sb strings.Builder
	for _, table := range []string{"bank_reports", "bank_report_days", "bank_report_lines", "exceptions", "transitions",
		"rows", "sessions", "batches"} {
		rows, err := db.r.Query(`SELECT * FROM ` + table + ` ORDER BY 1, 2`)
		require.NoError(t, err)
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			require.NoError(t, rows.Scan(ptrs...))
			fmt.Fprintf(&sb, "%s %v\n", table, vals)
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return sb.String()
}

func TestImportSameFileTwiceChangesNothing(t *testing.T) {
	s, c, b := released(t, 3)
	payRow(t, s, b.ID, 1, "ps_1", "po_1", rowAmount(1))
	failRow(t, s, b.ID, 2, "ps_2", "po_2", "provider_timeout")
	file := bankReportCSV(
		bankLine{op: "po_1", session: "ps_1", batch: b.ID, row: 1, amount: "1000.01"},
		bankLine{op: "po_2", session: "ps_2", batch: b.ID, row: 2, amount: "1000.02"},
		bankLine{op: "po_x", session: "ps_x", amount: "1.00"})
	ctx := context.Background()
	first, err := s.ImportBankReport(ctx, strings.NewReader(file), "all_2026-11-25_2026-11-25.csv")
	require.NoError(t, err)
	require.Equal(t, 3, first.New)
	require.Equal(t, 1, first.Unknown)
	require.Positive(t, first.Opened)
	before := dump(t, s.db)
	c.Add(time.Hour)
	second, err := s.ImportBankReport(ctx, strings.NewReader(file), "copy of the same file.csv")
	require.NoError(t, err)
	require.True(t, second.Already)
	require.Zero(t, second.New)
	require.Zero(t, second.Opened)
	require.Equal(t, before, dump(t, s.db))
}

// TestImportOverNATS sends a report to the running ledger in small chunks,
// as `ledger import-report` does, and again: the second time changes nothing.
func TestImportOverNATS(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	s := startService(t, db, env, testConfig())
	b := makeBatch(3, t.Name())
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(context.Background()))
	payRow(t, s, b.ID, 1, "ps_1", "po_1", rowAmount(1))
	payRow(t, s, b.ID, 2, "ps_2", "po_2", rowAmount(2))

	rep, err := bank131.ParseDailyReport(strings.NewReader(bankReportCSV(
		bankLine{op: "po_1", session: "ps_1", batch: b.ID, row: 1, amount: "1000.01"},
		bankLine{op: "po_2", session: "ps_2", batch: b.ID, row: 2, amount: "1000.02"},
		bankLine{op: "po_3", session: "ps_3", batch: b.ID, row: 3, amount: "1000.03"},
	)), "all_2026-11-25_2026-11-25.csv", s.ReportOptions())
	require.NoError(t, err)
	client := ledgerapi.NewClient(env.nc, 10*time.Second)
	ctx := context.Background()
	res, err := ledgerapi.SendBankReport(ctx, client, rep, 600)
	require.NoError(t, err)
	require.True(t, res.Complete)
	require.Equal(t, 3, res.New)
	require.Equal(t, 0, res.Settled) // row 3 is queued: the bank's news waits for the processor
	require.Equal(t, []string{b.ID}, res.Batches)
	rec, err := db.Reconcile(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusMatched, rowStatus(rec, 1).Status)
	require.Equal(t, reconcile.StatusMatched, rowStatus(rec, 2).Status)
	require.Equal(t, reconcile.StatusAwaitingBank, rowStatus(rec, 3).Status)

	again, err := ledgerapi.SendBankReport(ctx, client, rep, 600)
	require.NoError(t, err)
	require.True(t, again.Already)
	require.Zero(t, again.New)

	// A chunk that claims the wrong total is refused.
	_, err = client.ImportReportChunk(ctx, ledgerapi.ReportChunk{Report: strings.Repeat("ab", 32), Total: 2, Final: true,
		Lines: rep.Lines[:1]})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "%v", err)
}

// TestMovesOpenExceptions: what a move alone proves is recorded at once,
// before any report: a success paying another amount, a return after
// success. The reconciliation finds the same keys and adds nothing.
func TestMovesOpenExceptions(t *testing.T) {
	s, _, b := released(t, 3)
	payRow(t, s, b.ID, 1, "ps_1", "po_1", rub(99))                  // another amount
	payRow(t, s, b.ID, 2, "ps_2", "po_2", money.New(100002, "USD")) // another currency
	payRow(t, s, b.ID, 3, "ps_3", "po_3", rowAmount(3))             // as asked
	drive(t, s, b.ID, 3, ledgerapi.Transition{To: payout.StateReturned, SessionID: "ps_3",
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookType: "payment_refunded"}})
	open, err := s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Equal(t, []reconcile.Category{reconcile.AmountMismatch, reconcile.AmountMismatch, reconcile.ReturnedAfterSuccess}, categories(open))
	require.Equal(t, []int{1, 2, 3}, []int{open[0].Row, open[1].Row, open[2].Row})
	require.Contains(t, open[0].Detail, "paid 0.99 RUB (webhook); we asked for 1000.01 RUB")

	rec, err := s.Reconcile(context.Background(), b.ID)
	require.NoError(t, err)
	require.Zero(t, rec.Opened)
	for row, cat := range map[int]reconcile.Category{1: reconcile.AmountMismatch, 2: reconcile.AmountMismatch, 3: reconcile.ReturnedAfterSuccess} {
		require.Equal(t, []reconcile.Category{cat}, rowStatus(rec, row).Categories, "row %d", row)
	}
}
