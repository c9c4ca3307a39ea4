package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go"
)

// Security is how a component proves who it is to NATS and checks that the
// server is the cluster's: at most one of Creds (a .creds file: a user JWT
// and its nkey seed, for an operator/JWT set-up) and NKey (a file holding a
// user nkey seed, "SU…", the set-up in deploy/nats), and TLS: CA (the
// cluster's certificate authority, PEM) and, for mutual TLS, Cert and Key
// (this component's client certificate and key). The zero value is a
// plain, anonymous connection (the embedded server, the tests).
type Security struct {
	Creds string
	NKey  string
	CA    string
	Cert  string
	Key   string
}

// Options turns s into nats.go options, checking that each file it names
// can be read, so a missing key is a start error that names the file and
// not a connect error later.
func (s Security) Options() ([]nats.Option, error) {
	var opts []nats.Option
	if s.Creds != "" && s.NKey != "" {
		return nil, errors.New("NATS identity: give --nats-creds or --nats-nkey, not both")
	}
	if (s.Cert == "") != (s.Key == "") {
		return nil, errors.New("NATS TLS: --nats-cert and --nats-key go together")
	}
	for _, f := range []struct{ flag, path string }{
		{"--nats-creds", s.Creds}, {"--nats-nkey", s.NKey}, {"--nats-ca", s.CA}, {"--nats-cert", s.Cert}, {"--nats-key", s.Key},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return nil, fmt.Errorf("NATS %s: %w", f.flag, err)
		}
	}
	if s.Creds != "" {
		opts = append(opts, nats.UserCredentials(s.Creds))
	}
	if s.NKey != "" {
		o, err := nats.NkeyOptionFromSeed(s.NKey)
		if err != nil {
			return nil, fmt.Errorf("NATS --nats-nkey %s: %w", s.NKey, err)
		}
		opts = append(opts, o)
	}
	if s.CA != "" {
		opts = append(opts, nats.RootCAs(s.CA))
	}
	if s.Cert != "" {
		opts = append(opts, nats.ClientCert(s.Cert, s.Key))
	}
	if s.CA != "" || s.Cert != "" {
		// TLS 1.2 is nats.go's floor; the cluster's certificates are ECDSA.
		opts = append(opts, nats.Secure())
	}
	return opts, nil
}

// InboxPrefix is the prefix of a component's reply subjects: _INBOX.<name>.
// Connect sets it, so a server with per-component permissions lets each
// component subscribe to its own replies only (deploy/nats/payrun-auth.conf)
// and none reads another's answers.
func InboxPrefix(name string) string { return "_INBOX." + Token(name) }

// LogErrors logs what the server refuses asynchronously (a permissions
// violation, a slow consumer), which nats.go otherwise drops: a component
// that publishes where it may not says so in its log.
func LogErrors(log *slog.Logger) nats.Option {
	return nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
		attrs := []any{"error", err.Error(), "name", nc.Opts.Name}
		if sub != nil {
			attrs = append(attrs, "subject", sub.Subject)
		}
		if errors.Is(err, nats.ErrPermissionViolation) {
			log.Error("NATS refused an operation of this component", attrs...)
			return
		}
		log.Warn("NATS error", attrs...)
	})
}
