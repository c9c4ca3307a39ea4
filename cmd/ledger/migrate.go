package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger"
)

// migrateCommand applies the ledger's migrations without running it, or
// with --dry-run lists what it would apply. Like every command that opens
// the database it refuses one with migrations this binary does not know.
type migrateCommand struct {
	stdout io.Writer // default os.Stdout
}

func (c *migrateCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger migrate --db FILE [--dry-run]")
}

func (c *migrateCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger migrate", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	dbPath := fs.String("db", "ledger.db", "SQLite database `file`")
	dry := fs.Bool("dry-run", false, "list the migrations that would be applied and change nothing")
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	stdout := c.stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	plan, err := ledger.PlanMigrations(ctx, *dbPath)
	if err != nil {
		return err
	}
	if *dry {
		fmt.Fprintf(stdout, "%s: %d applied, %d to apply\n", *dbPath, len(plan.Applied), len(plan.Pending))
		for _, n := range plan.Pending {
			fmt.Fprintln(stdout, "would apply", n)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(*dbPath), 0o700); err != nil {
		return fmt.Errorf("ledger database folder: %w", err)
	}
	lock, err := ledger.LockFile(*dbPath)
	if err != nil {
		return err
	}
	defer lock.Close()
	db, err := ledger.Open(*dbPath)
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close ledger %s: %w", *dbPath, err)
	}
	for _, n := range plan.Pending {
		fmt.Fprintln(stdout, "applied", n)
	}
	fmt.Fprintf(stdout, "%s: %d migrations applied, schema up to date\n", *dbPath, len(plan.Applied)+len(plan.Pending))
	return nil
}
