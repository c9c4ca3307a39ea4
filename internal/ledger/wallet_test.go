package ledger

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// fakeWallet is a wallet the test tops up; reads counts the checks.
type fakeWallet struct {
	mu      sync.Mutex
	balance int64
	reads   int
	err     error
}

func (w *fakeWallet) Balance(_ context.Context, currency string) (money.Amount, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reads++
	if w.err != nil {
		return money.Amount{}, w.err
	}
	return money.New(w.balance, currency), nil
}

func (w *fakeWallet) set(minor int64) {
	w.mu.Lock()
	w.balance = minor
	w.mu.Unlock()
}

func walletService(t *testing.T, w *fakeWallet) (*Service, *DB) {
	t.Helper()
	db := openDB(t, t.TempDir(), newClock())
	cfg := testConfig()
	cfg.Wallet, cfg.ExpectedFee, cfg.WalletRecheck = w, ExpectedFee{Bps: 50, Min: 1500}, time.Nanosecond
	s := NewService(db, cfg)
	t.Cleanup(func() { s.Close(); db.Close() })
	noApprovals(t, s)
	return s, db
}

func openOf(t *testing.T, db *DB, batch string, c reconcile.Category) []Exception {
	t.Helper()
	all, err := db.Exceptions(batch, false)
	require.NoError(t, err)
	var out []Exception
	for _, e := range all {
		if e.Category == c {
			out = append(out, e)
		}
	}
	return out
}

func TestExpectedFee(t *testing.T) {
	f := ExpectedFee{Bps: 50, Min: 1500}
	for _, c := range []struct{ amount, fee int64 }{
		{100000, 1500},  // 0.5 % of 1 000.00 is 5.00: the minimum
		{1000000, 5000}, // 0.5 % of 10 000.00
		{1000001, 5001}, // rounded up
		{0, 1500},
	} {
		require.Equal(t, c.fee, f.Of(c.amount), "%d", c.amount)
	}
	require.Equal(t, int64(0), ExpectedFee{}.Of(12345))
}

// A batch the wallet does not cover is not released: it waits for funds
// with an exception saying to top up the wallet, and goes on by itself
// once a later check finds the money.
func TestWalletCheckHoldsReleaseUntilFunded(t *testing.T) {
	ctx := context.Background()
	w := &fakeWallet{balance: 100000}
	s, db := walletService(t, w)
	b := makeBatch(3, "wallet short")
	record(t, s, b.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.ReleaseDue(ctx))

	sum := summary(t, db, b.ID)
	require.NotNil(t, sum.Hold)
	require.Equal(t, ledgerapi.HoldByWallet, sum.Hold.Source)
	// 3 rows of 1 000.01…1 000.03 and 15.00 each: 3 045.06.
	require.Contains(t, sum.Hold.Reason, "the wallet holds 1000.00 RUB; the batch still needs 3045.06 RUB")
	for row := 1; row <= 3; row++ {
		require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, row).State, "nothing released")
	}
	exc := openOf(t, db, b.ID, reconcile.WaitingForFunds)
	require.Len(t, exc, 1)
	require.Contains(t, exc[0].Detail, "top up the wallet")

	// Still short: it keeps waiting, with the one exception.
	w.set(304505)
	s.recheckWallets(ctx, map[string]time.Time{})
	require.NotNil(t, summary(t, db, b.ID).Hold)
	require.NoError(t, s.ReleaseDue(ctx))
	require.Len(t, openOf(t, db, b.ID, reconcile.WaitingForFunds), 1)

	// Topped up: resumed by the check, the exception closes, the release goes on.
	w.set(304506)
	s.recheckWallets(ctx, map[string]time.Time{})
	require.Nil(t, summary(t, db, b.ID).Hold)
	require.Empty(t, openOf(t, db, b.ID, reconcile.WaitingForFunds))
	require.NoError(t, s.ReleaseDue(ctx))
	for row := 1; row <= 3; row++ {
		require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, row).State)
	}
	dec, err := db.Decisions(ctx, b.ID)
	require.NoError(t, err)
	var actions []string
	for _, d := range dec {
		actions = append(actions, d.By+" "+d.Action)
	}
	require.Equal(t, []string{"wallet check hold", "wallet check resume"}, actions)

	// A wallet that cannot be read releases nothing.
	b2 := makeBatch(2, "wallet unreadable")
	w.mu.Lock()
	w.err = errors.New("bank down")
	w.mu.Unlock()
	record(t, s, b2.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.StateReceived, mustRow(t, s, b2.ID, 1).State)
	require.Nil(t, summary(t, db, b2.ID).Hold, "not on hold: tried again on the next tick")
}

// The bank's insufficient_wallet_balance, at a call or in the payout's
// final status, puts the row back in the queue with a new attempt (never
// failed for the recipient) and holds the batch for funds; its old session
// is abandoned, so the gate cancels it should it come back.
func TestWalletShortRowWaitsForFunds(t *testing.T) {
	ctx := context.Background()
	w := &fakeWallet{balance: 1 << 40}
	s, db := walletService(t, w)
	b := releaseBatch(t, s, 4, "wallet short rows")
	require.Nil(t, summary(t, db, b.ID).Hold)

	// Row 1: start/payout answered insufficient_wallet_balance.
	force(t, s, b.ID, 1, payout.StateStarting, "ps_1")
	before := mustRow(t, s, b.ID, 1)
	reply := move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateQueued, Expect: []payout.State{payout.StateStarting},
		WalletShort: true, ErrorCode: "insufficient_wallet_balance"})
	require.Nil(t, reply.Error)
	r := mustRow(t, s, b.ID, 1)
	require.Equal(t, payout.StateQueued, r.State)
	require.Equal(t, before.Attempt+1, r.Attempt, "a new attempt: new keys")
	require.Equal(t, before.Gen+1, r.Gen)
	require.Empty(t, r.SessionID)
	require.True(t, r.OnHold)
	sum := summary(t, db, b.ID)
	require.NotNil(t, sum.Hold)
	require.Equal(t, ledgerapi.HoldByWallet, sum.Hold.Source)
	require.Len(t, openOf(t, db, b.ID, reconcile.WaitingForFunds), 1)

	// Row 2: its payout failed with the code after the confirm (the
	// webhook); the batch is already waiting: still one exception.
	force(t, s, b.ID, 2, payout.StateConfirmed, "ps_2")
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE rows SET confirm_session = 'ps_2' WHERE batch_id = ? AND row_no = 2`, b.ID)
		return err
	}))
	reply = move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 2, SessionID: "ps_2", To: payout.StateQueued, WalletShort: true,
		ErrorCode: "insufficient_wallet_balance", Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookID: "h2"}})
	require.Nil(t, reply.Error)
	r = mustRow(t, s, b.ID, 2)
	require.Equal(t, payout.StateQueued, r.State)
	require.Empty(t, r.SessionID)
	require.Len(t, openOf(t, db, b.ID, reconcile.WaitingForFunds), 1)
	// The same webhook again: the session is abandoned now, nothing moves.
	_, err := s.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 2, SessionID: "ps_2", To: payout.StateQueued, WalletShort: true})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeForeignSession), "%v", err)
	// Not at the bank: nothing for the wallet to refuse.
	_, err = s.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 2, To: payout.StateQueued, WalletShort: true})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeIllegal), "%v", err)

	// The old session reaching ready_to_confirm is cancelled at the gate.
	g, err := s.Gate(ctx, ledgerapi.GateRequest{Batch: b.ID, Row: 2, SessionID: "ps_2", Observed: ledgerapi.Observed{Amount: money.New(100002, "RUB")}})
	require.NoError(t, err)
	require.Equal(t, ledgerapi.DecisionCancel, g.Decision)

	// The wallet covers it: the check resumes the batch, both rows get a new pay job.
	gen1, gen2 := mustRow(t, s, b.ID, 1).Gen, mustRow(t, s, b.ID, 2).Gen
	s.recheckWallets(ctx, map[string]time.Time{})
	require.Nil(t, summary(t, db, b.ID).Hold)
	require.Empty(t, openOf(t, db, b.ID, reconcile.WaitingForFunds))
	require.Equal(t, gen1+1, mustRow(t, s, b.ID, 1).Gen)
	require.Equal(t, gen2+1, mustRow(t, s, b.ID, 2).Gen)

	// A cancelled batch: the refused row fails instead (nothing new starts).
	force(t, s, b.ID, 3, payout.StatePayoutStarted, "ps_3")
	require.NoError(t, s.Cancel(ctx, ledgerapi.BatchCommand{Batch: b.ID, By: "anna", Reason: "stop"}))
	reply = move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 3, SessionID: "ps_3", To: payout.StateQueued, WalletShort: true,
		ErrorCode: "insufficient_wallet_balance"})
	require.Nil(t, reply.Error)
	r = mustRow(t, s, b.ID, 3)
	require.Equal(t, payout.StateFailed, r.State)
	require.Equal(t, "insufficient_wallet_balance", r.ErrorCode)
}
