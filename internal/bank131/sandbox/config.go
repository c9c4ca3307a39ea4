package sandbox

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
)

// Mode is how a project's payouts are confirmed (the bank's manager sets it
// per project).
type Mode string

// Project modes.
const (
	// ModeTwoStep: after session/start/payout (or init/payout) the bank
	// sends ready_to_confirm and waits for session/confirm or
	// session/cancel. The default.
	ModeTwoStep Mode = "two-step"
	// ModeSingleRequest: no ready_to_confirm and no confirm; the payout
	// finishes one processing delay after the call (PCI DSS single-request
	// payouts, session/init/payout).
	ModeSingleRequest Mode = "single-request"
	// ModeAutoConfirm: the bank confirms by itself when the payout would
	// wait for confirmation; no ready_to_confirm is sent. The payout takes
	// a processing delay and a settle delay, like a confirmed two-step one.
	ModeAutoConfirm Mode = "auto-confirm"
)

// ParseMode reads a mode name; "" is two-step.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "", ModeTwoStep:
		return ModeTwoStep, nil
	case ModeSingleRequest, ModeAutoConfirm:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want two-step, single-request or auto-confirm)", s)
}

// Project is a partner project the sandbox knows.
type Project struct {
	Name      string
	PublicKey *rsa.PublicKey // verifies the partner's X-PARTNER-SIGN
	Mode      Mode
	// Contract and Product are what the daily report names in its
	// contract and product columns (DefaultContract, DefaultProduct when
	// empty): set by the bank per agreement.
	Contract, Product string
}

// Timing holds the sandbox's delays. Zero values take the defaults noted.
type Timing struct {
	// Processing is the time from start/init until the payout waits for
	// confirmation (two-step), or until it finishes (single-request).
	// Default 200ms.
	Processing time.Duration
	// Settle is the time from confirm (or automatic confirmation, or a
	// passed 3-D Secure) to the final status, and from cancel to
	// cancelled. Default 200ms.
	Settle time.Duration
	// ConfirmTimeout cancels a payout that waited this long for
	// session/confirm (error confirm_timeout). Default 240 minutes.
	ConfirmTimeout time.Duration
	// ThreeDSTimeout fails a transfer whose 3-D Secure page was not opened
	// in time (error 3DS_error). Default 15 minutes.
	ThreeDSTimeout time.Duration
	// ErrorResolve is how long a session triggered into status "error"
	// stays there before it is resolved (to succeeded). Default 2s.
	ErrorResolve time.Duration
	// Refund is the time from success to payment_refunded for the refund
	// trigger. Default 1s.
	Refund time.Duration
}

// WebhookRetry is the webhook delivery policy: anything but HTTP 200 (or no
// answer within Timeout) is tried again after Initial, doubling up to Max,
// until GiveUp has passed since the first attempt.
type WebhookRetry struct {
	Initial time.Duration // default 1s
	Max     time.Duration // default 15m
	GiveUp  time.Duration // default 30m
	Timeout time.Duration // per attempt, default 10s
	// Concurrency bounds webhook POSTs in flight at once (default 32).
	Concurrency int
}

// Faults configures fault injection. Rates are shares between 0 and 1 drawn
// from a random generator seeded with Seed, so a sequential test sees the
// same faults every run.
type Faults struct {
	Seed uint64
	// Latency is added to every API answer, plus a random part up to Jitter.
	Latency time.Duration
	Jitter  time.Duration
	// ServerErrors is the share of API requests answered with HTTP 500
	// (internal_error envelope) or 502 (a proxy's HTML page) without being
	// processed.
	ServerErrors float64
	// Drops is the share of API requests that are processed and then
	// answered by closing the connection (hijack and close).
	Drops float64
	// Lost is the share of API requests whose connection is closed after
	// the request was read and before it is processed: a request lost on
	// its way to the bank, which the client cannot tell from a drop.
	Lost float64
	// RateLimit, if positive, is the request rate (per second, all projects
	// together) above which requests get HTTP 429 too_many_requests with
	// Retry-After: 1. RateBurst is the bucket size (default 1).
	RateLimit float64
	RateBurst int
	// WebhookDuplicates is the share of webhooks delivered twice.
	WebhookDuplicates float64
	// WebhookReorders is the share of webhooks held back until the next
	// webhook of the same session was delivered (or ReorderHold passed).
	WebhookReorders float64
	// ReorderHold bounds how long a reordered webhook is held. Default 2s.
	ReorderHold time.Duration
	// WebhookDrops is the share of webhooks never sent.
	WebhookDrops float64
}

// FeeRule is the bank's fee for a domestic payout: BasisPoints of the
// amount (1 bp = 0.01 %), rounded up to a whole minor unit, at least Min.
type FeeRule struct {
	BasisPoints int64
	Min         int64
}

// Fee returns the fee for amount minor units.
func (f FeeRule) Fee(amount int64) int64 {
	fee := ceilDiv(amount*f.BasisPoints, 10000)
	if fee < f.Min {
		fee = f.Min
	}
	return fee
}

// DefaultFee is 0.5 % of the payout, at least 15.00 RUB.
var DefaultFee = FeeRule{BasisPoints: 50, Min: 1500}

// DefaultWalletBalance is each project's starting wallet: 100 trillion RUB
// (10^16 kopecks), more than any test or benchmark pays.
const DefaultWalletBalance int64 = 10_000_000_000_000_000

// DefaultTransferFee is the cross-border transfer fee charged to the
// sender: 1 % of the source amount, no minimum.
var DefaultTransferFee = FeeRule{BasisPoints: 100}

// Config configures a Server.
type Config struct {
	// Projects are the partner projects; at least one.
	Projects []Project
	// BankKey signs webhooks.
	BankKey *rsa.PrivateKey
	// WebhookURL is where webhooks go; it can be changed later with
	// SetWebhookURL. Empty means webhooks wait (and retry) until it is set.
	WebhookURL string
	// PublicURL is the sandbox's own address as callers reach it (used in
	// 3-D Secure links). Empty: Start sets it from the listener; for a
	// handler mounted elsewhere it is taken from the request's Host.
	PublicURL string
	// UnknownProjectCode is the error code for an unknown
	// X-PARTNER-PROJECT: identification_error (default) or
	// authorization_error.
	UnknownProjectCode string
	// IdempotencyReplay makes a repeated X-PARTNER-IDEMPOTENCY-KEY get the
	// original answer again instead of idempotency_key_already_exists.
	IdempotencyReplay bool
	// NoFinishedOnCancel stops payment_finished after session/cancel.
	NoFinishedOnCancel bool
	// AutoThreeDS completes 3-D Secure by itself one settle delay after
	// action_required (for demos without a browser).
	AutoThreeDS bool
	// Rates are roubles per one unit of a foreign currency, as decimal
	// text (upper-case ISO code → "2.7233"). Nil means DefaultRates.
	Rates map[string]string
	// Fee is the domestic payout fee (DefaultFee when zero).
	Fee FeeRule
	// TransferFee is the cross-border transfer fee (DefaultTransferFee when
	// zero; set BasisPoints -1 for no fee).
	TransferFee FeeRule
	// WalletBalance is each project's wallet (collateral account) at the
	// start, in RUB kopecks: payouts draw it down by amount plus fee, and
	// a payout it does not cover is answered insufficient_wallet_balance.
	// Zero means DefaultWalletBalance; negative means an empty wallet.
	WalletBalance int64
	// Modes choose among behaviours the bank leaves open (README.md).
	Modes Modes
	// ReportDir is the report drop folder (the bank's SFTP delivery): a
	// day's report files are written there a minute after the day ends
	// in the report zone, and on POST /sandbox/report/drop. Empty: none.
	ReportDir string
	// FirstID is the number the first session, payout and payment ids
	// count from. Zero derives it from the start time, so a restarted
	// sandbox does not repeat ids.
	FirstID int64

	Timing       Timing
	WebhookRetry WebhookRetry
	Faults       Faults

	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock for timestamps (time.Now when nil).
	Now func() time.Time
	// HTTPClient delivers webhooks (a plain client when nil).
	HTTPClient *http.Client
}

func (c *Config) setDefaults() error {
	if len(c.Projects) == 0 {
		return errors.New("sandbox: no project")
	}
	seen := map[string]bool{}
	for i := range c.Projects {
		p := &c.Projects[i]
		if p.Name == "" {
			return errors.New("sandbox: project without a name")
		}
		if seen[p.Name] {
			return fmt.Errorf("sandbox: project %q twice", p.Name)
		}
		seen[p.Name] = true
		if p.PublicKey == nil {
			return fmt.Errorf("sandbox: project %q has no partner public key", p.Name)
		}
		m, err := ParseMode(string(p.Mode))
		if err != nil {
			return fmt.Errorf("sandbox: project %q: %w", p.Name, err)
		}
		p.Mode = m
	}
	if c.BankKey == nil {
		return errors.New("sandbox: no bank private key")
	}
	switch c.UnknownProjectCode {
	case "":
		c.UnknownProjectCode = bank131.CodeIdentification
	case bank131.CodeIdentification, bank131.CodeAuthorization:
	default:
		return fmt.Errorf("sandbox: unknown-project code %q", c.UnknownProjectCode)
	}
	if err := c.Modes.setDefaults(); err != nil {
		return err
	}
	switch {
	case c.WalletBalance == 0:
		c.WalletBalance = DefaultWalletBalance
	case c.WalletBalance < 0:
		c.WalletBalance = 0
	}
	if c.Rates == nil {
		c.Rates = DefaultRates
	}
	if c.Fee == (FeeRule{}) {
		c.Fee = DefaultFee
	}
	switch {
	case c.TransferFee == (FeeRule{}):
		c.TransferFee = DefaultTransferFee
	case c.TransferFee.BasisPoints < 0:
		c.TransferFee = FeeRule{}
	}
	t := &c.Timing
	def(&t.Processing, 200*time.Millisecond)
	def(&t.Settle, 200*time.Millisecond)
	def(&t.ConfirmTimeout, 240*time.Minute)
	def(&t.ThreeDSTimeout, 15*time.Minute)
	def(&t.ErrorResolve, 2*time.Second)
	def(&t.Refund, time.Second)
	r := &c.WebhookRetry
	def(&r.Initial, time.Second)
	def(&r.Max, 15*time.Minute)
	def(&r.GiveUp, 30*time.Minute)
	def(&r.Timeout, 10*time.Second)
	if r.Concurrency <= 0 {
		r.Concurrency = 32
	}
	def(&c.Faults.ReorderHold, 2*time.Second)
	if c.Faults.RateBurst <= 0 {
		c.Faults.RateBurst = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		// As many idle connections as webhooks in flight: with Go's default
		// of 2 per host most of up to WebhookRetry.Concurrency posts at once
		// dialled anew (~9 % of hookrelay's CPU samples in payoutbench -run procs).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(2, c.WebhookRetry.Concurrency)
		c.HTTPClient = &http.Client{Transport: tr}
	}
	if c.FirstID <= 0 {
		c.FirstID = time.Now().Unix()%1_000_000*1_000_000 + 1
	}
	return nil
}

func def(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
