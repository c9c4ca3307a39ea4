package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Shared divides the bank's rate limit R (and burst B) among the live
// processors. The limit is cut into Shares equal shares; each is a key in a
// NATS KV bucket (queue.RateBucket) whose value names the processor holding
// it, and the bucket's TTL is the lease: an entry not renewed within it is
// gone. A processor's Limiter runs at R × held ÷ Shares with a burst of
// B × held ÷ Shares (at least 1), so whatever the processors hold, together
// they never run faster than R.
//
// Every TTL/3 a processor renews what it holds (a compare-and-set on the
// revision, so a lease that expired and was taken by another is never
// renewed), renews its member key (one of Slots keys that say it is alive),
// reads who is alive, and moves towards its fair part: Shares ÷ live (the
// first Shares mod live in id order hold one more). It gives shares back by
// lowering its own rate first and deleting the keys after; it takes free
// ones (create: only if absent) and raises its rate after. A share counts
// for at most 2/3 of the TTL after its last renewal began, so a processor
// that cannot reach NATS stops using it before the bucket lets another take
// it. A processor that dies loses its shares after the TTL and the others
// take them on their next round: with TTL 3 s, about 3–4 s of its part of
// R are lost. One that stops cleanly (Close) gives them back at once.
type Shared struct {
	cfg SharedConfig
	lim *Limiter
	log *slog.Logger

	mu     sync.Mutex
	held   map[int]lease
	rate   float64 // what the limiter was last set to
	burst  int
	slot   int // member key, -1 while none
	member lease
	live   int
}

type lease struct {
	rev   uint64
	valid time.Time // stop using it at this time unless renewed
}

// SharedConfig configures Shared.
type SharedConfig struct {
	KV     jetstream.KeyValue // queue.RateBucket; its TTL is the lease
	TTL    time.Duration      // the bucket's TTL (queue.RateLeaseTTL)
	Rate   float64            // R, the bank's limit for all processors (> 0)
	Burst  int                // B, for all processors
	Shares int                // default 20: R is handed out in 5 % steps
	Slots  int                // member keys, the most processors that count; default 32
	ID     string             // this processor in the bucket; default a random id
	Logger *slog.Logger
	// Changed, if set, is called after each round with the shares held,
	// the processors alive and the rate the limiter now runs at.
	Changed func(held, live int, rate float64)
}

// NewShared returns a shared limiter holding no share yet: its Limiter
// lets nothing go until Run has taken some.
func NewShared(cfg SharedConfig) (*Shared, error) {
	if cfg.KV == nil {
		return nil, errors.New("shared rate limit: no KV bucket")
	}
	if cfg.Rate <= 0 {
		return nil, errors.New("shared rate limit: the bank's rate must be above 0")
	}
	if cfg.TTL <= 0 {
		return nil, errors.New("shared rate limit: the bucket's TTL is needed")
	}
	if cfg.Shares <= 0 {
		cfg.Shares = 20
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 32
	}
	if cfg.Burst < 1 {
		cfg.Burst = 1
	}
	if cfg.ID == "" {
		cfg.ID = nuid.Next()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := New(cfg.Rate, cfg.Burst)
	l.SetRate(0, 1)
	return &Shared{cfg: cfg, lim: l, log: cfg.Logger, held: map[int]lease{}, slot: -1}, nil
}

// Limiter is the processor's limiter, run at its part of R.
func (s *Shared) Limiter() *Limiter { return s.lim }

// Held returns the shares held now and the processors seen alive.
func (s *Shared) Held() (held, live int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held), s.live
}

func shareKey(i int) string  { return "share." + strconv.Itoa(i) }
func memberKey(i int) string { return "member." + strconv.Itoa(i) }

// Run holds and renews shares until ctx ends, then gives them back and
// closes the limiter.
func (s *Shared) Run(ctx context.Context) {
	period := s.cfg.TTL / 3
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		s.round(ctx)
		select {
		case <-ctx.Done():
			s.release()
			s.lim.Close()
			return
		case <-t.C:
		}
	}
}

// opTimeout bounds one KV call.
func (s *Shared) opTimeout() time.Duration { return s.cfg.TTL / 6 }

// round is one renewal: renew, count the living, give back or take.
func (s *Shared) round(ctx context.Context) {
	// The round ends before any lease it relies on runs out locally.
	deadline := time.Now().Add(s.cfg.TTL / 3)
	s.mu.Lock()
	for _, l := range s.held {
		if l.valid.Before(deadline) {
			deadline = l.valid
		}
	}
	s.mu.Unlock()
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	s.renew(rctx)
	s.renewMember(rctx)
	alive, err := s.members(rctx)
	s.expire()
	if err == nil {
		s.balance(rctx, alive)
	}
	s.expire()
	s.apply()
}

// renew renews every held share; a share whose renewal is refused (it
// expired and someone else took it, or it was deleted) is dropped at once.
func (s *Shared) renew(ctx context.Context) {
	s.mu.Lock()
	keys := make([]int, 0, len(s.held))
	for k := range s.held {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		s.mu.Lock()
		l, ok := s.held[k]
		s.mu.Unlock()
		if !ok {
			continue
		}
		start := time.Now()
		rev, err := s.update(ctx, shareKey(k), l.rev)
		s.mu.Lock()
		switch {
		case err == nil:
			s.held[k] = lease{rev: rev, valid: start.Add(s.cfg.TTL * 2 / 3)}
		case isLost(err):
			delete(s.held, k)
			s.log.Warn("rate limit share lost", "share", k, "error", err.Error())
		}
		s.mu.Unlock()
	}
}

// renewMember keeps this processor's member key, taking a free one first.
func (s *Shared) renewMember(ctx context.Context) {
	if s.slot >= 0 {
		start := time.Now()
		rev, err := s.update(ctx, memberKey(s.slot), s.member.rev)
		if err == nil {
			s.member = lease{rev: rev, valid: start.Add(s.cfg.TTL * 2 / 3)}
			return
		}
		if !isLost(err) {
			return
		}
		s.slot = -1
	}
	for i := 0; i < s.cfg.Slots; i++ {
		start := time.Now()
		rev, err := s.create(ctx, memberKey(i))
		if err == nil {
			s.slot, s.member = i, lease{rev: rev, valid: start.Add(s.cfg.TTL * 2 / 3)}
			return
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return
		}
	}
	s.log.Warn("rate limit: every member key is taken; this processor is not counted", "slots", s.cfg.Slots)
}

// members reads the member keys: the ids of the live processors, this one
// included.
func (s *Shared) members(ctx context.Context) ([]string, error) {
	ids := []string{s.cfg.ID}
	for i := 0; i < s.cfg.Slots; i++ {
		e, err := s.get(ctx, memberKey(i))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if id := string(e.Value()); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// balance gives back what is above this processor's fair part, or takes
// free shares up to it.
func (s *Shared) balance(ctx context.Context, alive []string) {
	n := len(alive)
	idx := slices.Index(alive, s.cfg.ID)
	target := s.cfg.Shares / n
	if idx < s.cfg.Shares%n {
		target++
	}
	s.mu.Lock()
	s.live = n
	held := len(s.held)
	var extra []int
	if held > target {
		for k := range s.held {
			extra = append(extra, k)
		}
		slices.Sort(extra)
		extra = extra[target:]
		give := map[int]lease{}
		for _, k := range extra {
			give[k] = s.held[k]
			delete(s.held, k)
		}
		s.mu.Unlock()
		s.apply() // slow down before anyone else may speed up
		for k, l := range give {
			if err := s.del(ctx, shareKey(k), l.rev); err != nil && !isLost(err) {
				s.log.Warn("rate limit: give back share", "share", k, "error", err.Error())
			}
		}
		return
	}
	s.mu.Unlock()
	for k := 0; k < s.cfg.Shares && held < target; k++ {
		s.mu.Lock()
		_, mine := s.held[k]
		s.mu.Unlock()
		if mine {
			continue
		}
		start := time.Now()
		rev, err := s.create(ctx, shareKey(k))
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return
		}
		s.mu.Lock()
		s.held[k] = lease{rev: rev, valid: start.Add(s.cfg.TTL * 2 / 3)}
		held = len(s.held)
		s.mu.Unlock()
	}
}

// expire drops the shares whose lease ran out locally.
func (s *Shared) expire() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, l := range s.held {
		if !now.Before(l.valid) {
			delete(s.held, k)
			s.log.Warn("rate limit share not renewed in time; no longer used", "share", k)
		}
	}
}

// apply runs the limiter at this processor's part of R.
func (s *Shared) apply() {
	s.mu.Lock()
	held, live := len(s.held), s.live
	s.mu.Unlock()
	r := s.cfg.Rate * float64(held) / float64(s.cfg.Shares)
	burst := max(1, s.cfg.Burst*held/s.cfg.Shares)
	s.mu.Lock()
	same := r == s.rate && burst == s.burst
	s.rate, s.burst = r, burst
	s.mu.Unlock()
	if !same { // a reservation is not given back every round for nothing
		s.lim.SetRate(r, burst)
		s.log.Info("rate limit share", "held", held, "of", s.cfg.Shares, "live", live, "rate", r, "burst", burst)
	}
	if s.cfg.Changed != nil {
		s.cfg.Changed(held, live, r)
	}
}

// release gives every share and the member key back (a clean stop).
func (s *Shared) release() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.TTL/3)
	defer cancel()
	s.mu.Lock()
	give := s.held
	s.held = map[int]lease{}
	s.mu.Unlock()
	s.apply()
	for k, l := range give {
		_ = s.del(ctx, shareKey(k), l.rev)
	}
	if s.slot >= 0 {
		_ = s.del(ctx, memberKey(s.slot), s.member.rev)
		s.slot = -1
	}
}

func (s *Shared) update(ctx context.Context, key string, rev uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout())
	defer cancel()
	return s.cfg.KV.Update(ctx, key, []byte(s.cfg.ID), rev)
}

func (s *Shared) create(ctx context.Context, key string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout())
	defer cancel()
	return s.cfg.KV.Create(ctx, key, []byte(s.cfg.ID))
}

func (s *Shared) get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout())
	defer cancel()
	return s.cfg.KV.Get(ctx, key)
}

func (s *Shared) del(ctx context.Context, key string, rev uint64) error {
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout())
	defer cancel()
	return s.cfg.KV.Delete(ctx, key, jetstream.LastRevision(rev))
}

// isLost tells a refused compare-and-set (the key is no longer ours) from
// a failure to reach NATS.
func isLost(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
}

// String describes the configuration for a log line.
func (s *Shared) String() string {
	return fmt.Sprintf("%.0f calls/s and burst %d shared in %d shares", s.cfg.Rate, s.cfg.Burst, s.cfg.Shares)
}
