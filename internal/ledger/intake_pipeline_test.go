package ledger

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/testutil"
)

// TestIntakeConsumerReplacedSkippingMessages: while the ledger reads the
// intake, its consumer is deleted and made anew by someone else, starting
// 300 messages after the ledger's cursor (as if those were lost on the
// way). The consumer acknowledges nothing, so only the ledger's cursor
// knows what it has: the pipeline stops (the consumer is gone; had the
// new one's deliveries reached it, they would start again at 1, a gap:
// TestNextDeliveries) and starts over from the cursor, and every row is
// recorded once, none skipped.
func TestIntakeConsumerReplacedSkippingMessages(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	cfg := testConfig()
	cfg.IntakeBatch = 100
	startService(t, db, env, cfg)
	ctx := context.Background()

	b := makeBatch(2000, "consumer replaced")
	publishRows := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			_, err := env.js.PublishMsgAsync(&nats.Msg{Subject: queue.IntakeRowSubject(b.ID), Data: b.Data[i], Header: nats.Header{
				jetstream.MsgIDHeader: []string{queue.RowMsgID(b.ID, i+1)},
				queue.HeaderKind:      []string{"row"},
			}})
			require.NoError(t, err)
		}
		select {
		case <-env.js.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			t.Fatal("publish timed out")
		}
	}
	recorded := func() (n int) {
		require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ?`, b.ID).Scan(&n))
		return n
	}
	publishRows(0, 1000)
	testutil.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		if n := recorded(); n != 1000 {
			return fmt.Errorf("%d rows recorded", n)
		}
		return nil
	})
	var cursor uint64
	require.NoError(t, db.r.QueryRow(`SELECT seq FROM cursors WHERE name = ?`, cursorIntake).Scan(&cursor))
	require.Equal(t, uint64(1000), cursor)

	require.NoError(t, env.js.DeleteConsumer(ctx, queue.StreamIntake, queue.ConsumerLedgerIntake))
	_, err := env.js.CreateOrUpdateConsumer(ctx, queue.StreamIntake, jetstream.ConsumerConfig{
		Durable: queue.ConsumerLedgerIntake, AckPolicy: jetstream.AckNonePolicy,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: cursor + 301,
		FilterSubject: queue.IntakePrefix + ">",
	})
	require.NoError(t, err)
	publishRows(1000, 2000)
	raw, err := intake.EncodeManifest(b.Manifest)
	require.NoError(t, err)
	_, err = env.js.PublishMsg(ctx, &nats.Msg{Subject: queue.IntakeManifestSubject(b.ID), Data: raw,
		Header: nats.Header{queue.HeaderKind: []string{"manifest"}}})
	require.NoError(t, err)

	testutil.Eventually(t, 30*time.Second, 10*time.Millisecond, func() error {
		if st := summary(t, db, b.ID).Status; st != payout.BatchScheduled && st != payout.BatchReleased {
			return fmt.Errorf("batch %s, %d rows recorded", st, recorded())
		}
		return nil
	})
	require.Equal(t, 2000, recorded())
	var rows, seqs, conflicts, exceptions int
	require.NoError(t, db.r.QueryRow(`SELECT count(DISTINCT row_no), count(DISTINCT intake_seq) FROM rows WHERE batch_id = ?`, b.ID).
		Scan(&rows, &seqs))
	require.Equal(t, 2000, rows)
	require.Equal(t, 2000, seqs)
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM row_conflicts`).Scan(&conflicts))
	require.Zero(t, conflicts)
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM exceptions`).Scan(&exceptions))
	require.Zero(t, exceptions)
	sum := summary(t, db, b.ID)
	require.Equal(t, b.Manifest.Totals, sum.Totals)
	require.Equal(t, 2000, sum.ByState[payout.StateReceived]+sum.ByState[payout.StateQueued], strconv.Itoa(len(b.Data)))
	checkCounts(t, db, b.ID)
}

// TestIntakeLostTailStartsOver: the last messages of a batch, its
// manifest among them, are lost between the consumer and the pipeline (as
// when a reconnect drops the messages in flight). No later delivery shows
// the gap, and nothing is delivered again without acknowledgements, so
// without watchDeliveries the batch would wait for the next upload. The
// consumer says it delivered more than the intake got: the pipeline starts
// over from the cursor and the batch is sealed with every row once.
func TestIntakeLostTailStartsOver(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	t.Cleanup(func() { db.Close() })
	b := makeBatch(200, "lost tail")
	// The last four rows and the manifest are lost once.
	var lost atomic.Int64
	idle := intakeIdleCheck
	intakeIdleCheck = 200 * time.Millisecond
	testLoseDelivery = func(m jetstream.Msg) bool {
		id := m.Headers().Get(jetstream.MsgIDHeader)
		tail := m.Headers().Get(queue.HeaderKind) == "manifest"
		for i := 197; i <= 200; i++ {
			tail = tail || id == queue.RowMsgID(b.ID, i)
		}
		return tail && lost.Add(1) <= 5
	}
	t.Cleanup(func() { testLoseDelivery, intakeIdleCheck = nil, idle }) // after the service stops: cleanups run last first
	cfg := testConfig()
	cfg.IntakeBatch = 50
	startService(t, db, env, cfg)
	ctx := context.Background()

	for i := range b.Data {
		_, err := env.js.PublishMsg(ctx, &nats.Msg{Subject: queue.IntakeRowSubject(b.ID), Data: b.Data[i], Header: nats.Header{
			jetstream.MsgIDHeader: []string{queue.RowMsgID(b.ID, i+1)},
			queue.HeaderKind:      []string{"row"},
		}})
		require.NoError(t, err)
	}
	raw, err := intake.EncodeManifest(b.Manifest)
	require.NoError(t, err)
	_, err = env.js.PublishMsg(ctx, &nats.Msg{Subject: queue.IntakeManifestSubject(b.ID), Data: raw,
		Header: nats.Header{queue.HeaderKind: []string{"manifest"}}})
	require.NoError(t, err)

	testutil.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		// Not summary: it fails the test at once while the batch is not
		// recorded yet (its first row not in), which a loaded machine
		// shows (rev6: failed at 0.53 s in summary's require).
		sum, err := db.Batch(ctx, b.ID)
		if err != nil {
			return err
		}
		if st := sum.Status; st != payout.BatchScheduled && st != payout.BatchReleased {
			return fmt.Errorf("batch %s", st)
		}
		return nil
	})
	require.GreaterOrEqual(t, lost.Load(), int64(5), "the tail was lost")
	var rows int
	require.NoError(t, db.r.QueryRow(`SELECT count(DISTINCT row_no) FROM rows WHERE batch_id = ?`, b.ID).Scan(&rows))
	require.Equal(t, 200, rows)
	checkCounts(t, db, b.ID)
}
