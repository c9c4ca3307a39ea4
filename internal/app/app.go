// Package app wires payrun's components into one process, as in
// production but embedded: nats-server with JetStream (file store in a data
// folder), the ledger (SQLite in the same folder), a processor, the webhook
// relay, ingest's upload endpoint, the ledger's report endpoints and, unless
// a real bank is configured, the Bank 131 sandbox. `payrun demo`, `payrun
// up` and the benchmarks run it.
//
// It serves two listeners, as production does with hookrelay on its own:
// people's (uploads, reports, metrics) and the bank's (webhooks, health),
// so that however people's requests load theirs, webhooks still get in.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/apiserver"
	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/hookrelay"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/httpserve"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/processor"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/queue/natsserver"
	"github.com/payrun/payrun/internal/secret"
)

// Config configures the all-in-one system.
type Config struct {
	// Dir is the data folder: nats/ (JetStream), ledger.db, and the key
	// files (card.key, card.pub, upload.key: made on the first run; a
	// data.key of an earlier payrun is read to open what it sealed).
	Dir string
	// Listen is the address of people's HTTP endpoints (uploads, reports,
	// metrics). Default 127.0.0.1:0 (any free port).
	Listen string
	// WebhookListen is the address of the bank's endpoints (POST
	// /webhooks/bank131, /healthz, /readyz), a listener of their own.
	// Default 127.0.0.1:0.
	WebhookListen string
	// PublicURL is how the bank reaches WebhookListen; default
	// http://<bound address>.
	PublicURL string
	// WidgetScript is the bank's tokenization widget script for recipient
	// links (default: the embedded sandbox's stand-in; with a real bank
	// and none, no links). RecipientURL is how recipients reach Listen
	// (default its URL).
	WidgetScript string
	RecipientURL string
	// NATSListen is the embedded nats-server's client address
	// (host:port). Default 127.0.0.1:0 (any free port).
	NATSListen string

	// Bank: when BankURL is empty the embedded sandbox is started and used
	// with the sandbox-only keys in KeysDir.
	BankURL         string
	Project         string // default "payrun"
	CardProject     string // default: the sandbox's "payrun-card" (single-request); "" with a real bank means Project
	Submerchant     string // X-PARTNER-SUBMERCHANT on every call of both projects, when set
	BankPublicKey   []byte // PEM; default KeysDir/bank_public.pem
	PartnerKeyFile  string // default KeysDir/partner_private.pem
	KeysDir         string // default samples/keys
	SandboxListen   string // default 127.0.0.1:0
	SandboxFaults   sandbox.Faults
	SandboxModes    sandbox.Modes
	SandboxTiming   sandbox.Timing
	AutoThreeDS     bool
	SandboxRetry    sandbox.WebhookRetry
	SandboxFirstID  int64
	SandboxInfoLogs bool
	// SandboxWallet is each sandbox project's starting wallet in RUB
	// kopecks (0: sandbox.DefaultWalletBalance; negative: empty).
	SandboxWallet int64

	// WalletCheck reads the main project's wallet (wallet/balance) before
	// each release chunk of a batch and while a batch waits for funds, as
	// `ledger run --wallet-check` does; WalletID picks the wallet when the
	// project has several in one currency. The fee it reckons is
	// Ledger.ExpectedFee.
	WalletCheck bool
	WalletID    string

	// Processor.
	Rate        float64
	Burst       int
	Concurrency int
	CardFlow    processor.CardFlow

	// Ledger holds the ledger's settings; zero values take the ledger's
	// defaults, except the release interval (100ms here).
	Ledger ledger.Config
	// Policy, when set, is saved as the approval policy on the first start
	// of the data folder (a ledger that never had one); default: the
	// ledger's (one approval for every batch).
	Policy *auth.Policy
	// LedgerClock replaces the ledger's clock (ledger.DB.Now); nil: the
	// time. Tests move it on to import the bank's reports of days that
	// are over.
	LedgerClock func() time.Time

	// Zone is the time zone of the web console's times (default
	// console.DefaultZone).
	Zone *time.Location
	// AdminPassword: on the first start of the data folder the admin also
	// gets a generated password, written to <data>/admin.password (mode
	// 0600), to sign in to the console with (payrun up).
	AdminPassword bool

	Logger *slog.Logger
}

// App is the running system.
type App struct {
	cfg        Config
	log        *slog.Logger
	NATS       *natsserver.Server
	Conn       *nats.Conn
	JS         jetstream.JetStream
	DB         *ledger.DB
	Ledger     *ledger.Service
	Sandbox    *sandbox.Server // nil with a real bank
	Sealer     *secret.Sealer  // the upload side's keys
	Opener     *secret.Opener  // the processor's
	Proc       *processor.Processor
	URL        string // people's HTTP endpoints: uploads, reports, metrics
	WebhookURL string // the bank's: webhooks (hookrelay.Path), health
	BankURL    string
	// AdminToken is <data>/admin.token: the first admin's API token,
	// written on the first start of the data folder (AdminCreated).
	AdminToken   string
	AdminCreated bool
	// AdminPassword is <data>/admin.password: the first admin's console
	// password, when Config.AdminPassword made one.
	AdminPassword string

	api    *apiserver.API
	wallet *lateWallet // Config.WalletCheck

	srv        *httpserve.Server
	hooks      *httpserve.Server
	cancelProc context.CancelFunc
	stopGauge  context.CancelFunc
	procDone   chan struct{}
	closeOnce  sync.Once
}

// Start starts every component and returns when they accept work.
func Start(ctx context.Context, cfg Config) (_ *App, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("app: no data folder")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.WebhookListen == "" {
		cfg.WebhookListen = "127.0.0.1:0"
	}
	if cfg.KeysDir == "" {
		cfg.KeysDir = "samples/keys"
	}
	if cfg.Project == "" {
		cfg.Project = "payrun"
	}
	if cfg.Ledger.ReleaseInterval == 0 {
		cfg.Ledger.ReleaseInterval = 100 * time.Millisecond
	}
	if cfg.Ledger.Logger == nil {
		cfg.Ledger.Logger = cfg.Logger
	}
	// a stays set when Start fails, so what did start is closed (the
	// results are nil then).
	a := &App{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("app: data folder: %w", err)
	}

	if err := a.loadKeys(); err != nil {
		return nil, err
	}
	natsOpts := natsserver.Options{Dir: filepath.Join(cfg.Dir, "nats")}
	if cfg.NATSListen != "" {
		host, port, err := net.SplitHostPort(cfg.NATSListen)
		if err != nil {
			return nil, fmt.Errorf("app: NATS listen address %q: want host:port", cfg.NATSListen)
		}
		if natsOpts.Port, err = strconv.Atoi(port); err != nil || natsOpts.Port < 0 || natsOpts.Port > 65535 {
			return nil, fmt.Errorf("app: NATS listen address %q: port is not a number from 0 to 65535", cfg.NATSListen)
		}
		natsOpts.Host = host
	}
	if a.NATS, err = natsserver.Start(natsOpts); err != nil {
		return nil, err
	}
	if a.Conn, err = queue.Connect(a.NATS.URL(), "payrun"); err != nil {
		return nil, err
	}
	if a.JS, err = jetstream.New(a.Conn, jetstream.WithPublishAsyncTimeout(queue.PublishAsyncTimeout)); err != nil {
		return nil, fmt.Errorf("app: jetstream: %w", err)
	}
	if a.DB, err = ledger.Open(filepath.Join(cfg.Dir, "ledger.db")); err != nil {
		return nil, err
	}
	if cfg.LedgerClock != nil {
		a.DB.Now = cfg.LedgerClock
	}
	if cfg.WalletCheck && cfg.Ledger.Wallet == nil {
		// The bank's address is known once the sandbox runs, after the
		// ledger starts: the wallet is read through the client made then.
		a.wallet = &lateWallet{}
		cfg.Ledger.Wallet = a.wallet
	}
	a.Ledger = ledger.NewService(a.DB, cfg.Ledger)
	if err := a.Ledger.Start(ctx, a.Conn); err != nil {
		return nil, err
	}
	gctx, stopGauge := context.WithCancel(context.WithoutCancel(ctx))
	a.stopGauge = stopGauge
	go a.DB.ExportMetrics(gctx, 5*time.Second)

	// payrun's HTTP endpoints (httpapi.Routes) on two listeners: bound
	// before the sandbox starts, so it knows where to send webhooks; served
	// once it runs.
	bankPub := cfg.BankPublicKey
	if bankPub == nil {
		if bankPub, err = os.ReadFile(filepath.Join(cfg.KeysDir, "bank_public.pem")); err != nil {
			return nil, fmt.Errorf("app: bank public key: %w", err)
		}
	}
	verifier, err := bank131.NewVerifierPEM(bankPub)
	if err != nil {
		return nil, fmt.Errorf("app: bank public key: %w", err)
	}
	if err := a.bootstrap(ctx); err != nil {
		return nil, err
	}
	// The bank's listener: webhooks are small, so the whole request is
	// bounded as hookrelay's is (cmd/hookrelay).
	bank := httpapi.Routes{Webhooks: hookrelay.New(hookrelay.Config{Verifier: verifier, JS: a.JS, Conn: a.Conn, Logger: cfg.Logger,
		Probe: hookrelay.StoreProbe(a.JS, "payrun-up")})}
	if a.hooks, err = httpserve.Listen(cfg.WebhookListen, bank.Handler(), httpserve.ReadTimeout(30*time.Second),
		httpserve.WriteTimeout(30*time.Second), httpserve.Logger(cfg.Logger)); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	a.WebhookURL = a.hooks.URL()
	public := cfg.PublicURL
	if public == "" {
		public = a.WebhookURL
	}
	if cfg.BankURL == "" {
		if err := a.startSandbox(public + hookrelay.Path); err != nil {
			return nil, err
		}
	} else {
		a.BankURL = cfg.BankURL
	}
	if a.wallet != nil {
		client, err := a.bankClient(cfg.Project)
		if err != nil {
			return nil, err
		}
		a.wallet.set(ledger.BankWallet{Client: client, ID: cfg.WalletID})
	}
	// People reach the API authenticated (apiserver) on their listener
	// (bound first: recipient links start with its URL); the bank's
	// webhooks, verified by its signature, have their own.
	if a.srv, err = httpserve.Listen(cfg.Listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.api.Handler.ServeHTTP(w, r)
	}), httpserve.Logger(cfg.Logger)); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	a.URL = a.srv.URL()
	acfg := apiserver.Config{Ledger: a.Ledger, JS: a.JS, Sealer: a.Sealer, TempDir: cfg.Dir, Logger: cfg.Logger,
		Metrics: metrics.Handler(), Zone: cfg.Zone}
	// Recipient links for widget rows: the bank's widget script (the
	// embedded sandbox's stand-in by default), the bank client that
	// issues public tokens.
	widget := cfg.WidgetScript
	if widget == "" && a.Sandbox != nil {
		widget = a.BankURL + sandbox.WidgetScriptPath
	}
	if widget != "" {
		if acfg.Bank, err = a.bankClient(cfg.Project); err != nil {
			return nil, err
		}
		acfg.WidgetScript, acfg.PublicURL = widget, cfg.RecipientURL
		if acfg.PublicURL == "" {
			acfg.PublicURL = a.URL
		}
	}
	if a.api, err = apiserver.New(acfg); err != nil {
		return nil, err
	}
	a.hooks.Start()
	a.srv.Start()

	if err := a.startProcessor(ctx); err != nil {
		return nil, err
	}
	a.log.Info("payrun running", "url", a.URL, "webhooks", a.WebhookURL, "bank", a.BankURL, "dir", cfg.Dir)
	return a, nil
}

// loadKeys makes the data folder's key files on the first run and reads
// them: the upload side's (card.pub, upload.key) and the processor's
// (card.key, and data.key when an earlier payrun left one).
func (a *App) loadKeys() error {
	dir := a.cfg.Dir
	made, err := secret.EnsureKeys(dir)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	if len(made) > 0 {
		a.log.Info("made the card keys", "files", made)
	}
	if a.Sealer, err = secret.LoadSealer(filepath.Join(dir, secret.CardPublicFile), filepath.Join(dir, secret.UploadKeyFile)); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	legacy := filepath.Join(dir, secret.LegacyKeyFile)
	if _, err := os.Stat(legacy); err != nil {
		legacy = ""
	}
	if a.Opener, err = secret.LoadOpener(filepath.Join(dir, secret.CardKeyFile), legacy); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	return nil
}

// bootstrap makes the first admin of a new data folder (its token in
// <data>/admin.token) and saves the configured policy if the ledger has
// none yet.
func (a *App) bootstrap(ctx context.Context) error {
	a.AdminToken = filepath.Join(a.cfg.Dir, "admin.token")
	created, err := a.Ledger.BootstrapAdmin(ctx, a.AdminToken)
	if err != nil {
		return fmt.Errorf("app: bootstrap admin: %w", err)
	}
	a.AdminCreated = created
	a.AdminPassword = filepath.Join(a.cfg.Dir, "admin.password")
	if created && a.cfg.AdminPassword {
		if err := a.setAdminPassword(ctx); err != nil {
			return err
		}
	}
	if a.cfg.Policy == nil {
		return nil
	}
	p, err := a.DB.Policy(ctx)
	if err != nil {
		return err
	}
	if p.Version == 0 {
		if _, err := a.Ledger.SetPolicy(ctx, auth.Actor{Name: "payrun", Via: auth.ViaHost}, *a.cfg.Policy); err != nil {
			return fmt.Errorf("app: policy: %w", err)
		}
	}
	return nil
}

// setAdminPassword gives the first admin a random password (20 letters
// and digits, about 119 bits) and writes it to <data>/admin.password.
func (a *App) setAdminPassword(ctx context.Context) error {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return fmt.Errorf("app: admin password: %w", err)
		}
		b[i] = alphabet[n.Int64()]
	}
	pw := string(b)
	if err := a.Ledger.SetPassword(ctx, auth.Actor{Name: "bootstrap", Via: auth.ViaHost}, "admin", pw); err != nil {
		return fmt.Errorf("app: admin password: %w", err)
	}
	if err := os.WriteFile(a.AdminPassword, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("app: write admin password: %w", err)
	}
	return nil
}

func (a *App) startSandbox(webhookURL string) error {
	cfg := a.cfg
	pub, err := bank131.ReadPublicKey(filepath.Join(cfg.KeysDir, "partner_public.pem"))
	if err != nil {
		return fmt.Errorf("app: sandbox partner %w", err)
	}
	bankKey, err := bank131.ReadPrivateKey(filepath.Join(cfg.KeysDir, "bank_private.pem"))
	if err != nil {
		return fmt.Errorf("app: sandbox bank %w", err)
	}
	if a.cfg.CardProject == "" {
		a.cfg.CardProject = "payrun-card"
	}
	sbLog := slog.New(slog.DiscardHandler)
	if cfg.SandboxInfoLogs {
		sbLog = a.log.With(logkey.Component, "bank131-sandbox")
	}
	sb, err := sandbox.New(sandbox.Config{
		Projects: []sandbox.Project{
			{Name: cfg.Project, PublicKey: pub, Mode: sandbox.ModeTwoStep},
			{Name: a.cfg.CardProject, PublicKey: pub, Mode: sandbox.ModeSingleRequest},
		},
		BankKey: bankKey, WebhookURL: webhookURL, AutoThreeDS: cfg.AutoThreeDS,
		Timing: cfg.SandboxTiming, WebhookRetry: cfg.SandboxRetry, Faults: cfg.SandboxFaults,
		FirstID: cfg.SandboxFirstID, Modes: cfg.SandboxModes, WalletBalance: cfg.SandboxWallet, Logger: sbLog,
	})
	if err != nil {
		return err
	}
	listen := cfg.SandboxListen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if err := sb.Start(listen); err != nil {
		return err
	}
	a.Sandbox, a.BankURL = sb, sb.URL()
	return nil
}

// bankClient is a client of the bank for project, with the partner key.
func (a *App) bankClient(project string) (*bank131.Client, error) {
	keyFile := a.cfg.PartnerKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(a.cfg.KeysDir, "partner_private.pem")
	}
	key, err := bank131.ReadPrivateKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("app: partner %w", err)
	}
	return bank131.NewClient(bank131.Config{BaseURL: a.BankURL, Project: project, Submerchant: a.cfg.Submerchant, PrivateKey: key,
		Logger: a.log.With(logkey.Component, "bank131")})
}

func (a *App) startProcessor(ctx context.Context) error {
	cfg := a.cfg
	keyFile := cfg.PartnerKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.KeysDir, "partner_private.pem")
	}
	key, err := bank131.ReadPrivateKey(keyFile)
	if err != nil {
		return fmt.Errorf("app: partner %w", err)
	}
	bankLog := a.log.With(logkey.Component, "bank131")
	main, err := a.bankClient(cfg.Project)
	if err != nil {
		return err
	}
	var card *bank131.Client
	if a.cfg.CardProject != "" && a.cfg.CardProject != cfg.Project {
		if card, err = bank131.NewClient(bank131.Config{BaseURL: a.BankURL, Project: a.cfg.CardProject, Submerchant: cfg.Submerchant, PrivateKey: key, Logger: bankLog}); err != nil {
			return err
		}
	}
	flow := cfg.CardFlow
	if flow == "" && card == nil {
		flow = processor.CardTwoStep
	}
	p, err := processor.New(processor.Config{Conn: a.Conn, Bank: main, CardBank: card, CardFlow: flow, Opener: a.Opener,
		Rate: cfg.Rate, Burst: cfg.Burst, Concurrency: cfg.Concurrency, Worker: "embedded",
		AckWait: 10 * time.Second, Logger: a.log.With(logkey.Component, "processor")})
	if err != nil {
		return err
	}
	a.Proc = p
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancelProc, a.procDone = cancel, make(chan struct{})
	go func() {
		defer close(a.procDone)
		if err := p.Run(pctx); err != nil {
			a.log.Error("processor stopped", logkey.Error, err)
		}
	}()
	return nil
}

// Projects are the bank projects payrun pays through: the main one, then
// the card project when it is another (each has its own daily report).
func (a *App) Projects() []string {
	if a.cfg.CardProject != "" && a.cfg.CardProject != a.cfg.Project {
		return []string{a.cfg.Project, a.cfg.CardProject}
	}
	return []string{a.cfg.Project}
}

// Ingest validates a payout file and publishes it as a batch.
func (a *App) Ingest(ctx context.Context, path string, opts ingest.Options) (*ingest.Result, error) {
	opts.Sealer = a.Sealer
	if opts.Logger == nil {
		opts.Logger = a.log
	}
	return ingest.Ingest(ctx, a.JS, path, opts)
}

// Close stops everything: the processor first (finishing the work in
// flight), then the endpoints, the sandbox, the ledger and NATS.
func (a *App) Close() error {
	var errs []error
	a.closeOnce.Do(func() {
		if a.cancelProc != nil {
			a.cancelProc()
			<-a.procDone
		}
		if a.srv != nil {
			errs = append(errs, a.srv.Shutdown())
		}
		if a.hooks != nil {
			errs = append(errs, a.hooks.Shutdown())
		}
		if a.api != nil {
			errs = append(errs, a.api.Close())
		}
		if a.Sandbox != nil {
			errs = append(errs, a.Sandbox.Close())
		}
		if a.stopGauge != nil {
			a.stopGauge()
		}
		if a.Ledger != nil {
			errs = append(errs, a.Ledger.Close())
		}
		if a.Conn != nil {
			a.Conn.Close()
		}
		if a.DB != nil {
			errs = append(errs, a.DB.Close())
		}
		if a.NATS != nil {
			a.NATS.Close()
		}
	})
	return errors.Join(errs...)
}

// lateWallet is the ledger's wallet (ledger.Wallet) before the bank's
// client exists: until set it answers an error, and the releaser tries
// again at its next round.
type lateWallet struct {
	w atomic.Pointer[ledger.BankWallet]
}

func (l *lateWallet) set(w ledger.BankWallet) { l.w.Store(&w) }

// Balance implements ledger.Wallet.
func (l *lateWallet) Balance(ctx context.Context, currency string) (money.Amount, error) {
	w := l.w.Load()
	if w == nil {
		return money.Amount{}, errors.New("app: the bank's client is not set up yet")
	}
	return w.Balance(ctx, currency)
}
