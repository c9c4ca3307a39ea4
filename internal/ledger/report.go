package ledger

import (
	"context"
	"fmt"
	"strings"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/report"
)

// Report reconciles the batch (reading only) and builds its report (the
// layout is internal/report's), with each row's description and meta_
// columns (read beside the reconciliation's reads).
func (db *DB) Report(ctx context.Context, batch string) (*report.Report, error) {
	var (
		notes    []report.Note
		notesErr error
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		notes, notesErr = db.rowNotes(ctx, batch)
	}()
	rec, err := db.Reconcile(ctx, batch)
	<-done
	if err != nil {
		return nil, err
	}
	if notesErr != nil {
		return nil, fmt.Errorf("report %s: descriptions and meta: %w", batch, notesErr)
	}
	rep := rec.Report()
	rep.AddNotes(notes)
	return rep, nil
}

// Report builds the batch's report from the reconciliation. Its rows have
// no description or meta (the reconciliation does not read them);
// DB.Report adds them.
func (rec *Reconciliation) Report() *report.Report {
	return report.Build(rec.sum, rec.data, &rec.Result)
}

// rowNotes reads the description and meta of the batch's rows that have
// either, in row order.
func (db *DB) rowNotes(ctx context.Context, batch string) ([]report.Note, error) {
	var out []report.Note
	var n report.Note // scanned into for every row, then copied
	var meta string
	read := func(s scanner) error {
		n.Meta = nil
		if err := s.Scan(&n.Row, &meta, &n.Description); err != nil {
			return err
		}
		if meta != "" {
			m, err := decodeMeta(meta)
			if err != nil {
				return fmt.Errorf("row %d: meta: %w", n.Row, err)
			}
			n.Meta = m
		}
		out = append(out, n)
		return nil
	}
	err := eachRow(ctx, db.r, `SELECT row_no, meta, description FROM rows
		WHERE batch_id = ? AND (meta <> '' OR description <> '') ORDER BY row_no`, []any{batch}, read)
	if err != nil && strings.Contains(err.Error(), "no such column: description") {
		// A ledger file the running ledger has not migrated yet (a
		// read-only reader is newer): no row has a description.
		out = out[:0]
		err = eachRow(ctx, db.r, `SELECT row_no, meta, '' FROM rows WHERE batch_id = ? AND meta <> '' ORDER BY row_no`,
			[]any{batch}, read)
	}
	return out, err
}

// decodeMeta decodes a row's meta as the intake message carries it
// (intake.DecodeMeta, the one decoder of that format).
func decodeMeta(text string) (map[string]string, error) { return intake.DecodeMeta([]byte(text)) }
