package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// Exit codes: payrun's (internal/cli) and one of ingest's own.
const (
	exitOK      = cli.ExitOK     // published, already there, or valid with --validate; -h, --version
	exitCannot  = cli.ExitFailed // unreadable file, no key, NATS unreachable, publish failed
	exitInvalid = 2              // the file has blocking errors; nothing published (csv-format.md: "The CLI exits 2"; a usage error is 2 as well)
)

// config is what the flags say.
type config struct {
	file            string
	validateOnly    bool
	jsonOut         bool
	errorsCSV       string
	scheduleAt      string
	name            string
	requireApproval bool
	expectCount     int
	expectTotal     string
	maxAmount       string
	publicKey       string
	uploadKey       string
	nats            cli.NATSFlags
	progress        string
	api             string // upload through payrun's HTTP API (a person's upload)
	tokenFile       string
	dialect         spreadsheet.Dialect // of --csv-dialect
	method          string
	sheet           string
	lang            string
	csvDialect      string
	offline         bool
}

func newFlagSet(c *config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.validateOnly, "validate", false, "only validate the file; with NATS, also ask the ledger which rows repeat earlier payouts")
	fs.BoolVar(&c.offline, "offline", false, "with --validate: do not ask the ledger (only the file itself is checked for duplicates)")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result (batch or errors) as JSON on stdout")
	fs.StringVar(&c.errorsCSV, "errors-csv", "", "when the file is invalid, write its failed rows (with their lines, error_column and error_message) to `OUT`")
	fs.StringVar(&c.scheduleAt, "schedule-at", "", "RFC 3339 `time` before which no payout starts (2026-12-25T09:00:00+03:00)")
	fs.StringVar(&c.name, "name", "", "the batch's `name`")
	fs.BoolVar(&c.requireApproval, "require-approval", false, "hold the batch until an operator approves it")
	fs.IntVar(&c.expectCount, "expect-count", 0, "control count: the file must have `N` rows")
	fs.StringVar(&c.expectTotal, "expect-total", "", "control total: the file must add up to `AMOUNT` in its one currency")
	fs.StringVar(&c.maxAmount, "max-amount", money.New(batch.DefaultMaxAmount, "RUB").Decimal(), "per-row limit, the same `AMOUNT` in every currency")
	fs.StringVar(&c.publicKey, "card-public-key", filepath.Join(secret.DefaultDir, secret.CardPublicFile), "card public keys `file` (PEM): card numbers are sealed to the last one")
	fs.StringVar(&c.uploadKey, "upload-key", filepath.Join(secret.DefaultDir, secret.UploadKeyFile), "upload keys `file` (PEM) that digest rows and fingerprint card numbers")
	c.nats.Register(fs, envOr("NATS_URL", nats.DefaultURL), "NATS `URL` ($NATS_URL)")
	fs.StringVar(&c.progress, "progress", "auto", "progress bar on stderr: auto (on a terminal), always, never")
	fs.StringVar(&c.api, "api", os.Getenv("PAYRUN_API"), "upload through payrun's HTTP API at `URL` with your token ($PAYRUN_API); without it the file is published to NATS directly (payrun's own components)")
	fs.StringVar(&c.tokenFile, "token-file", "", "with --api: `file` holding your API token (default $PAYRUN_TOKEN)")
	fs.StringVar(&c.method, "method", "", "the `method` of every row that names none (card, token, encrypted_card, transfer); default: told by the row's filled columns")
	fs.StringVar(&c.sheet, "sheet", "", "the `sheet` of an XLSX workbook to read (default the first)")
	fs.StringVar(&c.lang, "lang", "", "language of the messages that have both: en or ru")
	fs.StringVar(&c.csvDialect, "csv-dialect", string(spreadsheet.ExcelRU), "`dialect` of the errors report: excel-ru (; BOM, decimal comma) or rfc4180 (,)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ingest [flags] FILE\n       ingest template --method METHOD [--lang ru|en] [--format csv|xlsx] [--out FILE]\n\n"+
			"Validates a payout file (CSV or XLSX) completely, then reads it into JetStream as one batch.\n"+
			"Exit status: 0 published (or already there), 2 invalid file (nothing published) or bad flags, 1 cannot run.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// parseArgs reads flags before and after the file name.
func parseArgs(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := newFlagSet(c, stderr)
	var files []string
	for {
		if err := cli.Parse(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return nil, cli.Usagef("give exactly one FILE")
	}
	c.file = files[0]
	if c.progress != "auto" && c.progress != "always" && c.progress != "never" {
		return nil, cli.Usagef("--progress %q: use auto, always or never", c.progress)
	}
	return c, nil
}

// Run is the command: it parses args, validates the file and publishes it.
// It returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "template" {
		return runTemplate(args[1:], stdout, stderr)
	}
	c, err := parseArgs(args, stderr)
	if err != nil {
		return cli.Report("ingest", err, stdout, stderr)
	}
	opts, err := c.options()
	if err != nil {
		return cli.Report("ingest", &cli.UsageError{Err: err}, stdout, stderr)
	}
	con := newConsole(stderr, c.progress)
	defer con.clear()
	if !c.jsonOut {
		opts.Batch.OnError = func(e batch.Error) { con.line(located(c.file, e)) }
		opts.Batch.OnWarning = func(e batch.Error) {
			e.Message = "warning: " + e.Message
			con.line(located(c.file, e))
		}
	}
	opts.Progress = con.progress

	var report *errorsReport
	if c.errorsCSV != "" {
		if report, err = newErrorsReport(c.errorsCSV, c.dialect); err != nil {
			fmt.Fprintln(stderr, "ingest:", err)
			return exitCannot
		}
		defer report.abort()
		opts.Batch.OnRecord = report.w.Record
	}

	res, err := ingest.Check(c.file, opts)
	if err != nil {
		con.clear()
		fmt.Fprintln(stderr, "ingest:", err)
		return exitCannot
	}
	if report != nil {
		if err := report.finish(res.Status == ingest.StatusInvalid); err != nil {
			con.clear()
			fmt.Fprintln(stderr, "ingest:", err)
			return exitCannot
		}
	}
	if res.Status == ingest.StatusInvalid {
		con.clear()
		if c.jsonOut {
			printJSON(stdout, res)
		} else {
			fmt.Fprintf(stderr, "%s: %s; nothing published\n", c.file, countErrors(res))
			if report != nil {
				fmt.Fprintf(stderr, "%s: the failed rows and their lines written to %s; fix them in %s and upload it again\n", c.file, c.errorsCSV, c.file)
			}
		}
		return exitInvalid
	}
	if c.validateOnly {
		led, notRun, closeLed := c.ledger()
		defer closeLed()
		if err := ingest.CheckDuplicates(ctx, ingest.File(c.file), res, opts, led, notRun); err != nil {
			con.clear()
			fmt.Fprintln(stderr, "ingest:", err)
			return exitCannot
		}
		con.clear()
		c.print(stdout, res)
		return exitOK
	}

	if c.api != "" {
		con.clear()
		return uploadAPI(ctx, c, stdout, stderr)
	}
	if opts.Sealer, err = loadSealer(c); err != nil {
		con.clear()
		fmt.Fprintln(stderr, "ingest:", err)
		return exitCannot
	}
	js, closeNATS, err := connect(ctx, &c.nats)
	if err != nil {
		con.clear()
		fmt.Fprintln(stderr, "ingest:", err)
		return exitCannot
	}
	defer closeNATS()
	res, err = ingest.Publish(ctx, js, c.file, res, opts)
	con.clear()
	if err != nil {
		fmt.Fprintln(stderr, "ingest:", err)
		return exitCannot
	}
	c.print(stdout, res)
	return exitOK
}

// options turns the flags into ingest options.
func (c *config) options() (ingest.Options, error) {
	opts := ingest.Options{
		FileName:        filepath.Base(c.file),
		Name:            c.name,
		RequireApproval: c.requireApproval,
		Logger:          slog.New(slog.DiscardHandler), // the command prints its own result
	}
	if c.scheduleAt != "" {
		t, err := ingest.ParseSchedule(c.scheduleAt)
		if err != nil {
			return opts, fmt.Errorf("--schedule-at: %w", err)
		}
		opts.ScheduleAt = t
	}
	if c.expectCount < 0 {
		return opts, fmt.Errorf("--expect-count %d: must be positive", c.expectCount)
	}
	opts.Batch.ExpectCount = c.expectCount
	if c.expectTotal != "" {
		if err := ingest.CheckExpectTotal(c.expectTotal); err != nil {
			return opts, fmt.Errorf("--expect-total: %w", err)
		}
		opts.Batch.ExpectTotal = c.expectTotal
	}
	max, err := money.Parse(c.maxAmount, "RUB")
	if err != nil || max.Minor <= 0 {
		return opts, fmt.Errorf("--max-amount %q: not a positive amount such as 1000000.00", c.maxAmount)
	}
	opts.Batch.MaxAmount = max.Minor
	if c.method != "" {
		m, ok := payout.ParseMethod(c.method)
		if !ok {
			return opts, fmt.Errorf("--method %q: use card, token, encrypted_card or transfer", c.method)
		}
		opts.Batch.Method = m
	}
	opts.Batch.Sheet = c.sheet
	if opts.Batch.Lang, err = batch.ParseLang(c.lang); err != nil {
		return opts, fmt.Errorf("--lang: %w", err)
	}
	if c.dialect, err = spreadsheet.ParseDialect(c.csvDialect); err != nil {
		return opts, fmt.Errorf("--csv-dialect: %w", err)
	}
	return opts, nil
}

// loadSealer reads the card public keys and the upload keys. ingest
// needs no private key: it seals, it never opens.
func loadSealer(c *config) (*secret.Sealer, error) {
	s, err := secret.LoadSealer(c.publicKey, c.uploadKey)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w; copy card.pub and upload.key from where the keys were made (payrun keys init), or point --card-public-key and --upload-key at them", err)
	}
	return s, err
}

// ledger returns the ledger to ask about duplicates before an upload, or
// why there is none (--offline, NATS unreachable).
func (c *config) ledger() (ingest.Prechecker, string, func()) {
	if c.offline {
		return nil, "--offline", func() {}
	}
	nc, err := c.nats.Connect("payrun-ingest-validate", nil, nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err != nil {
		return nil, "no NATS at " + queue.RedactURL(c.nats.URL), func() {}
	}
	return ledgerapi.NewClient(nc, 30*time.Second), "", nc.Close
}

// connect dials NATS and makes sure the payrun streams exist.
func connect(ctx context.Context, nf *cli.NATSFlags) (jetstream.JetStream, func(), error) {
	url := nf.URL
	nc, err := nf.Connect("payrun-ingest", nil, nats.Timeout(3*time.Second))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4*ingest.DefaultWindow),
		jetstream.WithPublishAsyncTimeout(queue.PublishAsyncTimeout))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := queue.EnsureStreams(sctx, js, queue.Config{}); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("NATS at %s has no usable JetStream: %w", queue.RedactURL(url), err)
	}
	return js, func() { nc.Drain() }, nil
}

// located formats an error as a compiler would: "FILE:LINE: COLUMN:
// message", or "FILE: message" for the whole file.
func located(file string, e batch.Error) string {
	if e.Line > 0 {
		return file + ":" + e.String()
	}
	return file + ": " + e.String()
}

func countErrors(res *ingest.Result) string {
	if res.ErrorCount == 1 {
		return "1 error"
	}
	return fmt.Sprintf("%d errors", res.ErrorCount)
}

// print writes the result of a valid file.
func (c *config) print(w io.Writer, res *ingest.Result) {
	if c.jsonOut {
		printJSON(w, res)
		return
	}
	kv := func(k, v string) { fmt.Fprintf(w, "%-10s%s\n", k+":", v) }
	kv("batch", res.Batch)
	kv("file", res.FileName)
	if res.Sheet != "" {
		kv("sheet", res.Sheet)
	}
	kv("rows", fmt.Sprint(res.Rows))
	for _, a := range res.Totals.Amounts() {
		kv("total", a.String())
	}
	if tl := res.TotalsLine; tl != nil {
		var says []string
		if tl.Rows > 0 {
			says = append(says, fmt.Sprintf("%d rows", tl.Rows))
		}
		if tl.Amount != "" {
			says = append(says, tl.Amount)
		}
		kv("checked", fmt.Sprintf("totals line %d (%s): %s", tl.Line, tl.Label, strings.Join(says, ", ")))
	}
	kv("sha256", res.FileSHA256)
	if m := res.Manifest; m != nil && res.Status == ingest.StatusExisting {
		if m.Name != "" {
			kv("name", m.Name)
		}
		if m.ScheduleAt != nil {
			kv("schedule", m.ScheduleAt.Format(time.RFC3339))
		}
		if m.RequireApproval {
			kv("approval", "required")
		}
	} else {
		if res.Name != "" {
			kv("name", res.Name)
		}
		if res.ScheduleAt != nil {
			kv("schedule", res.ScheduleAt.Format(time.RFC3339))
		}
		if res.RequireApproval {
			kv("approval", "required")
		}
	}
	if res.WarningCount > 0 {
		kv("warnings", fmt.Sprint(res.WarningCount))
	}
	if res.CrossFileCheck != "" {
		kv("repeats", res.CrossFileCheck)
	}
	switch res.Status {
	case ingest.StatusValid:
		kv("status", "valid; not published (--validate)")
	case ingest.StatusExisting:
		kv("status", "already ingested at "+res.Manifest.CreatedAt.Format(time.RFC3339)+"; nothing published")
	case ingest.StatusCreated:
		s := fmt.Sprintf("published %d rows and sealed the batch", res.Published)
		if res.AlreadyStored > 0 {
			s = fmt.Sprintf("published %d rows (%d were stored by an earlier, unfinished upload) and sealed the batch", res.Published, res.AlreadyStored)
		}
		kv("status", s)
	}
}

func printJSON(w io.Writer, res *ingest.Result) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(res)
}

// errorsReport writes the errors report to a temporary file next to its
// destination and moves it there only when the file is invalid.
type errorsReport struct {
	path string
	tmp  *os.File
	w    *batch.ErrorsCSV
	done bool
}

func newErrorsReport(path string, d spreadsheet.Dialect) (*errorsReport, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("errors report: %w", err)
	}
	return &errorsReport{path: path, tmp: tmp, w: batch.NewErrorsCSV(tmp, d)}, nil
}

func (r *errorsReport) finish(keep bool) error {
	r.done = true
	err := r.w.Close()
	if cerr := r.tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil || !keep {
		os.Remove(r.tmp.Name())
		if err != nil {
			return fmt.Errorf("errors report: %w", err)
		}
		return nil
	}
	if err := os.Rename(r.tmp.Name(), r.path); err != nil {
		os.Remove(r.tmp.Name())
		return fmt.Errorf("errors report: %w", err)
	}
	return nil
}

func (r *errorsReport) abort() {
	if !r.done {
		r.tmp.Close()
		os.Remove(r.tmp.Name())
	}
}
