package ledger

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// released returns a service with one released batch of n rows.
func released(t *testing.T, n int) (*Service, *clock, *testBatch) {
	t.Helper()
	s, c := newService(t)
	b := makeBatch(n, t.Name())
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(context.Background()))
	return s, c, b
}

// force puts a row into a state directly (test setup only).
func force(t *testing.T, s *Service, batch string, row int, st payout.State, session string) {
	t.Helper()
	require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE rows SET state = ?, session_id = ? WHERE batch_id = ? AND row_no = ?`, string(st), session, batch, row)
		if err == nil && session != "" {
			err = recordSession(tx, session, batch, row, 0, roleRow, "")
		}
		return err
	}))
}

func move(t *testing.T, s *Service, tr ledgerapi.Transition) *ledgerapi.TransitionReply {
	t.Helper()
	reply, err := s.Transition(context.Background(), tr)
	answered(t, err, reply != nil && reply.Error == err)
	return reply
}

// answered fails the test unless err is nil or a refusal that the reply
// carries too (as over NATS): a *ledgerapi.Error that is not internal.
func answered(t *testing.T, err error, inReply bool) {
	t.Helper()
	if err == nil {
		return
	}
	var lerr *ledgerapi.Error
	require.ErrorAs(t, err, &lerr)
	require.NotEqual(t, ledgerapi.CodeInternal, lerr.Code, "%v", err)
	require.True(t, inReply, "the refusal is the reply's error")
}

func code(r *ledgerapi.TransitionReply) ledgerapi.Code {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

// TestTransitionTable tries every pair of states: the moves payout.Next
// allows are applied (or, from a state to itself without new facts,
// acknowledged as a repeat); every other move is illegal and changes
// nothing. Confirming is reached only through the gate.
func TestTransitionTable(t *testing.T) {
	var states []payout.State
	for st := range payout.Next {
		states = append(states, st)
	}
	s, _, b := released(t, len(states)*len(states))
	row := 0
	for _, from := range states {
		for _, to := range states {
			row++
			name := string(from) + "→" + string(to)
			session := ""
			if from.InFlight() {
				session = "ps_" + name
			}
			force(t, s, b.ID, row, from, session)
			reply := move(t, s, ledgerapi.Transition{Batch: b.ID, Row: row, To: to, Worker: "w1", Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor}})
			got := mustRow(t, s, b.ID, row)
			switch {
			case to == payout.StateConfirming:
				require.Equal(t, ledgerapi.CodeIllegal, code(reply), name)
				require.Equal(t, from, got.State, name)
			case from == to && !payout.CanMove(from, to):
				require.Empty(t, code(reply), name)
				require.False(t, reply.Applied, name+": a repeat")
				require.Equal(t, from, got.State, name)
			case payout.CanMove(from, to):
				require.Empty(t, code(reply), name)
				require.True(t, reply.Applied, name)
				require.Equal(t, to, got.State, name)
			default:
				require.Equal(t, ledgerapi.CodeIllegal, code(reply), name)
				require.Equal(t, from, got.State, name)
				require.NotNil(t, reply.Row, name+": the refusal shows the row")
			}
		}
	}
}

func TestTransitionGuards(t *testing.T) {
	s, _, b := released(t, 1)
	ctx := context.Background()
	tr := func(tr ledgerapi.Transition) *ledgerapi.TransitionReply {
		tr.Batch, tr.Row = b.ID, 1
		r, err := s.Transition(ctx, tr)
		answered(t, err, r != nil && r.Error == err)
		return r
	}
	require.Equal(t, ledgerapi.CodeStale, code(tr(ledgerapi.Transition{To: payout.StateClaimed, Expect: []payout.State{payout.StateClaimed}})))
	require.Equal(t, ledgerapi.CodeStale, code(tr(ledgerapi.Transition{To: payout.StateClaimed, Gen: 2})))
	require.Equal(t, ledgerapi.CodeStale, code(tr(ledgerapi.Transition{To: payout.StateClaimed, Attempt: 3})))
	r := tr(ledgerapi.Transition{To: payout.StateClaimed, Gen: 1, Expect: []payout.State{payout.StateQueued}, Worker: "w1"})
	require.True(t, r.Applied)
	require.Equal(t, "w1", r.Row.Worker)

	// A repeat with agreeing facts: not applied, no error.
	r = tr(ledgerapi.Transition{To: payout.StateClaimed, Gen: 1, Worker: "w1"})
	require.Empty(t, code(r))
	require.False(t, r.Applied)

	// Another worker claims (claimed → claimed is a move of its own).
	r = tr(ledgerapi.Transition{To: payout.StateClaimed, Gen: 1, Worker: "w2"})
	require.True(t, r.Applied)

	// Opening with the first attempt's key, then a new attempt.
	r = tr(ledgerapi.Transition{To: payout.StateOpening, NewAttempt: true, IdemKey: b.ID + "/1/a1/create"})
	require.True(t, r.Applied)
	require.Equal(t, 1, r.Row.Attempt)
	r = tr(ledgerapi.Transition{To: payout.StateSessionOpen, Attempt: 1, SessionID: "ps_1"})
	require.True(t, r.Applied)
	require.Equal(t, "ps_1", r.Row.SessionID)
	// Looked up by session.
	r, err := s.Transition(ctx, ledgerapi.Transition{SessionID: "ps_1", To: payout.StateStarting, IdemKey: "k-start"})
	require.NoError(t, err)
	require.True(t, r.Applied)
	r = tr(ledgerapi.Transition{To: payout.StatePayoutStarted, SessionID: "ps_1", PayoutID: "po_1"})
	require.True(t, r.Applied)
	// The same state with a different payout id is a conflict.
	r = tr(ledgerapi.Transition{To: payout.StatePayoutStarted, SessionID: "ps_1", PayoutID: "po_2"})
	require.Equal(t, ledgerapi.CodeConflict, code(r))
	require.Equal(t, "po_1", r.Row.PayoutID)

	// Back to the queue: the gen goes up, so older jobs are stale.
	r = tr(ledgerapi.Transition{To: payout.StateQueued, Reason: "rate limited"})
	require.True(t, r.Applied)
	require.Equal(t, 2, r.Row.Gen)
	require.Equal(t, ledgerapi.CodeStale, code(tr(ledgerapi.Transition{To: payout.StateClaimed, Gen: 1})))
}

func TestTransitionForeignSession(t *testing.T) {
	s, _, b := released(t, 2)
	force(t, s, b.ID, 1, payout.StatePayoutStarted, "ps_mine")
	// Another session of the row reports a payout that failed: evidence only.
	r := move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, SessionID: "ps_other", To: payout.StateFailed, ErrorCode: "x"})
	require.Equal(t, ledgerapi.CodeForeignSession, code(r))
	require.Equal(t, payout.StatePayoutStarted, mustRow(t, s, b.ID, 1).State)
	ex, _ := s.db.Exceptions(b.ID, false)
	require.Empty(t, ex)
	// ... and one that succeeded: two bank operations for one row.
	r = move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, SessionID: "ps_third", To: payout.StateSucceeded,
		PayoutID: "po_9", Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookID: "h1"}})
	require.Equal(t, ledgerapi.CodeForeignSession, code(r))
	row := mustRow(t, s, b.ID, 1)
	require.Equal(t, payout.StatePayoutStarted, row.State)
	require.Equal(t, "ps_mine", row.SessionID)
	ex, _ = s.db.Exceptions(b.ID, false)
	require.Len(t, ex, 1)
	require.Equal(t, reconcile.TwoOperations, ex[0].Category)
	require.Contains(t, ex[0].Detail, "ps_third")

	// The row's own session finishes it; a repeat agrees.
	r = move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, SessionID: "ps_mine", To: payout.StateSucceeded, PayoutID: "po_1",
		Paid: &money.Amount{Minor: 100001, Currency: "RUB"}})
	require.True(t, r.Applied)
	r = move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, SessionID: "ps_mine", To: payout.StateSucceeded, PayoutID: "po_1"})
	require.Empty(t, code(r))
	require.False(t, r.Applied)

	// A session of row 1 cannot move row 2.
	force(t, s, b.ID, 2, payout.StateOpening, "")
	r = move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 2, SessionID: "ps_mine", To: payout.StateSessionOpen})
	require.Equal(t, ledgerapi.CodeForeignSession, code(r))
}

func TestTransitionFinishesBatch(t *testing.T) {
	s, _, b := released(t, 2)
	for row := 1; row <= 2; row++ {
		force(t, s, b.ID, row, payout.StatePayoutStarted, "ps_"+b.Rows[row-1].Reference)
		r := move(t, s, ledgerapi.Transition{Batch: b.ID, Row: row, To: payout.StateSucceeded})
		require.True(t, r.Applied)
	}
	sum := summary(t, s.db, b.ID)
	require.Equal(t, payout.BatchDone, sum.Status)
	require.NotNil(t, sum.FinishedAt)
	require.Equal(t, b.Manifest.Totals, sum.PaidTotals)
	// A payout of a failed row is flagged.
	s2, _, b2 := released(t, 1)
	force(t, s2, b2.ID, 1, payout.StateFailed, "")
	r := move(t, s2, ledgerapi.Transition{Batch: b2.ID, Row: 1, To: payout.StateSucceeded, SessionID: "ps_x"})
	require.Equal(t, ledgerapi.CodeIllegal, code(r))
	ex, _ := s2.db.Exceptions(b2.ID, false)
	require.Len(t, ex, 1)
	require.Equal(t, reconcile.PaidAfterCancel, ex[0].Category)
}

// Sending records that a row's opening call is about to leave, and is
// refused exactly when nothing may be sent: the row moved on, newer work
// holds it, or its batch was cancelled.
func TestSendingIsRecordedAndGuarded(t *testing.T) {
	s, _, b := released(t, 3)
	send := func(row, gen int) *ledgerapi.TransitionReply {
		return move(t, s, ledgerapi.Transition{Batch: b.ID, Row: row, To: payout.StateOpening,
			Expect: []payout.State{payout.StateOpening}, Gen: gen, Sending: true})
	}
	for row := 1; row <= 3; row++ {
		move(t, s, ledgerapi.Transition{Batch: b.ID, Row: row, To: payout.StateClaimed, Gen: 1})
		move(t, s, ledgerapi.Transition{Batch: b.ID, Row: row, To: payout.StateOpening, IdemKey: fmt.Sprint("k", row)})
	}
	require.False(t, mustRow(t, s, b.ID, 1).Sent)
	r := send(1, 1)
	require.Nil(t, r.Error)
	require.True(t, r.Applied)
	require.True(t, r.Row.Sent)
	require.Equal(t, payout.StateOpening, r.Row.State)
	require.Equal(t, ledgerapi.CodeStale, code(send(2, 7)), "newer work holds the row")
	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 3, To: payout.StatePayoutStarted, SessionID: "ps_3"})
	require.Equal(t, ledgerapi.CodeStale, code(send(3, 1)), "the row moved on")

	require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
		_, err := cancelBatch(tx, ledgerapi.BatchCommand{Batch: b.ID, By: "anna", Reason: "wrong file"})
		return err
	}))
	row2 := mustRow(t, s, b.ID, 2)
	require.Equal(t, ledgerapi.CodeIllegal, code(send(2, row2.Gen)), "a cancelled batch sends nothing")
	require.False(t, mustRow(t, s, b.ID, 2).Sent)
}

// A start sent again because it never reached its session goes out a few
// times per attempt, no more; a new attempt may send its own again.
func TestStartSentAgainOncePerAttempt(t *testing.T) {
	s, _, b := released(t, 1)
	force(t, s, b.ID, 1, payout.StatePayoutStarted, "ps_1")
	again := func() *ledgerapi.TransitionReply {
		return move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateStarting,
			Expect: []payout.State{payout.StatePayoutStarted}, SessionID: "ps_1"})
	}
	for i := 0; i < maxStartResends; i++ {
		r := again()
		require.Nil(t, r.Error)
		require.Equal(t, payout.StateStarting, r.Row.State)
		move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StatePayoutStarted, SessionID: "ps_1"})
	}
	require.Equal(t, ledgerapi.CodeConflict, code(again()), "a few times per attempt")
	require.Equal(t, payout.StatePayoutStarted, mustRow(t, s, b.ID, 1).State)

	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateQueued, NewAttempt: true})
	row := mustRow(t, s, b.ID, 1)
	require.False(t, row.Sent, "a new attempt starts afresh")
	require.Equal(t, 1, row.Attempt)
}

// TestCardLastFour: a token row's final state repeated with the card's
// last four (token/info) records them once, shown after the token's tail;
// what the card masker does not take for four digits is dropped, and a
// card row (whose last four came with its number) keeps its own.
func TestCardLastFour(t *testing.T) {
	s, _ := newService(t)
	rows := []*payout.Row{
		{Reference: "T-1", Method: payout.MethodToken, Amount: money.New(100, "RUB"), FullName: "Anna", CardToken: "tok_5f2b9c1e8d7a4b3c"},
		{Reference: "T-2", Method: payout.MethodCard, Amount: money.New(200, "RUB"), FullName: "Ivan",
			Card: &payout.Card{Sealed: "c2VhbGVk", BIN: "424242", Last4: "4242"}},
	}
	b := makeRows(t.Name(), rows)
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(context.Background()))
	for n := 1; n <= 2; n++ {
		force(t, s, b.ID, n, payout.StateSucceeded, "")
	}
	dest := func(n int) string {
		st, err := s.Get(context.Background(), ledgerapi.RowRequest{Batch: b.ID, Row: n})
		require.NoError(t, err)
		return st.Destination
	}
	fill := func(n int, last4 string) {
		move(t, s, ledgerapi.Transition{Batch: b.ID, Row: n, To: payout.StateSucceeded, Expect: []payout.State{payout.StateSucceeded}, CardLast4: last4})
	}
	fill(1, "55555555555544") // not a card number, not four digits: nothing kept
	fill(1, "42*2")
	require.Equal(t, "token …4b3c", dest(1))
	fill(1, "1881")
	require.Equal(t, "token …4b3c (card …1881)", dest(1))
	fill(1, "4444") // once
	require.Equal(t, "token …4b3c (card …1881)", dest(1))
	card := dest(2)
	fill(2, "1881")
	require.Equal(t, card, dest(2), "a card row shows its own number")
}
