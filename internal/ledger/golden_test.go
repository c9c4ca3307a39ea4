package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// csvBatch turns a payout file into intake messages as ingest does: the
// file is validated, card numbers are sealed, each row is encoded, and
// the manifest seals the batch.
func csvBatch(t *testing.T, path string) (*testBatch, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	opts := batch.Options{Now: func() time.Time { return time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC) }}
	res, err := batch.Validate(bytes.NewReader(data), opts)
	require.NoError(t, err)
	require.True(t, res.Valid(), "%v", res.Errors)
	sum := sha256.Sum256(data)
	b := &testBatch{ID: payout.BatchID(sum[:])}
	sealer, _ := testutil.Keys(t)
	env, err := sealer.Begin()
	require.NoError(t, err)
	totals := money.Totals{}
	var digests [][]byte
	for row, err := range batch.Rows(bytes.NewReader(data), opts, func(pan string, row int) string {
		return env.Seal(pan, fmt.Sprintf("%s/%d", b.ID, row))
	}) {
		require.NoError(t, err)
		row.Batch = b.ID
		enc := intake.EncodeRow(row)
		d := sha256.Sum256(enc)
		digests = append(digests, d[:])
		totals.Add(row.Amount)
		b.Data = append(b.Data, enc)
	}
	b.Manifest = &payout.Manifest{Batch: b.ID, Name: "Payroll November 2026", FileName: filepath.Base(path),
		FileSHA256: hex.EncodeToString(sum[:]), Rows: len(b.Data), Totals: totals, RowsSHA256: payout.DigestRows(digests),
		CreatedAt: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	return b, data
}

// paySteps are a row's transitions from queued to succeeded; source is the
// evidence of the success (webhook or status).
func paySteps(batch string, row int, session, payoutID string, paid money.Amount, source ledgerapi.Source, quote *ledgerapi.Quote) []ledgerapi.Transition {
	fee := rub(2500)
	trs := []ledgerapi.Transition{{To: payout.StateClaimed, Worker: "w1"}}
	if quote != nil {
		trs = append(trs, ledgerapi.Transition{To: payout.StateQuoted, Quote: quote})
	}
	return append(trs,
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: fmt.Sprintf("%s/%d/init", batch, row)},
		ledgerapi.Transition{To: payout.StatePayoutStarted, SessionID: session, PayoutID: payoutID},
		ledgerapi.Transition{To: payout.StateSucceeded, SessionID: session, PayoutID: payoutID, Paid: &paid, Fee: &fee,
			Evidence: ledgerapi.Evidence{Source: source}})
}

func quoteOf(src money.Amount, dst money.Amount, rate string) *ledgerapi.Quote {
	fee := rub(src.Minor / 1000)
	pay := src
	pay.Minor += fee.Minor
	return &ledgerapi.Quote{Source: src, Destination: dst, TransferFee: fee, SMSFee: rub(0), Payment: pay, FXRate: rate, Quantity: 1}
}

func amt(minor int64, cur string) money.Amount { return money.New(minor, cur) }

// goldenLedger builds the ledger state the golden reports show: the
// sample payroll file (cards, tokens, encrypted cards, transfers) with a
// row in every reconciliation status and every exception category.
func goldenLedger(t *testing.T) (*Service, *clock, string) {
	t.Helper()
	s, c := newService(t)
	b, _ := csvBatch(t, filepath.Join("testdata", "payroll.csv"))
	record(t, s, b.msgs(1))
	ctx := context.Background()
	require.NoError(t, s.ReleaseDue(ctx))
	id := b.ID
	wh := ledgerapi.SourceWebhook
	pay := func(row int, paid money.Amount, source ledgerapi.Source, q *ledgerapi.Quote) {
		session, po := fmt.Sprintf("ps_%d", row), fmt.Sprintf("po_%d", row)
		drive(t, s, id, row, paySteps(id, row, session, po, paid, source, q)...)
		if source == wh {
			recordEvent(t, s, bankEvent{HookID: "hook-" + po, Type: "payment_finished", SessionID: session, SessionStatus: "succeeded",
				PayoutID: po, PayoutStatus: "succeeded", Amount: bankAmount(paid), Ref: &payout.BankRef{Batch: id, Row: row}})
		}
	}
	pay(1, rub(8500000), wh, nil)                                      // matched
	pay(2, rub(9250050), wh, nil)                                      // the report shows another amount
	failRow(t, s, id, 3, "ps_3", "po_3", "card_number_does_not_exist") // failed, nothing paid: matched
	failRow(t, s, id, 4, "ps_4", "po_4", "provider_timeout")           // the report says paid
	drive(t, s, id, 5, ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: id + "/5/init"},
		ledgerapi.Transition{To: payout.StateInDoubt, Reason: "no answer to session/init/payout"}) // in doubt past the deadline
	pay(6, rub(12000000), wh, nil)        // missing from the report
	pay(7, rub(4500000), wh, nil)         // returned
	pay(8, rub(3999999), wh, nil)         // two operations
	startRow(t, s, id, 9, "ps_9", "po_9") // at the bank: awaiting bank
	// row 10 stays queued
	drive(t, s, id, 11, ledgerapi.Transition{To: payout.StateCancelled, Reason: "removed by finance",
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceOperator}})
	pay(12, rub(5400000), ledgerapi.SourceStatus, nil) // paid, as session/status said
	drive(t, s, id, 13, ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: id + "/13/init"},
		ledgerapi.Transition{To: payout.StateInDoubt, Reason: "no answer"}) // settled by the report
	// row 14 is paid tomorrow: awaiting the report
	pay(15, amt(27500, "USD"), wh, quoteOf(rub(2500000), amt(27500, "USD"), "90.9091"))
	pay(16, amt(30000, "USD"), wh, quoteOf(rub(2760000), amt(30000, "USD"), "92.0000"))
	// row 17: 3-D Secure pending (gate passed, confirmed, action required)
	q17 := quoteOf(rub(4000000), amt(1333333, "TRY"), "3.0000")
	drive(t, s, id, 17, ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"}, ledgerapi.Transition{To: payout.StateQuoted, Quote: q17},
		ledgerapi.Transition{To: payout.StateOpening, NewAttempt: true, IdemKey: id + "/17/a1/init"})
	g := gate(t, s, ledgerapi.GateRequest{Batch: id, Row: 17, SessionID: "ps_17", PayoutID: "po_17", Observed: ledgerapi.Observed{
		Source: &q17.Source, Destination: &q17.Destination, Commission: &q17.TransferFee}, TCN: "592174-69412211",
		Evidence: ledgerapi.Evidence{Source: wh}})
	require.Equal(t, ledgerapi.DecisionConfirm, g.Decision, g.Reason)
	drive(t, s, id, 17, ledgerapi.Transition{To: payout.StateConfirmed, SessionID: "ps_17"},
		ledgerapi.Transition{To: payout.StateActionRequired, SessionID: "ps_17", ActionURL: "https://bank.example/3ds/ps_17"})
	// row 18: the bank's exchange does not match the quote: cancelled at the gate
	q18 := quoteOf(rub(3750000), amt(1250000, "TRY"), "3.0000")
	drive(t, s, id, 18, ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"}, ledgerapi.Transition{To: payout.StateQuoted, Quote: q18},
		ledgerapi.Transition{To: payout.StateOpening, NewAttempt: true, IdemKey: id + "/18/a1/init"})
	bad := amt(1200000, "TRY")
	g = gate(t, s, ledgerapi.GateRequest{Batch: id, Row: 18, SessionID: "ps_18", Observed: ledgerapi.Observed{
		Source: &q18.Source, Destination: &bad, Commission: &q18.TransferFee}, Evidence: ledgerapi.Evidence{Source: wh}})
	require.Equal(t, ledgerapi.DecisionCancel, g.Decision)
	pay(19, amt(2850000, "KGS"), wh, quoteOf(rub(3000000), amt(2850000, "KGS"), "0.9500")) // the report shows RUB
	pay(20, amt(1500000, "KGS"), wh, quoteOf(rub(1580000), amt(1500000, "KGS"), "0.9494"))

	c.Add(2 * time.Hour)
	_, err := s.Sweep(ctx)
	require.NoError(t, err)

	line := func(row int, a money.Amount) bankLine {
		return bankLine{op: fmt.Sprintf("po_%d", row), session: fmt.Sprintf("ps_%d", row), batch: id, row: row,
			amount: a.Decimal(), currency: a.Currency, fee: "25.00"} // the fee the webhooks gave
	}
	refund := line(7, rub(4500000))
	refund.op, refund.typ, refund.at = "rf_7", bank131.ReportRefund, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	second := line(8, rub(3999999))
	second.op, second.session = "po_8b", "ps_8b"
	orphan := line(99, rub(100000))
	importCSV(t, s, c, "2026-11-25",
		line(1, rub(8500000)), line(2, rub(9250000)), line(4, rub(7100000)), line(7, rub(4500000)), refund,
		line(8, rub(3999999)), second, line(12, rub(5400000)), line(13, rub(6125050)),
		line(15, amt(27500, "USD")), line(16, amt(30000, "USD")), line(19, rub(2850000)), line(20, amt(1500000, "KGS")),
		orphan, bankLine{op: "po_zz", session: "ps_zz", amount: "5.00"})

	c.Add(9 * time.Hour) // 2026-11-26 09:00 (the report came at 03:00 Moscow time)
	pay(14, rub(3300000), wh, nil)
	_, err = s.Reconcile(ctx, id)
	require.NoError(t, err)
	return s, c, id
}
