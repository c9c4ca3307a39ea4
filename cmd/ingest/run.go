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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
)

// Exit codes.
const (
	exitOK      = 0
	exitCannot  = 1 // bad flags, unreadable file, no key, NATS unreachable, publish failed
	exitInvalid = 2 // the file has blocking errors; nothing published
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
	dataKey         string
	createKey       bool
	natsURL         string
	progress        string
	offline         bool
}

func newFlagSet(c *config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.validateOnly, "validate", false, "only validate the file; with NATS, also ask the ledger which rows repeat earlier payouts")
	fs.BoolVar(&c.offline, "offline", false, "with --validate: do not ask the ledger (only the file itself is checked for duplicates)")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result (batch or errors) as JSON on stdout")
	fs.StringVar(&c.errorsCSV, "errors-csv", "", "when the file is invalid, write its rows plus error_column and error_message to `OUT`")
	fs.StringVar(&c.scheduleAt, "schedule-at", "", "RFC 3339 `time` before which no payout starts (2026-12-25T09:00:00+03:00)")
	fs.StringVar(&c.name, "name", "", "the batch's `name`")
	fs.BoolVar(&c.requireApproval, "require-approval", false, "hold the batch until an operator approves it")
	fs.IntVar(&c.expectCount, "expect-count", 0, "control count: the file must have `N` rows")
	fs.StringVar(&c.expectTotal, "expect-total", "", "control total: the file must add up to `AMOUNT` in its one currency")
	fs.StringVar(&c.maxAmount, "max-amount", money.New(batch.DefaultMaxAmount, "RUB").Decimal(), "per-row limit, the same `AMOUNT` in every currency")
	fs.StringVar(&c.dataKey, "data-key", secret.DefaultKeyFile, "data key `file` sealing card numbers ($"+secret.EnvKey+" takes precedence)")
	fs.BoolVar(&c.createKey, "create-key", false, "create the data key file if it does not exist")
	fs.StringVar(&c.natsURL, "nats-url", envOr("NATS_URL", nats.DefaultURL), "NATS `URL` ($NATS_URL)")
	fs.StringVar(&c.progress, "progress", "auto", "progress bar on stderr: auto (on a terminal), always, never")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ingest [flags] FILE\n\nValidates a payout file completely, then reads it into JetStream as one batch.\n"+
			"Exit status: 0 published (or already there), 2 invalid file (nothing published), 1 cannot run.\n\nFlags:\n")
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
		if err := fs.Parse(args); err != nil {
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
		return nil, errors.New("give exactly one FILE")
	}
	c.file = files[0]
	if c.progress != "auto" && c.progress != "always" && c.progress != "never" {
		return nil, fmt.Errorf("--progress %q: use auto, always or never", c.progress)
	}
	return c, nil
}

// Run is the command: it parses args, validates the file and publishes it.
// It returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "ingest:", err)
		return exitCannot
	}
	opts, err := c.options()
	if err != nil {
		fmt.Fprintln(stderr, "ingest:", err)
		return exitCannot
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
		if report, err = newErrorsReport(c.errorsCSV); err != nil {
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
				fmt.Fprintf(stderr, "%s: rows with their errors written to %s\n", c.file, c.errorsCSV)
			}
		}
		return exitInvalid
	}
	if c.validateOnly {
		led, notRun, closeLed := c.ledger()
		defer closeLed()
		if err := ingest.CheckDuplicates(ctx, c.file, res, opts, led, notRun); err != nil {
			con.clear()
			fmt.Fprintln(stderr, "ingest:", err)
			return exitCannot
		}
		con.clear()
		c.print(stdout, res)
		return exitOK
	}

	if opts.Sealer, err = loadSealer(c); err != nil {
		con.clear()
		fmt.Fprintln(stderr, "ingest:", err)
		return exitCannot
	}
	js, closeNATS, err := connect(ctx, c.natsURL)
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
	return opts, nil
}

func loadSealer(c *config) (*secret.Sealer, error) {
	key, err := secret.LoadKey(c.dataKey, c.createKey)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no data key at %s: set $%s, point --data-key at the key file, or add --create-key to create one", c.dataKey, secret.EnvKey)
	}
	if err != nil {
		return nil, err
	}
	return secret.NewSealer(key)
}

// ledger returns the ledger to ask about duplicates before an upload, or
// why there is none (--offline, NATS unreachable).
func (c *config) ledger() (ingest.Prechecker, string, func()) {
	if c.offline {
		return nil, "--offline", func() {}
	}
	nc, err := queue.Connect(c.natsURL, "payrun-ingest-validate", nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err != nil {
		return nil, "no NATS at " + queue.RedactURL(c.natsURL), func() {}
	}
	return ledgerapi.NewClient(nc, 30*time.Second), "", nc.Close
}

// connect dials NATS and makes sure the payrun streams exist.
func connect(ctx context.Context, url string) (jetstream.JetStream, func(), error) {
	nc, err := queue.Connect(url, "payrun-ingest", nats.Timeout(3*time.Second))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4*ingest.DefaultWindow))
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
	kv("rows", fmt.Sprint(res.Rows))
	for _, a := range res.Totals.Amounts() {
		kv("total", a.String())
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

func newErrorsReport(path string) (*errorsReport, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("errors report: %w", err)
	}
	return &errorsReport{path: path, tmp: tmp, w: batch.NewErrorsCSV(tmp)}, nil
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
