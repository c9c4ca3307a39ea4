package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// The schema guard. A database records the migrations applied to it
// (schema_migrations); a binary knows the migrations embedded in it. A
// database with a migration the binary does not know was migrated by a
// newer ledger: running this (older) code on it could misread or damage
// what the newer schema means, so every binary refuses it — a rollback
// must go back to a backup or forward to the newer binary, never run old
// code on a new schema.

// UnknownMigrationsError is the refusal of a database that has migrations
// this binary does not know.
type UnknownMigrationsError struct {
	Path    string   // the database
	Unknown []string // the migrations' names, e.g. 0081_leases.sql
}

func (e *UnknownMigrationsError) Error() string {
	return fmt.Sprintf("ledger database %s has migrations this binary does not know (%s): it was migrated by a newer ledger; run that ledger (a rollback must not run old code on a new schema)",
		e.Path, strings.Join(e.Unknown, ", "))
}

// migrationNames lists the embedded migrations in the order they apply,
// as schema_migrations records them ("migrations/0001_init.sql").
func migrationNames() ([]string, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

type contextQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// appliedMigrations reads schema_migrations; a database without the table
// has none.
func appliedMigrations(ctx context.Context, q contextQueryer) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return map[string]bool{}, nil
		}
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
		out[name] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return out, nil
}

// checkKnown refuses a database with an applied migration not in known.
func checkKnown(dbPath string, known []string, applied map[string]bool) error {
	k := make(map[string]bool, len(known))
	for _, n := range known {
		k[n] = true
	}
	var unknown []string
	for n := range applied {
		if !k[n] {
			unknown = append(unknown, path.Base(n))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return &UnknownMigrationsError{Path: dbPath, Unknown: unknown}
}

// MigrationPlan is what `ledger migrate --dry-run` shows: the migrations
// already applied to a database and those this binary would apply.
type MigrationPlan struct {
	Applied []string // names, e.g. 0001_init.sql
	Pending []string
}

// PlanMigrations reads the database at p without changing it (a missing
// file has every migration pending) and returns its plan, or the
// UnknownMigrationsError of a database migrated by a newer binary.
func PlanMigrations(ctx context.Context, p string) (*MigrationPlan, error) {
	names, err := migrationNames()
	if err != nil {
		return nil, err
	}
	applied := map[string]bool{}
	if _, err := os.Stat(p); err == nil {
		r, err := openReader(p)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		if applied, err = appliedMigrations(ctx, r); err != nil {
			return nil, fmt.Errorf("ledger %s: %w", p, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ledger %s: %w", p, err)
	}
	if err := checkKnown(p, names, applied); err != nil {
		return nil, err
	}
	plan := &MigrationPlan{}
	for _, n := range names {
		if applied[n] {
			plan.Applied = append(plan.Applied, path.Base(n))
		} else {
			plan.Pending = append(plan.Pending, path.Base(n))
		}
	}
	return plan, nil
}

// checkReadable is the guard for read-only opens (`ledger status`,
// reports on the host): a reader refuses a newer schema too.
func checkReadable(ctx context.Context, p string, r *sql.DB) error {
	names, err := migrationNames()
	if err != nil {
		return err
	}
	applied, err := appliedMigrations(ctx, r)
	if err != nil {
		return fmt.Errorf("ledger %s: %w", p, err)
	}
	return checkKnown(p, names, applied)
}
