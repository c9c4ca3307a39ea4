package hookrelay

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/queue"
)

// StoreProbe returns the relay's readiness check: can JetStream store a
// webhook now? Being connected is not enough — after its disk filled,
// nats-server keeps the connection while JetStream refuses every write
// until it is enabled again — so the check writes: it publishes a tiny
// message to the probe stream (queue.StreamProbe, the last one per relay
// kept; queue.ProbeSize bytes, so that it needs new space as a webhook
// does) and needs the server's acknowledgement, and reads PAYRUN_HOOKS'
// info (the stream exists and, in a cluster, has a leader).
func StoreProbe(js jetstream.JetStream, instance string) func(context.Context) error {
	subject := queue.ProbeSubject("hookrelay", instance)
	var n uint64
	var mu sync.Mutex
	return func(ctx context.Context) error {
		mu.Lock()
		n++
		seq := n
		mu.Unlock()
		data := make([]byte, queue.ProbeSize)
		copy(data, strconv.FormatUint(seq, 10))
		msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("store probe: %w", err)
		}
		st, err := js.Stream(ctx, queue.StreamHooks)
		if err != nil {
			return fmt.Errorf("stream %s: %w", queue.StreamHooks, err)
		}
		if ci := st.CachedInfo().Cluster; ci != nil && ci.Leader == "" && len(ci.Replicas) > 0 {
			return fmt.Errorf("stream %s has no leader", queue.StreamHooks)
		}
		return nil
	}
}

// probeState caches the last probe for readiness requests.
type probeState struct {
	mu   sync.Mutex
	at   time.Time
	err  error
	busy chan struct{}
}

// probeTTL is how long a probe's answer serves /readyz: a load balancer
// polling every second costs one publish a second.
const probeTTL = time.Second

// check answers from a fresh cached probe or runs one.
func (r *Relay) check(ctx context.Context) error {
	p := &r.probe
	p.mu.Lock()
	if !p.at.IsZero() && time.Since(p.at) < probeTTL {
		err := p.err
		p.mu.Unlock()
		return err
	}
	p.mu.Unlock()
	return r.runProbe(ctx)
}

func (r *Relay) runProbe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := r.cfg.Probe(ctx)
	p := &r.probe
	p.mu.Lock()
	was := p.err
	p.at, p.err = time.Now(), err
	p.mu.Unlock()
	if err != nil {
		metrics.HookStoreReady.Set(0)
		if was == nil {
			r.cfg.Logger.Error("JetStream cannot store webhooks: not ready", logkey.Error, err)
		}
	} else {
		metrics.HookStoreReady.Set(1)
		if was != nil {
			r.cfg.Logger.Info("JetStream stores webhooks again: ready")
		}
	}
	return err
}

// RunProbe probes every interval until ctx ends, so the metric and the
// log follow the store even when nobody asks /readyz.
func (r *Relay) RunProbe(ctx context.Context, every time.Duration) {
	if r.cfg.Probe == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.runProbe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
