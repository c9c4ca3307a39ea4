package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

// TestIngestChunks: a file of 300 rows goes out as chunks of rows 1–64,
// 65–128, 129–192, 193–256 and rows 257–300 one message each (the last
// block is shorter); an upload of it again finds the batch sealed.
func TestIngestChunks(t *testing.T) {
	e := startJS(t)
	p := rev4File(t, 300)
	res, err := Ingest(context.Background(), e.js, p, testOptions(t))
	require.NoError(t, err)
	require.Equal(t, StatusCreated, res.Status)
	require.Equal(t, 300, res.Published)
	checkBatch(t, e.js, res)
	var chunks []int
	singles := 0
	for _, m := range streamMsgs(t, e.js) {
		switch m.Header.Get(queue.HeaderKind) {
		case "rows":
			c, err := intake.SplitChunk(m.Data)
			require.NoError(t, err)
			chunks = append(chunks, c.First)
		case "row":
			singles++
		}
	}
	require.Equal(t, []int{1, 65, 129, 193}, chunks)
	require.Equal(t, 44, singles)
	n, err := (&publisher{stream: mustStream(t, e), batch: res.Batch}).storedCount(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(300), n, "the stream's count of rows: 44 + 4·64")

	again, err := Ingest(context.Background(), e.js, p, testOptions(t))
	require.NoError(t, err)
	require.Equal(t, StatusExisting, again.Status)
	require.Len(t, streamMsgs(t, e.js), 4+44+1, "nothing published again")
}

// TestIngestChunksAfterSingleRows: an upload before the upgrade (a row a
// message) stored rows 1–100 and stopped; the upload after it skips
// them, publishes rows 101–128 one message each (their block holds stored
// rows), 129–256 in chunks and the rest alone: every row once, the batch
// sealed, the stored rows counted.
func TestIngestChunksAfterSingleRows(t *testing.T) {
	e := startJS(t)
	opts := testOptions(t)
	p := rev4File(t, 300)
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	id := payout.BatchID(sum[:])
	publishPrefix(t, e.js, id, data, opts.Sealer, 100)

	res, err := Ingest(context.Background(), e.js, p, opts)
	require.NoError(t, err)
	require.Equal(t, StatusCreated, res.Status)
	require.Equal(t, id, res.Batch)
	require.Equal(t, 100, res.AlreadyStored)
	require.Equal(t, 200, res.Published)
	checkBatch(t, e.js, res)
	var chunks []int
	for _, m := range streamMsgs(t, e.js) {
		if m.Header.Get(queue.HeaderKind) == "rows" {
			c, err := intake.SplitChunk(m.Data)
			require.NoError(t, err)
			chunks = append(chunks, c.First)
		}
	}
	require.Equal(t, []int{129, 193}, chunks)
}

// TestIngestResumesChunks: an upload that stored some chunks and
// stopped, then an upload again: the stored chunks' rows are read back
// from them and skipped (compared by their keyed digests), the rest
// published, every row once.
func TestIngestResumesChunks(t *testing.T) {
	e := startJS(t)
	p := rev4File(t, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	testLoseRow = func(row int) bool {
		if row == 400 {
			cancel()
		}
		return false
	}
	_, err := Ingest(ctx, e.js, p, testOptions(t))
	testLoseRow = nil
	require.Error(t, err)
	id := batchOf(t, e.js)
	stored, err := storedRows(context.Background(), mustStream(t, e), id)
	require.NoError(t, err)
	require.NotEmpty(t, stored)
	require.Zero(t, len(stored)%intake.ChunkRows, "whole chunks stored")
	for n := 1; n <= len(stored); n++ {
		require.Contains(t, stored, n)
		require.True(t, stored[n].keyed)
	}

	res, err := Ingest(context.Background(), e.js, p, testOptions(t))
	require.NoError(t, err)
	require.Equal(t, StatusCreated, res.Status)
	require.Equal(t, len(stored), res.AlreadyStored)
	require.Equal(t, 1000-len(stored), res.Published)
	checkBatch(t, e.js, res)
}

// mustStream is the intake stream of e.
func mustStream(t *testing.T, e *env) jetstream.Stream {
	t.Helper()
	st, err := e.js.Stream(context.Background(), queue.StreamIntake)
	require.NoError(t, err)
	return st
}

// TestIngestLostChunks: with an acknowledgement every 256 rows, three
// chunks in four go without a reply; chunks the server lost are found by
// their span's stream sequences and published again, and a loss the
// sequences cannot see (another message in its place) by the stream's
// count of rows, the file published once more with the stored rows
// skipped. Every time each row is stored once and the batch sealed.
func TestIngestLostChunks(t *testing.T) {
	testAckEvery = 4 * intake.ChunkRows
	defer func() { testAckEvery = 0 }()
	p := rev4File(t, 1000)
	lost := map[int]bool{100: true, 400: true} // in the chunks of rows 65–128 and 385–448
	for _, unseen := range []bool{false, true} {
		t.Run(map[bool]string{false: "lost", true: "lost unseen"}[unseen], func(t *testing.T) {
			e := startJS(t)
			other := queue.IntakeRowSubject(payout.BatchID(bytes.Repeat([]byte{9}, 32)))
			dropped := 0
			testLoseRow = func(row int) bool {
				if !lost[row] {
					return false
				}
				dropped++
				if unseen {
					require.NoError(t, e.js.Conn().Publish(other, []byte("{}")))
				}
				return true
			}
			defer func() { testLoseRow = nil }()
			res, err := Ingest(context.Background(), e.js, p, testOptions(t))
			require.NoError(t, err)
			require.Equal(t, StatusCreated, res.Status)
			if !unseen { // else the stream holds the other message too
				checkBatch(t, e.js, res)
			}
			counts := rowCounts(t, e.js, res.Batch)
			require.Len(t, counts, 1000)
			for row, n := range counts {
				require.Equal(t, 1, n, "row %d", row)
			}
			require.Equal(t, 1000, res.Published)
			require.Positive(t, dropped, "chunks went without a reply and were lost")
			if unseen {
				require.True(t, res.refilled, "found by the count of rows")
			} else {
				require.Positive(t, res.resends)
				require.False(t, res.refilled)
			}
		})
	}
}
