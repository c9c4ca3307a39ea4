package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/report"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// reportCommand writes a batch's reconciliation report from the SQLite
// file, read-only (it works while the ledger runs).
type reportCommand struct {
	stdout io.Writer
	getenv func(string) string // the locale's variables; nil: os.Getenv
}

func (c *reportCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger report --batch ID [--format csv|summary.csv|json|xlsx] [--lang en|ru] [--csv-dialect excel-ru|rfc4180] [--zone Z] [--out FILE] [--db FILE]")
}

func (c *reportCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger report", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	dbPath := fs.String("db", "ledger.db", "SQLite database `file`, read-only")
	batch := fs.String("batch", "", "batch `id`")
	format := fs.String("format", "", "csv (the rows), summary.csv, json or xlsx (default: from --out's extension, else csv)")
	out := fs.String("out", "", "write to this `file` (default: standard output); a CSV's summary goes next to it, NAME-summary.csv")
	lang := fs.String("lang", "", "`language` of the headers, reasons and what to do next: en or ru (default: ru when the locale is Russian, LC_ALL, LC_MESSAGES or LANG, else en)")
	dialect := fs.String("csv-dialect", "", "CSV `dialect`: excel-ru (; BOM, decimal comma, day-first times) or rfc4180 (default: excel-ru for --lang ru, else rfc4180)")
	zone := bank131.ReportZone()
	fs.Var(zoneFlag{&zone}, "zone", "time `zone` of the XLSX dates and the excel-ru CSV times (IANA name or +03:00; default Europe/Moscow)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *batch == "" || fs.NArg() > 0 {
		fs.Usage()
		return cli.Usagef("--batch is required (and nothing else)")
	}
	if *format == "" {
		*format = report.FormatCSV
		name := strings.ToLower(filepath.Base(*out))
		if ext := strings.TrimPrefix(filepath.Ext(name), "."); slices.Contains(report.Formats, ext) {
			*format = ext
		}
		if strings.HasSuffix(name, "-summary.csv") || strings.HasSuffix(name, ".summary.csv") {
			*format = report.FormatSummaryCSV
		}
	}
	if !slices.Contains(report.Formats, *format) {
		return cli.Usagef("--format %q: want %s", *format, strings.Join(report.Formats, ", "))
	}
	if *lang == "" {
		getenv := c.getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		*lang = localeLang(getenv)
	}
	switch *lang {
	case reason.English, reason.Russian:
	default:
		return cli.Usagef("--lang %q: want en or ru", *lang)
	}
	layout := report.Layout{Zone: zone}
	if *dialect != "" {
		d, err := spreadsheet.ParseDialect(*dialect)
		if err != nil {
			return cli.Usagef("--csv-dialect: %v", err)
		}
		layout.Dialect = d
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
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(ledger.ReportGCPercent) // this process streams one report (ReportGCPercent)
	}
	db, err := ledger.OpenReadOnly(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	// Streamed from the ledger as the file is written (DB.ReportSource).
	src, done, err := db.ReportSource(ctx, *batch, *lang)
	if err != nil {
		return err
	}
	defer done()
	// The summary of the rows written (the same state), kept for the
	// summary's file.
	var head *report.Report
	rows := src.Rows
	src.Rows = func(start func([]string) error, fn func(*report.Row) error) (*report.Report, error) {
		rep, err := rows(start, fn)
		head = rep
		return rep, err
	}
	if *out == "" {
		return src.WriteLayout(stdout, *format, layout)
	}
	if err := writeFileAtomic(*out, func(w io.Writer) error { return src.WriteLayout(w, *format, layout) }); err != nil {
		return err
	}
	if *format != report.FormatCSV {
		return nil
	}
	// The rows' file is one table; its summary is a file of its own.
	summary := summaryPath(*out)
	return writeFileAtomic(summary, func(w io.Writer) error { return head.WriteLayout(w, report.FormatSummaryCSV, layout) })
}

// localeLang is the report's language the locale asks for: Russian when
// the first of LC_ALL, LC_MESSAGES and LANG that is set (POSIX's order)
// names Russian (ru, ru_RU.UTF-8), else English.
func localeLang(getenv func(string) string) string {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := getenv(name); v != "" {
			if v == "ru" || strings.HasPrefix(v, "ru_") || strings.HasPrefix(v, "ru.") || strings.HasPrefix(v, "ru@") {
				return reason.Russian
			}
			return reason.English
		}
	}
	return reason.English
}

// summaryPath is where the summary of the rows' CSV file path goes:
// report.csv → report-summary.csv.
func summaryPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + "-summary.csv"
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
