package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/processor"
	"github.com/payrun/payrun/internal/report"
)

// systemFlags are the flags demo and up share.
type systemFlags struct {
	data        string
	keys        string
	logs        cli.LogFlags
	rate        float64
	burst       int
	concurrency int
	auto3DS     bool
	walletCheck bool
	walletID    string
}

func (f *systemFlags) register(fs *flag.FlagSet, defaultData string) {
	fs.StringVar(&f.data, "data", defaultData, "data `folder` (JetStream store, ledger.db, the card keys, reports)")
	fs.StringVar(&f.keys, "keys", "samples/keys", "`folder` with the sandbox-only key pairs (partner and bank)")
	f.logs.Register(fs)
	proc := processor.DefaultConfig()
	fs.Float64Var(&f.rate, "rate", proc.Rate, "Bank 131 calls per second (0: unlimited)")
	fs.IntVar(&f.burst, "burst", proc.Burst, "rate limiter burst")
	fs.IntVar(&f.concurrency, "concurrency", proc.Concurrency, "rows and webhooks worked on at once")
	fs.BoolVar(&f.walletCheck, "wallet-check", true, "read the wallet (wallet/balance) before releasing each chunk of a batch and while a batch waits for funds, as ledger run --wallet-check")
	fs.StringVar(&f.walletID, "wallet-id", "", "the wallet `id` to read when the project has several in one currency")
}

// logger writes component logs to stderr with -v, else to a file in the
// data folder so the terminal shows the progress.
func (f *systemFlags) logger(dir string, stderr io.Writer, quiet bool) (*slog.Logger, func(), error) {
	if !quiet || f.logs.Verbose {
		l, err := f.logs.Logger(stderr)
		return l, func() {}, err
	}
	file, err := os.OpenFile(filepath.Join(dir, "payrun.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	l, err := cli.NewLogger(file, "json", false)
	return l, func() { file.Close() }, err
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("payrun demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f systemFlags
	f.register(fs, "payrun-data")
	file := fs.String("file", "samples/payroll.csv", "payout `file` to pay")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up when the batch is not finished after this `duration`")
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	// Every demo run gets a fresh folder: nothing earlier is touched.
	dir := filepath.Join(f.data, "demo-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	log, closeLog, err := f.logger(dir, stderr, true)
	if err != nil {
		return err
	}
	defer closeLog()

	p := newPrinter(stdout)
	p.line("payrun demo: NATS JetStream, ledger, processor, webhook relay and the Bank 131 sandbox in one process")
	p.line("data:     %s (logs in payrun.log)", dir)
	a, err := app.Start(ctx, app.Config{
		Dir: dir, KeysDir: f.keys, Rate: f.rate, Burst: f.burst, Concurrency: f.concurrency, Logger: log,
		WalletCheck: f.walletCheck, WalletID: f.walletID,
		SandboxTiming: sandbox.Timing{Processing: 300 * time.Millisecond, Settle: 300 * time.Millisecond},
		// The bank is silent on whether cross-border transfers are in the
		// payout report; the demo's bank lists them, so every row matches.
		SandboxModes: sandbox.Modes{ReportTransfers: "include"},
		Ledger:       ledger.Config{PollAfter: 5 * time.Second, StuckAfter: 20 * time.Second, SweepInterval: time.Second},
	})
	if err != nil {
		return err
	}
	defer a.Close()
	p.line("bank:     %s (sandbox; sandbox-only keys from samples/keys)", a.BankURL)
	p.line("payrun:   %s (uploads, reports, /metrics); webhooks on %s", a.URL, a.WebhookURL)

	// Four eyes: the demo's maker uploads through the API, its checker
	// approves what they were shown; the admin made both.
	mia, carl, err := demoPeople(ctx, a)
	if err != nil {
		return err
	}
	p.line("people:   admin (token in %s), mia (maker), carl (checker)", a.AdminToken)
	var res ingest.Result
	if _, err := mia.Upload(ctx, "/batches", *file, map[string]string{"name": "Demo " + filepath.Base(*file)}, &res); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if res.Status == ingest.StatusInvalid {
		for _, e := range res.Errors {
			p.line("%s", e.String())
		}
		return fmt.Errorf("%s is not valid: %d errors; nothing was paid", *file, res.ErrorCount)
	}
	p.line("batch:    %s from %s: %d rows, %s", res.Batch, res.FileName, res.Rows, totalsText(res.Totals))
	if err := demoApprove(ctx, carl, res.Batch, p); err != nil {
		return err
	}

	client := ledgerapi.NewClient(a.Conn, 5*time.Second)
	sum, err := watch(ctx, client, res.Batch, res.Rows, *timeout, p)
	if err != nil {
		return err
	}

	// Finance's last step: the bank's daily report of successful
	// operations (one per project, in the bank's documented format),
	// reconciled against the ledger. It brings the bank's fees.
	day := time.Now().In(bank131.ReportZone())
	for _, project := range a.Projects() {
		imp, err := importBankReport(ctx, a, project, day)
		if err != nil {
			return err
		}
		partial := ""
		if len(imp.Partial) > 0 {
			partial = " (partial: the day is not over in Moscow)"
		}
		p.line("bank report %s: %d operations, fees for %d rows, %d exceptions opened%s", imp.Source, imp.Lines, imp.Fees, imp.Opened, partial)
	}
	if sum, err = client.Batch(ctx, res.Batch); err != nil {
		return err
	}
	rep, err := a.DB.Report(ctx, res.Batch)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	p.line("")
	printSummary(ctx, p, client, sum, rep)
	// The report in English (rfc4180 CSV) and next to it in Russian
	// (excel-ru CSV, which Excel and 1C with Russian settings open as it
	// is): the rows, the summary and the workbook of each.
	p.line("")
	for _, lang := range []string{"en", "ru"} {
		rep.Localize(lang)
		label := "report:"
		if lang == "ru" {
			label = "отчёт:"
		}
		for _, format := range []string{report.FormatCSV, report.FormatSummaryCSV, report.FormatXLSX} {
			path := filepath.Join(dir, rep.FileName(format))
			if err := writeReport(rep, path, format); err != nil {
				return err
			}
			p.line("%-9s %s", label, path)
			label = ""
		}
	}
	if sum.Status != payout.BatchDone {
		return fmt.Errorf("batch %s is %s, not done", sum.Batch, sum.Status)
	}
	return nil
}

// demoPeople has the admin make the demo's maker and checker through the
// API and returns a client acting as each.
func demoPeople(ctx context.Context, a *app.App) (maker, checker *httpapi.Client, err error) {
	tok, err := httpapi.LoadToken(a.AdminToken)
	if err != nil {
		return nil, nil, err
	}
	admin := httpapi.NewClient(a.URL, tok)
	person := func(name string, role auth.Role) (*httpapi.Client, error) {
		if err := admin.Do(ctx, "POST", "/users", map[string]any{"name": name, "roles": []auth.Role{role}}, nil); err != nil {
			return nil, fmt.Errorf("add %s: %w", name, err)
		}
		var t ledger.CreatedToken
		if err := admin.Do(ctx, "POST", "/tokens", map[string]any{"user": name, "name": "demo"}, &t); err != nil {
			return nil, fmt.Errorf("token of %s: %w", name, err)
		}
		return httpapi.NewClient(a.URL, t.Token), nil
	}
	if maker, err = person("mia", auth.RoleMaker); err != nil {
		return nil, nil, err
	}
	if checker, err = person("carl", auth.RoleChecker); err != nil {
		return nil, nil, err
	}
	return maker, checker, nil
}

// demoApprove waits until the ledger sealed the batch and the checker
// approves it, bound to the file hash and totals the API shows.
func demoApprove(ctx context.Context, carl *httpapi.Client, batch string, p *printer) error {
	var detail struct {
		Batch *ledgerapi.BatchSummary `json:"batch"`
	}
	for deadline := time.Now().Add(time.Minute); ; {
		err := carl.Do(ctx, "GET", "/batches/"+batch, nil, &detail)
		if err == nil && detail.Batch.Status == payout.BatchAwaitingApproval {
			break
		}
		if err != nil && !ledgerapi.IsCode(err, ledgerapi.CodeNotFound) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("batch %s is not waiting for approval", batch)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	b := detail.Batch
	var res ledger.DecisionResult
	if err := carl.Do(ctx, "POST", "/batches/"+batch+"/approve",
		map[string]any{"file_sha256": b.FileSHA256, "totals": b.Totals}, &res); err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	p.line("approval: uploaded by %s; approved by %s (%d of %d), bound to sha256 %s… and %s",
		b.UploadedBy, res.Batch.ApprovedBy, res.Given, res.Required, b.FileSHA256[:16], totalsText(b.Totals))
	return nil
}

// importBankReport fetches a project's daily report from the sandbox, as
// the bank would deliver it (<Project>_YYYY-MM-DD_YYYY-MM-DD.csv), and
// imports it.
func importBankReport(ctx context.Context, a *app.App, project string, day time.Time) (*ledgerapi.ReportImport, error) {
	date := day.Format(time.DateOnly)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.BankURL+"/sandbox/report?project="+project+"&date="+date, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bank report: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bank report: %s", resp.Status)
	}
	name := fmt.Sprintf("%s_%s_%s.csv", project, date, date)
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		name = params["filename"]
	}
	imp, err := a.Ledger.ImportBankReport(ctx, resp.Body, name)
	if err != nil {
		return nil, fmt.Errorf("import bank report: %w", err)
	}
	return imp, nil
}

func writeReport(rep *report.Report, path, format string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("report file: %w", err)
	}
	if err := rep.Write(f, format); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// watch shows the batch's progress until every row is final, and plays
// the sender of each cross-border transfer: it opens the 3-D Secure link
// the bank sent, as the sender would in a browser.
func watch(ctx context.Context, c *ledgerapi.Client, batch string, rows int, timeout time.Duration, p *printer) (*ledgerapi.BatchSummary, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	opened := map[int]bool{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var sum *ledgerapi.BatchSummary
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		b, err := c.Batch(ctx, batch)
		if err != nil {
			if ledgerapi.IsCode(err, ledgerapi.CodeNotFound) {
				continue // the ledger is still reading the intake
			}
			return nil, err
		}
		sum = b
		if b.ByState[payout.StateActionRequired] > 0 {
			// Only rows waiting for the sender carry a link to open.
			for row := 1; row <= rows; row++ {
				if opened[row] {
					continue
				}
				st, err := c.Get(ctx, ledgerapi.RowRequest{Batch: batch, Row: row})
				if err != nil || st.ActionURL == "" {
					continue
				}
				opened[row] = true
				p.clear()
				if err := open3DS(ctx, st.ActionURL); err != nil {
					p.line("3-D Secure: %s: %v", st.Reference, err)
					continue
				}
				p.line("3-D Secure: %-14s sender confirmed at %s", st.Reference, st.ActionURL)
			}
		}
		final := 0
		for s, n := range b.ByState {
			if s.Terminal() {
				final += n
			}
		}
		p.progress("progress: %d/%d final  %s  [%s]", final, rows, statesText(b.ByState), time.Since(start).Round(100*time.Millisecond))
		if b.Status == payout.BatchDone || b.Status == payout.BatchCancelled && final == rows {
			p.clear()
			p.line("progress: %d/%d final  %s  [%s]", final, rows, statesText(b.ByState), time.Since(start).Round(100*time.Millisecond))
			return b, nil
		}
		if time.Now().After(deadline) {
			p.clear()
			return sum, fmt.Errorf("batch %s not finished after %s: %s", batch, timeout, statesText(b.ByState))
		}
	}
}

func open3DS(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

func printSummary(ctx context.Context, p *printer, c *ledgerapi.Client, b *ledgerapi.BatchSummary, rep *report.Report) {
	p.line("summary of %s (%s): %s", b.Batch, b.Status, statesText(b.ByState))
	p.line("  requested  %s", totalsText(b.Totals))
	p.line("  paid       %s", totalsText(b.PaidTotals))
	p.line("  failed     %s", totalsText(b.FailedTotals))
	for _, t := range rep.Summary.Totals {
		switch t.What {
		case "fees":
			p.line("  fees       %s (the bank's, %d rows)", amountsText(t.Amounts), t.Rows)
		case "commission":
			if t.Rows > 0 {
				p.line("  commission %s (the transfers' quotes, %d rows)", amountsText(t.Amounts), t.Rows)
			}
		}
	}
	var recon []string
	for _, s := range rep.Summary.ByReconciliation {
		recon = append(recon, fmt.Sprintf("%s %d", s.Status, s.Rows))
	}
	p.line("  reconciled %s", strings.Join(recon, " · "))
	p.line("  exceptions %d", b.Exceptions)
	for row := 1; row <= b.Rows; row++ {
		st, err := c.Get(ctx, ledgerapi.RowRequest{Batch: b.Batch, Row: row})
		if err != nil || st.State == payout.StateSucceeded {
			continue
		}
		p.line("  %-14s %-9s %s  %s", st.Reference, st.State, st.Amount, firstNonEmpty(st.Reason, st.ErrorCode))
	}
}

func amountsText(as []report.Amount) string {
	if len(as) == 0 {
		return "—"
	}
	var parts []string
	for _, a := range as {
		if a.Minor != 0 { // a transfer's line says fee 0 in its own currency
			parts = append(parts, a.Amount+" "+a.Currency)
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

func statesText(by map[payout.State]int) string {
	var keys []string
	for s, n := range by {
		if n > 0 {
			keys = append(keys, string(s))
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, by[payout.State(k)])
	}
	return strings.Join(parts, " · ")
}

func totalsText(t money.Totals) string {
	if len(t) == 0 {
		return "—"
	}
	var cur []string
	for c := range t {
		cur = append(cur, c)
	}
	sort.Strings(cur)
	parts := make([]string, len(cur))
	for i, c := range cur {
		parts[i] = money.New(t[c], c).String()
	}
	return strings.Join(parts, ", ")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// printer writes lines, and a progress line that rewrites itself on a
// terminal (and appears every few seconds otherwise).
type printer struct {
	w        io.Writer
	tty      bool
	pending  bool
	lastLine time.Time
}

func newPrinter(w io.Writer) *printer {
	p := &printer{w: w}
	if f, ok := w.(*os.File); ok {
		p.tty = term.IsTerminal(int(f.Fd()))
	}
	return p
}

func (p *printer) line(format string, args ...any) {
	p.clear()
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) progress(format string, args ...any) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K"+format, args...)
		p.pending = true
		return
	}
	if time.Since(p.lastLine) >= 2*time.Second {
		p.lastLine = time.Now()
		fmt.Fprintf(p.w, format+"\n", args...)
	}
}

func (p *printer) clear() {
	if p.pending {
		fmt.Fprint(p.w, "\r\033[K")
		p.pending = false
	}
}
