package ledger

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/reconcile"
)

// Exception is an open or closed exception.
type Exception struct {
	ID         int64              `json:"id"`
	Category   reconcile.Category `json:"category"`
	Batch      string             `json:"batch,omitempty"`
	Row        int                `json:"row,omitempty"`
	Detail     string             `json:"detail"`
	OpenedAt   time.Time          `json:"opened_at"`
	ClosedAt   *time.Time         `json:"closed_at,omitempty"`
	Resolution string             `json:"resolution,omitempty"`
}

// openException records an exception once per key; a repeat of an open or
// closed key changes nothing. It reports whether a new one was opened.
func openException(tx *Tx, category reconcile.Category, key, batch string, row int, detail string) (bool, error) {
	var rowArg any
	if row > 0 {
		rowArg = row
	}
	res, err := tx.Exec(`INSERT INTO exceptions (category, key, batch_id, row_no, detail, opened_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
		string(category), string(category)+":"+key, batch, rowArg, detail, formatTime(tx.Now))
	if err != nil {
		return false, fmt.Errorf("open exception %s: %w", category, err)
	}
	n, _ := res.RowsAffected()
	if n > 0 && category == reconcile.PaidAfterCancel && row > 0 {
		// The money went out: what resubmits the row must not pay it again.
		if err := holdResubmitsOfPaid(tx, batch, row); err != nil {
			return true, err
		}
	}
	return n > 0, nil
}

// closeExceptions closes a row's open exceptions of the given categories.
func closeExceptions(tx *Tx, batch string, row int, resolution string, categories ...reconcile.Category) error {
	for _, c := range categories {
		if _, err := tx.Exec(`UPDATE exceptions SET closed_at = ?, resolution = ?
			WHERE batch_id = ? AND row_no = ? AND category = ? AND closed_at IS NULL`,
			formatTime(tx.Now), resolution, batch, row, string(c)); err != nil {
			return fmt.Errorf("close exceptions: %w", err)
		}
	}
	return nil
}

// Exceptions lists exceptions, open ones only unless all is set; batch
// narrows the list when not empty.
func (db *DB) Exceptions(batch string, all bool) ([]Exception, error) {
	q := `SELECT id, category, batch_id, row_no, detail, opened_at, closed_at, resolution FROM exceptions WHERE 1=1`
	var args []any
	if batch != "" {
		q += ` AND batch_id = ?`
		args = append(args, batch)
	}
	if !all {
		q += ` AND closed_at IS NULL`
	}
	rows, err := db.r.Query(q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	defer rows.Close()
	var out []Exception
	for rows.Next() {
		var e Exception
		var row sql.NullInt64
		var opened string
		var closed sql.NullString
		if err := rows.Scan(&e.ID, &e.Category, &e.Batch, &row, &e.Detail, &opened, &closed, &e.Resolution); err != nil {
			return nil, fmt.Errorf("list exceptions: %w", err)
		}
		e.Row = int(row.Int64)
		e.OpenedAt = parseTime(opened)
		e.ClosedAt = scanTime(closed)
		out = append(out, e)
	}
	return out, rows.Err()
}
