package processor

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// TestHooksTwoStep follows two-step rows through the bank's webhooks:
// ready_to_confirm goes to the gate, which confirms; then payment_finished
// (succeeded, failed, or a session in error first) and payment_refunded.
func TestHooksTwoStep(t *testing.T) {
	tests := []struct {
		name     string
		row      string
		finished int // payment_finished webhooks the bank sends
		refunded bool
		want     payout.State
		code     string
	}{
		{"succeeded", tokenRow("H-1", "601.00", "tok_h1"), 1, false, payout.StateSucceeded, ""},
		{"failed after confirm", tokenRow("H-2", "602.00", "tok_h2_"+sandbox.TokenFailExpired), 1, false, payout.StateFailed, bank131.CodeBankCardExpired},
		{"session in error, then succeeded", tokenRow("H-3", "131.07", "tok_h3"), 2, false, payout.StateSucceeded, ""},
		{"refunded", tokenRow("H-4", "131.08", "tok_h4"), 1, true, payout.StateReturned, ""},
	}
	h := newHarness(t)
	p := h.processor(CardTwoStep)
	var rows []string
	for _, tt := range tests {
		rows = append(rows, tt.row)
	}
	batch := h.ingest(rows...)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := i + 1
			require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(batch, n)))
			st := h.row(batch, n)
			require.Equal(t, payout.StatePayoutStarted, st.State)

			ready := h.hooks(bank131.HookReadyToConfirm, st.SessionID, 1)[0]
			require.NoError(t, p.handleHook(h.ctx, ready))
			st = h.row(batch, n)
			require.Equal(t, payout.StateConfirmed, st.State)
			require.Equal(t, st.SessionID, st.ConfirmSession, "the gate recorded the confirm session")
			require.Equal(t, confirmKey(batch, n, st.SessionID), st.IdemKey)
			// The bank sends ready_to_confirm again: the gate ignores it.
			require.NoError(t, p.handleHook(h.ctx, ready))
			require.Equal(t, 1, sandboxPayout(t, h, st.SessionID).ConfirmCount, "one session/confirm")

			finished := h.hooks(bank131.HookPaymentFinished, st.SessionID, tt.finished)
			for j, m := range finished {
				require.NoError(t, p.handleHook(h.ctx, m))
				if j < len(finished)-1 {
					require.Equal(t, payout.StateConfirmed, h.row(batch, n).State, "a session in error is not final")
				}
			}
			if tt.refunded {
				require.Equal(t, payout.StateSucceeded, h.row(batch, n).State)
				// The sandbox returns only payouts to Russian bank accounts
				// (as the bank does); the bank's payment_refunded is the
				// payment_finished body under the other type.
				var body map[string]any
				require.NoError(t, json.Unmarshal(finished[len(finished)-1].Data(), &body))
				body["type"] = string(bank131.HookPaymentRefunded)
				raw, err := json.Marshal(body)
				require.NoError(t, err)
				h.deliver(raw)
				require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookPaymentRefunded, st.SessionID, 1)[0]))
			}
			st = h.row(batch, n)
			require.Equal(t, tt.want, st.State)
			require.Equal(t, tt.code, st.ErrorCode)
			if tt.code != "" {
				require.Equal(t, bank131.Reason(tt.code), st.Reason)
			}
			if tt.want != payout.StateFailed {
				require.Equal(t, sandboxPayout(t, h, st.SessionID).PayoutID, st.PayoutID)
				require.NotNil(t, st.Paid)
				require.Equal(t, st.Amount, *st.Paid)
			}
			require.Equal(t, 1, sandboxPayout(t, h, st.SessionID).ConfirmsAccepted)
		})
	}
}

// TestHookGateCancels: a session that reaches ready_to_confirm after its
// batch was cancelled is cancelled at the bank, and the row with it; the
// bank's final word changes nothing then.
func TestHookGateCancels(t *testing.T) {
	h := newHarness(t)
	p := h.processor(CardTwoStep)
	batch := h.ingest(tokenRow("X-1", "701.00", "tok_x1"))
	require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(batch, 1)))
	st := h.row(batch, 1)
	require.Equal(t, payout.StatePayoutStarted, st.State)
	require.NoError(t, h.svc.Cancel(h.ctx, ledgerapi.BatchCommand{Batch: batch, By: "anna", Reason: "wrong file"}))
	require.Equal(t, payout.StatePayoutStarted, h.row(batch, 1).State, "at the bank: only the gate can stop it")

	before := h.calls.snapshot()
	require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookReadyToConfirm, st.SessionID, 1)[0]))
	require.Equal(t, map[string]int{bank131.PathCancel: 1}, h.calls.since(before), "session/cancel, never confirm")
	require.Equal(t, payout.StateCancelled, h.row(batch, 1).State)

	require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookPaymentFinished, st.SessionID, 1)[0]))
	require.Equal(t, payout.StateCancelled, h.row(batch, 1).State)
	po := sandboxPayout(t, h, st.SessionID)
	require.Equal(t, string(bank131.SessionCancelled), po.SessionStatus)
	require.Zero(t, po.ConfirmCount)
}

// TestHooksTransfer: a transfer is confirmed with the webhook's
// confirm_information, then waits for the sender's 3-D Secure
// (action_required with the link), then finishes.
func TestHooksTransfer(t *testing.T) {
	h := newHarness(t)
	p := h.processor(CardTwoStep)
	batch := h.ingest(transferRow("T-1", "1000.00", "tok_sender_9a8b7c6d"))
	require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(batch, 1)))
	st := h.row(batch, 1)
	require.Equal(t, payout.StatePayoutStarted, st.State)

	require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookReadyToConfirm, st.SessionID, 1)[0]))
	st = h.row(batch, 1)
	require.Contains(t, []payout.State{payout.StateConfirmed, payout.StateActionRequired}, st.State)
	require.NotEmpty(t, st.TCN, "the transfer control number")

	require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookActionRequired, st.SessionID, 1)[0]))
	st = h.row(batch, 1)
	require.Equal(t, payout.StateActionRequired, st.State)
	require.Contains(t, st.ActionURL, "/sandbox/3ds/")

	require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookPaymentFinished, st.SessionID, 1)[0]))
	st = h.row(batch, 1)
	require.Equal(t, payout.StateSucceeded, st.State)
	require.Equal(t, "TRY", st.Paid.Currency, "paid in the transfer's currency")
}

// TestHooksSingleRequest: a single-request payout has no ready_to_confirm;
// payment_finished settles it, even one in doubt (our metadata names the
// row).
func TestHooksSingleRequest(t *testing.T) {
	h := newHarness(t)
	p := h.processor(CardSingleRequest)
	batch := h.ingest(cardRow("U-1", "801.00", "4242424242424242"), cardRow("U-2", "802.00", "4242424242424242"))
	require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(batch, 1)))
	r := h.run(p, batch, 2)
	h.stepTo(r, payout.StateOpening)
	h.sb.SetFaults(dropAnswers)
	done, err := r.step(h.ctx)
	h.sb.SetFaults(noFaults)
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, payout.StateInDoubt, h.row(batch, 2).State)
	require.Empty(t, h.row(batch, 2).SessionID, "the answer with the session was lost")

	for n := 1; n <= 2; n++ {
		var session string
		for _, po := range h.sb.Payouts() {
			if ref, err := payout.ParseBankRef(po.Metadata); err == nil && ref.Batch == batch && ref.Row == n {
				session = po.SessionID
			}
		}
		require.NotEmpty(t, session, "row %d is at the bank", n)
		require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookPaymentFinished, session, 1)[0]))
		st := h.row(batch, n)
		require.Equal(t, payout.StateSucceeded, st.State, "row %d", n)
		require.Equal(t, session, st.SessionID)
		require.Equal(t, money.New(80000+int64(n)*100, "RUB"), *st.Paid)
	}
	require.Zero(t, h.calls.since(map[string]int{})[bank131.PathConfirm], "no confirm in single-request")
}

// TestPoll: a poll job asks session/status and feeds the answer through the
// webhook path; a start that never reached its session is sent again in the
// same session with the same key.
func TestPoll(t *testing.T) {
	h := newHarness(t)
	single, twoStep := h.processor(CardSingleRequest), h.processor(CardTwoStep)
	batch := h.ingest(cardRow("Q-1", "901.00", "4242424242424242"), tokenRow("Q-2", "902.00", "tok_q2"))
	poll := func(p *Processor, n int) {
		t.Helper()
		st := h.row(batch, n)
		require.NoError(t, p.poll(h.ctx, &progressCount{}, ledgerapi.Job{Kind: ledgerapi.JobPoll, Batch: batch, Row: n, Gen: st.Gen,
			IntakeSeq: st.IntakeSeq, RowDigest: st.RowDigest, SessionID: st.SessionID}))
	}

	// The single-request payout finished at the bank; its webhook is late.
	require.NoError(t, single.pay(h.ctx, &progressCount{}, h.job(batch, 1)))
	require.Eventually(t, func() bool {
		return sandboxPayout(t, h, h.row(batch, 1).SessionID).Status == string(bank131.PayoutSucceeded)
	}, 5*time.Second, 10*time.Millisecond)
	poll(single, 1)
	require.Equal(t, payout.StateSucceeded, h.row(batch, 1).State)

	// The start is lost on its way: recorded as started, the session empty.
	r := h.run(twoStep, batch, 2)
	h.stepTo(r, payout.StateStarting)
	h.sb.SetFaults(loseCalls)
	done, err := r.step(h.ctx)
	h.sb.SetFaults(noFaults)
	require.NoError(t, err)
	require.True(t, done)
	st := h.row(batch, 2)
	require.Equal(t, payout.StatePayoutStarted, st.State)
	before := h.calls.snapshot()
	poll(twoStep, 2)
	require.Equal(t, map[string]int{bank131.PathStatus: 1, bank131.PathStartPayout: 1}, h.calls.since(before))
	again := h.row(batch, 2)
	require.Equal(t, payout.StatePayoutStarted, again.State)
	require.Equal(t, st.SessionID, again.SessionID, "the same session")
	require.Equal(t, startKey(batch, 2, st.Attempt), again.IdemKey, "the same key")
	require.Equal(t, st.SessionID, sandboxPayout(t, h, st.SessionID).SessionID, "the payout is in the session now")
}
