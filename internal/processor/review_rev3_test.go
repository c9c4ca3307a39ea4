package processor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/ratelimit"
)

// TestRev3CancelWhileStartWaitsInPace: issue 11 promises that after a
// cancel nothing new is sent (no session/start/payout). A start that
// passed its fence and waits in Limiter.Pace (cc18c3e: the second bucket
// waited on just before the request leaves) was not stopped by the
// cancel: it reached the bank after the ledger recorded the batch
// cancelled (fixed: a call that waited in Pace longer than refenceAfter
// asks its fence again before it leaves). Here the pacer's bucket is emptied first so the start waits
// ~1 s in Pace; the batch is cancelled 300 ms into that wait. (Should the
// cancel land before the fence, the fence refuses and the test passes:
// load can only hide the fault, never invent it.)
func TestRev3CancelWhileStartWaitsInPace(t *testing.T) {
	h := newHarness(t)
	p := h.processor(CardTwoStep)
	batch := h.ingest(tokenRow("R3-1", "631.00", "tok_r3p1"))
	r := h.run(p, batch, 1)
	h.stepTo(r, payout.StateStarting)

	lim := ratelimit.New(1, 1) // one call a second
	t.Cleanup(lim.Close)
	p.lim = lim
	require.NoError(t, lim.Pace(h.ctx)) // the pacer's one token: the start's Pace waits ~1 s

	before := h.calls.snapshot()
	done := make(chan error, 1)
	go func() {
		_, err := r.step(h.ctx)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // past the fence, inside Pace
	require.NoError(t, h.svc.Cancel(h.ctx, ledgerapi.BatchCommand{Batch: batch, By: "anna", Reason: "wrong file"}))
	cancelled := h.calls.snapshot()
	require.Zero(t, h.calls.since(before)[bank131.PathStartPayout], "nothing sent before the cancel")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the step never ended")
	}
	require.Zero(t, h.calls.since(cancelled)[bank131.PathStartPayout],
		"session/start/payout reached the bank after the batch was cancelled (issue 11: nothing new is sent)")
}
