package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/logkey"
)

// The ledger's lease: exactly one ledger writes for a set of streams. A
// file lock (FileLock) keeps two processes on one host off one database;
// the lease keeps a ledger on another host (another database, the same
// NATS) from starting while one runs. It is a key in a JetStream key-value
// bucket whose TTL is the lease's: taken with Create (refused while the
// key exists), renewed with Update at the revision held (refused once
// anyone else wrote it), released with a Delete at that revision.
//
// No two writers, ever: a renewal sent at t0 and acknowledged keeps the
// key until at least t0 + TTL (the server counts from when it stored it,
// later than t0), and the holder lets its writer commit only until
// t0 + TTL × 4/5 (the write fence, DB.SetWriteFence). A ledger that
// cannot renew by then stops writing and reports the lease lost (its
// command exits non-zero, the supervisor restarts it); nobody else can
// take the key before its TTL ran out.

// Lease defaults.
const (
	LeaseBucket     = "PAYRUN_LEDGER_LEASE"
	LeaseKey        = "ledger"
	DefaultLeaseTTL = 15 * time.Second
)

// ErrLeaseHeld is wrapped by the refusal to start while another ledger
// holds the lease; ErrLeaseLost by the end of a ledger that lost it.
var (
	ErrLeaseHeld = errors.New("another ledger holds the lease")
	ErrLeaseLost = errors.New("lost the ledger lease")
)

// LeaseConfig configures AcquireLease.
type LeaseConfig struct {
	// Holder names this ledger: its host and database ("host:/var/lib/payrun/ledger.db").
	// A holder that finds its own name in the key while it holds the
	// database's file lock takes the lease over at once: the ledger that
	// wrote it was on this host with this database, and the file lock
	// proves it is gone.
	Holder string
	// TTL is the lease's time to live (the bucket's); default DefaultLeaseTTL.
	TTL time.Duration
	// Replicas of the bucket (3 in a 3-node cluster); 0 is 1.
	Replicas int
	Bucket   string // default LeaseBucket
	Key      string // default LeaseKey
	Logger   *slog.Logger
}

// leaseValue is the key's value.
type leaseValue struct {
	Holder string    `json:"holder"`
	PID    int       `json:"pid"`
	Since  time.Time `json:"since"`
}

// Lease is a held ledger lease. Lost is closed when it is lost; Err says
// why. Release gives it up.
type Lease struct {
	kv    jetstream.KeyValue
	cfg   LeaseConfig
	value []byte
	log   *slog.Logger

	mu       sync.Mutex
	rev      uint64
	deadline time.Time // writes allowed until then
	err      error

	lost   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// AcquireLease takes the ledger lease or refuses with ErrLeaseHeld
// (naming the holder); it then renews it in the background until Release.
func AcquireLease(ctx context.Context, js jetstream.JetStream, cfg LeaseConfig) (*Lease, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultLeaseTTL
	}
	if cfg.Bucket == "" {
		cfg.Bucket = LeaseBucket
	}
	if cfg.Key == "" {
		cfg.Key = LeaseKey
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "payrun: the one ledger's lease",
		History:     1,
		TTL:         cfg.TTL,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger lease bucket %s: %w", cfg.Bucket, err)
	}
	value, err := json.Marshal(leaseValue{Holder: cfg.Holder, PID: os.Getpid(), Since: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	l := &Lease{kv: kv, cfg: cfg, value: value, log: cfg.Logger,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	t0 := time.Now()
	rev, err := kv.Create(ctx, cfg.Key, value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		rev, err = l.takeOver(ctx)
	}
	if err != nil {
		return nil, err
	}
	l.rev = rev
	l.deadline = t0.Add(l.fenceAfter())
	l.log.Info("ledger lease acquired", "bucket", cfg.Bucket, "key", cfg.Key, "holder", cfg.Holder, "ttl", cfg.TTL)
	go l.renew()
	return l, nil
}

// takeOver takes a key this holder wrote before (see LeaseConfig.Holder),
// else refuses with ErrLeaseHeld.
func (l *Lease) takeOver(ctx context.Context) (uint64, error) {
	e, err := l.kv.Get(ctx, l.cfg.Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// Expired between the two calls.
		return l.kv.Create(ctx, l.cfg.Key, l.value)
	}
	if err != nil {
		return 0, fmt.Errorf("read ledger lease: %w", err)
	}
	var held leaseValue
	_ = json.Unmarshal(e.Value(), &held)
	if held.Holder != "" && held.Holder == l.cfg.Holder {
		rev, err := l.kv.Update(ctx, l.cfg.Key, l.value, e.Revision())
		if err != nil {
			return 0, fmt.Errorf("take over ledger lease: %w", err)
		}
		l.log.Warn("ledger lease taken over from this host's previous ledger (its file lock is free: it is gone)",
			"holder", held.Holder, "pid", held.PID, "since", held.Since)
		return rev, nil
	}
	left := l.cfg.TTL - time.Since(e.Created())
	if left < 0 {
		left = 0
	}
	who := held.Holder
	if who == "" {
		who = string(e.Value())
	}
	return 0, fmt.Errorf("%w: %s (pid %d, since %s); if that ledger is gone, the lease expires within %s",
		ErrLeaseHeld, who, held.PID, held.Since.Format(time.RFC3339), left.Round(time.Second))
}

func (l *Lease) fenceAfter() time.Duration { return l.cfg.TTL * 4 / 5 }

// Fence is the writer's fence: nil while writes are allowed, the lease's
// error once the renewal deadline passed or the lease was lost.
func (l *Lease) Fence() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if time.Now().After(l.deadline) {
		return fmt.Errorf("%w: not renewed since %s", ErrLeaseLost, l.deadline.Add(-l.fenceAfter()).Format(time.RFC3339Nano))
	}
	return nil
}

// Lost is closed once the lease is lost.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err is why the lease was lost (nil while held).
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Lease) renew() {
	defer close(l.done)
	every := l.cfg.TTL / 5
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		rev, deadline := l.rev, l.deadline
		l.mu.Unlock()
		if time.Now().After(deadline) {
			l.lose(fmt.Errorf("%w: not renewed within %s", ErrLeaseLost, l.fenceAfter()))
			return
		}
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), min(every, time.Until(deadline)))
		next, err := l.kv.Update(ctx, l.cfg.Key, l.value, rev)
		cancel()
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyNotFound) || isRevisionMismatch(err) {
				// A renewal whose answer was lost may have landed: then the
				// key holds our own value at a later revision. The deadline
				// stays (when it landed is unknown).
				if mine, ok := l.ownRevision(); ok {
					l.mu.Lock()
					l.rev = mine
					l.mu.Unlock()
					continue
				}
				l.lose(fmt.Errorf("%w: the key was changed by someone else: %v", ErrLeaseLost, err))
				return
			}
			l.log.Warn("ledger lease not renewed; retrying", logkey.Error, err, "writes_until", deadline)
			continue
		}
		l.mu.Lock()
		l.rev, l.deadline = next, t0.Add(l.fenceAfter())
		l.mu.Unlock()
	}
}

// ownRevision is the key's revision if it holds this lease's value.
func (l *Lease) ownRevision() (uint64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.TTL/5)
	defer cancel()
	e, err := l.kv.Get(ctx, l.cfg.Key)
	if err != nil || string(e.Value()) != string(l.value) {
		return 0, false
	}
	return e.Revision(), true
}

func isRevisionMismatch(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func (l *Lease) lose(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
		close(l.lost)
	}
	l.mu.Unlock()
	l.log.Error("ledger lease lost: writes stop", logkey.Error, err)
}

// Release stops renewing and deletes the key at the revision held, so the
// next ledger may start at once. A lost lease is not touched.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	l.mu.Lock()
	rev, err := l.rev, l.err
	if err == nil {
		l.err = fmt.Errorf("%w: released", ErrLeaseLost)
	}
	l.mu.Unlock()
	if err != nil {
		return nil
	}
	if err := l.kv.Delete(ctx, l.cfg.Key, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("release ledger lease: %w", err)
	}
	return nil
}
