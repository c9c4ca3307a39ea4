package ledger

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Footprint is how much of the database file the ledger's records use:
// the pages in use (the file less its free pages, after a checkpoint) and,
// per table, the bytes of its values (indexes and page overhead not
// counted: a guide to what weighs, not the file's size).
type Footprint struct {
	Bytes  int64            // pages in use × page size
	Tables map[string]int64 // table → sum of its values' lengths ("transitions": moves, the log's table)
}

// Footprint checkpoints the WAL into the file and measures it.
func (db *DB) Footprint(ctx context.Context) (Footprint, error) {
	fp := Footprint{Tables: map[string]int64{}}
	if db.wc != nil {
		// The writer's connection may be inside a transaction of a running
		// service (a release tick, a late webhook): SQLite refuses the
		// checkpoint there ("database table is locked"); it is tried again
		// after that transaction, for up to a few seconds.
		for try := 0; ; try++ {
			_, err := db.wc.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
			if err == nil {
				break
			}
			var se sqlite3.Error
			if try == 200 || !errors.As(err, &se) || (se.Code != sqlite3.ErrLocked && se.Code != sqlite3.ErrBusy) {
				return fp, fmt.Errorf("footprint: checkpoint: %w", err)
			}
			select {
			case <-ctx.Done():
				return fp, fmt.Errorf("footprint: checkpoint: %w", ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	var pages, free, size int64
	for _, p := range []struct {
		q string
		v *int64
	}{{"PRAGMA page_count", &pages}, {"PRAGMA freelist_count", &free}, {"PRAGMA page_size", &size}} {
		if err := db.r.QueryRowContext(ctx, p.q).Scan(p.v); err != nil {
			return fp, fmt.Errorf("footprint: %s: %w", p.q, err)
		}
	}
	fp.Bytes = (pages - free) * size
	rows, err := db.r.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		return fp, fmt.Errorf("footprint: tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return fp, fmt.Errorf("footprint: tables: %w", err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	sort.Strings(tables)
	for _, t := range tables {
		cols, err := db.r.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, t)
		if err != nil {
			return fp, fmt.Errorf("footprint: columns of %s: %w", t, err)
		}
		var sum []string
		for cols.Next() {
			var c string
			if err := cols.Scan(&c); err != nil {
				cols.Close()
				return fp, fmt.Errorf("footprint: columns of %s: %w", t, err)
			}
			sum = append(sum, `coalesce(length("`+c+`"), 0)`)
		}
		cols.Close()
		if len(sum) == 0 {
			continue
		}
		var n int64
		if err := db.r.QueryRowContext(ctx, `SELECT coalesce(sum(`+strings.Join(sum, "+")+`), 0) FROM "`+t+`"`).Scan(&n); err != nil {
			return fp, fmt.Errorf("footprint: %s: %w", t, err)
		}
		switch t {
		case "moves":
			t = "transitions" // the log's table behind its view (migration 0140)
		case "sess":
			t = "sessions" // behind its view (0160)
		case "gates":
			t = "gate_checks" // behind its view (0161)
		}
		fp.Tables[t] = n
	}
	return fp, nil
}
