package ledger

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// groupBy counts a batch's rows as the status did before batch_counts.
func groupBy(t *testing.T, db *DB, batch string) (map[payout.State]int, money.Totals, money.Totals, int) {
	t.Helper()
	by := map[payout.State]int{}
	paid, failed := money.Totals{}, money.Totals{}
	onHold := 0
	rows, err := db.r.Query(`SELECT state, currency, count(*), sum(amount_minor), sum(stop = 'hold') FROM rows
		WHERE batch_id = ? GROUP BY state, currency`, batch)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var st payout.State
		var cur string
		var n, h int
		var sum int64
		require.NoError(t, rows.Scan(&st, &cur, &n, &sum, &h))
		by[st] += n
		onHold += h
		switch st {
		case payout.StateSucceeded:
			paid[cur] += sum
		case payout.StateFailed, payout.StateCancelled:
			failed[cur] += sum
		}
	}
	require.NoError(t, rows.Err())
	return by, paid, failed, onHold
}

// checkCounts: batch_counts equals a GROUP BY over the rows, table by
// table and as the status shows it.
func checkCounts(t *testing.T, db *DB, batches ...string) {
	t.Helper()
	require.NoError(t, db.VerifyCounts(context.Background()))
	for _, b := range batches {
		sum := summary(t, db, b)
		by, paid, failed, onHold := groupBy(t, db, b)
		require.Equal(t, by, sum.ByState, "batch %s", b)
		require.Equal(t, paid, sum.PaidTotals, "batch %s", b)
		require.Equal(t, failed, sum.FailedTotals, "batch %s", b)
		require.Equal(t, onHold, sum.RowsOnHold, "batch %s", b)
	}
}

// TestBatchCountsRandomMoves: after random moves (every state payout.Next
// allows, refusals included), holds, resumes, cancels, re-enqueues, a
// transaction rolled back, a crash in the middle of a transaction and
// restarts, the kept counts equal a GROUP BY over the rows.
func TestBatchCountsRandomMoves(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	db := openDB(t, dir, c)
	s := NewService(db, testConfig())
	noApprovals(t, s)
	ctx := context.Background()

	a := uniqueBatch(40, "counts a")
	rows := makeBatch(30, "counts b").Rows
	for i, r := range rows {
		if i%3 == 0 {
			r.Amount = money.New(5000+int64(i), "USD")
		}
	}
	b := makeRows("counts b", rows)
	record(t, s, a.msgs(1))
	record(t, s, b.msgs(100))
	require.NoError(t, s.ReleaseDue(ctx))
	checkCounts(t, db, a.ID, b.ID)

	rng := rand.New(rand.NewPCG(17, 1))
	batches := []*testBatch{a, b}
	step := func(i int) {
		tb := batches[rng.IntN(2)]
		row := 1 + rng.IntN(len(tb.Rows))
		cur := mustRow(t, s, tb.ID, row)
		switch k := rng.IntN(20); {
		case k == 0:
			_ = s.Hold(ctx, ledgerapi.RowCommand{Batch: tb.ID, Row: row, By: "ops", Reason: "check"})
		case k == 1:
			_ = s.Resume(ctx, ledgerapi.RowCommand{Batch: tb.ID, Row: row, By: "ops", Reason: "checked"})
		case k == 2 && rng.IntN(4) == 0:
			_ = s.CancelRow(ctx, ledgerapi.RowCommand{Batch: tb.ID, Row: row, By: "ops", Reason: "left"})
		case k == 3:
			// A move whose transaction fails after it: rolled back with it.
			err := s.w.Do(ctx, func(tx *Tx) error {
				if _, err := s.transition(tx, &ledgerapi.Transition{Batch: tb.ID, Row: row, To: payout.StateCancelled}); err != nil {
					return err
				}
				return sql.ErrTxDone
			})
			require.ErrorIs(t, err, sql.ErrTxDone)
		default:
			next := payout.Next[cur.State]
			if len(next) == 0 {
				return
			}
			to := next[rng.IntN(len(next))]
			if to == payout.StateCancelled && rng.IntN(8) != 0 {
				to = next[0] // rarely cancelled, so rows get further
			}
			tr := ledgerapi.Transition{Batch: tb.ID, Row: row, To: to, Worker: "w", SessionID: cur.SessionID}
			if cur.SessionID == "" && (to == payout.StatePayoutStarted || to == payout.StateSessionOpen) {
				tr.SessionID = "s_" + tb.ID[:6] + "_" + itoa(row)
			}
			if to == payout.StateSucceeded {
				p := cur.Amount
				tr.Paid = &p
			}
			if to == payout.StateFailed {
				tr.ErrorCode = "declined"
			}
			_, err := s.Transition(ctx, tr)
			if err != nil {
				var e *ledgerapi.Error
				require.ErrorAs(t, err, &e, "step %d", i)
			}
		}
	}
	for i := 0; i < 400; i++ {
		step(i)
		if i%50 == 0 {
			checkCounts(t, db, a.ID, b.ID)
		}
	}
	checkCounts(t, db, a.ID, b.ID)
	c.Add(testConfig().StuckAfter * 2)
	_, err := s.Sweep(ctx) // re-enqueues (no queue: by age): no count changes
	require.NoError(t, err)
	checkCounts(t, db, a.ID, b.ID)

	// A crash mid-transaction: another connection moves rows and is closed
	// without a commit, as a killed process leaves its journal.
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "ledger.db")+"?_busy_timeout=5000")
	require.NoError(t, err)
	raw.SetMaxOpenConns(1)
	conn, err := raw.Conn(ctx)
	require.NoError(t, err)
	s.Close()
	require.NoError(t, db.Close())
	_, err = conn.ExecContext(ctx, `BEGIN IMMEDIATE`)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, `UPDATE rows SET state = 'succeeded' WHERE batch_id = ?`, a.ID)
	require.NoError(t, err)
	require.NoError(t, conn.Raw(func(any) error { return nil }))
	conn.Close()
	raw.Close()

	// Restart and go on.
	db = openDB(t, dir, c)
	t.Cleanup(func() { db.Close() })
	s = NewService(db, testConfig())
	t.Cleanup(func() { s.Close() })
	checkCounts(t, db, a.ID, b.ID)
	for i := 400; i < 700; i++ {
		step(i)
	}
	checkCounts(t, db, a.ID, b.ID)
	t.Logf("a: %v on hold %d; b: %v paid %v", summary(t, db, a.ID).ByState, summary(t, db, a.ID).RowsOnHold,
		summary(t, db, b.ID).ByState, summary(t, db, b.ID).PaidTotals)
}

// TestBatchCountsBackfill: migration 0101 counts the batches a ledger
// recorded before it.
func TestBatchCountsBackfill(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	db := openDB(t, dir, c)
	s := NewService(db, testConfig())
	noApprovals(t, s)
	ctx := context.Background()
	b := uniqueBatch(25, "backfill")
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(ctx))
	for row := 1; row <= 10; row++ {
		move(t, s, ledgerapi.Transition{Batch: b.ID, Row: row, To: payout.StateClaimed, Gen: 1, Worker: "w"})
	}
	want := summary(t, db, b.ID)
	// The file as it was before 0101.
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		for _, q := range []string{`DROP TRIGGER batch_counts_insert`, `DROP TRIGGER batch_counts_update`,
			`DROP TRIGGER batch_counts_delete`, `DROP TABLE batch_counts`,
			`DELETE FROM schema_migrations WHERE name = 'migrations/0101_batch_counts.sql'`} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		return nil
	}))
	// A reader newer than the file counts its rows.
	got := summary(t, db, b.ID)
	require.Equal(t, want.ByState, got.ByState)
	s.Close()
	require.NoError(t, db.Close())

	db = openDB(t, dir, c)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.VerifyCounts(ctx))
	got = summary(t, db, b.ID)
	require.Equal(t, want.ByState, got.ByState)
	require.Equal(t, map[payout.State]int{payout.StateQueued: 15, payout.StateClaimed: 10}, got.ByState)
	var n int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM batch_counts WHERE batch_id = ?`, b.ID).Scan(&n))
	require.NotZero(t, n, "backfilled")
}
