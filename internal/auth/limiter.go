package auth

import (
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LimiterConfig shapes the sign-in limiter: each user name and each
// client address may try Burst times at once, then once per Every.
type LimiterConfig struct {
	NameBurst int
	NameEvery time.Duration
	AddrBurst int
	AddrEvery time.Duration
	// MaxKeys bounds the memory: past it, keys whose bucket is full again
	// are forgotten.
	MaxKeys int
}

// DefaultLimiter: 5 tries per name, then one every 30 s (2 a minute);
// 20 per address, then one every 3 s. A guesser gets about 3 000 tries
// a day at one name, against passwords of at least 12 characters.
func DefaultLimiter() LimiterConfig {
	return LimiterConfig{NameBurst: 5, NameEvery: 30 * time.Second, AddrBurst: 20, AddrEvery: 3 * time.Second, MaxKeys: 10000}
}

// Limiter slows sign-in attempts per user name and per client address.
// A successful sign-in refills its name's bucket.
type Limiter struct {
	cfg  LimiterConfig
	mu   sync.Mutex
	keys map[string]*rate.Limiter
	// Now is the clock (tests).
	Now func() time.Time
}

// NewLimiter returns a limiter; zero fields of cfg take DefaultLimiter's.
func NewLimiter(cfg LimiterConfig) *Limiter {
	d := DefaultLimiter()
	if cfg.NameBurst <= 0 {
		cfg.NameBurst = d.NameBurst
	}
	if cfg.NameEvery <= 0 {
		cfg.NameEvery = d.NameEvery
	}
	if cfg.AddrBurst <= 0 {
		cfg.AddrBurst = d.AddrBurst
	}
	if cfg.AddrEvery <= 0 {
		cfg.AddrEvery = d.AddrEvery
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = d.MaxKeys
	}
	return &Limiter{cfg: cfg, keys: map[string]*rate.Limiter{}, Now: time.Now}
}

// Allow takes one attempt for name from addr. When either bucket is
// empty it takes nothing and says how long to wait.
func (l *Limiter) Allow(name, addr string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	if len(l.keys) > l.cfg.MaxKeys {
		l.prune(now)
	}
	byName := l.bucket("n:"+strings.ToLower(name), l.cfg.NameEvery, l.cfg.NameBurst)
	byAddr := l.bucket("a:"+host(addr), l.cfg.AddrEvery, l.cfg.AddrBurst)
	rn, ra := byName.ReserveN(now, 1), byAddr.ReserveN(now, 1)
	wait := max(rn.DelayFrom(now), ra.DelayFrom(now))
	if wait > 0 {
		rn.CancelAt(now)
		ra.CancelAt(now)
		return false, wait
	}
	return true, 0
}

// Succeeded refills name's bucket: its owner got in.
func (l *Limiter) Succeeded(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, "n:"+strings.ToLower(name))
}

func (l *Limiter) bucket(key string, every time.Duration, burst int) *rate.Limiter {
	b, ok := l.keys[key]
	if !ok {
		b = rate.NewLimiter(rate.Every(every), burst)
		b.SetBurstAt(l.Now(), burst) // full at first sight
		l.keys[key] = b
	}
	return b
}

// prune forgets the keys whose bucket is full: they hold nothing.
func (l *Limiter) prune(now time.Time) {
	for k, b := range l.keys {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.keys, k)
		}
	}
}

// host is the address without its port.
func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
