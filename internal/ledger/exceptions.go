package ledger

import (
	"database/sql"
	"fmt"
	"time"
)

// Exception categories.
const (
	ExceptionIntakeInvalid = "intake_invalid"  // an intake message the ledger cannot read
	ExceptionRowConflict   = "row_conflict"    // a row arrived again with different data
	ExceptionLateRow       = "late_row"        // a row arrived after its batch's manifest
	ExceptionManifest      = "manifest"        // a batch was rejected, or a second manifest differs
	ExceptionTwoOperations = "two_operations"  // the bank reports a second operation for one row
	ExceptionInDoubt       = "in_doubt"        // a row stayed in_doubt past the doubt deadline
	ExceptionStalled       = "stalled_at_bank" // a row at the bank had no final word past the doubt deadline
	ExceptionDeadLetter    = "dead_letter"     // a job or hook exhausted its deliveries
	ExceptionUnknownHook   = "unmatched_hook"  // a webhook names a row the ledger does not know
	ExceptionGateMismatch  = "gate_mismatch"   // the gate refused the row's own session
	ExceptionAfterCancel   = "paid_after_cancel"
)

// Exception is an open or closed exception.
type Exception struct {
	ID         int64      `json:"id"`
	Category   string     `json:"category"`
	Batch      string     `json:"batch,omitempty"`
	Row        int        `json:"row,omitempty"`
	Detail     string     `json:"detail"`
	OpenedAt   time.Time  `json:"opened_at"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	Resolution string     `json:"resolution,omitempty"`
}

// openException records an exception once per key; a repeat of an open or
// closed key changes nothing. It reports whether a new one was opened.
func openException(tx *Tx, category, key, batch string, row int, detail string) (bool, error) {
	var rowArg any
	if row > 0 {
		rowArg = row
	}
	res, err := tx.Exec(`INSERT INTO exceptions (category, key, batch_id, row_no, detail, opened_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
		category, category+":"+key, batch, rowArg, detail, formatTime(tx.Now))
	if err != nil {
		return false, fmt.Errorf("open exception %s: %w", category, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// closeExceptions closes a row's open exceptions of the given categories.
func closeExceptions(tx *Tx, batch string, row int, resolution string, categories ...string) error {
	for _, c := range categories {
		if _, err := tx.Exec(`UPDATE exceptions SET closed_at = ?, resolution = ?
			WHERE batch_id = ? AND row_no = ? AND category = ? AND closed_at IS NULL`,
			formatTime(tx.Now), resolution, batch, row, c); err != nil {
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
