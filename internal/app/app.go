// Package app wires payrun's components into one process, as in
// production but embedded: nats-server with JetStream (file store in a data
// folder), the ledger (SQLite in the same folder), a processor, the webhook
// relay, ingest's upload endpoint, the ledger's report endpoints and, unless
// a real bank is configured, the Bank 131 sandbox. `payrun demo`, `payrun
// up` and the benchmarks run it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/hookrelay"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/httpserve"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/processor"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/queue/natsserver"
	"github.com/payrun/payrun/internal/secret"
)

// Config configures the all-in-one system.
type Config struct {
	// Dir is the data folder: nats/ (JetStream), ledger.db, data.key.
	Dir string
	// Listen is the address of payrun's HTTP endpoints (webhooks, uploads,
	// reports, metrics). Default 127.0.0.1:0 (any free port).
	Listen string
	// PublicURL is how the bank reaches Listen (webhooks); default
	// http://<bound address>.
	PublicURL string

	// Bank: when BankURL is empty the embedded sandbox is started and used
	// with the sandbox-only keys in KeysDir.
	BankURL         string
	Project         string // default "payrun"
	CardProject     string // default: the sandbox's "payrun-card" (single-request); "" with a real bank means Project
	BankPublicKey   []byte // PEM; default KeysDir/bank_public.pem
	PartnerKeyFile  string // default KeysDir/partner_private.pem
	KeysDir         string // default samples/keys
	SandboxListen   string // default 127.0.0.1:0
	SandboxFaults   sandbox.Faults
	SandboxTiming   sandbox.Timing
	AutoThreeDS     bool
	SandboxRetry    sandbox.WebhookRetry
	SandboxFirstID  int64
	SandboxInfoLogs bool

	// Processor.
	Rate        float64
	Burst       int
	Concurrency int
	CardFlow    processor.CardFlow

	// Ledger holds the ledger's settings; zero values take the ledger's
	// defaults, except the release interval (100ms here).
	Ledger ledger.Config

	Logger *slog.Logger
}

// App is the running system.
type App struct {
	cfg     Config
	log     *slog.Logger
	NATS    *natsserver.Server
	Conn    *nats.Conn
	JS      jetstream.JetStream
	DB      *ledger.DB
	Ledger  *ledger.Service
	Sandbox *sandbox.Server // nil with a real bank
	Sealer  *secret.Sealer
	Proc    *processor.Processor
	URL     string // payrun's HTTP endpoints
	BankURL string

	srv        *httpserve.Server
	cancelProc context.CancelFunc
	stopGauge  context.CancelFunc
	procDone   chan struct{}
	closeOnce  sync.Once
}

// Start starts every component and returns when they accept work.
func Start(ctx context.Context, cfg Config) (a *App, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("app: no data folder")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
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
	a = &App{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("app: data folder: %w", err)
	}

	key, err := secret.LoadKey(filepath.Join(cfg.Dir, "data.key"), true)
	if err != nil {
		return nil, err
	}
	if a.Sealer, err = secret.NewSealer(key); err != nil {
		return nil, err
	}
	if a.NATS, err = natsserver.Start(natsserver.Options{Dir: filepath.Join(cfg.Dir, "nats")}); err != nil {
		return nil, err
	}
	if a.Conn, err = queue.Connect(a.NATS.URL(), "payrun"); err != nil {
		return nil, err
	}
	if a.JS, err = jetstream.New(a.Conn); err != nil {
		return nil, fmt.Errorf("app: jetstream: %w", err)
	}
	if a.DB, err = ledger.Open(filepath.Join(cfg.Dir, "ledger.db")); err != nil {
		return nil, err
	}
	a.Ledger = ledger.NewService(a.DB, cfg.Ledger)
	if err := a.Ledger.Start(ctx, a.Conn); err != nil {
		return nil, err
	}
	gctx, stopGauge := context.WithCancel(context.WithoutCancel(ctx))
	a.stopGauge = stopGauge
	go a.DB.ExportMetrics(gctx, 5*time.Second)

	// payrun's HTTP endpoints (httpapi.Routes): bound before the sandbox
	// starts, so it knows where to send webhooks; served once it runs.
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
	routes := httpapi.Routes{
		Webhooks: hookrelay.New(hookrelay.Config{Verifier: verifier, JS: a.JS, Conn: a.Conn, Logger: cfg.Logger}),
		Uploads: ingest.NewHandler(ingest.HandlerConfig{JS: a.JS, Sealer: a.Sealer, TempDir: cfg.Dir, Logger: cfg.Logger,
			Ledger: a.Ledger}),
		Reports: ledger.NewHTTPHandler(a.DB, ledger.WithHTTPLogger(cfg.Logger)),
		Metrics: metrics.Handler(),
	}
	routes.Decisions = ledger.NewHTTPHandler(a.DB, ledger.WithHTTPLogger(cfg.Logger), ledger.WithService(a.Ledger))
	if a.srv, err = httpserve.Listen(cfg.Listen, routes.Handler(), httpserve.Logger(cfg.Logger)); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	a.URL = a.srv.URL()
	public := cfg.PublicURL
	if public == "" {
		public = a.URL
	}
	if cfg.BankURL == "" {
		if err := a.startSandbox(public + hookrelay.Path); err != nil {
			return nil, err
		}
	} else {
		a.BankURL = cfg.BankURL
	}
	a.srv.Start()

	if err := a.startProcessor(ctx); err != nil {
		return nil, err
	}
	a.log.Info("payrun running", "url", a.URL, "bank", a.BankURL, "dir", cfg.Dir)
	return a, nil
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
		FirstID: cfg.SandboxFirstID, Logger: sbLog,
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
	main, err := bank131.NewClient(bank131.Config{BaseURL: a.BankURL, Project: cfg.Project, PrivateKey: key, Logger: bankLog})
	if err != nil {
		return err
	}
	var card *bank131.Client
	if a.cfg.CardProject != "" && a.cfg.CardProject != cfg.Project {
		if card, err = bank131.NewClient(bank131.Config{BaseURL: a.BankURL, Project: a.cfg.CardProject, PrivateKey: key, Logger: bankLog}); err != nil {
			return err
		}
	}
	flow := cfg.CardFlow
	if flow == "" && card == nil {
		flow = processor.CardTwoStep
	}
	p, err := processor.New(processor.Config{Conn: a.Conn, Bank: main, CardBank: card, CardFlow: flow, Sealer: a.Sealer,
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
