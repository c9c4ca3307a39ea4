// The audit log: a hash chain of every human action, appended in the
// writer's transaction that does the action.

package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/payout"
)

// appendAudit appends e to the audit log in tx: the next sequence number,
// the writer's time, the previous entry's hash, its own. Text from people
// is masked first.
func appendAudit(tx *Tx, e auth.Entry) error { return writeAudit(tx, tx.Now, e) }

// auditTx is what writeAudit needs of a transaction: the writer's Tx, or
// a database/sql one on the writer connection (the archive's prune).
type auditTx interface {
	QueryRow(query string, args ...any) *sql.Row
	Exec(query string, args ...any) (sql.Result, error)
}

// sqlTxAudit is a database/sql transaction as an auditTx.
type sqlTxAudit struct {
	ctx context.Context
	tx  *sql.Tx
}

func (t sqlTxAudit) QueryRow(q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(t.ctx, q, args...)
}
func (t sqlTxAudit) Exec(q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, q, args...)
}

// writeAudit appends e, at now, to the audit log's chain in tx.
func writeAudit(tx auditTx, now time.Time, e auth.Entry) error {
	var seq int64
	prev := auth.GenesisHash
	err := tx.QueryRow(`SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: %w", err)
	}
	e.Seq, e.At, e.Prev = seq+1, now, prev
	e.User, e.Remote = cardmask.Redact(e.User), cardmask.Redact(e.Remote)
	e.Target, e.Detail = redactTarget(e.Target, e.Batch), cardmask.Redact(e.Detail)
	if !payout.ValidBatchID(e.Batch) {
		e.Batch = cardmask.Redact(e.Batch) // not an id of ours ("" or a slip): text
	}
	if e.Via == "" {
		e.Via = auth.ViaLedger
	}
	e.Hash = auth.ChainHash(e)
	if _, err := tx.Exec(`INSERT INTO audit (seq, at, user_id, user_name, via, remote, action, batch_id, target, outcome, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, formatTime(e.At), e.UserID, e.User, string(e.Via), e.Remote,
		string(e.Action), e.Batch, e.Target, string(e.Outcome), e.Detail, e.Prev, e.Hash); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// redactTarget masks an audit entry's target, unless it is the entry's
// batch id or "<batch id>/<row>": our own identifiers in an id field,
// which the masker must not destroy (about 0.08 % of batch ids hold a
// Luhn-valid run of 13+ digits, and "<id>/<row>" one more in ten of
// those ending in digits). The Batch column itself is never masked (it
// holds only ids: payout.ValidBatchID); any other target (a file name,
// a replica URL, a typed value) is text and is masked.
func redactTarget(target, batch string) string {
	if payout.ValidBatchID(batch) {
		if target == batch {
			return target
		}
		if row, ok := strings.CutPrefix(target, batch+"/"); ok && row != "" && len(row) <= 10 &&
			strings.Trim(row, "0123456789") == "" && row[0] != '0' {
			return target
		}
	}
	return cardmask.Redact(target)
}

// Audit appends an entry to the audit log (auth.Directory): sign-ins,
// uploads and refusals that change nothing else.
func (s *Service) Audit(ctx context.Context, e auth.Entry) error {
	return s.w.Do(ctx, func(tx *Tx) error { return appendAudit(tx, e) })
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	Batch string    // only entries about this batch
	Since time.Time // at or after
	After int64     // sequence numbers above this
	Limit int       // at most this many (0: all)
}

// AuditEntries reads the audit log in order.
func (db *DB) AuditEntries(ctx context.Context, f AuditFilter) ([]auth.Entry, error) {
	q := `SELECT seq, at, user_id, user_name, via, remote, action, batch_id, target, outcome, detail, prev_hash, hash FROM audit WHERE seq > ?`
	args := []any{f.After}
	if f.Batch != "" {
		q += ` AND batch_id = ?`
		args = append(args, f.Batch)
	}
	if !f.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, formatTime(f.Since))
	}
	q += ` ORDER BY seq`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	out := []auth.Entry{}
	for rows.Next() {
		var e auth.Entry
		var at, via, action, outcome string
		if err := rows.Scan(&e.Seq, &at, &e.UserID, &e.User, &via, &e.Remote, &action, &e.Batch, &e.Target, &outcome, &e.Detail,
			&e.Prev, &e.Hash); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.At, e.Via, e.Action, e.Outcome = parseTime(at), auth.Via(via), auth.Action(action), auth.Outcome(outcome)
		out = append(out, e)
	}
	return out, rows.Err()
}

// VerifyAudit checks the whole audit log's hash chain; it returns the
// number of entries and the last hash (record it elsewhere: a log
// rewritten from the start would verify, but not end in it).
func (db *DB) VerifyAudit(ctx context.Context) (int, string, error) {
	prev, n := auth.GenesisHash, 0
	for after := int64(0); ; {
		page, err := db.AuditEntries(ctx, AuditFilter{After: after, Limit: 10000})
		if err != nil {
			return n, prev, err
		}
		if len(page) == 0 {
			return n, prev, nil
		}
		if page[0].Seq != after+1 {
			return n, prev, fmt.Errorf("audit entry %d follows %d: entries are missing", page[0].Seq, after)
		}
		if err := auth.Verify(prev, page); err != nil {
			return n, prev, err
		}
		n += len(page)
		prev, after = page[len(page)-1].Hash, page[len(page)-1].Seq
	}
}
