package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger"
)

// restoreCommand brings a ledger back from its Litestream replica into a
// new database file: `litestream restore` writes the file, then the ledger
// checks it (integrity, the schema guard, its migrations) and marks it
// restored, so the first `ledger run` on it replays what NATS holds of the
// moments the replica lacked before it serves anything.
type restoreCommand struct {
	stdout, stderr io.Writer // default os.Stdout, os.Stderr
}

func (c *restoreCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger restore --replica URL --db FILE [--litestream PATH] [--litestream-config FILE]")
}

func (c *restoreCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger restore", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	replica := fs.String("replica", "", "the Litestream replica `URL` (file:///var/backups/payrun/ledger, s3://bucket/ledger)")
	dbPath := fs.String("db", "", "the new database `file`; must not exist")
	bin := fs.String("litestream", "litestream", "the litestream `binary`")
	config := fs.String("litestream-config", "", "a litestream config `file` (S3 credentials and options); optional")
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	if *replica == "" || *dbPath == "" {
		return cli.Usagef("--replica and --db are required")
	}
	stdout, stderr := c.stdout, c.stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	for _, p := range []string{*dbPath, *dbPath + "-wal", *dbPath + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("restore: %s exists; restore into a new file (never over a ledger)", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(*dbPath), 0o700); err != nil {
		return fmt.Errorf("restore: ledger database folder: %w", err)
	}
	lock, err := ledger.LockFile(*dbPath)
	if err != nil {
		return err
	}
	defer lock.Close()

	largs := []string{"restore"}
	if *config != "" {
		largs = append(largs, "-config", *config)
	}
	largs = append(largs, "-o", *dbPath, *replica)
	cmd := exec.CommandContext(ctx, *bin, largs...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = io.MultiWriter(stderr, &out), io.MultiWriter(stderr, &out)
	if err := cmd.Run(); err != nil {
		last := strings.TrimSpace(out.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		return fmt.Errorf("restore: litestream restore %s: %w: %s", *replica, err, last)
	}
	if _, err := os.Stat(*dbPath); err != nil {
		return fmt.Errorf("restore: litestream wrote no database: %w", err)
	}
	db, err := ledger.Open(*dbPath)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer db.Close()
	if err := db.QuickCheck(ctx); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	last, err := db.RecordRestoreBy(ctx, *replica, auth.HostActor(os.Getenv("USER")))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s from %s: its last write was at %s; the next `ledger run` on it replays the webhooks since then before it serves\n",
		*dbPath, *replica, last.Format(time.RFC3339Nano))
	return db.Close()
}
