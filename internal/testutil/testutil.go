// Package testutil holds what the tests of several packages share: one
// eventually-poll, an embedded nats-server per test, a settable clock, a
// quiet logger and card keys (Keys). Only tests import it (TestOnlyTestsImport); it links
// nats-server, which the commands must not.
package testutil

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/queue/natsserver"
)

// Eventually calls fn every step until it returns nil, and fails the test
// with fn's last error once total has passed (nats-server's checkFor). fn
// runs at least once.
func Eventually(t testing.TB, total, step time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not true after %s: %v", total, err)
			return
		}
		time.Sleep(step)
	}
}

// NATS starts nats-server with JetStream (file store in a temporary folder)
// for the test and shuts it down when the test ends.
func NATS(t testing.TB) *natsserver.Server {
	t.Helper()
	srv, err := natsserver.Start(natsserver.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// Cluster starts n clustered nats-servers with JetStream (named
// name-0, name-1…, each with its own temporary folder) and shuts them down
// when the test ends.
func Cluster(t testing.TB, name string, n int) []*natsserver.Server {
	t.Helper()
	routes := make([]string, n)
	for i := range routes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("a route port: %v", err)
		}
		routes[i] = "nats-route://" + ln.Addr().String()
		ln.Close()
	}
	var nodes []*natsserver.Server
	for i := range n {
		s, err := natsserver.Start(natsserver.Options{Dir: t.TempDir(), ServerName: name + "-" + strconv.Itoa(i),
			ClusterName: name, ClusterListen: strings.TrimPrefix(routes[i], "nats-route://"), Routes: routes})
		if err != nil {
			t.Fatalf("start nats-server %d of %s: %v", i, name, err)
		}
		t.Cleanup(s.Close)
		nodes = append(nodes, s)
	}
	return nodes
}

// JetStream connects to url as payrun's components do (queue.Connect) and
// ensures the payrun streams. The connection is closed when the test ends,
// before a server started earlier with NATS.
func JetStream(t testing.TB, url string, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := queue.Connect(url, "payrun-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, append([]jetstream.JetStreamOpt{jetstream.WithPublishAsyncTimeout(queue.PublishAsyncTimeout)}, opts...)...)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := queue.EnsureStreams(ctx, js, queue.Config{}); err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// Clock is a settable clock, safe for concurrent use: give its Now to the
// code under test and move it with Add.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that reads start until it is moved.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// QuietLogger returns a logger that discards every line.
func QuietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
