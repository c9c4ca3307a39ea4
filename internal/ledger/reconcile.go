package ledger

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// Reconciliation is a batch reconciled at one ledger state (see
// reconcile.Result) and what Service.Reconcile recorded of it.
type Reconciliation struct {
	reconcile.Result
	// Opened counts exceptions Service.Reconcile recorded; Closed those
	// it closed because their finding no longer holds.
	Opened int `json:"opened,omitempty"`
	Closed int `json:"closed,omitempty"`

	sum  *ledgerapi.BatchSummary // the batch, for its report
	data *reconcile.Batch        // the state the reconciliation read
}

// Reconcile compares, for every row of the batch, what we asked for, what
// the bank's webhooks said, what session/status said and what the bank's
// imported daily reports list, and returns each row's status and the
// exceptions found (the rules are internal/reconcile's). It reads only
// (the read pool) and depends on nothing but the ledger's state, so it
// returns the same for the same state; Service.Reconcile also records what
// it found.
func (db *DB) Reconcile(ctx context.Context, batch string) (*Reconciliation, error) {
	if adb, err := db.archive(ctx, batch); err != nil {
		return nil, err
	} else if adb != nil {
		defer adb.Close()
		return adb.Reconcile(ctx, batch) // an archived batch: from its archive
	}
	sum, d, err := db.loadBatch(ctx, batch)
	if err != nil {
		return nil, err
	}
	return &Reconciliation{Result: *d.Reconcile(), sum: sum, data: d}, nil
}

// Reconcile reconciles a batch (see DB.Reconcile) and records what it
// found: new exceptions are opened (once per key), and exceptions of the
// categories the reconciliation owns (missing from report, batch totals)
// whose finding no longer holds are closed.
func (s *Service) Reconcile(ctx context.Context, batch string) (*Reconciliation, error) {
	rec, err := s.db.Reconcile(ctx, batch)
	if err != nil {
		return nil, err
	}
	if _, archived, err := s.db.archivedAt(ctx, batch); err != nil || archived {
		return rec, err // its exceptions were settled before it was archived
	}
	found := map[string]bool{}
	for _, f := range rec.Findings {
		found[f.Key] = true
	}
	var stale []string
	for _, e := range rec.data.Exceptions {
		if !e.Closed && e.Category.Owned() && !found[e.Key] {
			stale = append(stale, e.Key)
		}
	}
	err = s.w.Do(ctx, func(tx *Tx) error {
		rec.Opened, rec.Closed = 0, 0
		for _, f := range rec.Findings {
			opened, err := openException(tx, f.Category, strings.TrimPrefix(f.Key, string(f.Category)+":"), batch, f.Row, f.Detail)
			if err != nil {
				return err
			}
			if opened {
				rec.Opened++
				s.log.Warn("reconciliation exception", logkey.Batch, batch, logkey.Row, f.Row, "category", f.Category,
					"reason", f.Detail)
			}
		}
		for _, key := range stale {
			r, err := tx.Exec(`UPDATE exceptions SET closed_at = ?, resolution = ? WHERE key = ? AND closed_at IS NULL`,
				formatTime(tx.Now), "reconciled: no longer found", key)
			if err != nil {
				return fmt.Errorf("close exception %s: %w", key, err)
			}
			n, _ := r.RowsAffected()
			rec.Closed += int(n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record reconciliation of %s: %w", batch, err)
	}
	if rec.Closed > 0 {
		closed := map[string]bool{}
		for _, k := range stale {
			closed[k] = true
		}
		rec.Exceptions = slices.DeleteFunc(rec.Exceptions, func(e reconcile.OpenException) bool { return closed[e.Key] })
	}
	if rec.Opened+rec.Closed > 0 {
		s.log.Info("batch reconciled", logkey.Batch, batch, "opened", rec.Opened, "closed", rec.Closed,
			"matched", rec.Counts[reconcile.StatusMatched], "exceptions", rec.Counts[reconcile.StatusException])
	}
	return rec, nil
}

// reconcileMove opens, as a row moves, the exceptions its move alone
// proves (reconcile.Move; the reconciliation finds them again under the
// same keys): a success paying another amount or currency than the row's,
// and a return after success.
func (s *Service) reconcileMove(tx *Tx, r *rowRec, t *ledgerapi.Transition) error {
	m := reconcile.Move{Batch: r.Batch, Row: r.Row, Reference: r.Reference, Amount: r.Amount, To: t.To, Paid: t.Paid,
		Source: string(t.Evidence.Source), Why: firstNonEmpty(t.Evidence.Detail, t.Reason, t.Evidence.HookType)}
	if t.To == payout.StateSucceeded && t.Paid != nil && r.QuoteID.Valid {
		if q, err := quoteByID(tx, r.QuoteID.Int64); err == nil {
			m.QuoteSource, m.QuoteDest = &q.Source, &q.Destination
		}
	}
	f, ok := m.Finding()
	if !ok {
		return nil
	}
	opened, err := openException(tx, f.Category, f.Key, r.Batch, r.Row, f.Detail)
	if opened && f.Category == reconcile.AmountMismatch {
		s.log.Error("bank paid another amount than the row's", logkey.Batch, r.Batch, logkey.Row, r.Row,
			logkey.Reference, r.Reference, logkey.Session, t.SessionID)
	}
	return err
}
