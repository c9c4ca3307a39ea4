package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/console"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/queue"
)

// runCommand runs the ledger service until SIGINT or SIGTERM.
type runCommand struct{}

func (c *runCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger run --db FILE --nats-url URL [flags]")
}

// defaultMemoryLimitMB is the ledger's soft heap limit: a report is built
// whole before it is sent, and a 100k-row one holds ~250 MB at its peak;
// without a limit the heap grew to twice that before a collection
// (BenchmarkReportDownloads, bench/README.md: 8 concurrent downloads
// peaked at 746 MB of heap without, 428 MB with a 400 MiB limit).
const defaultMemoryLimitMB = 300

func (c *runCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger run", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	dbPath := fs.String("db", "ledger.db", "SQLite database `file`")
	var nf cli.NATSFlags
	nf.Register(fs, cli.NATSURL(), "NATS server `URL`s (comma-separated)")
	cfg := configFlags(fs)
	var logs cli.LogFlags
	logs.Register(fs)
	metricsAddr := fs.String("metrics", "", "serve Prometheus /metrics on this `address` (e.g. 127.0.0.1:9101)")
	var hf httpFlags
	fs.StringVar(&hf.addr, "http", "", "serve the authenticated API (uploads, batches, reports, approvals, audit, users, tokens, policy) on this `address` (e.g. 127.0.0.1:8132)")
	fs.Var(&hf.hosts, "host", "a host `name` the API answers to (repeatable; default localhost, 127.0.0.1, ::1); any other Host header is refused")
	fs.BoolVar(&hf.secure, "secure-cookies", false, "mark the sign-in cookie Secure (people reach the API over HTTPS)")
	fs.StringVar(&hf.publicKey, "card-public-key", "", "card public keys `file` (card.pub) uploads are sealed to; with --upload-key (without them the API validates but does not publish)")
	fs.StringVar(&hf.uploadKey, "upload-key", "", "upload keys `file` (upload.key): row digests and card fingerprints of uploads")
	fs.StringVar(&hf.zone, "time-zone", console.DefaultZone, "the time `zone` the web console shows times in")
	memLimit := fs.Int("memory-limit-mb", defaultMemoryLimitMB, "soft limit of the Go heap in `MiB` (the collector works harder near it; 0: none; GOMEMLIMIT, when set, wins)")
	var lf leaseFlags
	lf.register(fs)
	fs.StringVar(&hf.widgetScript, "widget-script", "", "`URL` of the bank's tokenization widget script: recipient links for widget rows (the sandbox's: <sandbox>/sandbox/widget/tokenization.js); empty: no links")
	fs.StringVar(&hf.publicURL, "public-url", "", "`URL` (scheme://host[:port]) where recipients reach --http; links start with it (default http://<--http>); its host must be a --host")
	hf.bank.Register(fs, "", "recipient links ask public tokens and token/info with")
	walletCheck := fs.Bool("wallet-check", false, "read the wallet (wallet/balance) before releasing each chunk of a batch and while a batch waits for funds; needs the bank flags below")
	walletID := fs.String("wallet-id", "", "the wallet `id` to read when the project has several in one currency")
	var prof cli.ProfileFlag
	prof.Register(fs)
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	stopProfile, err := prof.Start()
	if err != nil {
		return err
	}
	defer stopProfile()
	sweepEvery(fs, cfg)
	log, err := logs.Logger(os.Stderr)
	if err != nil {
		return err
	}
	cfg.Logger = log
	if *memLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(*memLimit) << 20)
	}
	if *walletCheck {
		client, err := hf.bank.Client(nil, log)
		if err != nil {
			return fmt.Errorf("--wallet-check: %w", err)
		}
		cfg.Wallet = ledger.BankWallet{Client: client, ID: *walletID}
	}

	// The database's folder is made when missing (a fresh host's state
	// directory); its files are the ledger's alone.
	if err := os.MkdirAll(filepath.Dir(*dbPath), 0o700); err != nil {
		return fmt.Errorf("ledger database folder: %w", err)
	}
	// One ledger per database on this host (the file lock), then one per
	// set of streams (the NATS lease), before anything is written.
	lock, err := ledger.LockFile(*dbPath)
	if err != nil {
		return err
	}
	defer lock.Close()
	db, err := ledger.Open(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	nc, err := nf.Connect("payrun-ledger", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	lease, err := lf.acquire(ctx, nc, *dbPath, cfg.Streams.Replicas, cfg.Logger)
	if err != nil {
		return err
	}
	defer lease.Release(context.Background())
	db.SetWriteFence(lease.Fence)
	ctx = queue.ExitOnClose(ctx, nc, log)
	var svc *ledger.Service
	for attempt := 1; ; attempt++ {
		svc = ledger.NewService(db, *cfg)
		err := svc.Start(ctx, nc)
		if err == nil {
			break
		}
		svc.Close()
		// A JetStream cluster still electing leaders refuses streams and
		// consumers for a while ("insufficient resources", timeouts).
		if ctx.Err() != nil || attempt == 30 {
			return err
		}
		cfg.Logger.Warn("ledger cannot start yet; retrying", logkey.Error, err, "attempt", attempt)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(time.Duration(attempt)*time.Second, 5*time.Second)):
		}
	}
	if _, err := cli.ServeMetrics(ctx, *metricsAddr, cfg.Logger); err != nil {
		svc.Close()
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		svc.Close()
		return fmt.Errorf("jetstream: %w", err)
	}
	_, closeHTTP, err := serveHTTP(ctx, hf, svc, js, cfg.Logger)
	if err != nil {
		svc.Close()
		return err
	}
	defer closeHTTP()
	go db.ExportMetrics(ctx, 5*time.Second)
	go db.ExportDisk(ctx, 15*time.Second)
	select {
	case <-ctx.Done():
	case <-lease.Lost():
		// Writes stopped at the fence; stop the rest and exit non-zero so
		// the supervisor restarts this ledger, which takes the lease again
		// once it can (or refuses while another ledger holds it).
		svc.Close()
		return lease.Err()
	}
	cfg.Logger.Info("ledger stopping")
	if err := svc.Close(); err != nil {
		return fmt.Errorf("stop ledger: %w", err)
	}
	if err := queue.ClosedError(ctx); err != nil {
		return err
	}
	if err := nc.Drain(); err != nil {
		return fmt.Errorf("drain NATS: %w", err)
	}
	return nil
}

// configFlags adds the service's flags to fs and returns the config they
// fill. It starts as ledger.DefaultConfig(), so the flags' defaults (and
// their help) are the ones `payrun up` and every other caller get.
func configFlags(fs *flag.FlagSet) *ledger.Config {
	cfg := ledger.DefaultConfig()
	fs.DurationVar(&cfg.StuckAfter, "stuck-after", cfg.StuckAfter, "re-enqueue a row that did not move before the bank for this long")
	fs.DurationVar(&cfg.PollAfter, "poll-after", cfg.PollAfter, "poll session/status for a row whose webhook is this late")
	fs.DurationVar(&cfg.PollMax, "poll-max", cfg.PollMax, "longest interval between polls of one row")
	fs.DurationVar(&cfg.DoubtDeadline, "doubt-deadline", cfg.DoubtDeadline, "open an exception for a row in doubt this long")
	fs.DurationVar(&cfg.StallAfter, "stall-after", cfg.StallAfter, "open an exception for a row waiting at the bank this long without a final word")
	fs.DurationVar(&cfg.ReleaseInterval, "release-interval", cfg.ReleaseInterval, "how often due batches are looked for")
	fs.DurationVar(&cfg.SweepInterval, "sweep-interval", cfg.SweepInterval, "how often the sweeper runs (when not given: at most a fifth of --stuck-after)")
	fs.Int64Var(&cfg.FXToleranceBps, "fx-tolerance-bp", cfg.FXToleranceBps, "FX rate tolerance at the gate, in basis points")
	fs.Int64Var(&cfg.CommissionToleranceBps, "commission-tolerance-bp", cfg.CommissionToleranceBps, "commission tolerance at the gate, in basis points")
	fs.IntVar(&cfg.Streams.Replicas, "replicas", cfg.Streams.Replicas, "JetStream stream replicas (3 in a 3-node cluster); 0 keeps existing streams and creates missing ones with 1")
	fs.Var(zoneFlag{&cfg.ReportZone}, "report-zone", "the bank's time `zone`: its report's days and times without an offset (IANA name or +03:00)")
	fs.IntVar(&cfg.ReportParts, "report-parts", cfg.ReportParts, "part `files` of a day's bank report: the day is covered once that many distinct parts (or one whole report) were imported")
	fs.DurationVar(&cfg.RepeatRetention, "repeat-retention", cfg.RepeatRetention, "the duplicate guard holds a reference paid or in flight in another batch this long")
	fs.DurationVar(&cfg.DuplicateWindow, "duplicate-window", cfg.DuplicateWindow, "the duplicate guard holds the same payee and amount under another reference within this window")
	fs.BoolVar(&cfg.HeldNeedApproval, "held-need-approval", cfg.HeldNeedApproval, "a batch with rows the duplicate guard held waits for approval as a whole")
	fs.IntVar(&cfg.BreakerFailures, "breaker-failures", cfg.BreakerFailures, "put a batch on hold when this `many` of its last --breaker-window finished rows failed with one bank code (-1: never)")
	fs.IntVar(&cfg.BreakerWindow, "breaker-window", cfg.BreakerWindow, "the breaker looks at this `many` finished rows")
	fs.DurationVar(&cfg.LinkTTL, "link-ttl", cfg.LinkTTL, "a recipient link (a widget row's card) stays open this long")
	fs.DurationVar(&cfg.CardWait, "card-wait", cfg.CardWait, "a released widget row with no recipient link fails this long after the release")
	fs.Int64Var(&cfg.ExpectedFee.Bps, "expected-fee-bp", cfg.ExpectedFee.Bps, "the wallet check reckons this fee per payout, in basis points of its amount (your contract's tariff)")
	fs.Var(minorFlag{&cfg.ExpectedFee.Min}, "expected-fee-min", "the wallet check reckons at least this fee per payout, in `RUB` (your contract's tariff)")
	fs.DurationVar(&cfg.WalletRecheck, "wallet-recheck", cfg.WalletRecheck, "how often a batch waiting for funds reads the wallet again")
	return &cfg
}

// zoneFlag is a time-zone flag (bank131.LoadReportZone).
type zoneFlag struct{ loc **time.Location }

func (z zoneFlag) String() string {
	if z.loc == nil || *z.loc == nil {
		return bank131.DefaultReportZone
	}
	if *z.loc == bank131.ReportZone() {
		return bank131.DefaultReportZone
	}
	return (*z.loc).String()
}

func (z zoneFlag) Set(s string) error {
	loc, err := bank131.LoadReportZone(s)
	if err != nil {
		return err
	}
	*z.loc = loc
	return nil
}

// minorFlag is an amount flag in major units ("15.00"), kept in minor units.
type minorFlag struct{ v *int64 }

func (f minorFlag) String() string {
	if f.v == nil {
		return ""
	}
	return money.New(*f.v, "RUB").Decimal()
}

func (f minorFlag) Set(s string) error {
	a, err := money.Parse(s, "RUB")
	if err != nil {
		return err
	}
	*f.v = a.Minor
	return nil
}

// sweepEvery makes the sweeper run at least five times per --stuck-after
// unless --sweep-interval is given: a row whose job is lost is re-enqueued
// at the first sweep after it is --stuck-after old, so with the default
// interval (10 s) and --stuck-after 10s a job deleted by hand came back
// 17 s after (payoutbench -run procs -delete-job), and within 12 s of
// its deletion at most with a sweep every 2 s. A sweep costs a stream-info
// request and two index searches (BenchmarkSweepLongQueue: ~2 ms).
func sweepEvery(fs *flag.FlagSet, cfg *ledger.Config) {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "sweep-interval" })
	if !given && cfg.StuckAfter > 0 && cfg.StuckAfter/5 < cfg.SweepInterval {
		cfg.SweepInterval = cfg.StuckAfter / 5
	}
}
