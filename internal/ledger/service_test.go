package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/testutil"
)

// jobs reads every job now in PAYRUN_JOBS.
func jobs(t *testing.T, js jetstream.JetStream) []ledgerapi.Job {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, queue.StreamJobs)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	var out []ledgerapi.Job
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		var j ledgerapi.Job
		require.NoError(t, json.Unmarshal(m.Data, &j))
		require.Equal(t, queue.JobSubject(j.Batch), m.Subject)
		out = append(out, j)
	}
	return out
}

func TestScheduleApprovalAndRestart(t *testing.T) {
	env := startNATS(t)
	dir := t.TempDir()
	c := newClock()
	db := openDB(t, dir, c)
	s := startService(t, db, env, testConfig())
	ctx := context.Background()

	b := makeBatch(20, "scheduled")
	at := c.Now().Add(2 * time.Hour)
	b.Manifest.ScheduleAt, b.Manifest.RequireApproval = &at, true
	b.publish(t, env.js)
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		sum, err := db.Batch(ctx, b.ID)
		if err != nil {
			return err
		}
		if sum.Status != payout.BatchAwaitingApproval {
			return fmt.Errorf("status %s", sum.Status)
		}
		return nil
	})
	anna, err := s.AddUser(ctx, testAdmin, NewUser{Name: "anna", Roles: auth.Roles{auth.RoleChecker}})
	require.NoError(t, err)
	sum := summary(t, db, b.ID)
	require.Equal(t, 1, sum.ApprovalsRequired)
	require.Equal(t, []string{"the uploader asked for approval"}, sum.ApprovalReasons)
	res, err := s.Decide(ctx, auth.Actor{UserID: anna.ID, Name: "anna", Via: auth.ViaToken},
		Decision{Batch: b.ID, Approve: true, FileSHA256: sum.FileSHA256, Totals: sum.Totals})
	require.NoError(t, err)
	got := res.Batch
	require.Equal(t, payout.BatchScheduled, got.Status)
	require.Equal(t, "anna", got.ApprovedBy)
	require.Equal(t, 20, got.ByState[payout.StateReceived])

	// Not due: several release ticks pass, nothing is released.
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.BatchScheduled, summary(t, db, b.ID).Status)
	require.Empty(t, jobs(t, env.js))

	// Restart everything that is ours: the schedule lives in SQLite.
	require.NoError(t, s.Close())
	require.NoError(t, db.Close())
	db = openDB(t, dir, c)
	t.Cleanup(func() { db.Close() })
	c.Add(2*time.Hour - time.Second)
	s = startService(t, db, env, testConfig())
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, payout.BatchScheduled, summary(t, db, b.ID).Status)

	c.Add(time.Second)
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := len(jobs(t, env.js)); n != 20 {
			return fmt.Errorf("%d jobs", n)
		}
		var unpublished int
		db.r.QueryRow(`SELECT count(*) FROM rows WHERE job_gen < gen`).Scan(&unpublished)
		if unpublished > 0 {
			return fmt.Errorf("%d jobs not acknowledged", unpublished)
		}
		return nil
	})
	sum = summary(t, db, b.ID)
	require.Equal(t, payout.BatchReleased, sum.Status)
	require.Equal(t, 20, sum.ByState[payout.StateQueued])
	j := jobs(t, env.js)[4]
	require.Equal(t, ledgerapi.JobPay, j.Kind)
	require.Equal(t, 1, j.Gen)
	row := mustRow(t, s, b.ID, j.Row)
	require.Equal(t, row.IntakeSeq, j.IntakeSeq)
	require.Equal(t, row.RowDigest, j.RowDigest)
}

func TestCancel(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	s := startService(t, db, env, testConfig())
	client := ledgerapi.NewClient(env.nc, 5*time.Second)
	ctx := context.Background()

	b := makeBatch(5, "cancel")
	b.publish(t, env.js)
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := len(jobs(t, env.js)); n != 5 {
			return fmt.Errorf("%d jobs", n)
		}
		return nil
	})
	// Row 1 has a session but no payout; row 3 is at the bank waiting for
	// ready_to_confirm; row 2 is claimed.
	_, err := client.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateClaimed, Gen: 1})
	require.NoError(t, err)
	_, err = client.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateOpening, NewAttempt: true})
	require.NoError(t, err)
	_, err = client.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateSessionOpen, SessionID: "ps_c1"})
	require.NoError(t, err)
	_, err = client.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 2, To: payout.StateClaimed, Gen: 1})
	require.NoError(t, err)
	_, err = client.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 3, To: payout.StateClaimed, Gen: 1})
	require.NoError(t, err)
	_, err = client.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 3, To: payout.StateOpening, IdemKey: "k3"})
	require.NoError(t, err)
	_, err = client.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 3, To: payout.StatePayoutStarted, SessionID: "ps_c3"})
	require.NoError(t, err)

	require.NoError(t, s.Cancel(ctx, ledgerapi.BatchCommand{Batch: b.ID, By: "anna", Reason: "duplicate payroll"}))
	sum := summary(t, db, b.ID)
	require.Equal(t, payout.BatchCancelled, sum.Status)
	require.Equal(t, 3, sum.ByState[payout.StateCancelled])
	require.Equal(t, 1, sum.ByState[payout.StateSessionOpen])
	require.Equal(t, 1, sum.ByState[payout.StatePayoutStarted])

	// Nothing new starts.
	_, err = client.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateStarting})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeIllegal), "got %v", err)
	_, err = client.Transition(ctx, ledgerapi.Transition{Batch: b.ID, Row: 2, To: payout.StateOpening})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeIllegal), "got %v", err)
	// The row a processor was opening got a new pay job, so a processor
	// settles it against the cancelled batch now; the started payout got a
	// poll job, so the gate cancels it at the bank.
	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		var pay, poll bool
		for _, j := range jobs(t, env.js) {
			pay = pay || j.Kind == ledgerapi.JobPay && j.Row == 1 && j.Gen == 2
			poll = poll || j.Kind == ledgerapi.JobPoll && j.Row == 3 && j.SessionID == "ps_c3"
		}
		if !pay || !poll {
			return fmt.Errorf("pay job of row 1: %v, poll job of row 3: %v", pay, poll)
		}
		return nil
	})
	// Approving a cancelled batch is refused; cancelling again is a no-op.
	carl, err := s.AddUser(ctx, testAdmin, NewUser{Name: "carl", Roles: auth.Roles{auth.RoleChecker}})
	require.NoError(t, err)
	_, err = s.Decide(ctx, auth.Actor{UserID: carl.ID, Name: "carl"}, Decision{Batch: b.ID, Approve: true})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "got %v", err)
	require.ErrorContains(t, err, "is cancelled")
	require.NoError(t, s.Cancel(ctx, ledgerapi.BatchCommand{Batch: b.ID}))
	// The people-facing subjects are gone: nobody approves or cancels over NATS.
	for _, subj := range []string{"payrun.ledger.batch.approve", "payrun.ledger.batch.cancel"} {
		_, err := env.nc.Request(subj, []byte(`{"batch":"`+b.ID+`","by":"anna"}`), 200*time.Millisecond)
		require.ErrorIs(t, err, nats.ErrNoResponders, subj)
	}
	_, err = client.Batch(ctx, "b00000000000000000000")
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeNotFound), "got %v", err)
}

func TestSweeper(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	s := startService(t, db, env, testConfig())
	ctx := context.Background()
	b := makeBatch(4, "sweep")
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(ctx))
	waitPublished(t, s, b.ID)
	// Row 1: claimed, then its job was lost. Row 2: waits for its webhook.
	// Row 3: in doubt without a session. Row 4: moves normally.
	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateClaimed, Gen: 1, Worker: "dead"})
	deleteJob(t, env, jobSeq(t, s, b.ID, 1))
	force(t, s, b.ID, 2, payout.StatePayoutStarted, "ps_2")
	force(t, s, b.ID, 3, payout.StateOpening, "")
	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 3, To: payout.StateInDoubt, Reason: "init timed out"})

	res, err := s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, SweepResult{}, res, "nothing is late yet")

	c.Add(2 * time.Minute)
	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 4, To: payout.StateClaimed, Gen: 1})
	res, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Requeued)
	require.Equal(t, 1, res.Polled)
	r1 := mustRow(t, s, b.ID, 1)
	require.Equal(t, 2, r1.Gen)
	require.Equal(t, payout.StateClaimed, r1.State)
	require.Equal(t, 1, mustRow(t, s, b.ID, 4).Gen)
	require.Equal(t, 1, mustRow(t, s, b.ID, 3).Gen, "in doubt: never re-enqueued")
	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		var pay2, poll bool
		for _, j := range jobs(t, env.js) {
			pay2 = pay2 || (j.Kind == ledgerapi.JobPay && j.Row == 1 && j.Gen == 2)
			poll = poll || (j.Kind == ledgerapi.JobPoll && j.Row == 2 && j.SessionID == "ps_2")
		}
		if !pay2 || !poll {
			return fmt.Errorf("pay gen 2: %v, poll: %v", pay2, poll)
		}
		return nil
	})
	// The old worker's gen is stale now.
	reply := move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateOpening, Gen: 1})
	require.Equal(t, ledgerapi.CodeStale, code(reply))

	// Polls back off: not again after one more minute, again after two.
	c.Add(time.Minute)
	res, _ = s.Sweep(ctx)
	require.Zero(t, res.Polled)
	c.Add(time.Minute)
	res, _ = s.Sweep(ctx)
	require.Equal(t, 1, res.Polled)
	require.Zero(t, res.Requeued, "rows 1 and 4 have not moved for two minutes, but their jobs are still in PAYRUN_JOBS")
	waitPublished(t, s, b.ID)
	deleteJob(t, env, jobSeq(t, s, b.ID, 4))
	res, _ = s.Sweep(ctx)
	require.Equal(t, 1, res.Requeued, "row 4's job is gone now")
	require.Equal(t, 2, mustRow(t, s, b.ID, 4).Gen)

	// In doubt past the deadline: an exception, once.
	c.Add(time.Hour)
	res, _ = s.Sweep(ctx)
	require.Equal(t, 1, res.Doubts)
	res, _ = s.Sweep(ctx)
	require.Zero(t, res.Doubts)
	ex, err := db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Len(t, ex, 1)
	require.Equal(t, reconcile.InDoubt, ex[0].Category)
	require.Equal(t, 3, ex[0].Row)
	// Evidence settles it and closes the exception.
	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 3, To: payout.StateFailed, SessionID: "ps_3",
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceReport}})
	ex, _ = db.Exceptions(b.ID, false)
	require.Empty(t, ex)
}

func TestDeadLetterOpensException(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	startService(t, db, env, testConfig())
	b := makeBatch(2, "dead")
	b.publish(t, env.js)
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := len(jobs(t, env.js)); n != 2 {
			return fmt.Errorf("%d jobs", n)
		}
		return nil
	})
	// A processor that never acks: after one delivery the server gives up
	// and its MAX_DELIVERIES advisory lands in PAYRUN_DEAD.
	ctx := context.Background()
	cons, err := env.js.CreateOrUpdateConsumer(ctx, queue.StreamJobs, jetstream.ConsumerConfig{
		Durable: queue.ConsumerJobs, AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 1, AckWait: 50 * time.Millisecond,
		FilterSubject: queue.JobSubject(b.ID),
	})
	require.NoError(t, err)
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	require.NoError(t, err)
	var job ledgerapi.Job
	for m := range batch.Messages() {
		require.NoError(t, json.Unmarshal(m.Data(), &job))
	}
	require.NotZero(t, job.Row)
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		// Ask once more so the server notices the missed ack deadline.
		cons.Fetch(1, jetstream.FetchMaxWait(50*time.Millisecond))
		ex, err := db.Exceptions(b.ID, false)
		if err != nil || len(ex) == 0 {
			return fmt.Errorf("no exception yet (%v)", err)
		}
		// The extra fetches may dead-letter the other row's job too, and
		// first: look for this job's row.
		for _, e := range ex {
			if e.Category == reconcile.DeadLetter && e.Row == job.Row {
				return nil
			}
		}
		return fmt.Errorf("got %+v", ex)
	})
}

func TestBankEventsRecorded(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	s := startService(t, db, env, testConfig())
	b := makeBatch(2, "hooks")
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(context.Background()))
	force(t, s, b.ID, 1, payout.StateConfirmed, "ps_1")

	seed, err := os.ReadFile("../bank131/testdata/seeds/s1_payment_finished.json")
	require.NoError(t, err)
	meta := string(payout.BankRef{Batch: b.ID, Row: 1, Reference: "E-00001"}.Metadata())
	body := strings.Replace(string(seed), `"metadata": "good"`, `"metadata": `+meta, 1)
	body = strings.Replace(body, `"id": "ps_3230"`, `"id": "ps_other"`, 1)
	require.NotEqual(t, string(seed), body)
	publishHook(t, env.js, "payment_finished", []byte(body))
	publishHook(t, env.js, "payment_finished", []byte(body)) // the bank's retry
	publishHook(t, env.js, "mystery", []byte(`{"type":"mystery"}`))

	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		var n int
		db.r.QueryRow(`SELECT count(*) FROM bank_events`).Scan(&n)
		if n != 2 {
			return fmt.Errorf("%d bank events", n)
		}
		return nil
	})
	var typ, session, payoutID, status, cur, refBatch string
	var amount int64
	var refRow int
	require.NoError(t, db.r.QueryRow(`SELECT type, session_id, payout_id, payout_status, amount_minor, currency, ref_batch, ref_row
		FROM bank_events WHERE session_id = 'ps_other'`).Scan(&typ, &session, &payoutID, &status, &amount, &cur, &refBatch, &refRow))
	require.Equal(t, []any{"payment_finished", "po_2018", "succeeded", int64(10000), "RUB", b.ID, 1},
		[]any{typ, payoutID, status, amount, cur, refBatch, refRow})
	// The row's session is ps_1: a paid ps_other is a second bank operation.
	ex, err := db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Len(t, ex, 1)
	require.Equal(t, reconcile.TwoOperations, ex[0].Category)
	require.Equal(t, payout.StateConfirmed, mustRow(t, s, b.ID, 1).State)
}

func publishHook(t *testing.T, js jetstream.JetStream, typ string, body []byte) {
	t.Helper()
	msg := &nats.Msg{Subject: queue.HookSubject(typ), Data: body, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, HashDestination(string(body)))
	msg.Header.Set(queue.HeaderHookType, typ)
	msg.Header.Set(queue.HeaderReceived, time.Now().UTC().Format(time.RFC3339Nano))
	_, err := js.PublishMsg(context.Background(), msg)
	require.NoError(t, err)
}

// A row waiting at the bank with no final word (a start the bank never
// acted on, every webhook and poll lost) is never left unseen: past
// StallAfter it opens an exception, once; the bank's final word closes it.
func TestSweeperOpensStalledException(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	cfg := testConfig()
	cfg.StallAfter = 2 * time.Hour
	s := startService(t, db, env, cfg)
	ctx := context.Background()
	b := makeBatch(3, "stalled")
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(ctx))
	force(t, s, b.ID, 1, payout.StatePayoutStarted, "ps_1")
	force(t, s, b.ID, 2, payout.StateActionRequired, "ps_2")

	c.Add(time.Hour)
	res, err := s.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Stalled, "not yet")
	c.Add(90 * time.Minute)
	res, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, res.Stalled)
	res, _ = s.Sweep(ctx)
	require.Zero(t, res.Stalled, "once per row and attempt")
	ex, err := db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Len(t, ex, 2)
	for _, e := range ex {
		require.Equal(t, reconcile.StalledAtBank, e.Category)
	}
	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, SessionID: "ps_1", To: payout.StateSucceeded, PayoutID: "po_1"})
	ex, _ = db.Exceptions(b.ID, false)
	require.Len(t, ex, 1, "the final word closes row 1's exception")
	require.Equal(t, 2, ex[0].Row)
}
