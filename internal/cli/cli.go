// Package cli holds what payrun's long-running commands share: logging
// (text on a terminal, JSON when asked), the /metrics listener, the flags
// that connect to NATS and the flags that build a Bank 131 client.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/term"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/httpserve"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/queue"
)

// LogFlags are --log-format and -v.
type LogFlags struct {
	Format  string
	Verbose bool
}

// Register adds the flags to fs.
func (l *LogFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&l.Format, "log-format", envOr("PAYRUN_LOG_FORMAT", "auto"), "log `format`: auto (text on a terminal, JSON otherwise), text or json ($PAYRUN_LOG_FORMAT)")
	fs.BoolVar(&l.Verbose, "v", false, "log debug lines")
}

// Logger returns the logger the flags ask for, writing to w. An unknown
// format is a usage error.
func (l *LogFlags) Logger(w io.Writer) (*slog.Logger, error) {
	log, err := NewLogger(w, l.Format, l.Verbose)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--log-format: %w", err)}
	}
	return log, nil
}

// NewLogger returns a slog logger: format is auto, text or json; auto means
// text when w is a terminal and JSON otherwise.
func NewLogger(w io.Writer, format string, verbose bool) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if verbose {
		opts.Level = slog.LevelDebug
	}
	switch strings.ToLower(format) {
	case "", "auto":
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q is not auto, text or json", format)
}

// ServeMetrics serves /metrics (and /healthz) on addr until ctx ends. An
// empty addr serves nothing. It returns the bound address.
func ServeMetrics(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	if addr == "" {
		return "", nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	srv, err := httpserve.Serve(ctx, addr, mux, httpserve.ShutdownGrace(2*time.Second), httpserve.Logger(log))
	if err != nil {
		return "", fmt.Errorf("metrics listener: %w", err)
	}
	log.Info("metrics on /metrics", "addr", srv.Addr())
	return srv.Addr(), nil
}

// BankFlags build a Bank 131 client.
type BankFlags struct {
	URL         string
	Project     string
	Submerchant string
	KeyFile     string
	Timeout     time.Duration
	KeyForm     string // bank131.Config.KeyForm
}

// DefaultPartnerKey is the sandbox-only partner key shipped in samples/keys.
const DefaultPartnerKey = "samples/keys/partner_private.pem"

// Register adds the flags to fs; prefix names a second client ("card-").
func (b *BankFlags) Register(fs *flag.FlagSet, prefix, what string) {
	env := strings.ToUpper(strings.ReplaceAll(prefix, "-", "_"))
	def := func(name, fallback string) string { return envOr("BANK131_"+env+name, fallback) }
	if prefix == "" {
		fs.StringVar(&b.URL, "bank-url", def("URL", "http://127.0.0.1:8131"), "Bank 131 API base `URL` ($BANK131_URL)")
		fs.StringVar(&b.Project, "project", def("PROJECT", "payrun"), "Bank 131 project (X-PARTNER-PROJECT) "+what+" ($BANK131_PROJECT)")
		fs.StringVar(&b.KeyFile, "private-key", def("PRIVATE_KEY", DefaultPartnerKey), "partner private key `file` (PEM) signing requests ($BANK131_PRIVATE_KEY); the default is the sandbox-only key")
		fs.StringVar(&b.Submerchant, "submerchant", def("SUBMERCHANT", ""), "X-PARTNER-SUBMERCHANT, if the bank gave you one")
		fs.DurationVar(&b.Timeout, "bank-timeout", 30*time.Second, "timeout of one Bank 131 call")
		fs.StringVar(&b.KeyForm, "idempotency-key-form", bank131.KeyAsIs, "how idempotency keys travel: "+bank131.KeyAsIs+" (payrun's keys, with '/') or "+
			bank131.KeyUUID+" (a UUID derived from each, for a bank that accepts no other syntax); change it only while no row is at the bank")
		return
	}
	fs.StringVar(&b.Project, prefix+"project", def("PROJECT", ""), "Bank 131 project "+what+" (empty: the main project)")
	fs.StringVar(&b.KeyFile, prefix+"private-key", def("PRIVATE_KEY", ""), "private key `file` of that project (empty: the main key)")
}

// Client returns the client the flags describe. base fills what a second
// client leaves empty; nil for the main one. A second client with no
// project returns nil.
func (b *BankFlags) Client(base *BankFlags, log *slog.Logger) (*bank131.Client, error) {
	c := *b
	if base != nil {
		if c.Project == "" {
			return nil, nil
		}
		if c.KeyFile == "" {
			c.KeyFile = base.KeyFile
		}
		c.URL, c.Submerchant, c.Timeout, c.KeyForm = base.URL, base.Submerchant, base.Timeout, base.KeyForm
	}
	key, err := bank131.ReadPrivateKey(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("partner %w", err)
	}
	return bank131.NewClient(bank131.Config{BaseURL: c.URL, Project: c.Project, Submerchant: c.Submerchant,
		PrivateKey: key, Timeout: c.Timeout, KeyForm: c.KeyForm, Logger: log})
}

// NATSURL is the default NATS URL: $NATS_URL or the local server.
func NATSURL() string { return envOr("NATS_URL", "nats://127.0.0.1:4222") }

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// APIFlags are --api and --token-file: how a command acts for a person,
// through payrun's authenticated HTTP API.
type APIFlags struct {
	URL       string
	TokenFile string
}

// Register adds the flags to fs.
func (a *APIFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&a.URL, "api", envOr("PAYRUN_API", "http://127.0.0.1:8132"), "payrun's HTTP API `URL` ($PAYRUN_API; `ledger run --http`, `payrun up`)")
	fs.StringVar(&a.TokenFile, "token-file", "", "`file` with your API token (default $"+httpapi.TokenEnv+")")
}

// Client returns an API client with the token.
func (a *APIFlags) Client() (*httpapi.Client, error) {
	tok, err := httpapi.LoadToken(a.TokenFile)
	if err != nil {
		return nil, err
	}
	return httpapi.NewClient(a.URL, tok), nil
}

// NATSFlags are --nats-url and the identity and TLS flags every command that
// talks to NATS takes (queue.Security): --nats-nkey or --nats-creds, and
// --nats-ca, --nats-cert, --nats-key. Each also reads its variable
// ($NATS_URL, $NATS_NKEY, $NATS_CREDS, $NATS_CA, $NATS_CERT, $NATS_KEY), so
// a unit's environment file holds them once.
type NATSFlags struct {
	URL string
	queue.Security
}

// Register adds the flags to fs; url is --nats-url's default and help says
// what the URL is for.
func (n *NATSFlags) Register(fs *flag.FlagSet, url, help string) {
	fs.StringVar(&n.URL, "nats-url", url, help)
	fs.StringVar(&n.NKey, "nats-nkey", envOr("NATS_NKEY", ""), "this component's NATS user nkey seed `file` (deploy/nats; $NATS_NKEY)")
	fs.StringVar(&n.Creds, "nats-creds", envOr("NATS_CREDS", ""), "this component's NATS credentials `file` (user JWT and seed; $NATS_CREDS), instead of --nats-nkey")
	fs.StringVar(&n.CA, "nats-ca", envOr("NATS_CA", ""), "CA certificate `file` (PEM) that signed the NATS servers' certificates; turns TLS on ($NATS_CA)")
	fs.StringVar(&n.Cert, "nats-cert", envOr("NATS_CERT", ""), "client certificate `file` (PEM) for mutual TLS ($NATS_CERT)")
	fs.StringVar(&n.Key, "nats-key", envOr("NATS_KEY", ""), "client certificate's private key `file` (PEM) ($NATS_KEY)")
}

// Connect dials n.URL as the component name (queue.Connect) with the
// identity and TLS the flags give; the server's asynchronous refusals are
// logged to log.
func (n *NATSFlags) Connect(name string, log *slog.Logger, opts ...nats.Option) (*nats.Conn, error) {
	sec, err := n.Options()
	if err != nil {
		return nil, err
	}
	if log != nil {
		sec = append(sec, queue.LogErrors(log))
	}
	return queue.Connect(n.URL, name, append(sec, opts...)...)
}
