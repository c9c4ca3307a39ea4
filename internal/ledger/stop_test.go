package ledger

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// nextSeq hands each batch releaseBatch records stream sequences of its
// own, in the order the batches are made (as the intake stream would).
var nextSeq atomic.Uint64

// releaseBatch records a batch of n rows and releases it.
func releaseBatch(t *testing.T, s *Service, n int, seed string) *testBatch {
	t.Helper()
	b := makeBatch(n, seed)
	record(t, s, b.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.ReleaseDue(context.Background()))
	return b
}

// finish moves a queued row to claimed and then to to (failed with code,
// or succeeded), as a processor and the bank would.
func finish(t *testing.T, s *Service, batch string, row int, to payout.State, code string) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Transition(ctx, ledgerapi.Transition{Batch: batch, Row: row, To: payout.StateClaimed, Gen: mustRow(t, s, batch, row).Gen, Worker: "w"})
	require.NoError(t, err)
	if to == payout.StateSucceeded {
		force(t, s, batch, row, payout.StatePayoutStarted, "")
	}
	_, err = s.Transition(ctx, ledgerapi.Transition{Batch: batch, Row: row, To: to, ErrorCode: code, Reason: "x"})
	require.NoError(t, err)
}

func TestBreakerHoldsTheBatch(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	cfg := testConfig()
	cfg.BreakerFailures, cfg.BreakerWindow = 5, 10
	s := NewService(db, cfg)
	t.Cleanup(func() { s.Close(); db.Close() })
	noApprovals(t, s)
	b := releaseBatch(t, s, 30, "breaker")

	// Successes and failures of other codes do not trip it; our own
	// codes never count.
	for row := 1; row <= 4; row++ {
		finish(t, s, b.ID, row, payout.StateFailed, "card_number_does_not_exist")
	}
	finish(t, s, b.ID, 5, payout.StateFailed, "gate_mismatch")
	finish(t, s, b.ID, 6, payout.StateSucceeded, "")
	finish(t, s, b.ID, 7, payout.StateFailed, "bank_card_expired")
	require.Nil(t, summary(t, db, b.ID).Hold)

	// The fifth failure with one code among the last ten finished rows.
	finish(t, s, b.ID, 8, payout.StateFailed, "card_number_does_not_exist")
	sum := summary(t, db, b.ID)
	require.NotNil(t, sum.Hold)
	require.Equal(t, ledgerapi.HoldByBreaker, sum.Hold.Source)
	require.Contains(t, sum.Hold.Reason, "5 of the last 8 finished rows failed with the bank's code card_number_does_not_exist")
	exc, err := db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Len(t, exc, 1)
	require.Equal(t, reconcile.BankFailures, exc[0].Category)
	require.Contains(t, exc[0].Detail, "card_number_does_not_exist")

	// Nothing new starts: a claim is refused, and so is a send.
	_, err = s.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 9, To: payout.StateClaimed, Gen: 1})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeIllegal), "%v", err)
	require.True(t, mustRow(t, s, b.ID, 9).OnHold)
	// Rows already at the bank still finish.
	finish2 := func(row int) {
		force(t, s, b.ID, row, payout.StatePayoutStarted, "")
		_, err := s.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: row, To: payout.StateFailed, ErrorCode: "card_number_does_not_exist"})
		require.NoError(t, err)
	}
	finish2(10)

	// A person resumes: the window starts afresh, the exception closes.
	require.NoError(t, s.Resume(ctx, ledgerapi.RowCommand{Batch: b.ID, By: "anna", Reason: "the bank fixed its card directory"}))
	sum = summary(t, db, b.ID)
	require.Nil(t, sum.Hold)
	exc, err = db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Empty(t, exc)
	require.Equal(t, 2, mustRow(t, s, b.ID, 9).Gen, "a queued row gets a new pay job")
	_, err = s.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 9, To: payout.StateClaimed, Gen: 2})
	require.NoError(t, err)
	for row := 11; row <= 14; row++ {
		finish(t, s, b.ID, row, payout.StateFailed, "card_number_does_not_exist")
	}
	require.Nil(t, summary(t, db, b.ID).Hold, "four failures after the resume")
	finish(t, s, b.ID, 15, payout.StateFailed, "card_number_does_not_exist")
	require.NotNil(t, summary(t, db, b.ID).Hold, "five: on hold again")

	dec, err := db.Decisions(ctx, b.ID)
	require.NoError(t, err)
	var actions []string
	for _, d := range dec {
		actions = append(actions, d.By+" "+d.Action)
	}
	require.Equal(t, []string{"breaker hold", "anna resume", "breaker hold"}, actions)

	// Cancelled instead: the breaker's exception closes with it.
	require.NoError(t, s.Cancel(ctx, ledgerapi.BatchCommand{Batch: b.ID, By: "anna", Reason: "the bank is down"}))
	exc, err = db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Empty(t, exc)
}

func TestHoldResumeAndCancelRowRefusals(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	b := releaseBatch(t, s, 3, "stops")
	cmd := func(row int, reason string) ledgerapi.RowCommand {
		return ledgerapi.RowCommand{Batch: b.ID, Row: row, By: "anna", Reason: reason}
	}
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"no reason", s.Hold(ctx, cmd(1, ""))},
		{"resume a row not on hold", s.Resume(ctx, cmd(1, "x"))},
		{"resume a batch not on hold", s.Resume(ctx, cmd(0, "x"))},
		{"cancel no row", s.CancelRow(ctx, cmd(0, "x"))},
	} {
		require.True(t, ledgerapi.IsCode(tt.err, ledgerapi.CodeInvalid), "%s: %v", tt.name, tt.err)
	}
	require.True(t, ledgerapi.IsCode(s.Hold(ctx, cmd(9, "x")), ledgerapi.CodeNotFound))

	// A row whose money may move cannot be cancelled.
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE rows SET state = 'confirmed' WHERE batch_id = ? AND row_no = 2`, b.ID)
		return err
	}))
	err := s.CancelRow(ctx, cmd(2, "too late"))
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "%v", err)
	require.Contains(t, err.Error(), "finishes as the bank says")

	// Cancelled rows are final; held, resumed and cancelled again is a no-op.
	require.NoError(t, s.Hold(ctx, cmd(1, "check")))
	require.True(t, mustRow(t, s, b.ID, 1).OnHold)
	require.NoError(t, s.Hold(ctx, cmd(1, "check again")), "a second hold is a no-op")
	require.NoError(t, s.CancelRow(ctx, cmd(1, "wrong account")))
	require.Equal(t, payout.StateCancelled, mustRow(t, s, b.ID, 1).State)
	require.NoError(t, s.CancelRow(ctx, cmd(1, "again")))
	require.True(t, ledgerapi.IsCode(s.Hold(ctx, cmd(1, "x")), ledgerapi.CodeInvalid))

	// A received row on hold in a released batch is released on resume.
	c := uniqueBatch(2, "late hold")
	record(t, s, c.msgs(100))
	require.NoError(t, s.Hold(ctx, ledgerapi.RowCommand{Batch: c.ID, Row: 2, By: "anna", Reason: "check"}))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.StateQueued, mustRow(t, s, c.ID, 1).State)
	require.Equal(t, payout.StateReceived, mustRow(t, s, c.ID, 2).State, "the release passes a row on hold by")
	require.NoError(t, s.Resume(ctx, ledgerapi.RowCommand{Batch: c.ID, Row: 2, By: "anna", Reason: "fine"}))
	require.Equal(t, payout.StateQueued, mustRow(t, s, c.ID, 2).State)

	// A batch on hold before it is due is not released until resumed.
	d := uniqueBatch(2, "held early")
	record(t, s, d.msgs(200))
	require.NoError(t, s.Hold(ctx, ledgerapi.RowCommand{Batch: d.ID, By: "anna", Reason: "wait for the new rates"}))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.BatchScheduled, summary(t, s.db, d.ID).Status)
	require.NoError(t, s.Resume(ctx, ledgerapi.RowCommand{Batch: d.ID, By: "anna", Reason: "rates are in"}))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.BatchReleased, summary(t, s.db, d.ID).Status)
}
