package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// BenchmarkBatchStatus is one status request (DB.Batch) on a batch of n
// recorded rows: batch_counts (O(states)) against the GROUP BY over the
// rows it replaced (issue 17: polled every 20 ms, 2 % of a core at 3k rows
// and 13 % at 30k).
func BenchmarkBatchStatus(b *testing.B) {
	for _, n := range []int{3000, 30000} {
		c := newClock()
		db, err := Open(b.TempDir() + "/ledger.db")
		if err != nil {
			b.Fatal(err)
		}
		db.Now = c.Now
		s := NewService(db, testConfig())
		noApprovals(b, s)
		tb := makeBatch(n, fmt.Sprint("status", n))
		msgs := tb.msgs(1)
		ctx := context.Background()
		for i := 0; i < len(msgs); i += 5000 {
			chunk := msgs[i:min(i+5000, len(msgs))]
			if err := s.w.Do(ctx, func(tx *Tx) error { _, err := s.recordIntake(tx, chunk); return err }); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("rows=%d/batch_counts", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := db.Batch(ctx, tb.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("rows=%d/group_by", n), func(b *testing.B) {
			for b.Loop() {
				if err := db.addCounts(ctx, &ledgerapi.BatchSummary{Batch: tb.ID}, `SELECT state, currency, count(*), sum(amount_minor), sum(held),
					sum(stop = 'hold') FROM rows WHERE batch_id = ? GROUP BY state, currency`); err != nil {
					b.Fatal(err)
				}
			}
		})
		s.Close()
		db.Close()
	}
}

// BenchmarkSweepLongQueue is one sweep over a batch of n rows whose jobs
// all wait in PAYRUN_JOBS past --stuck-after: one stream-info request and
// two index searches that find nothing, whatever n (it re-enqueues none).
func BenchmarkSweepLongQueue(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			env := startNATS(b)
			c := newClock()
			db, err := Open(b.TempDir() + "/ledger.db")
			if err != nil {
				b.Fatal(err)
			}
			db.Now = c.Now
			defer db.Close()
			cfg := testConfig()
			s := NewService(db, cfg)
			noApprovals(b, s)
			if err := s.Start(context.Background(), env.nc); err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			tb := makeBatch(n, fmt.Sprint("sweep", n))
			msgs := tb.msgs(1)
			ctx := context.Background()
			for i := 0; i < len(msgs); i += 5000 {
				chunk := msgs[i:min(i+5000, len(msgs))]
				if err := s.w.Do(ctx, func(tx *Tx) error { _, err := s.recordIntake(tx, chunk); return err }); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.ReleaseDue(ctx); err != nil {
				b.Fatal(err)
			}
			for {
				var left int
				if err := db.r.QueryRow(`SELECT count(*) FROM rows WHERE job_gen < gen OR state <> 'queued'`).Scan(&left); err != nil {
					b.Fatal(err)
				}
				if left == 0 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			c.Add(time.Hour)
			b.ResetTimer()
			for b.Loop() {
				res, err := s.Sweep(ctx)
				if err != nil || res.Requeued != 0 {
					b.Fatal(res, err)
				}
			}
		})
	}
}
