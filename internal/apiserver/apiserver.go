// Package apiserver assembles the people-facing HTTP API that the ledger
// process serves (`ledger run --http`, and `payrun up`): the Guard over
// the ledger's directory of people and its sessions file, ingest's upload
// handler (which seals card numbers and publishes to the intake stream
// without ever being able to open them again once 16a's public keys land),
// the ledger's reports and its command handler, and the web console
// (internal/console: its pages, and the Guard's sign-in page), on
// httpapi's route table. It holds the wiring only; every piece is its own
// package's.
package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/console"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/recipient"
	"github.com/payrun/payrun/internal/secret"
)

// Config configures the API.
type Config struct {
	Ledger *ledger.Service
	// JS and Sealer publish uploads; without them POST /batches answers
	// 503 (validation still works).
	JS     jetstream.JetStream
	Sealer *secret.Sealer
	// Hosts the listener answers to (default loopback names), Secure for
	// HTTPS (Secure cookies).
	Hosts  []string
	Secure bool
	// Webhooks and Metrics, when set, are served on the same listener
	// (payrun up); production keeps webhooks on hookrelay and metrics on
	// their own listener.
	Webhooks http.Handler
	Metrics  http.Handler
	// Zone is the time zone the console shows times in (default
	// console.DefaultZone, Europe/Moscow).
	Zone    *time.Location
	TempDir string // uploads' spool folder
	// Recipient links (internal/recipient), served when WidgetScript is
	// set: the bank client that issues public tokens and answers
	// token/info, the URL of the bank's tokenization widget script, and
	// where recipients reach this listener (scheme://host[:port]).
	Bank         recipient.Bank
	WidgetScript string
	PublicURL    string
	Logger       *slog.Logger
}

// API is the assembled handler and what it holds open.
type API struct {
	Handler  http.Handler
	Guard    *httpapi.Guard
	sessions *ledger.Sessions
	stop     context.CancelFunc
}

// New opens the sessions file beside the ledger's database and builds the
// handler.
func New(cfg Config) (*API, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db := cfg.Ledger.DB()
	sessions, err := ledger.OpenSessions(ledger.SessionsPath(db.Path()))
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	go sessions.RunSweeper(ctx, 10*time.Minute)
	uploads := ingest.NewHandler(ingest.HandlerConfig{JS: cfg.JS, Sealer: cfg.Sealer, TempDir: cfg.TempDir, Logger: cfg.Logger,
		Audit: cfg.Ledger.Audit, Ledger: cfg.Ledger})
	var links *recipient.Handler
	var linkIssuer console.LinkIssuer
	if cfg.WidgetScript != "" {
		if links, err = recipient.New(recipient.Config{Ledger: cfg.Ledger, Bank: cfg.Bank, WidgetScript: cfg.WidgetScript,
			PublicURL: cfg.PublicURL, Logger: cfg.Logger}); err != nil {
			stop()
			sessions.Close()
			return nil, err
		}
		linkIssuer = links
	}
	pages, err := console.New(console.Config{Ledger: cfg.Ledger, Uploads: uploads, Zone: cfg.Zone, Secure: cfg.Secure,
		TempDir: cfg.TempDir, Logger: cfg.Logger, Links: linkIssuer})
	if err != nil {
		stop()
		sessions.Close()
		return nil, err
	}
	guard := httpapi.NewGuard(httpapi.GuardConfig{Directory: cfg.Ledger, Store: sessions, Hosts: cfg.Hosts, Secure: cfg.Secure,
		SignInPage: pages.SignInPage, Logger: cfg.Logger})
	routes := httpapi.Routes{
		Webhooks:  cfg.Webhooks,
		Uploads:   uploads,
		Reports:   ledger.NewHTTPHandler(db, ledger.WithHTTPLogger(cfg.Logger), ledger.WithAudit(cfg.Ledger.Audit)),
		Commands:  ledger.NewCommandHandler(cfg.Ledger, ledger.WithHTTPLogger(cfg.Logger)),
		Decisions: ledger.NewHTTPHandler(db, ledger.WithHTTPLogger(cfg.Logger), ledger.WithService(cfg.Ledger)),
		Metrics:   cfg.Metrics,
		Pages:     pages,
		Guard:     guard,
	}
	if links != nil {
		routes.Recipient = links
	}
	return &API{Handler: routes.Handler(), Guard: guard, sessions: sessions, stop: stop}, nil
}

// Close closes the sessions file.
func (a *API) Close() error {
	a.stop()
	if err := a.sessions.Close(); err != nil {
		return fmt.Errorf("close sessions: %w", err)
	}
	return nil
}
