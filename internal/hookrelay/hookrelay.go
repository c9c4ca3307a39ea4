// Package hookrelay receives Bank 131's webhooks, verifies X-PARTNER-SIGN
// over the raw body before anything else, and publishes verified bodies to
// JetStream (one subject per webhook type, deduplicated by the body's
// SHA-256). It answers 200 only after JetStream acknowledged the publish, so
// the bank retries whatever was not stored. It keeps no state: any number of
// relays may run behind a load balancer.
package hookrelay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/queue"
)

// Path is where the bank posts webhooks (httpapi.WebhookPath).
const Path = httpapi.WebhookPath

// DefaultMaxBody caps a webhook body. The bank's largest documented
// webhooks (cross-border transfers) are a few kilobytes.
const DefaultMaxBody = 256 << 10

// UnparseableType is the subject token for verified bodies that are not JSON
// objects with a type: kept as evidence, ignored by processors.
const UnparseableType = "_unparseable"

// Verifier checks a webhook body's signature (bank131.Verifier satisfies it).
type Verifier interface {
	Verify(body []byte, signature string) error
}

// Publisher is the part of JetStream the relay needs.
type Publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// Config configures a Relay.
type Config struct {
	Verifier Verifier
	JS       Publisher
	Conn     *nats.Conn // for /readyz; may be nil
	// Probe, when set, is /readyz's check that a webhook can be stored
	// now (StoreProbe); its answer is cached for a second.
	Probe          func(context.Context) error
	MaxBody        int64 // default DefaultMaxBody
	PublishTimeout time.Duration
	Logger         *slog.Logger
	Now            func() time.Time
}

// Relay is the webhook receiver's HTTP handler.
type Relay struct {
	cfg   Config
	mux   *http.ServeMux
	probe probeState
}

// New returns a Relay serving POST /webhooks/bank131, GET /healthz and GET /readyz.
func New(cfg Config) *Relay {
	metrics.Relay.Register()
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Relay{cfg: cfg, mux: http.NewServeMux()}
	r.mux.HandleFunc("POST "+Path, r.webhook)
	r.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	r.mux.HandleFunc("GET /readyz", r.ready)
	return r
}

// ServeHTTP implements http.Handler.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

// fail answers a refused webhook with httpapi's one error answer.
func (r *Relay) fail(w http.ResponseWriter, req *http.Request, err error) {
	httpapi.Error(w, req, r.cfg.Logger, err)
}

func (r *Relay) ready(w http.ResponseWriter, req *http.Request) {
	if r.cfg.Conn != nil && !r.cfg.Conn.IsConnected() {
		r.fail(w, req, ledgerapi.Errorf(ledgerapi.CodeUnavailable, "not connected to NATS"))
		return
	}
	if r.cfg.Probe != nil {
		if err := r.check(req.Context()); err != nil {
			r.fail(w, req, ledgerapi.Errorf(ledgerapi.CodeUnavailable, "cannot store webhooks: %v", err))
			return
		}
	}
	w.Write([]byte("ready\n"))
}

func (r *Relay) webhook(w http.ResponseWriter, req *http.Request) {
	log := r.cfg.Logger.With("remote", req.RemoteAddr)
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.cfg.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			metrics.Webhooks.WithLabelValues("", "too_large").Inc()
			log.Warn("webhook body too large", "size", tooLarge.Limit)
			r.fail(w, req, ledgerapi.Errorf(ledgerapi.CodeTooLarge, "body too large"))
			return
		}
		log.Warn("read webhook body", logkey.Error, err)
		r.fail(w, req, ledgerapi.Errorf(ledgerapi.CodeInvalid, "cannot read body"))
		return
	}
	if len(body) == 0 {
		metrics.Webhooks.WithLabelValues("", "invalid").Inc()
		log.Warn("empty webhook body")
		r.fail(w, req, ledgerapi.Errorf(ledgerapi.CodeInvalid, "empty body"))
		return
	}
	sig := req.Header.Get("X-PARTNER-SIGN")
	if err := r.cfg.Verifier.Verify(body, sig); err != nil {
		metrics.Webhooks.WithLabelValues("", "bad_signature").Inc()
		log.Warn("security: webhook rejected, signature does not verify", "event", "webhook_bad_signature",
			"size", len(body), logkey.Error, err)
		r.fail(w, req, ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "signature does not verify"))
		return
	}

	// Only now is the body trusted enough to look at.
	hookType := UnparseableType
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &head); err == nil && head.Type != "" {
		// Bounded: never a subject, header or label of unbounded input.
		hookType = queue.HookToken(head.Type)
	} else {
		log.Warn("verified webhook is not a JSON object with a type; kept as evidence", logkey.Error, err)
	}
	// Nothing from the bank reaches JetStream or disk with a card number
	// in it: a string of the body that holds one (the bank masks its card
	// fields; its free text is the bank's own) is masked here, the only
	// change a body ever sees, and the message says so. The id is the
	// kept body's hash, so a redelivery of the same body dedups as before
	// and no hash of a card number is stored.
	body, masked := cardmask.RedactJSON(body)
	if masked > 0 {
		log.Warn("security: verified webhook held a card number; masked before it was stored", "event", "webhook_card_masked",
			"strings", masked)
	}
	sum := sha256.Sum256(body)
	id := hex.EncodeToString(sum[:])
	msg := &nats.Msg{
		Subject: queue.HookSubject(hookType),
		Data:    body,
		Header:  nats.Header{},
	}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	msg.Header.Set(queue.HeaderHookType, hookType)
	msg.Header.Set(queue.HeaderSig, sig)
	msg.Header.Set(queue.HeaderReceived, r.cfg.Now().UTC().Format(time.RFC3339Nano))
	if masked > 0 {
		msg.Header.Set(queue.HeaderMasked, strconv.Itoa(masked))
	}

	ctx, cancel := context.WithTimeout(req.Context(), r.cfg.PublishTimeout)
	defer cancel()
	if _, err := r.cfg.JS.PublishMsg(ctx, msg); err != nil {
		metrics.Webhooks.WithLabelValues(hookType, "publish_failed").Inc()
		log.Error("publish webhook", logkey.HookType, hookType, logkey.HookID, id, logkey.Error, err)
		r.fail(w, req, ledgerapi.Errorf(ledgerapi.CodeUnavailable, "not stored, retry later"))
		return
	}
	metrics.Webhooks.WithLabelValues(hookType, "published").Inc()
	log.Debug("webhook published", logkey.HookType, hookType, logkey.HookID, id)
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("ok\n"))
}
