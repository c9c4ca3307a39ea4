package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/logkey"
)

// leaseFlags are `ledger run`'s flags for the ledger lease.
type leaseFlags struct {
	ttl    time.Duration
	holder string
	wait   time.Duration
}

func (f *leaseFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.ttl, "lease-ttl", ledger.DefaultLeaseTTL, "the ledger lease's time to live in NATS: a ledger that cannot renew it within 4/5 of this stops writing and exits; another host may start once it expired")
	fs.StringVar(&f.holder, "lease-holder", "", "this ledger's `name` in the lease (default HOST:ABSOLUTE-DB-PATH; the same name on restart takes the lease over at once)")
	fs.DurationVar(&f.wait, "lease-wait", 0, "wait this long for a lease another ledger holds before refusing to start (a standby host); 0 refuses at once")
}

// acquire takes the lease, retrying transient errors (a cluster electing
// leaders) and, for --lease-wait, a lease held by another ledger.
func (f *leaseFlags) acquire(ctx context.Context, nc *nats.Conn, dbPath string, replicas int, log *slog.Logger) (*ledger.Lease, error) {
	holder := f.holder
	if holder == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("ledger lease: %w", err)
		}
		abs, err := filepath.Abs(dbPath)
		if err != nil {
			return nil, fmt.Errorf("ledger lease: %w", err)
		}
		holder = host + ":" + abs
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	waitUntil := time.Now().Add(f.wait)
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		lease, err := ledger.AcquireLease(actx, js, ledger.LeaseConfig{Holder: holder, TTL: f.ttl, Replicas: replicas, Logger: log})
		cancel()
		if err == nil {
			return lease, nil
		}
		held := errors.Is(err, ledger.ErrLeaseHeld)
		if ctx.Err() != nil || (held && time.Now().After(waitUntil)) || (!held && attempt == 30) {
			return nil, err
		}
		if held {
			log.Info("waiting for the ledger lease", logkey.Error, err)
		} else {
			log.Warn("ledger lease not available yet; retrying", logkey.Error, err, "attempt", attempt)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(min(time.Duration(attempt)*time.Second, 2*time.Second)):
		}
	}
}
