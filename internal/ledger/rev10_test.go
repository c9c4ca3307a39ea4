package ledger

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// TestRev10ChunkOverflowNamesEveryRow: a chunk of rows whose amounts take
// the batch's total past 64 bits (a crafted message: ingest's totals refuse
// such a file). Each row left out is kept out of the ledger with an
// exception naming it, as it is when each row comes in a message of its
// own. Before the fix the exception's key was the message's stream
// sequence, which a chunk's rows share: the first row left out had one, the
// others were left out with none naming them.
func TestRev10ChunkOverflowNamesEveryRow(t *testing.T) {
	env := startNATS(t)
	db := openDB(t, t.TempDir(), newClock())
	t.Cleanup(func() { db.Close() })
	startService(t, db, env, testConfig())
	b := uniqueBatch(4, "rev10 chunk overflow")
	for _, r := range b.Rows {
		r.Amount.Minor = math.MaxInt64/2 + 1
	}
	b = makeRows("rev10 chunk overflow", b.Rows)
	b.publishChunks(t, env.js, 4)
	waitStatus(t, db, b.ID, payout.BatchRejected)
	var recorded int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ?`, b.ID).Scan(&recorded))
	require.Equal(t, 1, recorded, "row 1 fits; rows 2–4 each take the total past 64 bits")
	rows, err := db.r.Query(`SELECT row_no FROM exceptions WHERE category = ? AND batch_id = ? ORDER BY row_no`,
		string(reconcile.IntakeInvalid), b.ID)
	require.NoError(t, err)
	var named []int
	for rows.Next() {
		var n int
		require.NoError(t, rows.Scan(&n))
		named = append(named, n)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []int{2, 3, 4}, named, "an exception for each row left out")
}

// chunkIntake is what the intake's parse makes of a chunk of b's rows at
// stream sequence seq: one intakeMsg a row, all with seq.
func chunkIntake(t *testing.T, b *testBatch, seq uint64) []intakeMsg {
	t.Helper()
	out := intakeMsg{Seq: seq, delivered: seq}
	parseChunk(&out, rawChunk(1, b.Data...))
	require.Empty(t, out.Invalid)
	return flatten([]intakeMsg{out})
}

// TestRev10ChunksRepeatAcrossBatchesInOneGroup: two files carrying the
// same references, each in one chunk, recorded in one transaction (so one
// received_at): the rows of a chunk share its stream sequence, and the
// guard's "earlier" across batches is by (received_at, intake_seq). The
// later chunk's rows are held as repeats of the earlier's, the earlier's
// never; in either order of the two files.
func TestRev10ChunksRepeatAcrossBatchesInOneGroup(t *testing.T) {
	for _, order := range []string{"a first", "b first"} {
		t.Run(order, func(t *testing.T) {
			s, _ := newService(t)
			a := makeBatch(3, "rev10 repeat a "+order)
			b := makeBatch(3, "rev10 repeat b "+order) // the same references E-00001…
			first, second := a, b
			if order == "b first" {
				first, second = b, a
			}
			msgs := append(chunkIntake(t, first, 7), chunkIntake(t, second, 8)...)
			record(t, s, msgs)
			require.Empty(t, holdsOf(t, s, first.ID), "the earlier file's rows are not repeats")
			h := holdsOf(t, s, second.ID)
			require.Len(t, h, 3, "each of the later file's rows repeats one of the earlier's")
			for row, hold := range h {
				require.Equal(t, HoldRepeat, hold.Kind, "row %d", row)
				require.Equal(t, first.ID, hold.EarlierBatch, "row %d", row)
				require.Equal(t, row, hold.EarlierRow)
			}
		})
	}
}

// TestRev10DuplicateInsideOneChunk: two rows of one file to the same card
// and amount under other references, in one chunk (one stream sequence):
// the later row is held as a probable duplicate of the earlier, by their
// rows' order in the file.
func TestRev10DuplicateInsideOneChunk(t *testing.T) {
	s, _ := newService(t)
	b := makeRows("rev10 duplicate in a chunk", []*payout.Row{tokenRow("D-1", 50000, "tok_rev10"),
		tokenRow("D-2", 60000, "tok_rev10"), tokenRow("D-3", 50000, "tok_rev10")})
	record(t, s, chunkIntake(t, b, 3))
	h := holdsOf(t, s, b.ID)
	require.Len(t, h, 1)
	require.Equal(t, HoldDuplicate, h[3].Kind)
	require.Equal(t, 1, h[3].EarlierRow)
}

// TestRev10MoveBeforeItsBatchT0: the clock stepped back after a batch's
// key was made (its t0, migration 0175, the release's time): a move then is
// before t0 and kept as a negative offset; every move reads back at the
// time it was written.
func TestRev10MoveBeforeItsBatchT0(t *testing.T) {
	s, c := newService(t)
	b := uniqueBatch(2, "rev10 clock back")
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(context.Background()))
	released := c.Now()
	c.Add(-36 * time.Hour) // before t0 by more than the 6-byte offsets' ~39 hours' half
	back := c.Now()
	reply := move(t, s, ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateClaimed, Worker: "w1",
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor}})
	require.Empty(t, code(reply))
	rows, err := s.db.r.Query(`SELECT to_state, at FROM transitions WHERE batch_id = ? AND row_no = 1 ORDER BY id`, b.ID)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var to, at string
		require.NoError(t, rows.Scan(&to, &at))
		got = append(got, to+" "+at)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"queued " + formatTime(released), "claimed " + formatTime(back)}, got)
	var neg int
	require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM moves WHERE bk = (SELECT k FROM batch_keys WHERE batch_id = ?)
		AND typeof(t) = 'integer' AND t < 0`, b.ID).Scan(&neg))
	require.Equal(t, 1, neg, "the claim kept as an offset before t0")
}
