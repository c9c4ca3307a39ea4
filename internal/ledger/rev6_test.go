package ledger

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/testutil"
)

// TestRev6IntakeOverflowingBatchIsRejected: a batch whose rows in one
// currency sum past 64 bits (only a crafted message gets there: ingest's
// totals refuse such a file) must not jam the intake. Before the fix
// countRows' UPSERT failed ("cannot store REAL value in INTEGER column
// batch_counts.amount_minor"), the group's transaction rolled back, the
// pipeline started over from the cursor and failed on the same group
// forever: every later batch stuck. Now the row that would pass 64 bits is
// not recorded, the batch is rejected with a clear reason, and the intake
// goes on.
func TestRev6IntakeOverflowingBatchIsRejected(t *testing.T) {
	for _, split := range []struct {
		name  string
		group int // messages in the first group; the rest in a second
	}{{"one group", 0}, {"two groups", 2}, {"each its own group", 1}} {
		t.Run(split.name, func(t *testing.T) {
			s, _ := newService(t)
			bad := uniqueBatch(3, "rev6 overflow "+split.name)
			for _, r := range bad.Rows {
				r.Amount.Minor = math.MaxInt64/2 + 1
			}
			bad = makeRows("rev6 overflow "+split.name, bad.Rows)
			good := uniqueBatch(2, "rev6 after overflow "+split.name)
			msgs := append(bad.msgs(1), good.msgs(uint64(len(bad.Data)+2))...)
			var res []*intakeResult
			if split.group == 0 {
				res = append(res, record(t, s, msgs))
			} else {
				for i := 0; i < len(msgs); i += split.group {
					res = append(res, record(t, s, msgs[i:min(i+split.group, len(msgs))]))
				}
			}
			var rejected, accepted []string
			for _, r := range res {
				rejected = append(rejected, r.Rejected...)
				accepted = append(accepted, r.Accepted...)
			}
			require.Equal(t, []string{bad.ID}, rejected)
			require.Equal(t, []string{good.ID}, accepted)
			sum := summary(t, s.db, bad.ID)
			require.Equal(t, payout.BatchRejected, sum.Status)
			require.True(t, strings.Contains(sum.Reason, "64 bits"), "reason %q", sum.Reason)
			require.NoError(t, s.db.VerifyCounts(context.Background()))
			require.NoError(t, s.ReleaseDue(context.Background()))
			require.Zero(t, summary(t, s.db, bad.ID).ByState[payout.StateQueued])
			require.Equal(t, 2, summary(t, s.db, good.ID).ByState[payout.StateQueued])
		})
	}
}

// TestRev6IntakeGoesOnPastAnOverflowingBatch: the same through the real
// pipeline (embedded nats-server, SQLite): a batch published after the
// one whose rows sum past 64 bits is sealed. Before the fix the group
// failed on every delivery and the later batch stayed unseen.
func TestRev6IntakeGoesOnPastAnOverflowingBatch(t *testing.T) {
	env := startNATS(t)
	db := openDB(t, t.TempDir(), newClock())
	t.Cleanup(func() { db.Close() })
	startService(t, db, env, testConfig())
	bad := uniqueBatch(2, "rev6 overflow pipeline")
	for _, r := range bad.Rows {
		r.Amount.Minor = math.MaxInt64 - 10
	}
	bad = makeRows("rev6 overflow pipeline", bad.Rows)
	good := uniqueBatch(3, "rev6 after overflow pipeline")
	bad.publish(t, env.js)
	good.publish(t, env.js)
	testutil.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		b, err := db.Batch(context.Background(), good.ID)
		if err != nil {
			return err
		}
		if b.Status != payout.BatchScheduled && b.Status != payout.BatchReleased {
			return fmt.Errorf("later batch %s", b.Status)
		}
		return nil
	})
	sum := summary(t, db, bad.ID)
	require.Equal(t, payout.BatchRejected, sum.Status)
	require.Contains(t, sum.Reason, "64 bits")
	require.NoError(t, db.VerifyCounts(context.Background()))
}

// TestRev6IntakeConsumerLeaderChanges: in a 3-node cluster with R3
// streams, the intake consumer (AckNone, R3) changes leader three times
// while a 3 000-row batch is published and recorded. Every row is
// recorded exactly once and the batch seals: a delivery lost or repeated
// across the change is a gap the pipeline starts over at (nextDeliveries,
// watchDeliveries), never a row skipped.
func TestRev6IntakeConsumerLeaderChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster")
	}
	nodes := testutil.Cluster(t, "rev6", 3)
	nc, err := queue.Connect(nodes[0].URL(), "payrun-test")
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(queue.PublishAsyncTimeout))
	require.NoError(t, err)
	env := &natsEnv{srv: nodes[0], nc: nc, js: js}
	cfg := testConfig()
	cfg.Streams.Replicas = 3
	cfg.IntakeBatch = 100
	testutil.Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return queue.EnsureStreams(ctx, js, cfg.Streams)
	})
	db := openDB(t, t.TempDir(), newClock())
	t.Cleanup(func() { db.Close() })
	startService(t, db, env, cfg)

	b := uniqueBatch(3000, "rev6 leader changes")
	recorded := func() (n int) {
		require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ?`, b.ID).Scan(&n))
		return n
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 3; i++ {
			for n := recorded(); n < (i+1)*700; n = recorded() {
				time.Sleep(5 * time.Millisecond)
			}
			_, err := nc.Request("$JS.API.CONSUMER.LEADER.STEPDOWN."+queue.StreamIntake+"."+queue.ConsumerLedgerIntake, nil, 5*time.Second)
			t.Logf("stepdown %d at %d rows: %v", i, recorded(), err)
		}
	}()
	b.publish(t, js)
	testutil.Eventually(t, 90*time.Second, 20*time.Millisecond, func() error {
		sum, err := db.Batch(context.Background(), b.ID)
		if err != nil {
			return err // not recorded yet
		}
		if st := sum.Status; st != payout.BatchScheduled && st != payout.BatchReleased {
			return fmt.Errorf("batch %s, %d rows recorded", st, recorded())
		}
		return nil
	})
	<-done
	var rows, seqs, conflicts int
	require.NoError(t, db.r.QueryRow(`SELECT count(DISTINCT row_no), count(*) FROM rows WHERE batch_id = ?`, b.ID).Scan(&rows, &seqs))
	require.Equal(t, 3000, rows)
	require.Equal(t, 3000, seqs)
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM row_conflicts`).Scan(&conflicts))
	require.Zero(t, conflicts)
	require.NoError(t, db.VerifyCounts(context.Background()))
}

// TestRev6IntakeTotalAtTheLimitIsAccepted: the 64-bit check refuses only
// what does not fit: a batch whose rows in RUB sum to exactly MaxInt64,
// with USD rows between them (the run's currency changes), is accepted in
// one group or row by row; one more kopeck in RUB is not.
func TestRev6IntakeTotalAtTheLimitIsAccepted(t *testing.T) {
	for _, extra := range []int64{0, 1} {
		for _, group := range []int{0, 1} {
			t.Run(fmt.Sprintf("extra %d group %d", extra, group), func(t *testing.T) {
				s, _ := newService(t)
				seed := fmt.Sprintf("rev6 limit %d %d", extra, group)
				b := uniqueBatch(4, seed)
				amounts := []struct {
					minor    int64
					currency string
				}{{math.MaxInt64 / 2, "RUB"}, {5, "USD"}, {math.MaxInt64/2 + 1, "RUB"}, {extra + 7, "USD"}}
				for i, a := range amounts {
					b.Rows[i].Amount.Minor, b.Rows[i].Amount.Currency = a.minor, a.currency
				}
				if extra > 0 {
					b.Rows = append(b.Rows, uniqueBatch(1, seed).Rows[0])
					b.Rows[4].Amount.Minor, b.Rows[4].Amount.Currency = extra, "RUB"
				}
				b = makeRows(seed, b.Rows)
				msgs := b.msgs(1)
				var res []*intakeResult
				if group == 0 {
					res = append(res, record(t, s, msgs))
				} else {
					for i := range msgs {
						res = append(res, record(t, s, msgs[i:i+1]))
					}
				}
				var accepted, rejected []string
				for _, r := range res {
					accepted, rejected = append(accepted, r.Accepted...), append(rejected, r.Rejected...)
				}
				sum := summary(t, s.db, b.ID)
				if extra == 0 {
					require.Equal(t, []string{b.ID}, accepted, "reason %q", sum.Reason)
					require.Equal(t, 4, sum.Rows)
				} else {
					require.Equal(t, []string{b.ID}, rejected)
					require.Contains(t, sum.Reason, "64 bits")
					var n int
					require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ?`, b.ID).Scan(&n))
					require.Equal(t, 4, n, "the row past the limit is not recorded")
				}
				require.NoError(t, s.db.VerifyCounts(context.Background()))
			})
		}
	}
}
