// Package ledger is payrun's system of record: a SQLite database that holds
// every batch and row, every state transition with its evidence, the bank's
// webhooks, quotes, gate decisions and exceptions, and the service around it
// that reads the intake stream, releases due batches to the work queue,
// serves transitions and the gate over NATS, and sweeps rows that stopped
// moving.
//
// One process owns the database and is its only writer: every write goes
// through one goroutine and one connection (see writer.go). Readers use a
// separate read-only pool.
package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver

	"github.com/payrun/payrun/internal/bank131"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is the ledger's SQLite database: one writer connection and a pool of
// read-only connections over the same file.
type DB struct {
	path string
	w    *sql.DB   // one connection, the only writer
	wc   *sql.Conn // pinned writer connection
	r    *sql.DB   // read-only pool

	stmts map[string]*sql.Stmt // prepared on wc; used by the writer goroutine only
	// insertArgs is the writer's buffer for the intake's row inserts
	// (insertArgs), the writer goroutine's only; rawStmts and rawArgs are
	// Tx.execRaw's statements (prepared on wc's driver connection) and
	// its buffer.
	insertArgs []any
	rawStmts   map[string]driver.Stmt
	rawArgs    []driver.NamedValue

	// Now is the clock; tests replace it before the service starts.
	Now func() time.Time
	// fence, when set, is asked before every commit (SetWriteFence).
	fence atomic.Pointer[func() error]
	// ReportZone is the bank's time zone, in which a success is due in
	// the report of its day (NewService sets Config.ReportZone; Open sets
	// bank131.ReportZone()).
	ReportZone *time.Location
}

// Open opens (creating if needed) the ledger database at path and applies
// the migrations it has not applied yet.
func Open(path string) (*DB, error) {
	db := &DB{path: path, stmts: map[string]*sql.Stmt{}, Now: time.Now, ReportZone: bank131.ReportZone()}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL") // money state: a commit survives power loss
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "10000")
	q.Set("_txlock", "immediate")
	q.Set("_cache_size", "-65536")
	// One connection, which database/sql hands to one goroutine at a time
	// (wc), as the readers' (openReader): SQLite's own lock of it on every
	// call (each bind, step and reset) was ~1.1k of the writer's ~53k
	// instructions per intake row (callgrind, BenchmarkRecordRows).
	q.Set("_mutex", "no")
	w, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db.w = w
	ctx := context.Background()
	if db.wc, err = w.Conn(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	if _, err := db.wc.ExecContext(ctx, "PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 16384"); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	r, err := openReader(path)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.r = r
	return db, nil
}

// OpenReadOnly opens an existing ledger database for reading only, as
// `ledger status` does while the ledger runs. Its write methods fail.
func OpenReadOnly(path string) (*DB, error) {
	r, err := openReader(path)
	if err != nil {
		return nil, err
	}
	if err := r.Ping(); err != nil {
		r.Close()
		return nil, fmt.Errorf("open ledger %s read-only: %w", path, err)
	}
	if err := checkReadable(context.Background(), path, r); err != nil {
		r.Close()
		return nil, err
	}
	return &DB{path: path, r: r, Now: time.Now}, nil
}

func openReader(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_query_only", "1")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	// database/sql hands a connection to one goroutine at a time, so
	// SQLite's own per-call locking of it is not needed (multi-thread
	// mode): its lock and unlock were 8 % of a report's CPU.
	q.Set("_mutex", "no")
	// Each connection keeps its prepared statements: the rows, batches
	// and counts the processors and pollers ask for are the same few
	// queries, and preparing them again was 8 % of the ledger's CPU in a
	// payoutbench -run procs of 2 000 rows (0.4 ms a payout).
	q.Set("_stmt_cache_size", "64")
	r, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open ledger %s read-only: %w", path, err)
	}
	// As many kept idle as may be open: a report's chunk runs six reads
	// side by side, and with database/sql's default of two idle ones each
	// chunk closed and opened again about one connection (its schema
	// parsed again, its page cache empty).
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	return r, nil
}

// escapePath keeps '?' and '#' in a file name from being read as URI parts.
func escapePath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

// SetWriteFence makes the writer ask fence before every commit: a group
// is rolled back, and its callers get the error, while fence refuses (the
// ledger lease's Fence: no commit after the lease may have expired).
func (db *DB) SetWriteFence(fence func() error) { db.fence.Store(&fence) }

func (db *DB) checkFence() error {
	if f := db.fence.Load(); f != nil && *f != nil {
		return (*f)()
	}
	return nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	for _, s := range db.stmts {
		s.Close()
	}
	if db.wc != nil && len(db.rawStmts) > 0 {
		errs = append(errs, db.wc.Raw(func(any) error {
			for _, s := range db.rawStmts {
				s.Close()
			}
			return nil
		}))
	}
	if db.wc != nil {
		errs = append(errs, db.wc.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	return errors.Join(errs...)
}

// migrate applies every embedded migration not yet recorded in
// schema_migrations, each in its own transaction, in name order.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.wc.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := migrationNames()
	if err != nil {
		return err
	}
	applied, err := appliedMigrations(ctx, db.wc)
	if err != nil {
		return err
	}
	if err := checkKnown(db.path, names, applied); err != nil {
		return err
	}
	for _, name := range names {
		if applied[name] {
			continue
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		tx, err := db.wc.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`,
			name, formatTime(time.Now())); err != nil {
			tx.Rollback()
			return fmt.Errorf("record migration %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit migration %s: %w", name, err)
		}
	}
	return nil
}

// timeLayout is the one format times are stored in: UTC, fixed width, so
// that text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	if t, ok := parseStored(s); ok {
		return t
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		t, _ = time.Parse(time.RFC3339Nano, s)
	}
	return t
}

// parseStored reads a time in timeLayout as time.Parse does, without its
// layout walk: a report reads three times per row, and time.Parse was
// ~2 % of a 100k-row report's CPU. ok is false for anything else (then
// time.Parse decides).
func parseStored(s string) (time.Time, bool) {
	if len(s) != len(timeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
		s[19] != '.' || s[29] != 'Z' {
		return time.Time{}, false
	}
	num := func(a, b int) int {
		v := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d, h, mi, sec, ns := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || ns < 0 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC)
	if t.Day() != d { // past the month's end: time.Parse says so
		return time.Time{}, false
	}
	return t, true
}

// nullTime formats an optional time for a nullable column.
func nullTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return formatTime(*t)
}

// scanTime reads a nullable time column.
func scanTime(ns sql.NullString) *time.Time {
	if !ns.Valid || ns.String == "" {
		return nil
	}
	t := parseTime(ns.String)
	return &t
}
