// Package ratelimit is the one limiter a processor puts in front of every
// call to Bank 131: a token bucket (rate, burst) that hands tokens to work
// that finishes rows before work that starts new ones, slows down when the
// bank answers HTTP 429 and recovers when it stops.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Priority orders waiters: High is served before Low whenever both wait.
type Priority int

// Priorities.
const (
	Low  Priority = iota // starts new rows: quotes, session/create, start, init
	High                 // finishes rows: confirm, cancel, status
)

// Limiter is a priority token bucket. The zero value is not usable; call New.
type Limiter struct {
	max       rate.Limit
	burst     int
	unlimited bool          // New with r ≤ 0: never waits, no dispatcher
	lim       *rate.Limiter // its burst is the bucket's size: burst less the allowance
	// send paces the sends (Pace) like lim the grants: the same rate and
	// bucket. A granted call may be held up before it leaves (the ledger's
	// fence, a stalled process) and leave in a bunch with later ones; the
	// bank counts sends.
	send *rate.Limiter
	// paceTurn (capacity 1) is held by the one Pace call that has a
	// reservation on send; the others queue for it in order (a channel's
	// senders are served first come, first served). rate.Limiter keeps a
	// reservation's time when its rate changes: with every waiter holding
	// one made at 50/s, a rise to 100/s let the old ones go on their old
	// schedule while new ones were scheduled as if those were already
	// paid for, 150 sends/s for a while (TestPaceHoldsTheBoundAcrossARateChange).
	// With one reservation at a time, a change cancels it (paceChanged)
	// and the next is made at the new rate.
	paceTurn    chan struct{}
	paceChanged chan struct{} // capacity 1: send's rate or bucket changed
	clock       func() time.Time
	sent        func(time.Time) // tests: each send Pace lets go

	mu         sync.Mutex
	queues     [2][]*waiter
	wake       chan struct{}
	changed    chan struct{} // SetRate: the dispatcher drops its reservation and starts over
	paused     bool          // SetRate(0): no token is handed out
	banked     int           // tokens taken from the bucket whose waiter gave up
	closed     bool
	last429    time.Time
	lastAdjust time.Time
	stats      Stats
	done       chan struct{}
}

type waiter struct {
	ready chan struct{}
	// granted is set under Limiter.mu when a token is handed over.
	granted bool
}

// Stats counts what the limiter did.
type Stats struct {
	Granted   [2]uint64     // tokens handed out, by priority
	Waited    time.Duration // total time callers spent waiting
	Throttled uint64        // 429 answers reported
	Slowed    uint64        // bank faults reported (5xx, no answer)
	Limit     float64       // current rate in tokens per second
}

// Unlimited is a rate that never waits.
const Unlimited = 0

// Allowance is how much later than its neighbours a granted call may reach
// the bank (a new connection's handshake, the scheduler of a busy
// machine). The bucket keeps Allowance × rate tokens of the burst back, so
// that calls granted in a stretch a little longer than a second, arriving
// closer together, still stay within rate + burst in any second at the
// bank. Measured on loopback with everything on 2 cores: the first calls
// of a batch, which dial, reach the bank up to 25 ms after the later ones
// would; with two or three processors sharing R on the shared machine, a
// full bucket followed by a second at R reached the sandbox as R + bucket
// + 1 to 6 calls, i.e. up to ~60 ms of calls late (bench/README.md,
// BenchmarkSharedRate). Hence 60 ms.
const Allowance = 60 * time.Millisecond

// bucketSize is the burst the token bucket is given for a limit of r with
// the configured burst: the burst less the jitter allowance, at least 1.
func bucketSize(r float64, burst int) int {
	held := int(math.Ceil(r * Allowance.Seconds()))
	return max(1, burst-held)
}

// New returns a limiter of r tokens per second with the given burst. r ≤ 0
// means unlimited. Close it to stop its dispatcher. The bucket holds
// burst less Allowance × r tokens (at least one): see Allowance.
func New(r float64, burst int) *Limiter {
	if burst < 1 {
		burst = 1
	}
	l := &Limiter{
		max:         rate.Limit(r),
		burst:       burst,
		clock:       time.Now,
		wake:        make(chan struct{}, 1),
		changed:     make(chan struct{}, 1),
		paceTurn:    make(chan struct{}, 1),
		paceChanged: make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	if r <= 0 {
		l.max = rate.Inf
		l.unlimited = true
	}
	l.lim = rate.NewLimiter(l.max, burst)
	if r > 0 {
		l.lim = rate.NewLimiter(l.max, bucketSize(r, burst))
		l.send = rate.NewLimiter(l.max, bucketSize(r, burst))
	}
	l.stats.Limit = float64(l.max)
	if !l.unlimited {
		go l.dispatch()
	}
	return l
}

// Wait blocks until the caller may make one call at priority p, or ctx ends.
func (l *Limiter) Wait(ctx context.Context, p Priority) error {
	if l.unlimited {
		l.mu.Lock()
		l.stats.Granted[p]++
		l.mu.Unlock()
		return nil
	}
	start := l.clock()
	w := &waiter{ready: make(chan struct{})}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return context.Canceled
	}
	l.trimBanked()
	if l.banked > 0 && !l.paused && len(l.queues[High]) == 0 && (p == High || len(l.queues[Low]) == 0) {
		l.banked--
		l.stats.Granted[p]++
		l.mu.Unlock()
		return nil
	}
	l.queues[p] = append(l.queues[p], w)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	select {
	case <-w.ready:
		l.mu.Lock()
		l.stats.Waited += l.clock().Sub(start)
		l.mu.Unlock()
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		if w.granted { // lost the race: the token is ours, bank it for the next caller
			l.banked++
			return ctx.Err()
		}
		q := l.queues[p]
		for i, x := range q {
			if x == w {
				l.queues[p] = append(q[:i:i], q[i+1:]...)
				break
			}
		}
		return ctx.Err()
	}
}

// dispatch takes tokens from the bucket at its rate and hands each to the
// first High waiter, else the first Low waiter.
func (l *Limiter) dispatch() {
	defer close(l.done)
	for {
		l.mu.Lock()
		for {
			l.trimBanked()
			waiting := len(l.queues[High])+len(l.queues[Low]) > 0
			if waiting && l.banked > 0 && !l.paused {
				l.handOut()
				l.banked--
				continue
			}
			if waiting && !l.paused {
				break
			}
			if l.closed {
				l.mu.Unlock()
				return
			}
			l.mu.Unlock()
			select {
			case <-l.wake:
			case <-l.changed:
			}
			l.mu.Lock()
		}
		if l.closed {
			l.mu.Unlock()
			return
		}
		l.recover()
		l.mu.Unlock()

		r := l.lim.Reserve()
		if d := r.Delay(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-l.changed:
				// The rate changed while waiting (a shared limiter gave a
				// share back): the token was reserved at the old rate.
				t.Stop()
				r.Cancel()
				continue
			}
		}

		l.mu.Lock()
		if l.paused {
			l.mu.Unlock()
			r.Cancel()
			continue
		}
		if len(l.queues[High])+len(l.queues[Low]) > 0 {
			l.handOut()
		} else {
			l.banked++
		}
		l.mu.Unlock()
	}
}

// trimBanked drops banked tokens that the bucket, refilled meanwhile,
// could not have held: a token given back is worth one in the bucket, and
// the bucket and the bank together never hold more than its size. l.mu
// must be held.
func (l *Limiter) trimBanked() {
	if l.banked == 0 {
		return
	}
	room := l.lim.Burst() - int(math.Ceil(l.lim.Tokens()))
	l.banked = max(0, min(l.banked, room))
}

// handOut gives one token to the best waiter; l.mu must be held and a
// waiter must exist.
func (l *Limiter) handOut() {
	p := High
	if len(l.queues[High]) == 0 {
		p = Low
	}
	w := l.queues[p][0]
	l.queues[p][0] = nil
	l.queues[p] = l.queues[p][1:]
	w.granted = true
	l.stats.Granted[p]++
	close(w.ready)
}

// Throttled reports that the bank answered HTTP 429: the limiter halves its
// rate (down to a tenth of the configured one) and recovers gradually once
// no 429 came for a second.
func (l *Limiter) Throttled() { l.slow(true) }

// Slow reports a fault of the bank as a whole (an HTTP 5xx, a call without
// an answer): the limiter slows down as for a 429, so a struggling bank
// gets fewer calls, and recovers the same way.
func (l *Limiter) Slow() { l.slow(false) }

func (l *Limiter) slow(throttled bool) {
	if l.unlimited {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if throttled {
		l.stats.Throttled++
	} else {
		l.stats.Slowed++
	}
	now := l.clock()
	if now.Sub(l.last429) < 200*time.Millisecond {
		l.last429 = now
		return // one burst of 429s (or faults) counts once
	}
	l.last429 = now
	l.lastAdjust = now
	cur := l.lim.Limit()
	next := cur / 2
	if floor := l.max / 10; next < floor {
		next = floor
	}
	l.lim.SetLimitAt(now, next)
	l.send.SetLimitAt(now, next)
	l.paceChange()
	l.stats.Limit = float64(next)
}

// recover raises the rate by a tenth of the configured one for each second
// without 429, up to the configured rate; l.mu must be held.
func (l *Limiter) recover() {
	cur := l.lim.Limit()
	if cur >= l.max {
		return
	}
	now := l.clock()
	if now.Sub(l.last429) < time.Second || now.Sub(l.lastAdjust) < time.Second {
		return
	}
	next := cur + l.max/10
	if next > l.max {
		next = l.max
	}
	l.lim.SetLimitAt(now, next)
	l.send.SetLimitAt(now, next)
	l.paceChange()
	l.lastAdjust = now
	l.stats.Limit = float64(next)
}

// SetRate changes the rate and burst (the bucket then holds burst less the
// allowance, as in New); r ≤ 0 pauses the limiter: no call is let go until
// a later SetRate. A reservation made at the old rate is given back, so from
// the moment SetRate returns no token is handed out faster than the new
// rate. A limit the bank's 429s lowered keeps its proportion of the
// configured rate. The shared limiter (Shared) runs its processor's limiter
// at R × shares held ÷ shares. Not for an unlimited limiter (New with r ≤ 0).
func (l *Limiter) SetRate(r float64, burst int) {
	if l.unlimited {
		return
	}
	if burst < 1 {
		burst = 1
	}
	l.mu.Lock()
	now := l.clock()
	if r <= 0 {
		l.paused = true
		l.stats.Limit = 0
	} else {
		factor := 1.0
		if !l.paused && l.max > 0 {
			factor = float64(l.lim.Limit() / l.max)
		}
		l.paused = false
		l.max = rate.Limit(r)
		l.burst = burst
		l.lim.SetBurstAt(now, bucketSize(r, burst))
		l.lim.SetLimitAt(now, rate.Limit(r*factor))
		l.send.SetBurstAt(now, bucketSize(r, burst))
		l.send.SetLimitAt(now, rate.Limit(r*factor))
		l.paceChange()
		l.stats.Limit = r * factor
	}
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// Pace blocks a call that Wait let go until it may be sent: just before it
// leaves, at the limiter's rate with the same bucket (burst less the
// allowance, which covers the way from Pace to the bank), so what the bank
// sees keeps rate + burst in any second even when granted calls were held
// up on their way and would leave together. A paused limiter paces at its
// last rate: what it granted goes out. Callers go in the order they came,
// one reservation at a time (paceTurn), so a change of rate applies to
// every call not yet sent.
func (l *Limiter) Pace(ctx context.Context) error {
	if l.unlimited {
		return nil
	}
	select {
	case l.paceTurn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.paceTurn }()
	for {
		select { // a change before this reservation is in it
		case <-l.paceChanged:
		default:
		}
		r := l.send.Reserve()
		d := r.Delay()
		if d > 0 {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
				r.Cancel()
				// The wait would outlast ctx's deadline: a deadline all the same.
				return fmt.Errorf("%w: the send would wait %s", context.DeadlineExceeded, d)
			}
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-l.paceChanged:
				t.Stop()
				r.Cancel() // reserved at the old rate: again at the new one
				continue
			case <-ctx.Done():
				t.Stop()
				r.Cancel()
				return ctx.Err()
			}
		}
		if l.sent != nil {
			l.sent(time.Now())
		}
		return nil
	}
}

// paceChange tells a waiting Pace that send's rate or bucket changed.
func (l *Limiter) paceChange() {
	select {
	case l.paceChanged <- struct{}{}:
	default:
	}
}

// Stats returns a snapshot of the limiter's counters.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Rate is the configured rate (0 for unlimited) and Burst the bucket size.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.unlimited || l.paused {
		return 0
	}
	return float64(l.max)
}

// Burst is the bucket size.
func (l *Limiter) Burst() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.burst
}

// Close stops the dispatcher; waiting callers keep waiting until their
// context ends.
func (l *Limiter) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()
	if l.unlimited {
		return
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
}
