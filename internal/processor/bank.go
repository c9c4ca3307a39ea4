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
// exponential backoff and jitter. It returns the last error and its class.
// Every attempt uses the same request and idempotency key.
func (p *Processor) call(ctx context.Context, method string, prio ratelimit.Priority, fn func(context.Context) error) (bank131.Class, error) {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		if err := p.lim.Wait(ctx, prio); err != nil {
			return bank131.ClassRetry, err
		}
		metrics.LimiterWait.WithLabelValues(priorityLabel[prio]).Observe(time.Since(start).Seconds())
		start = time.Now()
		err := fn(ctx)
		class := bank131.Classify(err)
		metrics.BankCalls.WithLabelValues(method, class.String()).Observe(time.Since(start).Seconds())
		var api *bank131.APIError
		throttled := errors.As(err, &api) && api.HTTPStatus == http.StatusTooManyRequests
		if throttled {
			p.lim.Throttled()
			metrics.Throttled.Inc()
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

// bankFor returns the client that pays rows of a card number or not.
func (p *Processor) bankFor(cardNumber bool) *bank131.Client {
	if cardNumber && p.cfg.CardBank != nil {
		return p.cfg.CardBank
	}
	return p.cfg.Bank
}
