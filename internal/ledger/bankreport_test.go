package ledger

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/report"
)

// payRowFee is payRow with the webhook's fee (nil: the webhook brought none).
func payRowFee(t *testing.T, s *Service, batch string, row int, fee *money.Amount) {
	t.Helper()
	session, po := fmt.Sprintf("ps_%d", row), fmt.Sprintf("po_%d", row)
	startRow(t, s, batch, row, session, po)
	paid := rowAmount(row)
	drive(t, s, batch, row, ledgerapi.Transition{To: payout.StateSucceeded, SessionID: session, PayoutID: po, Paid: &paid, Fee: fee,
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookType: "payment_finished"}})
}

// TestReportRecordsFees: every paid row gets the bank's fee from the
// report, also when its webhook settled it first (before issue 14 the
// report returned early and every report said fees 0); a fee that differs
// from the webhook's is an exception, and the report's totals add the fees.
func TestReportRecordsFees(t *testing.T) {
	s, c, b := released(t, 4)
	payRowFee(t, s, b.ID, 1, nil)                  // the webhook carried no fee (the bank's default)
	payRowFee(t, s, b.ID, 2, ptrAmount(rub(1500))) // the same fee as the report's
	payRowFee(t, s, b.ID, 3, ptrAmount(rub(1000))) // another fee than the report's
	drive(t, s, b.ID, 4,                           // in doubt: the report settles it, with its fee
		ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: b.ID + "/4/init"},
		ledgerapi.Transition{To: payout.StateInDoubt, Reason: "timeout"})
	var lines []bankLine
	for row := 1; row <= 4; row++ {
		lines = append(lines, bankLine{op: fmt.Sprintf("po_%d", row), session: fmt.Sprintf("ps_%d", row), batch: b.ID, row: row,
			amount: rowAmount(row).Decimal(), fee: "15.00"})
	}
	res := importCSV(t, s, c, "2026-11-25", lines...)
	require.Equal(t, 1, res.Settled)
	require.Equal(t, 3, res.Fees, "rows 1 and 3 got the report's fee, row 4 was settled with it")
	require.Equal(t, []string{"2026-11-25"}, res.Covered)
	for row := 1; row <= 4; row++ {
		r := mustRow(t, s, b.ID, row)
		require.Equal(t, payout.StateSucceeded, r.State, "row %d", row)
		require.Equal(t, rub(1500), *r.Fee, "row %d", row)
	}
	rec, err := s.db.Reconcile(context.Background(), b.ID)
	require.NoError(t, err)
	for row, st := range map[int]reconcile.Status{1: reconcile.StatusMatched, 2: reconcile.StatusMatched,
		3: reconcile.StatusException, 4: reconcile.StatusMatched} {
		require.Equal(t, st, rowStatus(rec, row).Status, "row %d", row)
	}
	open, err := s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Len(t, open, 1)
	require.Equal(t, reconcile.AmountMismatch, open[0].Category)
	require.Contains(t, open[0].Detail, "lists the fee of po_3 for row 3 (E-00003) as 15.00 RUB; its webhook said 10.00 RUB")

	rep, err := s.db.Report(context.Background(), b.ID)
	require.NoError(t, err)
	for _, r := range rep.Rows {
		require.Equal(t, "15.00", r.Fee, "row %d", r.Row)
	}
	var fees *report.TotalLine
	for i := range rep.Summary.Totals {
		if rep.Summary.Totals[i].What == "fees" {
			fees = &rep.Summary.Totals[i]
		}
	}
	require.NotNil(t, fees)
	require.Equal(t, 4, fees.Rows)
	require.Equal(t, []report.Amount{{Amount: "60.00", Currency: "RUB", Minor: 6000, Rows: 4}}, fees.Amounts)
}

func ptrAmount(a money.Amount) *money.Amount { return &a }

// TestPartialReport: a report of a day that is not over in the bank's time
// zone settles what it lists but never covers the day; the report of the
// day once over does.
func TestPartialReport(t *testing.T) {
	s, c, b := released(t, 2)
	payRowFee(t, s, b.ID, 1, nil)
	payRowFee(t, s, b.ID, 2, nil)
	ctx := context.Background()
	// 2026-11-25 09:00 UTC is 12:00 in Moscow: the day is not over.
	res, err := s.ImportBankReport(ctx, strings.NewReader(bankReportCSV(
		bankLine{op: "po_1", session: "ps_1", batch: b.ID, row: 1, amount: rowAmount(1).Decimal()})), "payrun_2026-11-25_2026-11-25.csv")
	require.NoError(t, err)
	require.True(t, res.Complete)
	require.Equal(t, []string{"2026-11-25"}, res.Partial)
	require.Empty(t, res.Covered)
	require.Equal(t, 1, res.Fees)
	rec, err := s.db.Reconcile(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusMatched, rowStatus(rec, 1).Status, "listed: matched")
	require.Equal(t, reconcile.StatusAwaitingReport, rowStatus(rec, 2).Status, "not missing: the day is open")

	// The same bytes again after the day: still the partial report they were.
	c.Add(24 * time.Hour)
	again, err := s.ImportBankReport(ctx, strings.NewReader(bankReportCSV(
		bankLine{op: "po_1", session: "ps_1", batch: b.ID, row: 1, amount: rowAmount(1).Decimal()})), "payrun_2026-11-25_2026-11-25.csv")
	require.NoError(t, err)
	require.True(t, again.Already)
	rec, err = s.db.Reconcile(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusAwaitingReport, rowStatus(rec, 2).Status)

	// The day's real report, after it ended, covers it.
	full := importCSV(t, s, c, "2026-11-25",
		bankLine{op: "po_1", session: "ps_1", batch: b.ID, row: 1, amount: rowAmount(1).Decimal()},
		bankLine{op: "po_2", session: "ps_2", batch: b.ID, row: 2, amount: rowAmount(2).Decimal()})
	require.Equal(t, []string{"2026-11-25"}, full.Covered)
	rec, err = s.db.Reconcile(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusMatched, rowStatus(rec, 2).Status)
}

// TestReportParts: with the day split in two parts (ReportParts 2), one
// part does not cover the day and both do; all parts read together are a
// whole report.
func TestReportParts(t *testing.T) {
	cfg := testConfig()
	cfg.ReportParts = 2
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	s := NewService(db, cfg)
	t.Cleanup(func() { s.Close(); db.Close() })
	noApprovals(t, s)
	b := makeBatch(2, t.Name())
	record(t, s, b.msgs(1))
	ctx := context.Background()
	require.NoError(t, s.ReleaseDue(ctx))
	payRowFee(t, s, b.ID, 1, nil)
	payRowFee(t, s, b.ID, 2, nil)
	c.Add(24 * time.Hour)
	part := func(n int) bank131.NamedFile {
		return bank131.NamedFile{Name: fmt.Sprintf("payrun_2026-11-25_2026-11-25_%d.csv", n), Data: []byte(bankReportCSV(
			bankLine{op: fmt.Sprintf("po_%d", n), session: fmt.Sprintf("ps_%d", n), batch: b.ID, row: n, amount: rowAmount(n).Decimal()}))}
	}
	imp := func(files ...bank131.NamedFile) *ledgerapi.ReportImport {
		rep, err := bank131.ParseDailyReportFiles(files, s.ReportOptions())
		require.NoError(t, err)
		res, err := s.ImportReport(ctx, rep)
		require.NoError(t, err)
		return res
	}
	first := imp(part(1))
	require.Empty(t, first.Covered, "one part of two")
	rec, err := s.db.Reconcile(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusAwaitingReport, rowStatus(rec, 2).Status)
	second := imp(part(2))
	require.Equal(t, []string{"2026-11-25"}, second.Covered)
	rec, err = s.db.Reconcile(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusMatched, rowStatus(rec, 1).Status)
	require.Equal(t, reconcile.StatusMatched, rowStatus(rec, 2).Status)
	// Both parts in one import: another report (its own identity), whole.
	both := imp(part(2), part(1))
	require.False(t, both.Already)
	require.Equal(t, []string{"2026-11-25"}, both.Covered)
}

// TestReportFeeDeducted: a bank that takes its fee out of the payout pays
// the recipient less than the row; the row records what was paid and the
// fee, and an exception says the fee was deducted.
func TestReportFeeDeducted(t *testing.T) {
	s, c, b := released(t, 1)
	drive(t, s, b.ID, 1,
		ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: b.ID + "/1/init"},
		ledgerapi.Transition{To: payout.StateInDoubt, Reason: "timeout"})
	c.Add(24 * time.Hour)
	meta := string(payout.BankRef{Batch: b.ID, Row: 1, Reference: "E-00001"}.Metadata())
	file := strings.Join(bank131.ReportColumns, ";") + "\n" +
		`po_1;2026-11-25 12:00:00;2026-11-25 12:00:05;Advice;0;ps_1;100-C-000000;"` + strings.ReplaceAll(meta, `"`, `""`) +
		`";424242******4242;payrun_payouts;1000,01;990,01;10,00;RUB` + "\n"
	res, err := s.ImportBankReport(context.Background(), strings.NewReader(file), "payrun_2026-11-25_2026-11-25.csv")
	require.NoError(t, err)
	require.Equal(t, 1, res.Settled)
	r := mustRow(t, s, b.ID, 1)
	require.Equal(t, payout.StateSucceeded, r.State)
	require.Equal(t, rub(99001), *r.Paid)
	require.Equal(t, rub(1000), *r.Fee)
	open, err := s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	var deducted bool
	for _, e := range open {
		require.Contains(t, []reconcile.Category{reconcile.AmountMismatch, reconcile.BatchTotals}, e.Category)
		deducted = deducted || strings.Contains(e.Detail, "the bank deducted its fee from the payout (row 1 (E-00001))")
	}
	require.True(t, deducted, "%v", open)
}

// sendAndLose takes a row to in_doubt the way a lost session/init/payout
// does: the intent, the send recorded at the clock's time, no answer.
func sendAndLose(t *testing.T, s *Service, batch string, row int) {
	t.Helper()
	drive(t, s, batch, row,
		ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: fmt.Sprintf("%s/%d/init", batch, row)},
		ledgerapi.Transition{To: payout.StateOpening, Sending: true},
		ledgerapi.Transition{To: payout.StateInDoubt, Reason: "no answer to session/init/payout",
			Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor, Detail: "session/init/payout: connection reset"}})
}

// TestNotSentSettledNotPaid: the bank's rule (an operation missing from
// the complete reports of the day it was sent did not happen) settles a
// single-request row in doubt as not paid once the reports of the day it
// was sent and the next day are complete, and only a row the bank never
// answered about: no session, no webhook, no report line. A report of a
// day not over, or one day alone, settles nothing; a paid row is never
// marked not paid.
func TestNotSentSettledNotPaid(t *testing.T) {
	s, c, b := released(t, 5)
	ctx := context.Background()
	// Sent 2026-11-25 12:00 Moscow time.
	for row := 1; row <= 5; row++ {
		sendAndLose(t, s, b.ID, row)
	}
	// Row 2: the bank's webhook named it (a session in status error, say).
	recordEvent(t, s, bankEvent{HookID: "h2", Type: "payment_finished", SessionID: "ps_2", SessionStatus: "error",
		Ref: &payout.BankRef{Batch: b.ID, Row: 2}})
	// Row 3: it has a session (a refused confirm leaves one).
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE rows SET session_id = 'ps_3' WHERE batch_id = ? AND row_no = 3`, b.ID)
		return err
	}))
	paid4 := bankLine{op: "po_4", session: "ps_4", batch: b.ID, row: 4, amount: rowAmount(4).Decimal()} // paid at the bank

	// The day's report while the day is open: partial, nothing is settled not paid.
	res, err := s.ImportBankReport(ctx, strings.NewReader(bankReportCSV(paid4)), "payrun_2026-11-25_2026-11-25.csv")
	require.NoError(t, err)
	require.Equal(t, []string{"2026-11-25"}, res.Partial)
	require.Zero(t, res.NotPaid)
	require.Equal(t, payout.StateSucceeded, mustRow(t, s, b.ID, 4).State, "a listed row is paid, partial report or not")

	// The day's report once over: the next day is not covered yet.
	res = importCSV(t, s, c, "2026-11-25", paid4, bankLine{op: "po_9", session: "ps_9", amount: "1.00"})
	require.Zero(t, res.NotPaid)
	for row := 1; row <= 3; row++ {
		require.Equal(t, payout.StateInDoubt, mustRow(t, s, b.ID, row).State)
	}
	// The next day's report (an empty register): rows 1 and 5 never reached the bank.
	res = importCSV(t, s, c, "2026-11-26")
	require.Equal(t, 2, res.NotPaid)
	require.Equal(t, []string{b.ID}, res.Batches)
	for row, st := range map[int]payout.State{1: payout.StateFailed, 2: payout.StateInDoubt, 3: payout.StateInDoubt,
		4: payout.StateSucceeded, 5: payout.StateFailed} {
		require.Equal(t, st, mustRow(t, s, b.ID, row).State, "row %d", row)
	}
	r := mustRow(t, s, b.ID, 1)
	require.Equal(t, ledgerapi.ErrorNotInBankReport, r.ErrorCode)
	require.Contains(t, r.Reason, "the bank's complete daily reports of 2026-11-25 and 2026-11-26 do not list this payout")
	require.Nil(t, r.Paid)
	tr, err := s.db.Transitions(ctx, b.ID, 1)
	require.NoError(t, err)
	last := tr[len(tr)-1]
	require.Equal(t, ledgerapi.SourceReport, last.Evidence.Source)
	require.Equal(t, payout.StateInDoubt, last.From)
	require.Equal(t, payout.StateFailed, last.To)
	rec, err := s.db.Reconcile(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusMatched, rowStatus(rec, 1).Status, "not paid, listed by no report")

	// A later correction of the bank's listing row 1 paid after all: an exception, never a silent change.
	corrected := importCSV(t, s, c, "2026-11-26", bankLine{op: "po_1", session: "ps_1", batch: b.ID, row: 1,
		amount: rowAmount(1).Decimal(), at: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)})
	require.Positive(t, corrected.Opened)
	require.Equal(t, payout.StateFailed, mustRow(t, s, b.ID, 1).State)
	open, err := s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Contains(t, categories(open), reconcile.PaidAfterCancel)
}

// TestReportOfUnknownBatch: a report whose lines name a batch the ledger
// does not know imports (each line opens paid_not_in_records) instead of
// failing after its lines were recorded.
func TestReportOfUnknownBatch(t *testing.T) {
	s, c, _ := released(t, 1)
	res := importCSV(t, s, c, "2026-11-25", bankLine{op: "po_1", session: "ps_1", batch: "b0123456789abcdef0123", row: 1, amount: "10.00"})
	require.Equal(t, 1, res.Unknown)
	require.NotContains(t, res.Batches, "b0123456789abcdef0123")
	open, err := s.db.Exceptions("b0123456789abcdef0123", false)
	require.NoError(t, err)
	require.Equal(t, []reconcile.Category{reconcile.PaidNotInRecords}, categories(open))
}
