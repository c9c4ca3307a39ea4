package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/testutil"
)

func TestSetRatePausesAndResumes(t *testing.T) {
	l := New(1000, 1)
	defer l.Close()
	l.SetRate(0, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, l.Wait(ctx, High), context.DeadlineExceeded, "a paused limiter lets nothing go")
	require.Zero(t, l.Rate())

	l.SetRate(50, 1) // one call per 20 ms
	require.Equal(t, 50.0, l.Rate())
	start := time.Now()
	for i := 0; i < 6; i++ {
		require.NoError(t, l.Wait(context.Background(), Low))
	}
	// 1 token in the bucket, then 5 at 20 ms: at least 100 ms at the new rate.
	require.GreaterOrEqual(t, time.Since(start), 90*time.Millisecond)
}

// kvFor connects a processor of its own to the server and binds the bucket.
func kvFor(t *testing.T, url, bucket string) (*nats.Conn, jetstream.KeyValue) {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	kv, err := js.KeyValue(context.Background(), bucket)
	require.NoError(t, err)
	return nc, kv
}

// TestSharedFollowsTheLiving runs three processors' shared limiters against
// one bucket: they split the shares fairly, never hold more than all of them
// together (sampled throughout), the shares of one that loses NATS pass to
// the others after the lease, and those of one that stops cleanly at once.
func TestSharedFollowsTheLiving(t *testing.T) {
	srv := testutil.NATS(t)
	ttl := 900 * time.Millisecond
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "rate_test", History: 1, TTL: ttl, Storage: jetstream.MemoryStorage})
	require.NoError(t, err)

	const R, shares = 100.0, 20
	type proc struct {
		nc     *nats.Conn
		s      *Shared
		cancel context.CancelFunc
		done   chan struct{}
	}
	var procs []*proc
	for i := 0; i < 3; i++ {
		pnc, kv := kvFor(t, srv.URL(), "rate_test")
		s, err := NewShared(SharedConfig{KV: kv, TTL: ttl, Rate: R, Burst: 10, Shares: shares, Slots: 8,
			ID: fmt.Sprintf("p%d", i+1), Logger: testutil.QuietLogger()})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		p := &proc{nc: pnc, s: s, cancel: cancel, done: make(chan struct{})}
		go func() { defer close(p.done); s.Run(ctx) }()
		procs = append(procs, p)
		t.Cleanup(func() { cancel(); <-p.done })
	}

	// Never more than R together: sampled every millisecond.
	var stop atomic.Bool
	var over atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			held, r := 0, 0.0
			for _, p := range procs {
				h, _ := p.s.Held()
				held += h
				r += p.s.Limiter().Rate()
			}
			if held > shares || r > R+1e-9 {
				over.Store(fmt.Sprintf("held %d shares, %.1f calls/s", held, r))
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() {
		stop.Store(true)
		wg.Wait()
		if v := over.Load(); v != nil {
			t.Errorf("together above the bank's limit: %v", v)
		}
	}()

	split := func(want ...int) func() error {
		return func() error {
			var got []int
			total := 0
			for i, p := range procs {
				if want[i] < 0 {
					got = append(got, -1)
					continue
				}
				h, _ := p.s.Held()
				got = append(got, h)
				total += h
			}
			for i := range want {
				if want[i] >= 0 && got[i] != want[i] {
					return fmt.Errorf("shares held %v, want %v", got, want)
				}
			}
			return nil
		}
	}
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, split(7, 7, 6))
	rate := 0.0
	for _, p := range procs {
		rate += p.s.Limiter().Rate()
	}
	require.InDelta(t, R, rate, 1e-9, "all of R is in use")

	// p3 loses NATS (as if killed): after the lease its shares are p1's and p2's.
	lost := time.Now()
	procs[2].nc.Close()
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, split(10, 10, -1))
	t.Logf("p3's shares taken over %s after it lost NATS (lease %s)", time.Since(lost).Round(10*time.Millisecond), ttl)
	h3, _ := procs[2].s.Held()
	require.Zero(t, h3, "p3 no longer uses its shares")
	require.Zero(t, procs[2].s.Limiter().Rate())

	// p1 stops cleanly: p2 takes everything without waiting for a lease.
	procs[0].cancel()
	<-procs[0].done
	stopped := time.Now()
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, split(-1, 20, -1))
	require.Less(t, time.Since(stopped), ttl, "shares given back are taken before a lease would run out")
}
