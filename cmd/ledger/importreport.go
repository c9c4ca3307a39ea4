package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// importReportCommand imports the bank's daily report: to the running
// ledger over NATS (the ledger is the database's only writer), or with
// --db straight into a ledger file no ledger is running on.
type importReportCommand struct {
	stdout io.Writer
}

func (c *importReportCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger import-report [--nats-url URL | --db FILE] [--date YYYY-MM-DD]... [--json] FILE|URL|-")
}

// dayList is a repeatable --date flag.
type dayList []string

func (d *dayList) String() string     { return strings.Join(*d, ",") }
func (d *dayList) Set(s string) error { *d = append(*d, s); return nil }

func (c *importReportCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger import-report", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	var nf cli.NATSFlags
	nf.Register(fs, cli.NATSURL(), "send the report to the running ledger at this NATS `URL`")
	dbPath := fs.String("db", "", "import straight into this ledger `file` (only when no ledger runs on it)")
	var days dayList
	fs.Var(&days, "date", "a `day` (YYYY-MM-DD) the report covers; repeatable (default: from the file name, else its lines)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var logs cli.LogFlags
	logs.Register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return cli.Usagef("name one report: a file, an http(s) URL or - for standard input")
	}
	rc, source, err := openReport(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	defer rc.Close()
	if len(days) == 0 {
		days = bank131.DaysFromName(source)
	}
	rep, err := bank131.ParseDailyReport(rc, source, days...)
	if err != nil {
		return err
	}

	var res *ledgerapi.ReportImport
	if *dbPath != "" {
		log, err := logs.Logger(os.Stderr)
		if err != nil {
			return err
		}
		if _, err := os.Stat(*dbPath); err != nil {
			return fmt.Errorf("ledger database: %w", err)
		}
		db, err := ledger.Open(*dbPath)
		if err != nil {
			return err
		}
		defer db.Close()
		svc := ledger.NewService(db, ledger.Config{Logger: log})
		defer svc.Close()
		if res, err = svc.ImportReport(ctx, rep); err != nil {
			return err
		}
	} else {
		nc, err := nf.Connect("payrun-ledger-import-report", nil)
		if err != nil {
			return err
		}
		defer nc.Close()
		client := ledgerapi.NewClient(nc, 5*time.Minute)
		max := int(nc.MaxPayload()) - 64<<10
		if res, err = ledgerapi.SendBankReport(ctx, client, rep, max); err != nil {
			return err
		}
	}
	stdout := c.stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return printImport(stdout, res)
}

// openReport opens a report file, URL or standard input; the source names
// it for the record (an URL's download name when it has no date= part).
func openReport(ctx context.Context, arg string) (io.ReadCloser, string, error) {
	switch {
	case arg == "-":
		return io.NopCloser(os.Stdin), "stdin", nil
	case strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://"):
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, arg, nil)
		if err != nil {
			return nil, "", fmt.Errorf("bank report %s: %w", arg, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, "", fmt.Errorf("bank report %s: %w", arg, err)
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			return nil, "", fmt.Errorf("bank report %s: %s: %s", arg, resp.Status, strings.TrimSpace(string(body)))
		}
		source := arg
		if bank131.DaysFromName(arg) == nil {
			if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
				source = arg + "#" + params["filename"]
			}
		}
		return resp.Body, source, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, "", fmt.Errorf("bank report: %w", err)
	}
	return f, arg, nil
}

func printImport(w io.Writer, r *ledgerapi.ReportImport) error {
	if r.Already {
		_, err := fmt.Fprintf(w, "report %s (%s) was imported before: nothing changed\n", r.Source, short(r.Report))
		return err
	}
	fmt.Fprintf(w, "report %s (%s), days %s: %d lines, %d new\n", r.Source, short(r.Report), strings.Join(r.Days, ", "), r.Lines, r.New)
	fmt.Fprintf(w, "rows settled by it: %d; operations naming no row of ours: %d; exceptions opened: %d\n", r.Settled, r.Unknown, r.Opened)
	if len(r.Batches) > 0 {
		fmt.Fprintf(w, "reconciled: %s\n", strings.Join(r.Batches, " "))
	}
	return nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
