package ledger

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

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
