package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/payout"
)

// Archiving a batch (issue 17: the record of old batches grows without
// end): its rows and everything recorded about them are copied into an
// archive file, an SQLite ledger file of the same schema that the report
// reads as it read this one, and pruned from this file. The batch itself
// (its row in batches, its counts) and the records of people (decisions,
// approvals, audit) stay, as do the bank's report lines; the report and
// the batch detail of an archived batch are read from its archive.

// archiveCopied are the tables whose rows of the batch go to the archive
// (besides batches, and batch_counts, which the archive counts anew);
// archivePruned are those of them whose rows of the batch are deleted here.
var (
	archiveCopied = []string{"rows", "row_conflicts", "batch_keys", "sess", "quotes", "moves", "gates", "exceptions",
		"holds", "bank_report_lines", "decisions"}
	// Exceptions stay here: what people did about them (assignee,
	// resolution, exception_comments, which refer to them) is a record of
	// people, as decisions and approvals are; a batch has few.
	// moves and gates go before the webhooks (which refer to the batch's
	// sessions: batchEvents), so that hook_events_refs (migration 0171)
	// has no move or gate check left to give a deleted webhook's id back to.
	archivePruned = []string{"moves", "gates", "row_conflicts", "sess", "quotes", "holds", "rows"}
)

// archiveWhere selects a table's rows of batch ?1: moves, the transitions
// log (migration 0140), sess, the sessions (0160), and gates, the gate's
// decisions (0161), name their batch by key.
func archiveWhere(table string) string {
	if table == "moves" || table == "sess" || table == "gates" {
		return `bk IN (SELECT k FROM main.batch_keys WHERE batch_id = ?1)`
	}
	return `batch_id = ?1`
}

// ArchiveOptions says where and what may be archived.
type ArchiveOptions struct {
	Out string // the archive file to write; it must not exist
	// MinAge: only a batch finished at least this long ago (the duplicate
	// guard compares new rows with the paid rows of its window, which an
	// archived batch no longer has here).
	MinAge time.Duration
	// By is who archives (ledger archive: the host's user), named in the
	// audit entry the prune writes.
	By auth.Actor
}

// ArchiveResult is what Archive did.
type ArchiveResult struct {
	Batch  string
	Path   string // absolute
	SHA256 string
	Rows   int
	Events int // webhooks moved with the batch
}

// Archive exports a finished batch to opt.Out and prunes its rows here.
// It refuses a batch that is not finished, is younger than opt.MinAge, has
// open exceptions, or is archived already. The copy is committed and
// counted before anything is pruned; the prune and the archive's record
// are one transaction.
func (db *DB) Archive(ctx context.Context, batch string, opt ArchiveOptions) (*ArchiveResult, error) {
	if db.wc == nil {
		return nil, errors.New("archive: the ledger is open read-only")
	}
	out, err := filepath.Abs(opt.Out)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", batch, err)
	}
	if err := db.archivable(ctx, batch, opt.MinAge); err != nil {
		return nil, err
	}
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("archive %s: %s exists; give a new file", batch, out)
	}
	// The archive's schema: the same migrations; one file, no WAL beside it.
	adb, err := Open(out)
	if err != nil {
		return nil, fmt.Errorf("archive %s: create %s: %w", batch, out, err)
	}
	_, err = adb.wc.ExecContext(ctx, `PRAGMA journal_mode = DELETE`)
	if cerr := adb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return nil, fmt.Errorf("archive %s: create %s: %w", batch, out, err)
	}
	res, err := db.copyToArchive(ctx, batch, out)
	if err != nil {
		os.Remove(out)
		return nil, err
	}
	if res.SHA256, err = fileSHA256(out); err != nil {
		return nil, fmt.Errorf("archive %s: %w", batch, err)
	}
	if err := db.prune(ctx, batch, res, opt.By); err != nil {
		return nil, err
	}
	return res, nil
}

// archivable checks that batch may be archived.
func (db *DB) archivable(ctx context.Context, batch string, minAge time.Duration) error {
	var status string
	var finished sql.NullString
	err := db.r.QueryRowContext(ctx, `SELECT status, finished_at FROM batches WHERE id = ?`, batch).Scan(&status, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("archive: batch %s: %w", batch, errNotFound)
	}
	if err != nil {
		return fmt.Errorf("archive %s: %w", batch, err)
	}
	if path, ok, err := db.archivedAt(ctx, batch); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("archive: batch %s is archived already, in %s", batch, path)
	}
	switch {
	case !finished.Valid:
		return fmt.Errorf("archive: batch %s is %s, not finished: only a batch whose every row is final is archived", batch, status)
	case parseTime(finished.String).After(db.Now().Add(-minAge)):
		return fmt.Errorf("archive: batch %s finished at %s, less than %s ago (the duplicate guard still compares new rows with it); archive it after %s",
			batch, finished.String, minAge, parseTime(finished.String).Add(minAge).UTC().Format(time.RFC3339))
	}
	var open int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM exceptions WHERE batch_id = ? AND closed_at IS NULL`, batch).Scan(&open); err != nil {
		return fmt.Errorf("archive %s: %w", batch, err)
	}
	if open > 0 {
		return fmt.Errorf("archive: batch %s has %d open exceptions; settle them first", batch, open)
	}
	var live int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM rows WHERE batch_id = ? AND state NOT IN (?, ?, ?, ?)`, batch,
		string(payout.StateSucceeded), string(payout.StateFailed), string(payout.StateCancelled), string(payout.StateReturned)).Scan(&live); err != nil {
		return fmt.Errorf("archive %s: %w", batch, err)
	}
	if live > 0 {
		return fmt.Errorf("archive: batch %s has %d rows not final", batch, live)
	}
	return nil
}

// columns lists a table's columns in the main schema.
func columns(ctx context.Context, c interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, table string) (string, error) {
	rows, err := c.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return "", err
		}
		cols = append(cols, `"`+c+`"`)
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("table %s has no columns", table)
	}
	return strings.Join(cols, ", "), rows.Err()
}

// batchEvents selects the webhooks of a batch: those that name it, and
// those of its sessions (the batch by its key and the session ids as
// hook_events keeps them, migration 0163).
var batchEvents = `(bk = (SELECT k FROM main.batch_keys WHERE batch_id = ?1)
	OR sid IN (SELECT ` + idCode("session_id", "ps_") + ` FROM main.sessions WHERE batch_id = ?1))`

// copyToArchive copies the batch into the attached archive file and checks
// that every table holds as many of its rows there as here.
func (db *DB) copyToArchive(ctx context.Context, batch, out string) (*ArchiveResult, error) {
	fail := func(err error) (*ArchiveResult, error) { return nil, fmt.Errorf("archive %s: copy: %w", batch, err) }
	if _, err := db.wc.ExecContext(ctx, `ATTACH DATABASE ? AS arch`, out); err != nil {
		return fail(err)
	}
	defer db.wc.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE arch`)
	tx, err := db.wc.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	type part struct{ table, where string }
	parts := []part{{"batches", `id = ?1`}}
	// The words the batch's moves and gate checks refer to by key, with the same keys, and
	// no others (the archive holds nothing of other batches; the archive is
	// new: it has only the fixed ones, the same as here). A person's text
	// is never a word: it is in its move's note (migration 0140).
	used := `SELECT k FROM (SELECT worker AS k FROM main.moves WHERE ` + archiveWhere("moves") + `
		UNION SELECT error_code FROM main.moves WHERE ` + archiveWhere("moves") + `
		UNION SELECT hook_type FROM main.moves WHERE ` + archiveWhere("moves") + `
		UNION SELECT detail FROM main.moves WHERE ` + archiveWhere("moves") + `
		UNION SELECT hook_type FROM main.gates WHERE ` + archiveWhere("gates") + `
		UNION SELECT worker FROM main.gates WHERE ` + archiveWhere("gates") + `)`
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO arch.move_names (k, name)
		SELECT k, name FROM main.move_names WHERE k IN (`+used+`)`, batch); err != nil {
		return fail(fmt.Errorf("move_names: %w", err))
	}
	var differ int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM main.move_names m LEFT JOIN arch.move_names a ON a.k = m.k
		WHERE m.k IN (`+used+`) AND a.name IS NOT m.name`, batch).Scan(&differ); err != nil {
		return fail(fmt.Errorf("move_names: %w", err))
	}
	if differ > 0 {
		return fail(fmt.Errorf("move_names: %d keys differ in the archive", differ))
	}
	for _, t := range archiveCopied {
		parts = append(parts, part{t, archiveWhere(t)})
	}
	parts = append(parts, part{"hook_events", batchEvents}, // bank_events' table (migration 0141)
		// What the reconciliation reads of the bank's reports beside the lines.
		part{"bank_reports", `1`}, part{"bank_report_days", `1`}, part{"bank_days", `1`})
	res := &ArchiveResult{Batch: batch, Path: out}
	for _, p := range parts {
		cols, err := columns(ctx, tx, p.table)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", p.table, err))
		}
		r, err := tx.ExecContext(ctx, `INSERT INTO arch.`+p.table+` (`+cols+`) SELECT `+cols+` FROM main.`+p.table+` WHERE `+p.where, batch)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", p.table, err))
		}
		n, _ := r.RowsAffected()
		var here int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM main.`+p.table+` WHERE `+p.where, batch).Scan(&here); err != nil {
			return fail(fmt.Errorf("%s: %w", p.table, err))
		}
		if n != here {
			return fail(fmt.Errorf("%s: %d rows copied of %d", p.table, n, here))
		}
		switch p.table {
		case "rows":
			res.Rows = int(n)
		case "hook_events":
			res.Events = int(n)
		}
	}
	// The keys of the batches its webhooks name (its own, copied with
	// batch_keys; 0, '', in every file; another batch's, should one of its
	// sessions' webhooks name that), with the same keys: the archive's
	// bank_events reads every webhook it got.
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO arch.batch_keys (k, batch_id)
		SELECT k, batch_id FROM main.batch_keys WHERE k IN (SELECT bk FROM arch.hook_events)`); err != nil {
		return fail(fmt.Errorf("batch_keys of the webhooks: %w", err))
	}
	var events, read int
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM arch.hook_events), (SELECT count(*) FROM arch.bank_events)`).
		Scan(&events, &read); err != nil {
		return fail(fmt.Errorf("bank_events: %w", err))
	}
	if events != read {
		return fail(fmt.Errorf("bank_events: the archive reads %d of its %d webhooks", read, events))
	}
	// The archive counts the rows it got (its insert trigger counted them
	// unless the batch came with counts_by_insert, migration 0120): the
	// same counts as here.
	if _, err := tx.ExecContext(ctx, `INSERT INTO arch.batch_counts (batch_id, state, currency, rows, amount_minor, held, on_hold)
		SELECT batch_id, state, currency, count(*), sum(amount_minor), sum(held), sum(stop = 'hold') FROM arch.rows
		WHERE batch_id = ?1 AND (SELECT b.counts_by_insert FROM arch.batches b WHERE b.id = ?1) GROUP BY state, currency
		ON CONFLICT (batch_id, state, currency) DO UPDATE SET rows = rows + excluded.rows,
			amount_minor = amount_minor + excluded.amount_minor, held = held + excluded.held, on_hold = on_hold + excluded.on_hold`,
		batch); err != nil {
		return fail(fmt.Errorf("batch_counts: %w", err))
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT state, currency, rows, amount_minor, held, on_hold
		FROM main.batch_counts WHERE batch_id = ?1 AND rows <> 0 EXCEPT SELECT state, currency, rows, amount_minor, held, on_hold
		FROM arch.batch_counts WHERE batch_id = ?1 AND rows <> 0)`, batch).Scan(&differ); err != nil {
		return fail(err)
	}
	if differ > 0 {
		return fail(errors.New("the archive's counts differ from the ledger's"))
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return res, nil
}

// prune deletes the archived batch's rows here and records the archive,
// in one transaction; the batch's counts stay as they were.
func (db *DB) prune(ctx context.Context, batch string, res *ArchiveResult, by auth.Actor) error {
	fail := func(err error) error { return fmt.Errorf("archive %s: prune: %w", batch, err) }
	tx, err := db.wc.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE kept_counts AS SELECT * FROM batch_counts WHERE batch_id = ?`, batch); err != nil {
		return fail(err)
	}
	for _, t := range archivePruned {
		if _, err := tx.ExecContext(ctx, `DELETE FROM main.`+t+` WHERE `+archiveWhere(t), batch); err != nil {
			return fail(fmt.Errorf("%s: %w", t, err))
		}
		if t == "gates" { // after moves and gates, before sess
			if _, err := tx.ExecContext(ctx, `DELETE FROM hook_events WHERE `+batchEvents, batch); err != nil {
				return fail(fmt.Errorf("hook_events: %w", err))
			}
		}
	}
	for _, q := range []string{`DELETE FROM batch_counts WHERE batch_id = ?`,
		`INSERT INTO batch_counts SELECT * FROM temp.kept_counts WHERE batch_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, batch); err != nil {
			return fail(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE temp.kept_counts`); err != nil {
		return fail(err)
	}
	now := db.Now()
	if _, err := tx.ExecContext(ctx, `INSERT INTO archives (batch_id, path, sha256, rows, archived_at) VALUES (?, ?, ?, ?, ?)`,
		batch, res.Path, res.SHA256, res.Rows, formatTime(now)); err != nil {
		return fail(err)
	}
	// A person's action on the record: in the audit log, in the prune's
	// transaction.
	if by.Name == "" {
		by = auth.HostActor("")
	}
	e := auth.NewEntry(by, auth.ActArchive, auth.OutcomeOK)
	e.Batch, e.Target = batch, res.Path
	e.Detail = fmt.Sprintf("%d rows, %d webhooks to %s (sha256 %s)", res.Rows, res.Events, res.Path, res.SHA256)
	if err := writeAudit(sqlTxAudit{ctx, tx}, now, e); err != nil {
		return fail(err)
	}
	return tx.Commit()
}

// archivedAt returns the archive file of an archived batch.
func (db *DB) archivedAt(ctx context.Context, batch string) (string, bool, error) {
	var path string
	err := db.r.QueryRowContext(ctx, `SELECT path FROM archives WHERE batch_id = ?`, batch).Scan(&path)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil && strings.Contains(err.Error(), "no such table: archives"):
		return "", false, nil // a file older than archives: nothing archived
	case err != nil:
		return "", false, fmt.Errorf("batch %s: read its archive: %w", batch, err)
	}
	return path, true, nil
}

// archive opens the archive of an archived batch read-only, or returns
// nil when the batch is not archived.
func (db *DB) archive(ctx context.Context, batch string) (*DB, error) {
	path, ok, err := db.archivedAt(ctx, batch)
	if err != nil || !ok {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("batch %s is archived in %s: %w", batch, path, err)
	}
	adb, err := OpenReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("batch %s is archived in %s: %w", batch, path, err)
	}
	adb.Now, adb.ReportZone = db.Now, db.ReportZone
	return adb, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FinishedBefore lists the batches, not archived, that finished before t,
// oldest first (ledger archive --older-than).
func (db *DB) FinishedBefore(ctx context.Context, t time.Time) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM batches WHERE finished_at IS NOT NULL AND finished_at < ?
		AND id NOT IN (SELECT batch_id FROM archives) ORDER BY finished_at, id`, formatTime(t))
	if err != nil {
		return nil, fmt.Errorf("list finished batches: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list finished batches: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
