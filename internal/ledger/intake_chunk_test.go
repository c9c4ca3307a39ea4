package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/testutil"
)

// Chunks of rows (intake.SplitChunk) in the ledger's intake.

// publishRaw publishes messages and waits for their acknowledgements.
func publishRaw(t *testing.T, js jetstream.JetStream, msgs ...*nats.Msg) {
	t.Helper()
	for _, m := range msgs {
		_, err := js.PublishMsgAsync(m)
		require.NoError(t, err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publish timed out")
	}
}

// singleMsg is the message of row i (from 1) of b alone, as before chunks.
func singleMsg(b *testBatch, i int) *nats.Msg {
	return &nats.Msg{Subject: queue.IntakeRowSubject(b.ID), Data: b.Data[i-1], Header: nats.Header{
		jetstream.MsgIDHeader: []string{queue.RowMsgID(b.ID, i)},
		queue.HeaderKind:      []string{"row"},
	}}
}

// rawChunk is a chunk of the given row messages from row first.
func rawChunk(first int, rows ...[]byte) []byte {
	c := intake.AppendChunkHead(nil, first, len(rows))
	for _, r := range rows {
		c = intake.AppendChunkRow(c, r)
	}
	return c
}

// waitStatus waits until batch id has one of the statuses.
func waitStatus(t *testing.T, db *DB, id string, want ...payout.BatchStatus) payout.BatchStatus {
	t.Helper()
	var st payout.BatchStatus
	testutil.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		st = ""
		db.r.QueryRow(`SELECT status FROM batches WHERE id = ?`, id).Scan(&st)
		for _, w := range want {
			if st == w {
				return nil
			}
		}
		return fmt.Errorf("batch %s is %q", id, st)
	})
	return st
}

// checkRowsFromStream checks every recorded row of b against the stream
// as the processor reads it (processor.loadRow): the message at its
// intake_seq, the row found in it by number if it is a chunk, its
// SHA-256 the row's digest, its bytes b's row message.
func checkRowsFromStream(t *testing.T, env *natsEnv, db *DB, b *testBatch) map[uint64]int {
	t.Helper()
	st, err := env.js.Stream(context.Background(), queue.StreamIntake)
	require.NoError(t, err)
	rows, err := db.r.Query(`SELECT row_no, intake_seq, digest FROM rows WHERE batch_id = ? ORDER BY row_no`, b.ID)
	require.NoError(t, err)
	defer rows.Close()
	perSeq := map[uint64]int{}
	n := 0
	for rows.Next() {
		var no int
		var seq uint64
		var digest []byte
		require.NoError(t, rows.Scan(&no, &seq, &digest))
		n++
		require.Equal(t, n, no)
		m, err := st.GetMsg(context.Background(), seq)
		require.NoError(t, err)
		data := m.Data
		if intake.IsChunk(data) {
			data, err = intake.ChunkRow(data, no)
			require.NoError(t, err)
		}
		sum := sha256.Sum256(data)
		require.Equal(t, sum[:], digest, "row %d", no)
		require.Equal(t, b.Data[no-1], data, "row %d", no)
		perSeq[seq]++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(b.Data), n)
	return perSeq
}

// TestIntakeChunksAndRows: a stream holding single-row messages (written
// before the upgrade, or the file's last rows) and chunks of several
// sizes, of two batches interleaved, a chunk larger than a group: both
// batches seal, every row is recorded once with the digest of its own
// message, the rows of a chunk share its stream sequence, and each row is
// found in the stream as the processor finds it.
func TestIntakeChunksAndRows(t *testing.T) {
	env := startNATS(t)
	db := openDB(t, t.TempDir(), newClock())
	t.Cleanup(func() { db.Close() })
	cfg := testConfig()
	cfg.IntakeBatch = 50 // smaller than a chunk: a group holds at least one whole message
	startService(t, db, env, cfg)

	a, b := uniqueBatch(150, "chunks a"), uniqueBatch(130, "chunks b")
	var msgs []*nats.Msg
	for i := 1; i <= 10; i++ {
		msgs = append(msgs, singleMsg(a, i))
	}
	bc, bfirst := b.chunks(64)
	msgs = append(msgs,
		chunkMsg(a.ID, 11, 64, rawChunk(11, a.Data[10:74]...)),
		chunkMsg(b.ID, bfirst[0], 64, bc[0]),
		chunkMsg(a.ID, 75, 13, rawChunk(75, a.Data[74:87]...)),
		chunkMsg(b.ID, bfirst[1], 64, bc[1]),
		chunkMsg(a.ID, 88, 60, rawChunk(88, a.Data[87:147]...)),
		chunkMsg(b.ID, bfirst[2], 2, bc[2]))
	for i := 148; i <= 150; i++ {
		msgs = append(msgs, singleMsg(a, i))
	}
	publishRaw(t, env.js, msgs...)
	a.publishManifest(t, env.js)
	b.publishManifest(t, env.js)

	for _, tb := range []*testBatch{a, b} {
		waitStatus(t, db, tb.ID, payout.BatchScheduled, payout.BatchReleased)
	}
	perSeq := checkRowsFromStream(t, env, db, a)
	counts := map[int]int{}
	for _, n := range perSeq {
		counts[n]++
	}
	require.Equal(t, map[int]int{1: 13, 64: 1, 13: 1, 60: 1}, counts, "rows per stream message")
	perSeq = checkRowsFromStream(t, env, db, b)
	require.Len(t, perSeq, 3)
	var exceptions int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM exceptions`).Scan(&exceptions))
	require.Zero(t, exceptions)
}

// TestIntakeChunkRefused: a chunk that is torn, holds a row that is not a
// row message, holds its rows out of order, or mixes batches is one
// invalid message: an intake_invalid exception naming the row, none of its
// rows recorded (the others' are), and the batch's manifest rejects the
// batch for the rows it lacks, as for an invalid row message.
func TestIntakeChunkRefused(t *testing.T) {
	other := uniqueBatch(2, "chunk refused other")
	for name, tc := range map[string]struct {
		chunk func(b *testBatch) []byte
		want  string
	}{
		"torn": {func(b *testBatch) []byte {
			c := rawChunk(9, b.Data[8:16]...)
			return c[:len(c)-20]
		}, "row 16 is not ended by a newline"},
		"torn at a row": {func(b *testBatch) []byte {
			c := rawChunk(9, b.Data[8:16]...)
			return c[:len(c)-len(b.Data[15])-1]
		}, "holds 7 rows"},
		"bad row": {func(b *testBatch) []byte {
			rows := append([][]byte(nil), b.Data[8:16]...)
			rows[3] = bytes.Replace(rows[3], []byte(`"minor":`), []byte(`"minor":-`), 1)
			return rawChunk(9, rows...)
		}, "chunk of rows 9+8, row 12:"},
		"not json": {func(b *testBatch) []byte {
			rows := append([][]byte(nil), b.Data[8:16]...)
			rows[7] = []byte(`{"batch":`)
			return rawChunk(9, rows...)
		}, "chunk of rows 9+8, row 16:"},
		"out of order": {func(b *testBatch) []byte {
			rows := append([][]byte(nil), b.Data[8:16]...)
			rows[2], rows[3] = rows[3], rows[2]
			return rawChunk(9, rows...)
		}, "holds row 12 in the place of row 11"},
		"another batch's row": {func(b *testBatch) []byte {
			rows := append([][]byte(nil), b.Data[8:16]...)
			rows[1] = other.Data[1]
			return rawChunk(9, rows...)
		}, "holds row 2 in the place of row 10"},
		"first row misnumbered": {func(b *testBatch) []byte {
			return rawChunk(10, b.Data[8:16]...)
		}, "holds row 9 in the place of row 10"},
	} {
		t.Run(name, func(t *testing.T) {
			env := startNATS(t)
			db := openDB(t, t.TempDir(), newClock())
			t.Cleanup(func() { db.Close() })
			startService(t, db, env, testConfig())
			b := uniqueBatch(24, "chunk refused "+name)
			publishRaw(t, env.js,
				chunkMsg(b.ID, 1, 8, rawChunk(1, b.Data[0:8]...)),
				chunkMsg(b.ID, 9, 8, tc.chunk(b)),
				chunkMsg(b.ID, 17, 8, rawChunk(17, b.Data[16:24]...)))
			b.publishManifest(t, env.js)
			waitStatus(t, db, b.ID, payout.BatchRejected)
			var detail string
			require.NoError(t, db.r.QueryRow(`SELECT detail FROM exceptions WHERE category = 'intake_invalid'`).Scan(&detail))
			require.Contains(t, detail, tc.want)
			var n, lo, hi int
			require.NoError(t, db.r.QueryRow(`SELECT count(*), coalesce(sum(row_no BETWEEN 9 AND 16), 0), coalesce(max(row_no), 0) FROM rows WHERE batch_id = ?`, b.ID).Scan(&n, &lo, &hi))
			require.Equal(t, 16, n, "the other chunks' rows")
			require.Zero(t, lo, "nothing of the refused chunk")
			require.Equal(t, 24, hi)
		})
	}
}

// TestIntakeChunkRepeats: a chunk that repeats rows of another (a chunk
// of other bounds, or of an upload of another chunk size, or single-row
// messages of the same rows) is recorded row by row as rows arriving
// again are: the same rows are no-ops, a row with different data is a
// conflict and never replaces the recorded one.
func TestIntakeChunkRepeats(t *testing.T) {
	env := startNATS(t)
	db := openDB(t, t.TempDir(), newClock())
	t.Cleanup(func() { db.Close() })
	startService(t, db, env, testConfig())
	b := uniqueBatch(20, "chunk repeats")
	changed := makeRows("chunk repeats", append([]*payout.Row(nil), b.Rows...)) // the same rows…
	changed.Rows[13].Amount = money.New(1, "RUB")                               // …and row 14 with another amount
	changed = makeRows("chunk repeats", changed.Rows)
	publishRaw(t, env.js,
		chunkMsg(b.ID, 1, 8, rawChunk(1, b.Data[0:8]...)),
		chunkMsg(b.ID, 5, 8, rawChunk(5, b.Data[4:12]...)), // rows 5–8 again
		singleMsg(b, 6),
		chunkMsg(b.ID, 9, 8, rawChunk(9, changed.Data[8:16]...)), // rows 9–12 again, 13–16 new, 14 differing from the manifest
		chunkMsg(b.ID, 13, 8, rawChunk(13, b.Data[12:20]...)))    // rows 13–16 again, row 14 as the manifest has it
	b.publishManifest(t, env.js)
	// Row 14 was recorded from the third chunk, differing from the file:
	// the manifest rejects the batch; the fourth chunk's row 14 is a conflict.
	waitStatus(t, db, b.ID, payout.BatchRejected)
	var n int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ?`, b.ID).Scan(&n))
	require.Equal(t, 20, n, "each row once")
	var conflicts []int
	rows, err := db.r.Query(`SELECT row_no FROM row_conflicts WHERE batch_id = ? ORDER BY row_no`, b.ID)
	require.NoError(t, err)
	for rows.Next() {
		var no int
		require.NoError(t, rows.Scan(&no))
		conflicts = append(conflicts, no)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []int{14}, conflicts)
	var minor int64
	require.NoError(t, db.r.QueryRow(`SELECT amount_minor FROM rows WHERE batch_id = ? AND row_no = 14`, b.ID).Scan(&minor))
	require.Equal(t, int64(1), minor, "the row first recorded stays")
}

// TestIntakeChunksRestart: the ledger stopped and started again while it
// reads a batch in chunks, many times: a chunk is recorded whole or not at
// all (the rows recorded are a whole number of chunks every time), and
// after the last start the batch seals with every row once.
func TestIntakeChunksRestart(t *testing.T) {
	env := startNATS(t)
	dir := t.TempDir()
	c := newClock()
	b := uniqueBatch(1600, "chunks restart")
	b.publishChunks(t, env.js, 16)
	cfg := testConfig()
	cfg.IntakeBatch = 40 // groups of three chunks (48 rows)
	recorded := func(db *DB) (n int) {
		require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ?`, b.ID).Scan(&n))
		return n
	}
	prev, rounds := 0, 0
	for round := 0; prev < len(b.Data); round++ {
		rounds++
		require.Less(t, round, 200, "no progress")
		db := openDB(t, dir, c)
		s := NewService(db, cfg)
		noApprovals(t, s)
		require.NoError(t, s.Start(context.Background(), env.nc))
		testutil.Eventually(t, 20*time.Second, time.Millisecond, func() error {
			if recorded(db) == prev && prev < len(b.Data) {
				return fmt.Errorf("nothing recorded yet")
			}
			return nil
		})
		s.Close()
		n := recorded(db)
		require.Zero(t, n%16, "round %d: %d rows recorded, not whole chunks", round, n)
		require.GreaterOrEqual(t, n, prev)
		prev = n
		require.NoError(t, db.Close())
	}
	db := openDB(t, dir, c)
	t.Cleanup(func() { db.Close() })
	startService(t, db, env, cfg)
	waitStatus(t, db, b.ID, payout.BatchScheduled, payout.BatchReleased)
	perSeq := checkRowsFromStream(t, env, db, b)
	require.Len(t, perSeq, 100)
	for seq, n := range perSeq {
		require.Equal(t, 16, n, "message %d", seq)
	}
	t.Logf("%d rows recorded in %d starts", prev, rounds)
}
