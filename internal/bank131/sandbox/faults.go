package sandbox

import (
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// faultState draws faults from a seeded generator.
type faultState struct {
	mu      sync.Mutex
	cfg     Faults
	rng     *rand.Rand
	limiter *rate.Limiter
}

func newFaultState(f Faults) *faultState {
	fs := &faultState{}
	fs.set(f)
	return fs
}

func (f *faultState) set(cfg Faults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = cfg
	f.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	f.limiter = nil
	if cfg.RateLimit > 0 {
		f.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), cfg.RateBurst)
	}
}

func (f *faultState) get() Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

// roll reports true with probability p.
func (f *faultState) roll(p func(Faults) float64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	share := p(f.cfg)
	if share <= 0 {
		return false
	}
	if share >= 1 {
		return true
	}
	return f.rng.Float64() < share
}

// throttled reports whether a request exceeds the configured rate.
func (f *faultState) throttled() bool {
	f.mu.Lock()
	l := f.limiter
	f.mu.Unlock()
	return l != nil && !l.Allow()
}

// latency returns the delay to add to one answer.
func (f *faultState) latency() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.cfg.Latency
	if f.cfg.Jitter > 0 {
		d += time.Duration(f.rng.Int64N(int64(f.cfg.Jitter)))
	}
	return d
}

// badGateway picks which kind of 5xx to answer: false → 500 with the bank's
// internal_error envelope, true → 502 with a proxy's HTML page.
func (f *faultState) badGateway() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.IntN(2) == 1
}

func shareServerErrors(f Faults) float64      { return f.ServerErrors }
func shareDrops(f Faults) float64             { return f.Drops }
func shareLost(f Faults) float64              { return f.Lost }
func shareWebhookDrops(f Faults) float64      { return f.WebhookDrops }
func shareWebhookDuplicates(f Faults) float64 { return f.WebhookDuplicates }
func shareWebhookReorders(f Faults) float64   { return f.WebhookReorders }
