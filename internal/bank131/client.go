package bank131

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/logkey"
)

// Header names of the partner API.
const (
	HeaderProject     = "X-PARTNER-PROJECT"
	HeaderSign        = "X-PARTNER-SIGN"
	HeaderIdempotency = "X-PARTNER-IDEMPOTENCY-KEY"
	HeaderSubmerchant = "X-PARTNER-SUBMERCHANT"
)

// DefaultTimeout bounds one call when Config.Timeout is zero (the bank's
// SDK uses 30 s).
const DefaultTimeout = 30 * time.Second

// maxResponse caps a response body.
const maxResponse = 4 << 20

// Config configures a Client.
type Config struct {
	// BaseURL is the bank's address without /api, e.g.
	// https://demo.bank131.ru or the sandbox's URL.
	BaseURL string
	// Project is the X-PARTNER-PROJECT value.
	Project string
	// Submerchant, if set, is sent as X-PARTNER-SUBMERCHANT on every call
	// (as the SDK's AuthenticateMiddleware does; mandatory for non-resident
	// financial institutions).
	Submerchant string
	// BPAVersion is the API version of bpa/session/multi/init/payment:
	// "v1.1" (the default, seed 003's request address and curl) or "v1"
	// (the same page's heading). See MultiInitPaymentPath.
	BPAVersion string
	// KeyForm is how an idempotency key travels in
	// X-PARTNER-IDEMPOTENCY-KEY: KeyAsIs (the default) as payrun made it
	// ("<batch>/<row>/a1/create"), KeyUUID as a UUID derived from it
	// (IdempotencyHeader), the same one every time. The bank documents no
	// key syntax (the SDK's withIdempotencyKey takes any string); a bank
	// that accepts only UUIDs, or short keys of [A-Za-z0-9_-], takes
	// KeyUUID (the sandbox's --idempotency-format). Change it only while no
	// row is at the bank: the next call of a row in flight would carry a
	// key the bank never saw.
	KeyForm string
	// PrivateKey signs every request body.
	PrivateKey *rsa.PrivateKey
	// HTTPClient sends the requests; nil means a client with keep-alive
	// connections sized for parallel workers, idle ones dropped after 30 s.
	// Its own Timeout, if any, also applies.
	//
	// Keep idle connections shorter-lived than the server's keep-alive
	// timeout: a request written on a connection the server has just
	// closed ends in EOF, which is indistinguishable from a crash after
	// the request arrived, so it is reported as outcome unknown.
	HTTPClient *http.Client
	// Timeout bounds each call (DefaultTimeout when zero).
	Timeout time.Duration
	// Logger receives a debug line per call, with card numbers redacted.
	// Nil means slog.Default().
	Logger *slog.Logger
}

// Client calls the Bank 131 partner API. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base string
	http *http.Client
	log  *slog.Logger
}

// NewClient returns a Client for cfg.
func NewClient(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("bank131: no base URL")
	}
	if cfg.Project == "" {
		return nil, errors.New("bank131: no project")
	}
	if cfg.PrivateKey == nil {
		return nil, errors.New("bank131: no private key")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BPAVersion == "" {
		cfg.BPAVersion = DefaultBPAVersion
	}
	if _, err := MultiInitPaymentPath(cfg.BPAVersion); err != nil {
		return nil, err
	}
	switch cfg.KeyForm {
	case "":
		cfg.KeyForm = KeyAsIs
	case KeyAsIs, KeyUUID:
	default:
		return nil, fmt.Errorf("bank131: idempotency key form %q is not %s or %s", cfg.KeyForm, KeyAsIs, KeyUUID)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 64
		tr.IdleConnTimeout = 30 * time.Second
		hc = &http.Client{Transport: tr}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), http: hc, log: log}, nil
}

// Project returns the project the client signs for.
func (c *Client) Project() string { return c.cfg.Project }

// CallOption changes one call.
type CallOption func(*callOptions)

type callOptions struct {
	idempotencyKey string
}

// WithIdempotencyKey sends X-PARTNER-IDEMPOTENCY-KEY. Repeating a call with
// the same key never makes the bank act twice; the bank answers
// idempotency_key_already_exists instead (see IsIdempotencyConflict).
func WithIdempotencyKey(key string) CallOption {
	return func(o *callOptions) { o.idempotencyKey = key }
}

// Idempotency key forms (Config.KeyForm).
const (
	KeyAsIs = "as-is"
	KeyUUID = "uuid"
)

// IdempotencyHeader is the X-PARTNER-IDEMPOTENCY-KEY value of key in form:
// key itself, or with KeyUUID the first 16 bytes of its SHA-256 as a UUID
// of version 8 (RFC 9562's custom form; variant 10), lower-case
// 8-4-4-4-12 hex. Deterministic: a repeat of the call carries the same.
func IdempotencyHeader(form, key string) string {
	if form != KeyUUID {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// encode serialises v once; these are the bytes that are signed and sent.
// HTML characters are not escaped, so Cyrillic and <>& travel as written.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// envelope is the common part of every answer.
type envelope struct {
	Status string `json:"status"`
	Error  *Error `json:"error"`
}

type paceKey struct{}

// WithPace returns a context whose calls wait on pace just before they are
// sent (after signing, before the call's timeout starts): the caller's
// rate limiter keeps the rate at the moment requests leave. An error from
// pace ends the call unsent; pace returns context errors only, so the call
// classifies as ClassRetry.
func WithPace(ctx context.Context, pace func(context.Context) error) context.Context {
	return context.WithValue(ctx, paceKey{}, pace)
}

// call sends v (encoded once) to path and decodes the answer into out.
func (c *Client) call(ctx context.Context, method, path string, v any, out any, opts []CallOption) error {
	body, err := encode(v)
	if err != nil {
		return fmt.Errorf("bank131 %s: encode request: %w", method, err)
	}
	return c.send(ctx, method, path, body, out, opts)
}

// send signs body, posts exactly these bytes and decodes the answer.
func (c *Client) send(ctx context.Context, method, path string, body []byte, out any, opts []CallOption) error {
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	sig, err := Sign(c.cfg.PrivateKey, body)
	if err != nil {
		return fmt.Errorf("bank131 %s: %w", method, err)
	}
	if pace, ok := ctx.Value(paceKey{}).(func(context.Context) error); ok {
		if err := pace(ctx); err != nil {
			return fmt.Errorf("bank131 %s: wait to send: %w", method, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bank131 %s: new request: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(HeaderProject, c.cfg.Project)
	req.Header.Set(HeaderSign, sig)
	if c.cfg.Submerchant != "" {
		req.Header.Set(HeaderSubmerchant, c.cfg.Submerchant)
	}
	if o.idempotencyKey != "" {
		req.Header.Set(HeaderIdempotency, IdempotencyHeader(c.cfg.KeyForm, o.idempotencyKey))
	}

	debug := c.log.Enabled(ctx, slog.LevelDebug)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		terr := &TransportError{Method: method, Sent: wrote.Load(), Err: err}
		if debug {
			c.log.Debug("bank call failed", "bank_method", method, "idempotency_key", o.idempotencyKey,
				"idempotency_header", req.Header.Get(HeaderIdempotency), "took", time.Since(start), logkey.Error, terr)
		}
		return terr
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if debug {
		c.log.Debug("bank call", "bank_method", method, "idempotency_key", o.idempotencyKey,
			"idempotency_header", req.Header.Get(HeaderIdempotency), "http_status", resp.StatusCode, "took", time.Since(start),
			"body", cardmask.Redact(string(body)))
	}
	if readErr != nil {
		if resp.StatusCode >= 400 {
			return &APIError{HTTPStatus: resp.StatusCode, Method: method, RetryAfter: retryAfter(resp)}
		}
		return &UnreadableError{Method: method, HTTPStatus: resp.StatusCode, Err: readErr}
	}

	var env envelope
	envErr := json.Unmarshal(raw, &env)
	if resp.StatusCode >= 400 || (envErr == nil && env.Status == "error") {
		apiErr := &APIError{HTTPStatus: resp.StatusCode, Method: method, RetryAfter: retryAfter(resp)}
		if envErr == nil && env.Error != nil {
			apiErr.Code = env.Error.Code
			apiErr.Description = env.Error.Description
			apiErr.RejectReasons = env.Error.RejectReasons
		}
		return apiErr
	}
	if envErr != nil {
		return &UnreadableError{Method: method, HTTPStatus: resp.StatusCode, Err: envErr}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return &UnreadableError{Method: method, HTTPStatus: resp.StatusCode, Err: err}
		}
	}
	return nil
}

func retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// IsConnectError reports whether err is a failure to reach the bank at all
// (refused, DNS, unreachable): the request certainly did not arrive.
func IsConnectError(err error) bool {
	var tr *TransportError
	if !errors.As(err, &tr) || tr.Sent {
		return false
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
