package processor

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/ratelimit"
)

var priorityLabel = [...]string{ratelimit.Low: "low", ratelimit.High: "high"}

// call makes one bank call through the rate limiter and retries it in place
// while the bank says it did not act (5xx, 429, transient codes), with
// exponential backoff and jitter. It returns the last error and its class:
// Classify's, except ClassWalletShort for insufficient_wallet_balance,
// which is never retried in place. Every attempt uses the same request and
// idempotency key.
func (p *Processor) call(ctx context.Context, method string, prio ratelimit.Priority, fn func(context.Context) error) (bank131.Class, error) {
	return p.callFenced(ctx, method, prio, nil, fn)
}

// callFenced is call for a call that opens or starts work at the bank:
// fence (when not nil) is asked before each attempt is sent, and again if
// the limiter's send pacing held the attempt longer than refenceAfter; its
// refusal ends the call unsent.
func (p *Processor) callFenced(ctx context.Context, method string, prio ratelimit.Priority, fence, fn func(context.Context) error) (bank131.Class, error) {
	send, pace := fn, p.lim.Pace
	if fence != nil {
		send = func(ctx context.Context) error {
			if err := fence(ctx); err != nil {
				return err
			}
			return fn(ctx)
		}
		pace = func(ctx context.Context) error {
			start := time.Now()
			if err := p.lim.Pace(ctx); err != nil || time.Since(start) <= refenceAfter {
				return err
			}
			// The client returns the refusal wrapped: the caller's
			// errors.Is(err, errStopSend) sees it.
			return fence(ctx)
		}
	}
	for attempt := 0; ; attempt++ {
		start := time.Now()
		if err := p.lim.Wait(ctx, prio); err != nil {
			return bank131.ClassRetry, err
		}
		metrics.LimiterWait.WithLabelValues(priorityLabel[prio]).Observe(time.Since(start).Seconds())
		start = time.Now()
		err := send(bank131.WithPace(ctx, pace))
		class := bank131.Classify(err)
		if bank131.Diagnose(err) == bank131.ClassWalletShort {
			// Not a fault to retry in place: the wallet needs a top-up.
			// The caller holds the row (a new attempt once funded); one
			// that does not know the class hands the job back.
			class = bank131.ClassWalletShort
		}
		metrics.BankCalls.WithLabelValues(method, class.String()).Observe(time.Since(start).Seconds())
		var api *bank131.APIError
		throttled := errors.As(err, &api) && api.HTTPStatus == http.StatusTooManyRequests
		if throttled {
			p.lim.Throttled()
			metrics.Throttled.Inc()
		} else if bankFault(err) {
			// The bank as a whole struggles: fewer calls, never a failed
			// row (the call is retried, the job handed back, or its
			// outcome settled by the bank's word).
			p.lim.Slow()
		}
		if class != bank131.ClassRetry || attempt >= p.cfg.CallRetries || ctx.Err() != nil {
			return class, err
		}
		d := p.cfg.RetryBase << attempt
		d = d/2 + rand.N(d/2+1)
		if throttled && api.RetryAfter > d {
			d = api.RetryAfter
		}
		select {
		case <-ctx.Done():
			return bank131.ClassRetry, ctx.Err()
		case <-time.After(d):
		}
	}
}

// refenceAfter: a call that waited longer than this in Limiter.Pace, past
// its fence, asks the ledger's fence again before it leaves, so a cancel
// or hold that came meanwhile still stops it (issue 11: nothing new is sent
// after a cancel). A call paced at the limiter's rate waits at most about
// 1/R (10 ms at R = 100); the calls that wait longer are those a stalled
// ledger bunched, and they are rare, so the second ledger round trip is too.
const refenceAfter = 50 * time.Millisecond

// bankFor returns the client that pays rows of a card number or not.
func (p *Processor) bankFor(cardNumber bool) *bank131.Client {
	if cardNumber && p.cfg.CardBank != nil {
		return p.cfg.CardBank
	}
	return p.cfg.Bank
}

// bankFault reports an error that is the bank's as a whole rather than the
// row's: an HTTP 5xx answer, a call that got no (readable) answer. Our own
// stops (a fence that refused, a context cancelled) are not.
func bankFault(err error) bool {
	var api *bank131.APIError
	if errors.As(err, &api) {
		return api.HTTPStatus >= http.StatusInternalServerError
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var te *bank131.TransportError
	var unread *bank131.UnreadableError
	return errors.As(err, &te) || errors.As(err, &unread)
}
