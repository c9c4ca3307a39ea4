// Command bank131-sandbox runs the Bank 131 sandbox bank on a local address:
// the partner API under /api/v1, /api/v2 and /api/v1.1, signed webhooks to
// --webhook-url, /sandbox/payouts, /sandbox/report (and the daily report
// files dropped into --report-dir), /sandbox/wallet and
// /sandbox/submerchants for inspection, POST /sandbox/wallet to top a
// wallet up, and the tokenization widget stand-in under /sandbox/widget/.
// Where the bank leaves a behaviour open, a flag chooses it (see
// internal/bank131/sandbox/README.md).
package main

import (
	"context"
	"crypto/rsa"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
)

// extraProjects collects --extra-project NAME:MODE values.
type extraProjects []string

func (e *extraProjects) String() string     { return strings.Join(*e, ",") }
func (e *extraProjects) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	cli.Exit("bank131-sandbox", err)
}

// run starts the sandbox from command-line arguments, calls ready with its
// URL, and serves until ctx ends.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(url string)) error {
	fs := flag.NewFlagSet("bank131-sandbox", flag.ContinueOnError)
	fs.SetOutput(logOut)
	var (
		listen      = fs.String("listen", "127.0.0.1:8131", "address to listen on")
		publicURL   = fs.String("public-url", "", "base URL callers use to reach the sandbox (default http://<listen>)")
		project     = fs.String("project", "payrun", "partner project name (X-PARTNER-PROJECT)")
		mode        = fs.String("mode", "two-step", "the project's mode: two-step, single-request or auto-confirm")
		partnerKey  = fs.String("partner-public-key", "samples/keys/partner_public.pem", "partner public key (PEM) that verifies requests")
		bankKey     = fs.String("bank-private-key", "samples/keys/bank_private.pem", "bank private key (PEM) that signs webhooks")
		webhookURL  = fs.String("webhook-url", "", "where to POST webhooks (e.g. http://127.0.0.1:8080/webhooks/bank131)")
		replay      = fs.Bool("idempotency-replay", false, "answer a repeated idempotency key with the original answer instead of idempotency_key_already_exists")
		auto3DS     = fs.Bool("auto-3ds", false, "complete 3-D Secure without opening the link")
		noCancelFin = fs.Bool("no-finished-on-cancel", false, "do not send payment_finished after session/cancel")
		unknownCode = fs.String("unknown-project-code", "identification_error", "error code for an unknown project: identification_error or authorization_error")
		firstID     = fs.Int64("first-id", 0, "first session/payout number (0: derived from the clock)")
		logLevel    = fs.String("log-level", "info", "debug, info, warn or error")
		reportDir   = fs.String("report-dir", "", "drop each day's report files into this `folder` (the bank's SFTP delivery) at the day's end and on POST /sandbox/report/drop")
		contract    = fs.String("contract", sandbox.DefaultContract, "the contract number the daily report names")
		product     = fs.String("product", sandbox.DefaultProduct, "the product the daily report names")
		wallet      = fs.String("wallet-balance", money.New(sandbox.DefaultWalletBalance, "RUB").Decimal(), "each project's wallet at the start, in RUB (0: empty)")

		processing     = fs.Duration("processing-delay", 200*time.Millisecond, "start → ready_to_confirm (or → final in single-request mode)")
		settle         = fs.Duration("settle-delay", 200*time.Millisecond, "confirm/cancel/3-D Secure → final status")
		confirmTimeout = fs.Duration("confirm-timeout", 240*time.Minute, "cancel payouts not confirmed within this time (confirm_timeout)")
		threeDS        = fs.Duration("3ds-timeout", 15*time.Minute, "fail transfers whose 3-D Secure page was not passed within this time (3DS_error)")
		errorResolve   = fs.Duration("error-resolve-delay", 2*time.Second, "session error trigger → resolved")
		refundDelay    = fs.Duration("refund-delay", time.Second, "refund trigger: success → payment_refunded")
		retryInitial   = fs.Duration("webhook-retry-initial", time.Second, "first webhook retry interval (doubles)")
		retryMax       = fs.Duration("webhook-retry-max", 15*time.Minute, "longest webhook retry interval")
		retryGiveUp    = fs.Duration("webhook-give-up", 30*time.Minute, "stop retrying a webhook after this long")

		seed        = fs.Uint64("fault-seed", 1, "seed of the fault generator")
		latency     = fs.Duration("fault-latency", 0, "latency added to every API answer")
		jitter      = fs.Duration("fault-jitter", 0, "random extra latency up to this")
		errors5xx   = fs.Float64("fault-5xx", 0, "share of API requests answered 500/502 without processing (0..1)")
		drops       = fs.Float64("fault-drop", 0, "share of API requests processed and answered by closing the connection")
		lost        = fs.Float64("fault-lost", 0, "share of API requests lost: read, not processed, the connection closed")
		rateLimit   = fs.Float64("fault-rate-limit", 0, "requests per second above which the sandbox answers 429 (0: off)")
		rateBurst   = fs.Int("fault-rate-burst", 1, "burst of the rate limit")
		hookDup     = fs.Float64("fault-webhook-duplicate", 0, "share of webhooks sent twice")
		hookReorder = fs.Float64("fault-webhook-reorder", 0, "share of webhooks held back behind the session's next one")
		hookDrop    = fs.Float64("fault-webhook-drop", 0, "share of webhooks never sent")
	)
	var extra extraProjects
	fs.Var(&extra, "extra-project", "another project NAME:MODE sharing the partner key (repeatable), e.g. payrun-pci:single-request")
	var modes sandbox.Modes
	modes.RegisterFlags(fs)
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
	balance, err := money.Parse(*wallet, "RUB")
	if err != nil || balance.Minor < 0 {
		return fmt.Errorf("--wallet-balance %q: want a non-negative amount in RUB", *wallet)
	}
	if balance.Minor == 0 {
		balance.Minor = -1 // the sandbox's "empty wallet"
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return cli.Usagef("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))

	pub, err := readPublicKey(*partnerKey)
	if err != nil {
		return err
	}
	bankPriv, err := readPrivateKey(*bankKey)
	if err != nil {
		return err
	}
	m, err := sandbox.ParseMode(*mode)
	if err != nil {
		return cli.Usagef("--mode: %w", err)
	}
	projects := []sandbox.Project{{Name: *project, PublicKey: pub, Mode: m, Contract: *contract, Product: *product}}
	for _, e := range extra {
		name, modeText, ok := strings.Cut(e, ":")
		m, err := sandbox.ParseMode(modeText)
		if err != nil || !ok || name == "" {
			return cli.Usagef("--extra-project %q: want NAME:MODE", e)
		}
		projects = append(projects, sandbox.Project{Name: name, PublicKey: pub, Mode: m, Contract: *contract, Product: *product})
	}

	srv, err := sandbox.New(sandbox.Config{
		Projects: projects, BankKey: bankPriv, WebhookURL: *webhookURL, PublicURL: *publicURL,
		UnknownProjectCode: *unknownCode, IdempotencyReplay: *replay, NoFinishedOnCancel: *noCancelFin,
		AutoThreeDS: *auto3DS, FirstID: *firstID, Logger: log, WalletBalance: balance.Minor, Modes: modes, ReportDir: *reportDir,
		Timing: sandbox.Timing{Processing: *processing, Settle: *settle, ConfirmTimeout: *confirmTimeout,
			ThreeDSTimeout: *threeDS, ErrorResolve: *errorResolve, Refund: *refundDelay},
		WebhookRetry: sandbox.WebhookRetry{Initial: *retryInitial, Max: *retryMax, GiveUp: *retryGiveUp},
		Faults: sandbox.Faults{Seed: *seed, Latency: *latency, Jitter: *jitter, ServerErrors: *errors5xx,
			Drops: *drops, Lost: *lost, RateLimit: *rateLimit, RateBurst: *rateBurst, WebhookDuplicates: *hookDup,
			WebhookReorders: *hookReorder, WebhookDrops: *hookDrop},
	})
	if err != nil {
		return err
	}
	if err := srv.Start(*listen); err != nil {
		return err
	}
	log.Info("sandbox ready", "url", srv.URL())
	if ready != nil {
		ready(srv.URL())
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		log.Warn("close", logkey.Error, err)
	}
	return nil
}

func readPublicKey(path string) (*rsa.PublicKey, error) {
	k, err := bank131.ReadPublicKey(path)
	if err != nil {
		return nil, fmt.Errorf("partner %w", err)
	}
	return k, nil
}

func readPrivateKey(path string) (*rsa.PrivateKey, error) {
	k, err := bank131.ReadPrivateKey(path)
	if err != nil {
		return nil, fmt.Errorf("bank %w", err)
	}
	return k, nil
}
