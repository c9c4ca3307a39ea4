package ledger

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// TestReleaseRechecksThePayee: B's row is held as a probable duplicate of
// A's (the same card token and amount under another reference, A in
// flight). C, a third payment to the same payee, is held too, released by
// a person and paid. B's hold still names A, in flight; its release asks
// the payee rule again, finds C paid meanwhile, and is refused with the
// hold restated naming C. Released again, on what its hold says now, B is
// paid: a hold that names the best earlier row stands.
func TestReleaseRechecksThePayee(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	pay := func(seed, ref string) *testBatch {
		b := makeRows(seed, []*payout.Row{tokenRow(ref, 50000, "tok_same")})
		record(t, s, b.msgs(nextSeq.Add(1000)))
		require.NoError(t, s.ReleaseDue(ctx))
		return b
	}
	a := pay("A: pays the courier", "W-48")
	var bSeed string
	for i := 0; ; i++ {
		bSeed = "B: the same courier " + strconv.Itoa(i)
		if makeBatch(1, bSeed).ID > a.ID { // C's hold names A (the first by batch id), not B
			break
		}
	}
	b := pay(bSeed, "W-49")
	c := pay("C: the same courier again", "W-50")
	require.Equal(t, HoldDuplicate, holdsOf(t, s, b.ID)[1].Kind)
	require.Equal(t, a.ID, holdsOf(t, s, b.ID)[1].EarlierBatch)
	require.Equal(t, a.ID, holdsOf(t, s, c.ID)[1].EarlierBatch)

	require.NoError(t, s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: c.ID, Row: 1, By: "carol", Reason: "a second shift"}))
	require.Equal(t, payout.StateQueued, mustRow(t, s, c.ID, 1).State)
	finish(t, s, c.ID, 1, payout.StateSucceeded, "")

	err := s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "dave", Reason: "A is not paid yet, says its page"})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict), "B's release while C, the same payee and amount, was paid meanwhile: %v", err)
	require.Contains(t, err.Error(), "W-50")
	row := mustRow(t, s, b.ID, 1)
	require.Equal(t, payout.StateReceived, row.State, "B's row is not released")
	h := holdsOf(t, s, b.ID)[1]
	require.Equal(t, c.ID, h.EarlierBatch, "the hold names the row paid meanwhile")
	require.Equal(t, "", h.Decision)
	require.Contains(t, h.Reason, "probable duplicate: the same card token was paid")
	require.Contains(t, h.Reason, "W-50")

	require.NoError(t, s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "dave", Reason: "B is a third shift"}))
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 1).State)
}

// TestReleaseRechecksTheReference: a re-export's row is held as a repeat
// of A's row, in flight; A's row then fails, and the same reference is
// paid meanwhile by B's row (released by a person); C's hold, naming A,
// is restated naming B at its release. Also: a hold whose named row is
// the best one now (paid) is released though another row with the
// reference is in flight, and the release never goes round between two
// rows.
func TestReleaseRechecksTheReference(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	a := releaseBatch(t, s, 1, "ref A")
	var bSeed string
	for i := 0; ; i++ {
		bSeed = "ref B " + strconv.Itoa(i)
		if makeBatch(1, bSeed).ID > a.ID {
			break
		}
	}
	b := releaseBatch(t, s, 1, bSeed)
	c := releaseBatch(t, s, 1, "ref C")
	d := releaseBatch(t, s, 1, "ref D")
	require.Equal(t, a.ID, holdsOf(t, s, c.ID)[1].EarlierBatch)
	require.Equal(t, a.ID, holdsOf(t, s, d.ID)[1].EarlierBatch)
	finish(t, s, a.ID, 1, payout.StateFailed, "bank_card_expired")
	require.NoError(t, s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "carol", Reason: "A failed"}))
	finish(t, s, b.ID, 1, payout.StateSucceeded, "")

	err := s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: c.ID, Row: 1, By: "dave", Reason: "A failed"})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict), "%v", err)
	require.Equal(t, b.ID, holdsOf(t, s, c.ID)[1].EarlierBatch)
	require.Contains(t, holdsOf(t, s, c.ID)[1].Reason, "was paid on")
	// Released knowing B paid it: C goes; D's hold (A, failed) is restated
	// to B, the paid row, not to C in flight, and released the second time.
	require.NoError(t, s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: c.ID, Row: 1, By: "dave", Reason: "paid twice on purpose"}))
	require.Equal(t, payout.StateQueued, mustRow(t, s, c.ID, 1).State)
	err = s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: d.ID, Row: 1, By: "dave", Reason: "A failed"})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict), "%v", err)
	require.Equal(t, b.ID, holdsOf(t, s, d.ID)[1].EarlierBatch)
	require.NoError(t, s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: d.ID, Row: 1, By: "dave", Reason: "paid again on purpose"}))
	require.Equal(t, payout.StateQueued, mustRow(t, s, d.ID, 1).State)
}
