package ledger

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// TestIntakeCountsGroups: the intake counts a group's rows itself (one
// UPSERT per batch, state and currency, migration 0120), exactly when a
// group carries rows recorded already (delivered again, alone or in the
// middle of new ones, the same message twice in one group), rows the
// guard holds in the same group, two currencies, and a batch recorded
// before 0120 whose rows the insert trigger counts.
func TestIntakeCountsGroups(t *testing.T) {
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	s := NewService(db, testConfig())
	noApprovals(t, s)
	ctx := context.Background()

	rows := uniqueBatch(120, "counts groups").Rows
	for i, r := range rows {
		if i%4 == 0 {
			r.Amount = money.New(7000+int64(i), "USD")
		}
	}
	a := makeRows("counts groups", rows)
	am := a.msgs(1)
	// The same references again in another batch: held as repeats in flight.
	b := makeRows("counts groups again", uniqueBatch(30, "counts groups").Rows)
	bm := b.msgs(1000)

	record(t, s, am[:70])
	checkCounts(t, db, a.ID)
	// Delivered again from row 40 on, with new rows after the recorded
	// ones, one message twice, and the other batch's rows in the group.
	group := append([]intakeMsg{}, am[39:100]...)
	group = append(group, am[80], am[100])
	group = append(group, bm[:len(bm)-1]...)
	res := record(t, s, group)
	require.Equal(t, 31+len(bm)-1, res.Recorded)
	require.Equal(t, 32, res.Duplicates)
	checkCounts(t, db, a.ID, b.ID)
	require.Equal(t, 30, summary(t, db, b.ID).Held, "every row of b repeats a row of a")

	// A batch recorded before migration 0120: the trigger counts its rows.
	_, err := db.wc.ExecContext(ctx, `UPDATE batches SET counts_by_insert = 0 WHERE id = ?`, a.ID)
	require.NoError(t, err)
	record(t, s, am[101:])
	checkCounts(t, db, a.ID, b.ID)
	require.Equal(t, payout.BatchScheduled, summary(t, db, a.ID).Status)
	require.Equal(t, 120, summary(t, db, a.ID).ByState[payout.StateReceived])
	record(t, s, bm[len(bm)-1:])
	checkCounts(t, db, a.ID, b.ID)

	// The 50-row statement that failed on a recorded row records the next
	// 50 new rows.
	d := uniqueBatch(60, "counts groups after")
	res = record(t, s, d.msgs(5000))
	require.Equal(t, 60, res.Recorded)
	require.Zero(t, res.Duplicates)
	checkCounts(t, db, a.ID, b.ID, d.ID)
}
