package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger"
)

// archiveCommand exports finished batches to archive files and prunes
// their rows from the ledger file (ledger.DB.Archive); their reports are
// then read from the archives.
type archiveCommand struct {
	stdout io.Writer
}

func (c *archiveCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger archive --batch ID --out FILE [--db FILE] [--min-age DURATION]")
	fmt.Fprintln(os.Stderr, "       ledger archive --older-than DURATION --out-dir DIR [--db FILE] [--min-age DURATION]")
}

// defaultMinAge is the duplicate guard's repeat retention (ledger run's
// --repeat-retention, 400 days): a batch's references are compared with new
// rows that long, and an archived batch's rows are no longer in the guard,
// so archiving one sooner would let a re-export of it be paid again.
var defaultMinAge = ledger.DefaultConfig().RepeatRetention

func (c *archiveCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger archive", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	dbPath := fs.String("db", "ledger.db", "the ledger's SQLite `file`")
	batch := fs.String("batch", "", "the batch `id` to archive")
	out := fs.String("out", "", "the archive `file` to write (must not exist)")
	olderThan := fs.Duration("older-than", 0, "archive every batch finished longer than this `duration` ago, each to --out-dir/<batch>.ledger.db")
	outDir := fs.String("out-dir", "", "with --older-than: the `folder` of the archive files")
	minAge := fs.Duration("min-age", defaultMinAge, "refuse a batch finished less than this `duration` ago (keep it at least the ledger's --repeat-retention: an archived batch is not in the duplicate guard)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	byBatch, byAge := *batch != "" || *out != "", *olderThan > 0 || *outDir != ""
	switch {
	case fs.NArg() > 0 || byBatch == byAge:
		fs.Usage()
		return cli.Usagef("give --batch and --out, or --older-than and --out-dir")
	case byBatch && (*batch == "" || *out == ""):
		return cli.Usagef("--batch and --out go together")
	case byAge && (*olderThan <= 0 || *outDir == ""):
		return cli.Usagef("--older-than and --out-dir go together")
	}
	stdout := c.stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	if _, err := os.Stat(*dbPath); err != nil {
		return fmt.Errorf("ledger database: %w", err)
	}
	db, err := ledger.Open(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	todo := map[string]string{*batch: *out}
	order := []string{*batch}
	if byAge {
		ids, err := db.FinishedBefore(ctx, db.Now().Add(-max(*olderThan, *minAge)))
		if err != nil {
			return err
		}
		todo, order = map[string]string{}, ids
		for _, id := range ids {
			todo[id] = filepath.Join(*outDir, id+".ledger.db")
		}
		if len(ids) == 0 {
			fmt.Fprintln(stdout, "no batch to archive")
			return nil
		}
	}
	for _, id := range order {
		res, err := db.Archive(ctx, id, ledger.ArchiveOptions{Out: todo[id], MinAge: *minAge, By: auth.HostActor(os.Getenv("USER"))})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "archived %s: %d rows, %d webhooks to %s (sha256 %s)\n", res.Batch, res.Rows, res.Events, res.Path, res.SHA256)
	}
	return nil
}
