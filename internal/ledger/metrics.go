package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/reconcile"
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

// counts runs a two-column query (a label, a count).
func (db *DB) counts(ctx context.Context, what, query string) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", what, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count %s: %w", what, err)
		}
		out[s] = n
	}
	return out, rows.Err()
}

// lastReportImport is when the last bank daily report import completed
// (zero when none did).
func (db *DB) lastReportImport(ctx context.Context) (time.Time, error) {
	var at sql.NullString
	if err := db.r.QueryRowContext(ctx, `SELECT max(imported_at) FROM bank_reports WHERE imported_at IS NOT NULL`).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("last report import: %w", err)
	}
	if !at.Valid || at.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, at.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("last report import %q: %w", at.String, err)
	}
	return t, nil
}

// setGauge replaces a labelled gauge's values with counts; a label counted
// before and not now reads 0 rather than vanishing, for alerts that compare.
func setGauge(g *prometheus.GaugeVec, seen map[string]bool, counts map[string]int) {
	for label := range seen {
		if _, ok := counts[label]; !ok {
			g.WithLabelValues(label).Set(0)
		}
	}
	for label, n := range counts {
		seen[label] = true
		g.WithLabelValues(label).Set(float64(n))
	}
}

// ExportMetrics refreshes the ledger's gauges every interval until ctx
// ends: rows by state, batches by status (every status the ledger has),
// open exceptions by category (each category of reconcile.Categories,
// 0 when none is open), open dead letters by stream, and the time of the
// last bank report import.
func (db *DB) ExportMetrics(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	seen := map[*prometheus.GaugeVec]map[string]bool{
		metrics.RowsByState: {}, metrics.BatchesByStatus: {}, metrics.ExceptionsOpen: {}, metrics.DeadLetters: {},
	}
	for _, c := range reconcile.Categories {
		seen[metrics.ExceptionsOpen][string(c)] = true
	}
	for _, st := range []string{queue.StreamJobs, queue.StreamHooks} {
		seen[metrics.DeadLetters][st] = true
	}
	for {
		for _, q := range []struct {
			g           *prometheus.GaugeVec
			what, query string
		}{
			{metrics.RowsByState, "rows by state", `SELECT state, count(*) FROM rows GROUP BY state`},
			{metrics.BatchesByStatus, "batches by status", `SELECT status, count(*) FROM batches GROUP BY status`},
			{metrics.ExceptionsOpen, "open exceptions", `SELECT category, count(*) FROM exceptions WHERE closed_at IS NULL GROUP BY category`},
			{metrics.DeadLetters, "dead letters", `SELECT CASE WHEN instr(key, '/') > 0 THEN substr(key, 1, instr(key, '/') - 1) ELSE key END, count(*)
				FROM exceptions WHERE closed_at IS NULL AND category = '` + string(reconcile.DeadLetter) + `' GROUP BY 1`},
		} {
			if counts, err := db.counts(ctx, q.what, q.query); err == nil {
				setGauge(q.g, seen[q.g], counts)
			}
		}
		if at, err := db.lastReportImport(ctx); err == nil && !at.IsZero() {
			metrics.ReportImported.Set(float64(at.UnixNano()) / 1e9)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
