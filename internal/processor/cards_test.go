package processor

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// TestCardLastFourAfterFinish: a token row asks token/info only once the
// bank's final word is recorded, never on its way to the bank; the
// answer's last four are recorded once and shown with the token. A
// repeated payment_finished queues nothing more; a failed token row is
// asked too.
func TestCardLastFourAfterFinish(t *testing.T) {
	h := newHarness(t)
	p := h.processor(CardTwoStep)
	batch := h.ingest(tokenRow("C-1", "611.00", "tok_c1"), tokenRow("C-2", "612.00", "tok_c2_"+sandbox.TokenFailExpired))
	for n, want := range map[int]payout.State{1: payout.StateSucceeded, 2: payout.StateFailed} {
		before := h.calls.snapshot()
		require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(batch, n)))
		st := h.row(batch, n)
		require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookReadyToConfirm, st.SessionID, 1)[0]))
		finished := h.hooks(bank131.HookPaymentFinished, st.SessionID, 1)[0]
		require.NoError(t, p.handleHook(h.ctx, finished))
		require.Equal(t, want, h.row(batch, n).State)
		require.Zero(t, h.calls.since(before)[bank131.PathTokenInfo], "no token/info before the row is final")
		require.Len(t, p.fills, 1, "the finished row is queued for its card")

		require.NoError(t, p.handleHook(h.ctx, finished), "the bank sends payment_finished again")
		require.Len(t, p.fills, 1, "a repeat queues nothing more")

		shown := h.row(batch, n).Destination
		require.NotContains(t, shown, "card")
		require.NoError(t, p.fillCard(h.ctx, <-p.fills))
		require.Equal(t, 1, h.calls.since(before)[bank131.PathTokenInfo])
		last4 := sandboxPayout(t, h, st.SessionID).Last4 // the card the bank shows in the payout
		require.Len(t, last4, 4)
		got := h.row(batch, n)
		require.Equal(t, want, got.State)
		require.Equal(t, shown+" (card …"+last4+")", got.Destination, "the token's tail, then the card's last four")

		// Asked again (a second processor, a redelivered event): recorded once.
		require.NoError(t, p.fillCard(h.ctx, cardFill{batch: batch, row: n}))
		require.Equal(t, got.Destination, h.row(batch, n).Destination)
	}
}

// TestCardFillQueueFullWarnsOncePerInterval: rows a full token/info queue
// turns away are counted in one warning per dropLogEvery, not one a row.
func TestCardFillQueueFullWarnsOncePerInterval(t *testing.T) {
	var logs bytes.Buffer
	p := &Processor{log: slog.New(slog.NewJSONHandler(&logs, nil)), fills: make(chan cardFill, 1)}
	row := func(n int) *ledgerapi.RowState {
		return &ledgerapi.RowState{Batch: "b1", Row: n, Method: payout.MethodToken, State: payout.StateSucceeded}
	}
	for n := 1; n <= 5; n++ { // one queued, four dropped: the first drop warns
		p.queueCardFill(row(n))
	}
	require.Len(t, p.fills, 1)
	require.Equal(t, 1, strings.Count(logs.String(), "token/info queue full"), logs.String())
	require.Contains(t, logs.String(), `"rows":1`)
	p.dropLogged.Add(-int64(dropLogEvery)) // the interval passed
	p.queueCardFill(row(6))
	require.Equal(t, 2, strings.Count(logs.String(), "token/info queue full"), logs.String())
	require.Contains(t, logs.String(), `"rows":4`, "the three dropped meanwhile and this one")
}
