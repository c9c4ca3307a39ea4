package ledger

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

func gate(t *testing.T, s *Service, g ledgerapi.GateRequest) *ledgerapi.GateReply {
	t.Helper()
	r, err := s.Gate(context.Background(), g)
	answered(t, err, r != nil && r.Error == err)
	return r
}

func rub(minor int64) money.Amount { return money.New(minor, "RUB") }

func TestGateCardRules(t *testing.T) {
	s, _, b := released(t, 8)
	amount := func(row int) ledgerapi.Observed {
		return ledgerapi.Observed{Amount: money.New(100000+int64(row), "rub"), Last4: "4242"}
	}
	ev := ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookID: "hook-1", HookType: "ready_to_confirm"}

	// Adoption: the row opened without knowing its session.
	force(t, s, b.ID, 1, payout.StateOpening, "")
	r := gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 1, SessionID: "ps_1", PayoutID: "po_1", Observed: amount(1), Evidence: ev})
	require.Equal(t, ledgerapi.DecisionConfirm, r.Decision, r.Reason)
	row := mustRow(t, s, b.ID, 1)
	require.Equal(t, payout.StateConfirming, row.State)
	require.Equal(t, "ps_1", row.ConfirmSession)
	require.Equal(t, "ps_1", row.SessionID)

	// Repeat for the same session: confirm again (a crashed processor resumes).
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 1, SessionID: "ps_1", Observed: amount(1), Evidence: ev})
	require.Equal(t, ledgerapi.DecisionConfirm, r.Decision)
	// A second session of the row never reaches confirm.
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 1, SessionID: "ps_1b", Observed: amount(1), Evidence: ev})
	require.Equal(t, ledgerapi.DecisionCancel, r.Decision)
	require.Contains(t, r.Reason, "already holds")
	// After confirm went through, a late duplicate is ignored.
	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, SessionID: "ps_1", To: payout.StateConfirmed})
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 1, SessionID: "ps_1", Observed: amount(1), Evidence: ev})
	require.Equal(t, ledgerapi.DecisionIgnore, r.Decision)

	// Wrong session: not the row's; the row is untouched.
	force(t, s, b.ID, 2, payout.StatePayoutStarted, "ps_2")
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 2, SessionID: "ps_2x", Observed: amount(2), Evidence: ev})
	require.Equal(t, ledgerapi.DecisionCancel, r.Decision)
	require.Equal(t, "session ps_2x is not the row's session ps_2", r.Reason)
	require.Equal(t, payout.StatePayoutStarted, mustRow(t, s, b.ID, 2).State)
	// The row's own session passes.
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 2, SessionID: "ps_2", Observed: amount(2), Evidence: ev})
	require.Equal(t, ledgerapi.DecisionConfirm, r.Decision, r.Reason)
	// A session of row 2 cannot be confirmed for row 3.
	force(t, s, b.ID, 3, payout.StateOpening, "")
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 3, SessionID: "ps_2", Observed: amount(3), Evidence: ev})
	require.Equal(t, ledgerapi.DecisionCancel, r.Decision)
	require.Equal(t, payout.StateOpening, mustRow(t, s, b.ID, 3).State)

	// Amount mismatch: cancel, and the row fails with the reason.
	force(t, s, b.ID, 4, payout.StatePayoutStarted, "ps_4")
	obs := amount(4)
	obs.Amount.Minor++
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 4, SessionID: "ps_4", Observed: obs, Evidence: ev})
	require.Equal(t, ledgerapi.DecisionCancel, r.Decision)
	require.Equal(t, "amount at the bank 1000.05 RUB ≠ row 1000.04 RUB", r.Reason)
	row = mustRow(t, s, b.ID, 4)
	require.Equal(t, payout.StateFailed, row.State)
	require.Equal(t, "gate_mismatch", row.ErrorCode)

	// Card mismatch, and no amount at all.
	force(t, s, b.ID, 5, payout.StatePayoutStarted, "ps_5")
	obs = amount(5)
	obs.Last4 = "1111"
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 5, SessionID: "ps_5", Observed: obs, Evidence: ev})
	require.Equal(t, ledgerapi.DecisionCancel, r.Decision)
	require.Contains(t, r.Reason, "card …1111")
	force(t, s, b.ID, 6, payout.StatePayoutStarted, "ps_6")
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 6, SessionID: "ps_6", Evidence: ev})
	require.Equal(t, ledgerapi.DecisionCancel, r.Decision)
	require.Equal(t, "the bank shows no amount", r.Reason)

	// A terminal row confirms nothing.
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 6, SessionID: "ps_6", Observed: amount(6), Evidence: ev})
	require.Equal(t, ledgerapi.DecisionCancel, r.Decision)

	// Cancelled batch: the waiting session is cancelled at the bank, the row with it.
	force(t, s, b.ID, 7, payout.StatePayoutStarted, "ps_7")
	require.NoError(t, s.Cancel(context.Background(), ledgerapi.BatchCommand{Batch: b.ID, By: "anna", Reason: "wrong file"}))
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 7, SessionID: "ps_7", Observed: amount(7), Evidence: ev})
	require.Equal(t, ledgerapi.DecisionCancel, r.Decision)
	require.Equal(t, "batch cancelled (cancelled by anna: wrong file)", r.Reason)
	require.Equal(t, payout.StateCancelled, mustRow(t, s, b.ID, 7).State)

	// Every decision is kept as evidence.
	var n int
	require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM gate_checks WHERE batch_id = ? AND hook_id = 'hook-1'`, b.ID).Scan(&n))
	require.Equal(t, 12, n)
}

// transferBatch is a batch of one RUB → TRY transfer row of 1000.00 RUB.
func transferBatch(t *testing.T, s *Service) *testBatch {
	t.Helper()
	b := makeBatch(1, t.Name())
	r := b.Rows[0]
	r.Method, r.Card, r.FullName = payout.MethodTransfer, nil, ""
	r.Amount = rub(100000)
	r.Transfer = &payout.Transfer{Country: "TUR", Type: payout.TransferIBAN, IBAN: "TR330006100519786457841326",
		RecipientFirstName: "Ayse", RecipientLastName: "Yilmaz", SenderCardToken: "tok"}
	data := intake.EncodeRow(r)
	b.Data[0] = data
	d := sha256.Sum256(data)
	b.Manifest.RowsSHA256 = payout.DigestRows([][]byte{d[:]})
	b.Manifest.Totals = money.Totals{"RUB": 100000}
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(context.Background()))
	return b
}

func TestGateTransferQuote(t *testing.T) {
	quote := &ledgerapi.Quote{Source: rub(100000), Destination: money.New(30000, "TRY"), TransferFee: rub(100),
		SMSFee: rub(0), Payment: rub(100100), FXRate: "3.3333", Quantity: 1}
	try := func(minor int64) *money.Amount { a := money.New(minor, "try"); return &a }
	src := func(minor int64) *money.Amount { a := rub(minor); return &a }
	tests := []struct {
		name     string
		quote    *ledgerapi.Quote
		observed ledgerapi.Observed
		decision ledgerapi.Decision
		reason   string
	}{
		{"matches", quote, ledgerapi.Observed{Source: src(100000), Destination: try(30000), FXRate: "0.3000", Commission: src(100), Recipient: "Yilmaz Ayse"},
			ledgerapi.DecisionConfirm, ""},
		{"rate within tolerance", quote, ledgerapi.Observed{Source: src(100000), Destination: try(29900), Commission: src(100)},
			ledgerapi.DecisionConfirm, ""},
		{"rate out of tolerance", quote, ledgerapi.Observed{Source: src(100000), Destination: try(29000), Commission: src(100)},
			ledgerapi.DecisionCancel, "FX rate at the bank 0.290000 ≠ quote 0.300000 beyond 50 bp (1000.00 RUB → 290.00 TRY vs 1000.00 RUB → 300.00 TRY)"},
		{"commission out of tolerance", quote, ledgerapi.Observed{Source: src(100000), Destination: try(30000), Commission: src(150)},
			ledgerapi.DecisionCancel, "commission at the bank 1.50 RUB ≠ quoted fees 1.00 RUB beyond tolerance"},
		{"source rounded by up to one destination unit", quote, ledgerapi.Observed{Source: src(100003), Destination: try(30000), Commission: src(100)},
			ledgerapi.DecisionConfirm, ""},
		{"source rounded down", quote, ledgerapi.Observed{Source: src(99997), Destination: try(30000), Commission: src(100)},
			ledgerapi.DecisionConfirm, ""},
		{"source below the row", quote, ledgerapi.Observed{Source: src(99990), Destination: try(30000), Commission: src(100)},
			ledgerapi.DecisionCancel, "source at the bank 999.90 RUB ≠ row 1000.00 RUB"},
		{"source differs from the row", quote, ledgerapi.Observed{Source: src(100100), Destination: try(30030), Commission: src(100)},
			ledgerapi.DecisionCancel, "source at the bank 1001.00 RUB ≠ row 1000.00 RUB"},
		{"no quote", nil, ledgerapi.Observed{Source: src(100000), Destination: try(30000)},
			ledgerapi.DecisionCancel, "no quote recorded for the transfer"},
		{"no exchange", quote, ledgerapi.Observed{Amount: rub(100000)},
			ledgerapi.DecisionCancel, "the bank shows no exchange (confirm_information)"},
		{"other recipient", quote, ledgerapi.Observed{Source: src(100000), Destination: try(30000), Commission: src(100), Recipient: "Mehmet Kaya"},
			ledgerapi.DecisionCancel, `recipient "Mehmet Kaya" at the bank ≠ row's "Ayse Yilmaz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newService(t)
			b := transferBatch(t, s)
			move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateClaimed, Gen: 1, Worker: "w"})
			if tt.quote != nil {
				r := move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateQuoted, Quote: tt.quote})
				require.True(t, r.Applied)
				require.Equal(t, "3.3333", r.Row.Quote.FXRate)
			}
			move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateOpening, NewAttempt: true, IdemKey: "k"})
			r := gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 1, SessionID: "ps_t", Observed: tt.observed,
				Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook}})
			require.Equal(t, tt.decision, r.Decision, r.Reason)
			require.Equal(t, tt.reason, r.Reason)
		})
	}
}

// TestGateQuoteForAnAdoptedTransfer: a transfer whose session was adopted
// after a restore has no quote; the gate takes the one the processor
// fetched, records it, and checks the bank's amounts against it. A row with
// a quote keeps its own.
func TestGateQuoteForAnAdoptedTransfer(t *testing.T) {
	quote := &ledgerapi.Quote{Source: rub(100000), Destination: money.New(30000, "TRY"), TransferFee: rub(100),
		SMSFee: rub(0), Payment: rub(100100), FXRate: "3.3333", Quantity: 1}
	other := *quote
	other.Destination = money.New(20000, "TRY")
	try := func(minor int64) *money.Amount { a := money.New(minor, "try"); return &a }
	src := func(minor int64) *money.Amount { a := rub(minor); return &a }
	ok := ledgerapi.Observed{Source: src(100000), Destination: try(30000), Commission: src(100)}
	tests := []struct {
		name     string
		recorded *ledgerapi.Quote // the row's own quote, if it kept one
		fetched  *ledgerapi.Quote // the gate request's
		observed ledgerapi.Observed
		decision ledgerapi.Decision
		reason   string
	}{
		{"a fetched quote that matches", nil, quote, ok, ledgerapi.DecisionConfirm, ""},
		{"no quote at all", nil, nil, ok, ledgerapi.DecisionCancel, "no quote recorded for the transfer"},
		{"the bank off the fetched quote", nil, &other, ok, ledgerapi.DecisionCancel,
			"FX rate at the bank 0.300000 ≠ quote 0.200000 beyond 50 bp (1000.00 RUB → 300.00 TRY vs 1000.00 RUB → 200.00 TRY)"},
		{"the recorded quote wins", quote, &other, ok, ledgerapi.DecisionConfirm, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newService(t)
			b := transferBatch(t, s)
			if tt.recorded != nil {
				move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateClaimed, Gen: 1, Worker: "w"})
				move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateQuoted, Quote: tt.recorded})
			}
			force(t, s, b.ID, 1, payout.StateInDoubt, "ps_adopted") // as adoptReplayed leaves it
			r := gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 1, SessionID: "ps_adopted", Observed: tt.observed,
				Quote: tt.fetched, Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook}})
			require.Equal(t, tt.decision, r.Decision, r.Reason)
			require.Equal(t, tt.reason, r.Reason)
			row := mustRow(t, s, b.ID, 1)
			var quotes int
			require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM quotes WHERE batch_id = ?`, b.ID).Scan(&quotes))
			switch {
			case tt.recorded != nil:
				require.Equal(t, 1, quotes, "the row's own quote only")
				require.Equal(t, tt.recorded.Destination, row.Quote.Destination)
			case tt.fetched != nil:
				require.Equal(t, 1, quotes, "the fetched quote is recorded")
				require.Equal(t, tt.fetched.Destination, row.Quote.Destination)
			default:
				require.Zero(t, quotes)
			}
		})
	}
}

// A batch cancelled while a row's confirm was recorded but not known to have
// landed: the bank asking again means it still waits, so the gate cancels
// instead of repeating the confirm, and leaves the row for the bank's final
// word either way.
func TestGateCancelledBatchWhileConfirming(t *testing.T) {
	s, _, b := released(t, 2)
	ev := ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookType: "ready_to_confirm"}
	obs := ledgerapi.Observed{Amount: money.New(100001, "rub"), Last4: "4242"}
	force(t, s, b.ID, 1, payout.StatePayoutStarted, "ps_1")
	r := gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 1, SessionID: "ps_1", Observed: obs, Evidence: ev})
	require.Equal(t, ledgerapi.DecisionConfirm, r.Decision, r.Reason)
	force(t, s, b.ID, 2, payout.StatePayoutStarted, "ps_2")
	r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 2, SessionID: "ps_2", Observed: ledgerapi.Observed{Amount: money.New(100002, "rub"), Last4: "4242"}, Evidence: ev})
	require.Equal(t, ledgerapi.DecisionConfirm, r.Decision, r.Reason)

	require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
		_, err := cancelBatch(tx, ledgerapi.BatchCommand{Batch: b.ID, By: "anna", Reason: "wrong file"})
		return err
	}))
	for row, session := range map[int]string{1: "ps_1", 2: "ps_2"} {
		r = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: row, SessionID: session, Observed: obs, Evidence: ev})
		require.Equal(t, ledgerapi.DecisionCancel, r.Decision, "row %d: no repeated confirm for a cancelled batch", row)
		require.Contains(t, r.Reason, "batch cancelled")
		require.Equal(t, payout.StateConfirming, mustRow(t, s, b.ID, row).State, "the row waits for the bank's word")
	}
	// The cancel landed for row 1: the bank's cancelled session fails it.
	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, SessionID: "ps_1", To: payout.StateFailed, ErrorCode: "session_cancelled"})
	require.Equal(t, payout.StateFailed, mustRow(t, s, b.ID, 1).State)
	// The earlier confirm had landed for row 2: the bank refused the cancel
	// and pays; the session is still the row's, so the success is recorded.
	reply := move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 2, SessionID: "ps_2", To: payout.StateSucceeded, PayoutID: "po_2"})
	require.Nil(t, reply.Error)
	require.Equal(t, payout.StateSucceeded, mustRow(t, s, b.ID, 2).State)
}
