package processor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// TestWrongStateReadsStatus: the bank answers session_wrong_state to a
// start or a confirm an earlier send of which went through (here: sent
// beside the processor's, under another key, so the bank takes the
// processor's as a new request). The processor reads session/status and
// acts on what it shows: the row's payout started, the row confirmed,
// then paid once. Never failed for it, never in doubt.
func TestWrongStateReadsStatus(t *testing.T) {
	// A second between a start and its ready_to_confirm, and between the
	// confirm and the final word: session/status shows each step's state.
	h := newHarnessWith(t, sandbox.Modes{}, sandbox.Timing{Processing: time.Second, Settle: time.Second})
	p := h.processor(CardTwoStep)
	batch := h.ingest(tokenRow("WS-1", "621.00", "tok_ws1"))
	r := h.run(p, batch, 1)
	h.stepTo(r, payout.StateStarting)

	// The start went through already (a send this processor lost track of).
	m, err := r.method()
	require.NoError(t, err)
	_, err = h.bank.StartPayout(h.ctx, bank131.StartPayoutRequest{SessionID: r.st.SessionID, PaymentMethod: m,
		ParticipantDetails: recipient(r.row), Metadata: r.metadata()}, bank131.WithIdempotencyKey("elsewhere-start"))
	require.NoError(t, err)
	before := h.calls.snapshot()
	done, err := r.step(h.ctx)
	require.NoError(t, err)
	require.True(t, done, "only the bank moves the row now")
	st := h.row(batch, 1)
	require.Equal(t, payout.StatePayoutStarted, st.State, "started, not failed: %s %s", st.ErrorCode, st.Reason)
	require.Equal(t, sandboxPayout(t, h, st.SessionID).PayoutID, st.PayoutID, "the payout id from session/status")
	calls := h.calls.since(before)
	require.Equal(t, 1, calls[bank131.PathStartPayout])
	require.Equal(t, 1, calls[bank131.PathStatus], "session_wrong_state: session/status read")

	// The confirm went through already too.
	ready := h.hooks(bank131.HookReadyToConfirm, st.SessionID, 1)[0]
	_, err = h.bank.Confirm(h.ctx, st.SessionID, nil, bank131.WithIdempotencyKey("elsewhere-confirm"))
	require.NoError(t, err)
	before = h.calls.snapshot()
	require.NoError(t, p.handleHook(h.ctx, ready))
	calls = h.calls.since(before)
	require.Equal(t, 1, calls[bank131.PathConfirm])
	require.Equal(t, 1, calls[bank131.PathStatus])
	st = h.row(batch, 1)
	require.Contains(t, []payout.State{payout.StateConfirmed, payout.StateSucceeded}, st.State,
		"confirmed by the earlier confirm, not in doubt: %s %s", st.ErrorCode, st.Reason)
	require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookPaymentFinished, st.SessionID, 1)[0]))
	require.Equal(t, payout.StateSucceeded, h.row(batch, 1).State)
	require.Equal(t, 1, sandboxPayout(t, h, st.SessionID).ConfirmsAccepted, "paid once")
}

// TestCancelWrongStateReadsStatus: a session the gate cancels a second
// time (its ready_to_confirm came again) is answered session_wrong_state
// by a bank that refuses a repeated cancel (--repeat-cancel) and no
// longer keeps the first cancel's key (--idempotency-ttl): the
// processor reads session/status, which shows it cancelled, and the row
// stays cancelled; nothing is handed back.
func TestCancelWrongStateReadsStatus(t *testing.T) {
	h := newHarnessWith(t, sandbox.Modes{RepeatCancel: "session_wrong_state", IdempotencyTTL: time.Millisecond}, sandbox.Timing{})
	p := h.processor(CardTwoStep)
	batch := h.ingest(tokenRow("WS-2", "622.00", "tok_ws2"))
	require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(batch, 1)))
	st := h.row(batch, 1)
	require.NoError(t, h.svc.Cancel(h.ctx, ledgerapi.BatchCommand{Batch: batch, By: "anna", Reason: "wrong file"}))
	ready := h.hooks(bank131.HookReadyToConfirm, st.SessionID, 1)[0]
	require.NoError(t, p.handleHook(h.ctx, ready))
	require.Equal(t, payout.StateCancelled, h.row(batch, 1).State)

	before := h.calls.snapshot()
	require.NoError(t, p.handleHook(h.ctx, ready), "the bank sends ready_to_confirm again")
	calls := h.calls.since(before)
	require.Equal(t, 1, calls[bank131.PathCancel], "cancelled again at the gate's word")
	require.Equal(t, 1, calls[bank131.PathStatus], "session_wrong_state: session/status read")
	require.Equal(t, payout.StateCancelled, h.row(batch, 1).State)
	require.Zero(t, sandboxPayout(t, h, st.SessionID).ConfirmCount)
}
