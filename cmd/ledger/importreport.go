package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/reportdrop"
	"github.com/payrun/payrun/internal/workbook"
)

// importReportCommand imports the bank's daily report. A person imports
// files through the running ledger's HTTP API with a token (a checker's:
// it lands in the audit log); --db imports straight into a ledger file no
// ledger is running on. Several files are the parts of one report.
// --watch, a component on the SFTP host, imports every report that
// appears in a folder, over NATS (or --db).
type importReportCommand struct {
	stdout io.Writer
}

func (c *importReportCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger import-report [--api URL --token-file FILE | --db FILE] [--date YYYY-MM-DD]... [--json] FILE|URL|- [FILE...]")
	fmt.Fprintln(os.Stderr, "       ledger import-report [--nats-url URL | --db FILE] --watch DIR [--settle D] [--interval D]")
}

// dayList is a repeatable --date flag.
type dayList []string

func (d *dayList) String() string     { return strings.Join(*d, ",") }
func (d *dayList) Set(s string) error { *d = append(*d, s); return nil }

func (c *importReportCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger import-report", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	var api cli.APIFlags
	api.Register(fs)
	var nf cli.NATSFlags
	nf.Register(fs, cli.NATSURL(), "with --watch: the running ledger's NATS `URL` (the watcher is a component)")
	dbPath := fs.String("db", "", "import straight into this ledger `file` (only when no ledger runs on it)")
	var days dayList
	fs.Var(&days, "date", "a `day` (YYYY-MM-DD) the report covers; repeatable (default: from the file name, else its lines)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	zone := bank131.ReportZone()
	fs.Var(zoneFlag{&zone}, "report-zone", "the bank's time `zone` for report times without an offset (IANA name or +03:00)")
	parts := fs.Int("report-parts", ledger.DefaultConfig().ReportParts, "with --db: part `files` of a day's report (see ledger run)")
	watch := fs.String("watch", "", "import every report file that appears in this `folder` (an SFTP drop folder), until stopped")
	settle := fs.Duration("settle", 5*time.Second, "with --watch: read a file once it did not change for this long")
	interval := fs.Duration("interval", 2*time.Second, "with --watch: look at the folder this often")
	var logs cli.LogFlags
	logs.Register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if (*watch == "") == (fs.NArg() == 0) {
		fs.Usage()
		return cli.Usagef("name one report (files of its parts, an http(s) URL, or - for standard input), or a folder to --watch")
	}
	log, err := logs.Logger(os.Stderr)
	if err != nil {
		return err
	}
	opts := bank131.ReportOptions{Days: days, Zone: zone, XLSX: workbook.ReadRaw}

	// send records a parsed report: in the ledger file, or (the watcher)
	// over NATS.
	var send func(ctx context.Context, rep *bank131.DailyReport) (*ledgerapi.ReportImport, error)
	switch {
	case *dbPath != "":
		if _, err := os.Stat(*dbPath); err != nil {
			return fmt.Errorf("ledger database: %w", err)
		}
		// Only when no ledger runs on the file: a running one owns its
		// writes (and its lease); it takes reports through its API.
		lock, err := ledger.LockFile(*dbPath)
		if err != nil {
			return fmt.Errorf("%w; a running ledger takes the report through its API (--api URL --token-file FILE)", err)
		}
		defer lock.Close()
		db, err := ledger.Open(*dbPath)
		if err != nil {
			return err
		}
		defer db.Close()
		svc := ledger.NewService(db, ledger.Config{Logger: log, ReportZone: zone, ReportParts: *parts})
		defer svc.Close()
		by := auth.HostActor(os.Getenv("USER"))
		send = func(ctx context.Context, rep *bank131.DailyReport) (*ledgerapi.ReportImport, error) {
			return svc.ImportReportAs(ctx, by, rep)
		}
	case *watch != "":
		nc, err := nf.Connect("payrun-ledger-import-report", log)
		if err != nil {
			return err
		}
		defer nc.Close()
		client := ledgerapi.NewClient(nc, 5*time.Minute)
		max := int(nc.MaxPayload()) - 64<<10
		send = func(ctx context.Context, rep *bank131.DailyReport) (*ledgerapi.ReportImport, error) {
			return ledgerapi.SendBankReport(ctx, client, rep, max)
		}
	}

	if *watch != "" {
		w, err := reportdrop.New(reportdrop.Config{Dir: *watch, Settle: *settle, Interval: *interval, Logger: log, Send: send,
			Parse: func(f bank131.NamedFile) (*bank131.DailyReport, error) {
				return bank131.ParseDailyReportFiles([]bank131.NamedFile{f}, opts)
			}})
		if err != nil {
			return err
		}
		return w.Run(ctx)
	}

	var files []bank131.NamedFile
	for _, arg := range fs.Args() {
		f, err := readReport(ctx, arg)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	// Checked here, so a bad file is refused before anything is sent; the
	// ledger reads the same bytes again.
	rep, err := bank131.ParseDailyReportFiles(files, opts)
	if err != nil {
		return err
	}
	var res *ledgerapi.ReportImport
	if send != nil {
		if res, err = send(ctx, rep); err != nil {
			return err
		}
	} else {
		client, err := api.Client()
		if err != nil {
			return err
		}
		if res, err = postReport(ctx, client, files, days); err != nil {
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

// postReport sends a report's files to the ledger's API (POST
// /reports/bank, one multipart part per file) as the token's user.
func postReport(ctx context.Context, client *httpapi.Client, files []bank131.NamedFile, days []string) (*ledgerapi.ReportImport, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range files {
		w, err := mw.CreateFormFile("file", f.Name)
		if err != nil {
			return nil, err
		}
		w.Write(f.Data)
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	q := url.Values{"date": days}
	raw, err := client.Raw(ctx, "POST", "/reports/bank?"+q.Encode(), mw.FormDataContentType(), &body)
	if err != nil {
		return nil, err
	}
	res := new(ledgerapi.ReportImport)
	if err := json.Unmarshal(raw, res); err != nil {
		return nil, fmt.Errorf("import report: %w", err)
	}
	return res, nil
}

// maxDownload bounds a report read from standard input or a URL.
const maxDownload = 1 << 30

// readReport reads a report file, URL or standard input; its name is the
// source for the record (a URL's download name when it has no date= part).
func readReport(ctx context.Context, arg string) (bank131.NamedFile, error) {
	rc, source, err := openReport(ctx, arg)
	if err != nil {
		return bank131.NamedFile{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxDownload+1))
	if err != nil {
		return bank131.NamedFile{}, fmt.Errorf("bank report %s: %w", source, err)
	}
	if len(data) > maxDownload {
		return bank131.NamedFile{}, fmt.Errorf("bank report %s: larger than %d MB", source, maxDownload>>20)
	}
	return bank131.NamedFile{Name: source, Data: data}, nil
}

// openReport opens a report file, URL or standard input.
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
		if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
			source = arg + "#" + params["filename"] // the bank's file name says its days and part
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
	fmt.Fprintf(w, "rows settled by it: %d; fees recorded: %d; operations naming no row of ours: %d; exceptions opened: %d\n",
		r.Settled, r.Fees, r.Unknown, r.Opened)
	if r.NotPaid > 0 {
		fmt.Fprintf(w, "rows in doubt settled not paid (their request never reached the bank): %d\n", r.NotPaid)
	}
	if len(r.Partial) > 0 {
		fmt.Fprintf(w, "partial (the day was not over in the bank's time zone; it stays open): %s\n", strings.Join(r.Partial, ", "))
	}
	if len(r.Covered) > 0 {
		fmt.Fprintf(w, "days the reports now cover: %s\n", strings.Join(r.Covered, ", "))
	}
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
