package ledger

import (
	"context"
	"database/sql"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/report"
)

// loadBatch reads the batch whole, for the reconciliation and the report
// held in memory: its summary (counted from the rows read), its rows with
// the evidence about them, and what the reconciliation needs of the
// batch (batchScan, whose rows it keeps).
func (db *DB) loadBatch(ctx context.Context, batch string) (*ledgerapi.BatchSummary, *reconcile.Batch, error) {
	sc, err := db.openScan(ctx, batch)
	if err != nil {
		return nil, nil, err
	}
	defer sc.Close()
	d := sc.d
	d.Rows = make([]*reconcile.Row, 0, 1024)
	err = sc.each(ctx, false, func(r *reconcile.Row, _ *report.Note) error {
		d.Rows = append(d.Rows, r)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return sc.sum, d, nil
}

// readQuerier is what a read goes through: the read pool or a transaction on
// it.
type readQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// eachRow runs a query and calls fn for every row.
func eachRow(ctx context.Context, db readQuerier, query string, args []any, fn func(scanner) error) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
