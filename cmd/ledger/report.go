package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/report"
)

// reportCommand writes a batch's reconciliation report from the SQLite
// file, read-only (it works while the ledger runs).
type reportCommand struct {
	stdout io.Writer
}

func (c *reportCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger report --batch ID [--format csv|json|xlsx] [--out FILE] [--db FILE]")
}

func (c *reportCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger report", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	dbPath := fs.String("db", "ledger.db", "SQLite database `file`, read-only")
	batch := fs.String("batch", "", "batch `id`")
	format := fs.String("format", "", "csv, json or xlsx (default: from --out's extension, else csv)")
	out := fs.String("out", "", "write to this `file` (default: standard output)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *batch == "" || fs.NArg() > 0 {
		fs.Usage()
		return cli.Usagef("--batch is required (and nothing else)")
	}
	if *format == "" {
		*format = report.FormatCSV
		if ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(*out)), "."); slices.Contains(report.Formats, ext) {
			*format = ext
		}
	}
	if !slices.Contains(report.Formats, *format) {
		return cli.Usagef("--format %q: want csv, json or xlsx", *format)
	}
	stdout := c.stdout
	if stdout == nil {
		stdout = os.Stdout
		if *out == "" && *format == report.FormatXLSX && term.IsTerminal(int(os.Stdout.Fd())) {
			return errors.New("an XLSX report is binary: give --out FILE or redirect the output")
		}
	}
	if _, err := os.Stat(*dbPath); err != nil {
		return fmt.Errorf("ledger database: %w", err)
	}
	db, err := ledger.OpenReadOnly(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := db.Report(ctx, *batch)
	if err != nil {
		return err
	}
	if *out == "" {
		return rep.Write(stdout, *format)
	}
	return writeFileAtomic(*out, func(w io.Writer) error { return rep.Write(w, *format) })
}

// writeFileAtomic writes a file through a temporary one in the same
// directory, so a reader never sees half a report.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
