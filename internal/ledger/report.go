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
	if adb, err := db.archive(ctx, batch); err != nil {
		return nil, err
	} else if adb != nil {
		defer adb.Close()
		return adb.Report(ctx, batch) // an archived batch: from its archive
	}
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

// rowNotes reads, in row order, what the report shows beside a row's
// payout for the rows that have any of it: the description and meta, why
// the row was held or stopped and what a person decided, where a failed
// row was resubmitted (or a resubmitted row came from).
func (db *DB) rowNotes(ctx context.Context, batch string) ([]report.Note, error) {
	var out []report.Note
	var n report.Note // scanned into for every row, then copied
	var meta, reason, decision, by, why, stop, stopBy, stopWhy, to, parent string
	var toRow, parentRow int
	read := func(s scanner) error {
		n.Meta = nil
		if err := s.Scan(&n.Row, &meta, &n.Description, &reason, &decision, &by, &why, &stop, &stopBy, &stopWhy,
			&to, &toRow, &parent, &parentRow); err != nil {
			return err
		}
		if meta != "" {
			m, err := decodeMeta(meta)
			if err != nil {
				return fmt.Errorf("row %d: meta: %w", n.Row, err)
			}
			n.Meta = m
		}
		n.Held, n.Decision, n.Resubmit = "", "", ""
		switch {
		case reason != "":
			n.Held = "held: " + reason
		case stop == stopHold:
			n.Held = "on hold by " + stopBy + ": " + stopWhy
		case stop == stopCancel:
			n.Held = "cancelled by " + stopBy + ": " + stopWhy
		}
		if decision != "" {
			n.Decision = decision + " by " + by + ": " + why
		}
		switch {
		case to != "":
			n.Resubmit = fmt.Sprintf("resubmitted in batch %s row %d", to, toRow)
		case parent != "":
			n.Resubmit = fmt.Sprintf("resubmits batch %s row %d", parent, parentRow)
		}
		out = append(out, n)
		return nil
	}
	err := eachRow(ctx, db.r, `SELECT r.row_no, r.meta, r.description, coalesce(h.reason, ''), coalesce(h.decision, ''),
		coalesce(h.decided_by, ''), coalesce(h.decision_reason, ''), r.stop, r.stop_by, r.stop_reason,
		r.resubmitted_to, r.resubmitted_row, r.parent_batch, r.parent_row
		FROM rows r LEFT JOIN holds h ON h.batch_id = r.batch_id AND h.row_no = r.row_no
		WHERE r.batch_id = ? AND (r.meta <> '' OR r.description <> '' OR h.row_no IS NOT NULL OR r.stop <> ''
		OR r.resubmitted_to <> '' OR r.parent_batch <> '') ORDER BY r.row_no`, []any{batch}, read)
	if err != nil && strings.Contains(err.Error(), "no such") {
		// A ledger file the running ledger has not migrated yet (a
		// read-only reader is newer): no row has what it lacks.
		out = out[:0]
		err = eachRow(ctx, db.r, `SELECT row_no, meta, description, '', '', '', '', '', '', '', '', 0, '', 0 FROM rows
			WHERE batch_id = ? AND (meta <> '' OR description <> '') ORDER BY row_no`, []any{batch}, read)
	}
	if err != nil && strings.Contains(err.Error(), "no such column: description") {
		out = out[:0]
		err = eachRow(ctx, db.r, `SELECT row_no, meta, '', '', '', '', '', '', '', '', '', 0, '', 0 FROM rows
			WHERE batch_id = ? AND meta <> '' ORDER BY row_no`, []any{batch}, read)
	}
	return out, err
}

// decodeMeta decodes a row's meta as the intake message carries it
// (intake.DecodeMeta, the one decoder of that format).
func decodeMeta(text string) (map[string]string, error) { return intake.DecodeMeta([]byte(text)) }
