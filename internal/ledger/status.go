package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// Batch returns one batch with its counts by state and totals.
func (db *DB) Batch(ctx context.Context, id string) (*ledgerapi.BatchSummary, error) {
	list, err := db.batches(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("batch %s: %w", id, errNotFound)
	}
	b := &list[0]
	if b.HeldRows, err = db.Holds(ctx, id, maxHoldsShown); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM batches WHERE parent_batch = ? ORDER BY first_seen_at, id`, id)
	if err != nil {
		return nil, fmt.Errorf("list children of %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("list children of %s: %w", id, err)
		}
		b.Children = append(b.Children, c)
	}
	return b, rows.Err()
}

// maxHoldsShown bounds the held rows a batch summary lists (Holds lists
// them all).
const maxHoldsShown = 100

// Batches lists batches, newest first (limit ≤ 0: 100).
func (db *DB) Batches(ctx context.Context, limit int) ([]ledgerapi.BatchSummary, error) {
	if limit <= 0 {
		limit = 100
	}
	return db.batches(ctx, `ORDER BY first_seen_at DESC, id LIMIT ?`, limit)
}

func (db *DB) batches(ctx context.Context, tail string, args ...any) ([]ledgerapi.BatchSummary, error) {
	out, err := db.batchesUncounted(ctx, tail, args...)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if err := db.countBatch(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// batchesUncounted reads batches without their counts (the reconciliation
// counts the rows it reads anyway).
func (db *DB) batchesUncounted(ctx context.Context, tail string, args ...any) ([]ledgerapi.BatchSummary, error) {
	return batchesUncountedIn(ctx, db.r, tail, args...)
}

// batchesUncountedIn is batchesUncounted through q (a read transaction).
func batchesUncountedIn(ctx context.Context, q readQuerier, tail string, args ...any) ([]ledgerapi.BatchSummary, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, file_name, file_sha256, status, reason, coalesce(manifest_rows, rows_recorded),
		manifest_totals, schedule_at, require_approval, approved_by, coalesce(created_at, first_seen_at), released_at, finished_at,
		uploaded_by, coalesce(policy_version, 0), approvals_required, approvals_given, approval_reasons, approval_expires_at,
		hold_source, hold_by, hold_reason, hold_at, parent_batch
		FROM batches `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	var out []ledgerapi.BatchSummary
	for rows.Next() {
		var b ledgerapi.BatchSummary
		var totals, schedule, created, released, finished, expires, holdAt sql.NullString
		var reasons string
		var hold ledgerapi.BatchHold
		if err := rows.Scan(&b.Batch, &b.Name, &b.FileName, &b.FileSHA256, &b.Status, &b.Reason, &b.Rows, &totals,
			&schedule, &b.RequireApproval, &b.ApprovedBy, &created, &released, &finished,
			&b.UploadedBy, &b.PolicyVersion, &b.ApprovalsRequired, &b.ApprovalsGiven, &reasons, &expires,
			&hold.Source, &hold.By, &hold.Reason, &holdAt, &b.Parent); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list batches: %w", err)
		}
		b.Totals = money.Totals{}
		if totals.Valid {
			json.Unmarshal([]byte(totals.String), &b.Totals)
		}
		b.ScheduleAt, b.ReleasedAt, b.FinishedAt = scanTime(schedule), scanTime(released), scanTime(finished)
		b.ApprovalExpiresAt = scanTime(expires)
		if reasons != "" {
			json.Unmarshal([]byte(reasons), &b.ApprovalReasons)
		}
		if t := scanTime(created); t != nil {
			b.CreatedAt = *t
		}
		if hold.Source != "" {
			if t := scanTime(holdAt); t != nil {
				hold.Since = *t
			}
			b.Hold = &hold
		}
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	return out, nil
}

// countBatch fills a summary's counts by state, paid and failed totals and
// open exceptions, from batch_counts (kept with every change to a row:
// O(states), not O(rows)); a ledger file older than that table (a
// read-only reader newer than the file) is counted row by row.
func (db *DB) countBatch(ctx context.Context, b *ledgerapi.BatchSummary) error {
	err := db.addCounts(ctx, b, `SELECT state, currency, rows, amount_minor, held, on_hold FROM batch_counts
		WHERE batch_id = ? AND rows > 0`)
	if err != nil && strings.Contains(err.Error(), "no such table: batch_counts") {
		err = db.addCounts(ctx, b, `SELECT state, currency, count(*), sum(amount_minor), sum(held), sum(stop = 'hold') FROM rows
			WHERE batch_id = ? GROUP BY state, currency`)
	}
	if err != nil {
		return err
	}
	return db.countExceptions(ctx, b)
}

// addCounts fills b's counts from q, whose rows are state, currency,
// rows, amount, held, on hold.
func (db *DB) addCounts(ctx context.Context, b *ledgerapi.BatchSummary, q string) error {
	b.ByState = map[payout.State]int{}
	b.PaidTotals, b.FailedTotals = money.Totals{}, money.Totals{}
	b.Held, b.RowsOnHold = 0, 0
	rows, err := db.r.QueryContext(ctx, q, b.Batch)
	if err != nil {
		return fmt.Errorf("count batch %s: %w", b.Batch, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st payout.State
		var cur string
		var n, held, onHold int
		var sum int64
		if err := rows.Scan(&st, &cur, &n, &sum, &held, &onHold); err != nil {
			return fmt.Errorf("count batch %s: %w", b.Batch, err)
		}
		b.ByState[st] += n
		b.Held += held
		b.RowsOnHold += onHold
		switch st {
		case payout.StateSucceeded:
			b.PaidTotals[cur] += sum
		case payout.StateFailed, payout.StateCancelled:
			b.FailedTotals[cur] += sum
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count batch %s: %w", b.Batch, err)
	}
	return nil
}

// countExceptions fills a summary's open exceptions.
func (db *DB) countExceptions(ctx context.Context, b *ledgerapi.BatchSummary) error {
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM exceptions WHERE batch_id = ? AND closed_at IS NULL`, b.Batch).
		Scan(&b.Exceptions); err != nil {
		return fmt.Errorf("count exceptions of %s: %w", b.Batch, err)
	}
	return nil
}

// Transition is one entry of a row's transitions log.
type Transition struct {
	ID        int64              `json:"id"`
	From      payout.State       `json:"from"`
	To        payout.State       `json:"to"`
	At        string             `json:"at"`
	Gen       int                `json:"gen"`
	Attempt   int                `json:"attempt"`
	SessionID string             `json:"session_id,omitempty"`
	PayoutID  string             `json:"payout_id,omitempty"`
	ErrorCode string             `json:"error_code,omitempty"`
	Reason    string             `json:"reason,omitempty"`
	Evidence  ledgerapi.Evidence `json:"evidence"`
}

// Transitions returns a row's transitions log, oldest first.
func (db *DB) Transitions(ctx context.Context, batch string, row int) ([]Transition, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, from_state, to_state, at, gen, attempt, session_id, payout_id, error_code,
		reason, source, hook_id, hook_type, detail FROM transitions WHERE batch_id = ? AND row_no = ? ORDER BY id`, batch, row)
	if err != nil {
		return nil, fmt.Errorf("read transitions of %s/%d: %w", batch, row, err)
	}
	defer rows.Close()
	var out []Transition
	for rows.Next() {
		var t Transition
		if err := rows.Scan(&t.ID, &t.From, &t.To, &t.At, &t.Gen, &t.Attempt, &t.SessionID, &t.PayoutID, &t.ErrorCode,
			&t.Reason, &t.Evidence.Source, &t.Evidence.HookID, &t.Evidence.HookType, &t.Evidence.Detail); err != nil {
			return nil, fmt.Errorf("read transitions of %s/%d: %w", batch, row, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// IsNotFound reports whether err says a batch, row or session is unknown.
func IsNotFound(err error) bool { return errors.Is(err, errNotFound) }

// VerifyCounts compares batch_counts with the rows themselves (a GROUP BY
// over every row: for tests and checks, not for status) and says where
// they differ.
func (db *DB) VerifyCounts(ctx context.Context) error {
	const counted = `SELECT batch_id, state, currency, count(*) AS rows, sum(amount_minor) AS amount_minor, sum(held) AS held,
		sum(stop = 'hold') AS on_hold FROM rows GROUP BY batch_id, state, currency`
	// An archived batch keeps its counts, not its rows.
	const kept = `SELECT batch_id, state, currency, rows, amount_minor, held, on_hold FROM batch_counts WHERE (rows <> 0
		OR amount_minor <> 0 OR held <> 0 OR on_hold <> 0) AND batch_id NOT IN (SELECT batch_id FROM archives)`
	rows, err := db.r.QueryContext(ctx, `SELECT 'kept', * FROM (`+kept+` EXCEPT `+counted+`)
		UNION ALL SELECT 'counted', * FROM (`+counted+` EXCEPT `+kept+`) LIMIT 20`)
	if err != nil {
		return fmt.Errorf("verify batch counts: %w", err)
	}
	defer rows.Close()
	var diffs []string
	for rows.Next() {
		var side, batch, state, cur string
		var n, amount, held, onHold int64
		if err := rows.Scan(&side, &batch, &state, &cur, &n, &amount, &held, &onHold); err != nil {
			return fmt.Errorf("verify batch counts: %w", err)
		}
		diffs = append(diffs, fmt.Sprintf("%s %s/%s/%s: %d rows, %d minor, %d held, %d on hold", side, batch, state, cur, n, amount, held, onHold))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify batch counts: %w", err)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("batch counts differ from the rows: %s", strings.Join(diffs, "; "))
	}
	return nil
}
