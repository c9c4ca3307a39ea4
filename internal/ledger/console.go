package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// The web console's reads (internal/console): pages of batches and of a
// batch's rows by keyset, so a page costs the same with 5 000 batches or
// 100 000 rows as with ten (migration 0060 and the rows' primary key), and
// a batch's counts and sums per state. They use the read pool only.

// MaxPage bounds a page of batches, rows or exceptions.
const MaxPage = 500

func pageLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, MaxPage)
}

// BatchFilter selects a page of batches, newest first.
type BatchFilter struct {
	Status payout.BatchStatus // "" for every status
	// From and To bound when the ledger first saw the batch: From ≤ t < To
	// (zero: unbounded).
	From, To time.Time
	// Before is the cursor of the last batch of the previous page (its
	// BatchItem.Cursor); "" for the first page.
	Before string
	Limit  int // default 50, at most MaxPage
}

// BatchItem is one batch of a page: its summary without counts per state
// (the list does not read rows), how many of its rows are final, and its
// cursor.
type BatchItem struct {
	ledgerapi.BatchSummary
	Terminal int    `json:"terminal"`
	Cursor   string `json:"cursor"`
}

// BatchPage returns a page of batches newest first and the cursor of the
// next page ("" at the end). The cursor is "<first seen>~<id>"; a malformed
// one is an invalid request.
func (db *DB) BatchPage(ctx context.Context, f BatchFilter) ([]BatchItem, string, error) {
	limit := pageLimit(f.Limit)
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, `status = ?`), append(args, string(f.Status))
	}
	if !f.From.IsZero() {
		where, args = append(where, `first_seen_at >= ?`), append(args, formatTime(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, `first_seen_at < ?`), append(args, formatTime(f.To))
	}
	if f.Before != "" {
		seen, id, ok := strings.Cut(f.Before, "~")
		if !ok || !payout.ValidBatchID(id) || len(seen) != len(timeLayout) {
			return nil, "", ledgerapi.Errorf(ledgerapi.CodeInvalid, "the page cursor %q is not one this list gave", f.Before)
		}
		where, args = append(where, `(first_seen_at, id) < (?, ?)`), append(args, seen, id)
	}
	q := batchItemSelect
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY first_seen_at DESC, id DESC LIMIT ?`
	out, err := db.batchItems(ctx, q, append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Cursor
	}
	return out, next, nil
}

// batchItemSelect reads BatchItems (batchItems scans them).
const batchItemSelect = `SELECT id, name, file_name, file_sha256, status, reason, coalesce(manifest_rows, rows_recorded), manifest_totals,
	schedule_at, require_approval, approved_by, coalesce(created_at, first_seen_at), released_at, finished_at, uploaded_by,
	coalesce(policy_version, 0), approvals_required, approvals_given, approval_reasons, approval_expires_at, rows_terminal,
	first_seen_at, hold_source, hold_by, hold_reason, hold_at, parent_batch FROM batches`

func (db *DB) batchItems(ctx context.Context, q string, args ...any) ([]BatchItem, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	defer rows.Close()
	var out []BatchItem
	for rows.Next() {
		var b BatchItem
		var totals, schedule, created, released, finished, expires sql.NullString
		var reasons, seen string
		var hold ledgerapi.BatchHold
		var holdAt sql.NullString
		if err := rows.Scan(&b.Batch, &b.Name, &b.FileName, &b.FileSHA256, &b.Status, &b.Reason, &b.Rows, &totals,
			&schedule, &b.RequireApproval, &b.ApprovedBy, &created, &released, &finished, &b.UploadedBy, &b.PolicyVersion,
			&b.ApprovalsRequired, &b.ApprovalsGiven, &reasons, &expires, &b.Terminal, &seen,
			&hold.Source, &hold.By, &hold.Reason, &holdAt, &b.Parent); err != nil {
			return nil, fmt.Errorf("list batches: %w", err)
		}
		if hold.Source != "" {
			if t := scanTime(holdAt); t != nil {
				hold.Since = *t
			}
			b.Hold = &hold
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
		b.Cursor = seen + "~" + b.Batch
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	return out, nil
}

// BatchItem returns one batch as the list shows it (no rows read).
func (db *DB) BatchItem(ctx context.Context, id string) (*BatchItem, error) {
	list, err := db.batchItems(ctx, batchItemSelect+` WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("batch %s: %w", id, errNotFound)
	}
	return &list[0], nil
}

// StateSum is how many rows of a batch are in a state, and their sum, per
// currency.
type StateSum struct {
	State    payout.State `json:"state"`
	Currency string       `json:"currency"`
	Rows     int          `json:"rows"`
	Minor    int64        `json:"minor"`
}

// StateSums counts a batch's rows and sums their amounts per state and
// currency (one pass over the batch's range of the rows table).
func (db *DB) StateSums(ctx context.Context, batch string) ([]StateSum, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT state, currency, count(*), sum(amount_minor) FROM rows
		WHERE batch_id = ? GROUP BY state, currency ORDER BY state, currency`, batch)
	if err != nil {
		return nil, fmt.Errorf("count rows of %s: %w", batch, err)
	}
	defer rows.Close()
	var out []StateSum
	for rows.Next() {
		var s StateSum
		if err := rows.Scan(&s.State, &s.Currency, &s.Rows, &s.Minor); err != nil {
			return nil, fmt.Errorf("count rows of %s: %w", batch, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// RowFilter selects a page of a batch's rows in row order.
type RowFilter struct {
	Batch  string
	States []payout.State // any of these; none: every state
	Method payout.Method  // "" for every method
	Held   bool           // only rows the duplicate guard holds (with States: either)
	After  int            // the last row of the previous page; 0 for the first
	Limit  int            // default 50, at most MaxPage
}

// RowView is what the console shows of a row: never a card number (the
// ledger keeps BIN and last four only; Destination is masked).
type RowView struct {
	Row         int           `json:"row"`
	Line        int           `json:"line"`
	Reference   string        `json:"reference"`
	Method      payout.Method `json:"method"`
	Amount      money.Amount  `json:"amount"`
	Recipient   string        `json:"recipient,omitempty"`
	Destination string        `json:"destination,omitempty"`
	State       payout.State  `json:"state"`
	Attempt     int           `json:"attempt"`
	ErrorCode   string        `json:"error_code,omitempty"`
	Reason      string        `json:"reason,omitempty"`
	ActionURL   string        `json:"action_url,omitempty"` // the 3-D Secure page the sender opens
	TCN         string        `json:"tcn,omitempty"`        // a transfer's control number
	Fee         *money.Amount `json:"fee,omitempty"`
	Paid        *money.Amount `json:"paid,omitempty"`
	MovedAt     time.Time     `json:"moved_at"` // the row's last transition
	// Held: the duplicate guard holds the row for a person's decision;
	// Stop: "hold" (a person put it on hold) or "cancel" (a person
	// cancelled it), "" otherwise.
	Held bool   `json:"held,omitempty"`
	Stop string `json:"stop,omitempty"`
	// CardWait: a widget row waiting for its recipient's card.
	CardWait bool `json:"card_wait,omitempty"`
}

// RowPage returns a page of a batch's rows and the row to continue after
// (0 at the end): a range of the primary key (batch_id, row_no), filtered.
func (db *DB) RowPage(ctx context.Context, f RowFilter) ([]RowView, int, error) {
	limit := pageLimit(f.Limit)
	q := `SELECT row_no, line, reference, method, amount_minor, currency, recipient, destination, state, attempt, error_code,
		reason, action_url, tcn, fee_minor, fee_currency, paid_minor, paid_currency, moved_at, held, stop, card_wait FROM rows
		WHERE batch_id = ? AND row_no > ?`
	args := []any{f.Batch, f.After}
	var or []string
	if len(f.States) > 0 {
		or = append(or, `state IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(f.States)), ", ")+`)`)
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	if f.Held {
		or = append(or, `held = 1`)
	}
	if len(or) > 0 {
		q += ` AND (` + strings.Join(or, ` OR `) + `)`
	}
	if f.Method != "" {
		q += ` AND method = ?`
		args = append(args, string(f.Method))
	}
	q += ` ORDER BY row_no LIMIT ?`
	rows, err := db.r.QueryContext(ctx, q, append(args, limit+1)...)
	if err != nil {
		return nil, 0, fmt.Errorf("read rows of %s: %w", f.Batch, err)
	}
	defer rows.Close()
	var out []RowView
	for rows.Next() {
		var r RowView
		var feeMinor, paidMinor sql.NullInt64
		var feeCur, paidCur, moved string
		if err := rows.Scan(&r.Row, &r.Line, &r.Reference, &r.Method, &r.Amount.Minor, &r.Amount.Currency, &r.Recipient,
			&r.Destination, &r.State, &r.Attempt, &r.ErrorCode, &r.Reason, &r.ActionURL, &r.TCN, &feeMinor, &feeCur,
			&paidMinor, &paidCur, &moved, &r.Held, &r.Stop, &r.CardWait); err != nil {
			return nil, 0, fmt.Errorf("read rows of %s: %w", f.Batch, err)
		}
		if feeMinor.Valid {
			r.Fee = &money.Amount{Minor: feeMinor.Int64, Currency: feeCur}
		}
		if paidMinor.Valid {
			r.Paid = &money.Amount{Minor: paidMinor.Int64, Currency: paidCur}
		}
		r.MovedAt = parseTime(moved)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read rows of %s: %w", f.Batch, err)
	}
	next := 0
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Row
	}
	return out, next, nil
}

// ParseRowCursor reads a row cursor (a row number; "" is 0).
func ParseRowCursor(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, ledgerapi.Errorf(ledgerapi.CodeInvalid, "the page cursor %q is not a row number", s)
	}
	return n, nil
}
