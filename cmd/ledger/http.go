package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/apiserver"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/console"
	"github.com/payrun/payrun/internal/httpserve"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/secret"
)

// hostList is a repeatable --host flag.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }
func (h *hostList) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*h = append(*h, p)
		}
	}
	return nil
}

// httpFlags configure the people-facing API.
type httpFlags struct {
	addr      string
	hosts     hostList
	secure    bool
	publicKey string // card.pub: uploads seal card numbers to the processors' public key
	uploadKey string // upload.key: row digests and card fingerprints
	zone      string // the console's time zone
	// Recipient links: the bank's widget script (empty: no links), where
	// recipients reach the API, and the bank client issuing public tokens.
	widgetScript string
	publicURL    string
	bank         cli.BankFlags
}

// serveHTTP serves the authenticated API (apiserver: uploads, batches and
// reports, approvals, the audit log, users, tokens, policy) and the web
// console (its pages at /, times in --time-zone) on addr until
// ctx ends. An empty addr serves nothing. It returns the bound address and
// a function closing what it opened.
func serveHTTP(ctx context.Context, f httpFlags, svc *ledger.Service, js jetstream.JetStream, log *slog.Logger) (string, func(), error) {
	if f.addr == "" {
		return "", func() {}, nil
	}
	// Uploads seal card numbers to the processors' public key: the API
	// holds no key that opens one. Without the keys it validates but does
	// not publish.
	var sealer *secret.Sealer
	if f.publicKey != "" || f.uploadKey != "" {
		var err error
		if sealer, err = secret.LoadSealer(f.publicKey, f.uploadKey); err != nil {
			return "", nil, fmt.Errorf("upload keys (--card-public-key, --upload-key): %w", err)
		}
	}
	zone, err := console.LoadZone(f.zone)
	if err != nil {
		return "", nil, &cli.UsageError{Err: fmt.Errorf("--time-zone: %w", err)}
	}
	acfg := apiserver.Config{Ledger: svc, JS: js, Sealer: sealer, Hosts: f.hosts, Secure: f.secure,
		Zone: zone, TempDir: os.TempDir(), Logger: log}
	if f.widgetScript != "" {
		bank, err := f.bank.Client(nil, log.With(logkey.Component, "bank131"))
		if err != nil {
			return "", nil, err
		}
		acfg.Bank, acfg.WidgetScript, acfg.PublicURL = bank, f.widgetScript, f.publicURL
		if acfg.PublicURL == "" {
			acfg.PublicURL = "http://" + f.addr
		}
	}
	api, err := apiserver.New(acfg)
	if err != nil {
		return "", nil, err
	}
	srv, err := httpserve.Serve(ctx, f.addr, api.Handler, httpserve.Logger(log))
	if err != nil {
		api.Close()
		return "", nil, fmt.Errorf("API listener: %w", err)
	}
	log.Info("API over HTTP", "http", srv.URL(), "hosts", f.hosts.String())
	return srv.Addr(), func() { api.Close() }, nil
}
