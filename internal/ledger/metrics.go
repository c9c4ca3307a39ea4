package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/payout"
)

// StateCounts returns how many rows are in each state, over all batches.
func (db *DB) StateCounts(ctx context.Context) (map[payout.State]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT state, count(*) FROM rows GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count rows by state: %w", err)
	}
	defer rows.Close()
	out := map[payout.State]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count rows by state: %w", err)
		}
		out[payout.State(s)] = n
	}
	return out, rows.Err()
}

// ExportMetrics refreshes the payrun_rows{state} gauge every interval until
// ctx ends.
func (db *DB) ExportMetrics(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if counts, err := db.StateCounts(ctx); err == nil {
			metrics.RowsByState.Reset()
			for s, n := range counts {
				metrics.RowsByState.WithLabelValues(string(s)).Set(float64(n))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
