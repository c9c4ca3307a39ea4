package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/testutil"
)

// waitPublished waits until JetStream acknowledged the current job of
// every live row of batch.
func waitPublished(t *testing.T, s *Service, batch string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		var n int
		if err := s.db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ? AND job_gen < gen`, batch).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d jobs not acknowledged", n)
		}
		return nil
	})
}

// jobSeq is the PAYRUN_JOBS sequence of a row's current job.
func jobSeq(t *testing.T, s *Service, batch string, row int) uint64 {
	t.Helper()
	var seq uint64
	require.NoError(t, s.db.r.QueryRow(`SELECT job_seq FROM rows WHERE batch_id = ? AND row_no = ?`, batch, row).Scan(&seq))
	require.NotZero(t, seq, "row %d has a job sequence", row)
	return seq
}

// deleteJob deletes a job from PAYRUN_JOBS by hand, as an operator might.
func deleteJob(t *testing.T, env *natsEnv, seq uint64) {
	t.Helper()
	ctx := context.Background()
	st, err := env.js.Stream(ctx, queue.StreamJobs)
	require.NoError(t, err)
	require.NoError(t, st.DeleteMsg(ctx, seq))
}

// gens returns the gen of every row of batch, by row number.
func gens(t *testing.T, s *Service, batch string) map[int]int {
	t.Helper()
	rows, err := s.db.r.Query(`SELECT row_no, gen FROM rows WHERE batch_id = ?`, batch)
	require.NoError(t, err)
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var n, g int
		require.NoError(t, rows.Scan(&n, &g))
		out[n] = g
	}
	require.NoError(t, rows.Err())
	return out
}

// TestSweeperLongQueue: a batch whose jobs wait in PAYRUN_JOBS far longer
// than --stuck-after is not re-enqueued; a job deleted by hand is, at the
// first sweep past --stuck-after, and only that one.
func TestSweeperLongQueue(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	cfg := testConfig()
	cfg.StuckAfter = 10 * time.Second
	s := startService(t, db, env, cfg)
	ctx := context.Background()
	b := makeBatch(1200, "long queue")
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(ctx))
	waitPublished(t, s, b.ID)

	// An hour in line, swept every ten seconds: nothing is re-enqueued.
	for i := 0; i < 360; i += 36 {
		c.Add(100 * time.Second)
		res, err := s.Sweep(ctx)
		require.NoError(t, err)
		require.Zero(t, res.Requeued, "sweep %d", i)
	}

	// A job deleted by hand (the first one: the stream's first sequence
	// moves; one in the middle: a deleted sequence inside it).
	deleteJob(t, env, jobSeq(t, s, b.ID, 1))
	deleteJob(t, env, jobSeq(t, s, b.ID, 600))
	res, err := s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, res.Requeued)
	g := gens(t, s, b.ID)
	for row, gen := range g {
		want := 1
		if row == 1 || row == 600 {
			want = 2
		}
		require.Equal(t, want, gen, "row %d", row)
	}
	waitPublished(t, s, b.ID)
	require.NotEqual(t, uint64(0), jobSeq(t, s, b.ID, 600))

	// The new jobs wait too: no second re-enqueue.
	c.Add(time.Hour)
	res, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Requeued)

	// Re-enqueued only past --stuck-after: a job lost a moment after its
	// row moved waits for it.
	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 2, To: payout.StateClaimed, Gen: 1, Worker: "w"})
	deleteJob(t, env, jobSeq(t, s, b.ID, 2))
	c.Add(5 * time.Second)
	res, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Requeued, "5s after its last move")
	c.Add(6 * time.Second)
	res, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Requeued, "11s after its last move")
	require.Equal(t, 2, mustRow(t, s, b.ID, 2).Gen)
}

// TestSweeperDeadWorker: a worker that took a job and died (no ack, no
// InProgress) leaves its job pending on the consumer: JetStream hands it
// out again after AckWait, and the sweeper adds no second job meanwhile. A
// worker that acknowledged its job and died before moving its row leaves
// no job: the row is re-enqueued past --stuck-after. A job whose
// deliveries ran out (a dead letter) is re-enqueued too.
func TestSweeperDeadWorker(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	s := startService(t, db, env, testConfig())
	ctx := context.Background()
	b := makeBatch(3, "dead worker")
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(ctx))
	waitPublished(t, s, b.ID)

	cons, err := env.js.CreateOrUpdateConsumer(ctx, queue.StreamJobs, jetstream.ConsumerConfig{
		Durable: queue.ConsumerJobs, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 300 * time.Millisecond,
		MaxDeliver: 5, FilterSubject: queue.JobsPrefix + ">",
	})
	require.NoError(t, err)
	fetch := func() (jetstream.Msg, ledgerapi.Job) {
		t.Helper()
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			var j ledgerapi.Job
			require.NoError(t, json.Unmarshal(m.Data(), &j))
			return m, j
		}
		t.Fatal("no job delivered")
		return nil, ledgerapi.Job{}
	}

	// The worker takes row 1's job, claims the row and dies.
	m, j := fetch()
	require.Equal(t, 1, j.Row)
	move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateClaimed, Gen: j.Gen, Worker: "dead"})
	c.Add(10 * time.Minute)
	res, err := s.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Requeued, "the job is pending on the consumer")

	// After AckWait JetStream delivers it again, to the next worker.
	time.Sleep(400 * time.Millisecond)
	m2, j2 := fetch()
	require.Equal(t, j, j2)
	md, err := m2.Metadata()
	require.NoError(t, err)
	require.Equal(t, uint64(2), md.NumDelivered)
	_ = m

	// That worker acknowledges it and dies before moving the row: the job
	// is gone, the row re-enqueued.
	require.NoError(t, m2.DoubleAck(ctx))
	res, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Requeued)
	require.Equal(t, 2, mustRow(t, s, b.ID, 1).Gen)

	// Row 2's job runs out of deliveries: the dead-letter exception makes
	// it lost, though JetStream keeps it.
	seq2 := jobSeq(t, s, b.ID, 2)
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		return s.recordDead(tx, []byte(fmt.Sprintf(`{"stream":%q,"consumer":%q,"stream_seq":%d,"deliveries":5}`,
			queue.StreamJobs, queue.ConsumerJobs, seq2)))
	}))
	res, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Requeued)
	require.Equal(t, 2, mustRow(t, s, b.ID, 2).Gen)
	require.Equal(t, 1, mustRow(t, s, b.ID, 3).Gen, "row 3's job waits in line")
}

// TestSweeperStreamMadeAgain: PAYRUN_JOBS deleted and made again (every
// job lost, sequences start over) re-enqueues every row past
// --stuck-after, once.
func TestSweeperStreamMadeAgain(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	s := startService(t, db, env, testConfig())
	ctx := context.Background()
	b := makeBatch(20, "made again")
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(ctx))
	waitPublished(t, s, b.ID)
	require.NoError(t, env.js.DeleteStream(ctx, queue.StreamJobs))
	require.NoError(t, queue.EnsureStreams(ctx, env.js, queue.Config{}))
	c.Add(2 * time.Minute)
	res, err := s.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 20, res.Requeued)
	waitPublished(t, s, b.ID)
	c.Add(2 * time.Minute)
	res, err = s.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, res.Requeued, "the new jobs are in the new stream")
}

// TestSweeperSlowWorker: at --stuck-after 10s a batch waits behind one
// slow worker that takes a job, works 15 s (the test's clock) with
// InProgress heartbeats, moves the row to the bank and acknowledges; the
// ledger sweeps after every job. No row is ever re-enqueued, though all
// but the first wait far longer than 10 s.
func TestSweeperSlowWorker(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	cfg := testConfig()
	cfg.StuckAfter = 10 * time.Second
	cfg.PollAfter = time.Hour
	s := startService(t, db, env, cfg)
	ctx := context.Background()
	const n = 150
	b := makeBatch(n, "slow worker")
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(ctx))
	waitPublished(t, s, b.ID)
	cons, err := env.js.CreateOrUpdateConsumer(ctx, queue.StreamJobs, jetstream.ConsumerConfig{
		Durable: queue.ConsumerJobs, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		FilterSubject: queue.JobsPrefix + ">",
	})
	require.NoError(t, err)
	for done := 0; done < n; {
		msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		for m := range msgs.Messages() {
			var j ledgerapi.Job
			require.NoError(t, json.Unmarshal(m.Data(), &j))
			require.Equal(t, ledgerapi.JobPay, j.Kind)
			require.Equal(t, 1, j.Gen, "row %d", j.Row)
			move(t, s, ledgerapi.Transition{Batch: b.ID, Row: j.Row, To: payout.StateClaimed, Gen: j.Gen, Worker: "slow"})
			c.Add(15 * time.Second)
			require.NoError(t, m.InProgress())
			force(t, s, b.ID, j.Row, payout.StatePayoutStarted, fmt.Sprintf("ps_%d", j.Row))
			require.NoError(t, m.DoubleAck(ctx))
			res, err := s.Sweep(ctx)
			require.NoError(t, err)
			require.Zero(t, res.Requeued, "after row %d", j.Row)
			done++
		}
	}
	for row, gen := range gens(t, s, b.ID) {
		require.Equal(t, 1, gen, "row %d", row)
	}
}
