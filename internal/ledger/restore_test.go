package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

// TestAdoptReplayed: after a restore, a webhook naming a live row with a
// session the restored row lacks makes the row in_doubt in that session:
// no new attempt can start, another session is cancelled at the gate,
// and the lost session's own ready_to_confirm is confirmed again (the
// processor sends the confirm with the same key, <batch>/<row>/<session>/confirm,
// so the bank takes it as the repeat of the confirm the lost tail sent).
func TestAdoptReplayed(t *testing.T) {
	s, _, b := released(t, 5)
	force(t, s, b.ID, 1, payout.StateOpening, "")
	force(t, s, b.ID, 2, payout.StateSucceeded, "ps_2")
	force(t, s, b.ID, 3, payout.StatePayoutStarted, "ps_3")
	force(t, s, b.ID, 4, payout.StateQueued, "")
	force(t, s, b.ID, 5, payout.StateQueued, "")
	ref := func(row int) *payout.BankRef { return &payout.BankRef{Batch: b.ID, Row: row} }
	adopt := func(ev bankEvent) bool {
		var ok bool
		require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
			if err := s.recordHook(tx, ev); err != nil {
				return err
			}
			var err error
			ok, err = s.adoptReplayed(tx, ev)
			return err
		}))
		return ok
	}
	require.True(t, adopt(bankEvent{HookID: "h1", Type: "ready_to_confirm", SessionID: "ps_lost1", Ref: ref(1)}))
	require.False(t, adopt(bankEvent{HookID: "h2", Type: "payment_finished", SessionID: "ps_2x", Ref: ref(2)}), "terminal")
	require.False(t, adopt(bankEvent{HookID: "h3", Type: "ready_to_confirm", SessionID: "ps_3x", Ref: ref(3)}), "the row has its session")
	require.False(t, adopt(bankEvent{HookID: "h4", Type: "ready_to_confirm", SessionID: "ps_3", Ref: ref(4)}), "another row's session")
	require.False(t, adopt(bankEvent{HookID: "h5", Type: "ready_to_confirm", Ref: ref(5)}), "no session named")
	// Replayed twice (a second restore, a redelivery): nothing new.
	require.False(t, adopt(bankEvent{HookID: "h1", Type: "ready_to_confirm", SessionID: "ps_lost1", Ref: ref(1)}))

	row := mustRow(t, s, b.ID, 1)
	require.Equal(t, payout.StateInDoubt, row.State)
	require.Equal(t, "ps_lost1", row.SessionID)
	for n, want := range map[int]payout.State{2: payout.StateSucceeded, 3: payout.StatePayoutStarted, 4: payout.StateQueued, 5: payout.StateQueued} {
		require.Equal(t, want, mustRow(t, s, b.ID, n).State, "row %d", n)
	}

	// A processor re-driving the row from what it last saw cannot open a
	// second session...
	r := move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateOpening, NewAttempt: true, Expect: []payout.State{payout.StateOpening}})
	require.Equal(t, ledgerapi.CodeStale, code(r))
	// ...and a second session never reaches confirm.
	obs := ledgerapi.Observed{Amount: money.New(100001, "rub"), Last4: "4242"}
	ev := ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookType: "ready_to_confirm"}
	g := gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 1, SessionID: "ps_second", Observed: obs, Evidence: ev})
	require.Equal(t, ledgerapi.DecisionCancel, g.Decision, g.Reason)
	// The lost session's ready_to_confirm (redelivered, or a poll) passes.
	g = gate(t, s, ledgerapi.GateRequest{Batch: b.ID, Row: 1, SessionID: "ps_lost1", Observed: obs, Evidence: ev})
	require.Equal(t, ledgerapi.DecisionConfirm, g.Decision, g.Reason)
	require.Equal(t, "ps_lost1", mustRow(t, s, b.ID, 1).ConfirmSession)
}

// TestReplayAfterRestore: the first Start after RecordRestore replays
// PAYRUN_HOOKS (from an hour before the last write) before it serves,
// re-records what the restored database lacked, adopts the sessions the
// bank named, and marks the restore replayed; the next Start does not.
func TestReplayAfterRestore(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	dir := t.TempDir()
	db := openDB(t, dir, c)
	defer db.Close()
	ctx := context.Background()
	require.NoError(t, queue.EnsureStreams(ctx, env.js, queue.Config{}))

	b := makeBatch(3, t.Name())
	s := NewService(db, testConfig())
	noApprovals(t, s)
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(ctx))
	force(t, s, b.ID, 1, payout.StateOpening, "")
	s.Close()

	// The webhooks the lost tail had recorded (the restored database has none).
	for i, typ := range []string{"ready_to_confirm", "payment_finished"} {
		body := fmt.Sprintf(`{"type":%q,"session":{"id":"ps_tail","status":"in_progress","payout_list":[{"id":"po_1","status":"succeeded","metadata":{"payrun":"%s/1"}}]}}`, typ, b.ID)
		_, err := env.js.PublishMsg(ctx, &nats.Msg{Subject: queue.HookSubject(typ), Data: []byte(body), Header: nats.Header{
			jetstream.MsgIDHeader: []string{fmt.Sprint("tail-", i)}, queue.HeaderHookType: []string{typ}}})
		require.NoError(t, err)
	}
	// The ledger-hooks consumer had acknowledged them before the disk was lost.
	cons, err := env.js.CreateOrUpdateConsumer(ctx, queue.StreamHooks, jetstream.ConsumerConfig{Durable: queue.ConsumerLedgerHooks,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxDeliver: 20, MaxAckPending: 10000, FilterSubject: queue.HooksPrefix + ">"})
	require.NoError(t, err)
	msgs, err := cons.Fetch(2, jetstream.FetchMaxWait(2*time.Second))
	require.NoError(t, err)
	for m := range msgs.Messages() {
		require.NoError(t, m.DoubleAck(ctx))
	}

	_, err = db.RecordRestore(ctx, "file:///backup/ledger")
	require.NoError(t, err)
	s = startService(t, db, env, testConfig())
	row := mustRow(t, s, b.ID, 1)
	require.Equal(t, "ps_tail", row.SessionID)
	require.Equal(t, payout.StateInDoubt, row.State, "the row waits for the bank's word, never a second session")
	var events, pending int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM bank_events WHERE session_id = 'ps_tail'`).Scan(&events))
	require.Equal(t, 2, events, "both webhooks recorded again")
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM restores WHERE replayed_at IS NULL`).Scan(&pending))
	require.Zero(t, pending)
}
