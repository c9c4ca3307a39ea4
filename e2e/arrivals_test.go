package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/bank131"
)

// arrivals is a reverse proxy in front of the sandbox that records when
// each API request reached it: what the bank would see. Its target is set
// once the sandbox is up.
//
// A request's arrival is the time the kernel received its first bytes
// (SO_TIMESTAMPNS on Linux, stampedConn), not the time the proxy's handler
// ran: on a loaded machine the handler can run hundreds of milliseconds
// late and see requests that arrived a second apart as one bunch. The
// handler's lateness is kept too (late), to show how far the two differ.
type arrivals struct {
	srv    *httptest.Server
	mu     sync.Mutex
	target *url.URL
	at     []time.Time     // each API request's arrival
	late   []time.Duration // how much later its handler ran
	path   []string        // and its path
	key    []string        // and its idempotency header ("" without)
}

type stampedKey struct{}

func newArrivals(t testing.TB) *arrivals {
	a := &arrivals{}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		a.mu.Lock()
		target := a.target
		a.mu.Unlock()
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		at := now
		if c, ok := r.Context().Value(stampedKey{}).(*stampedConn); ok {
			if t, ok := c.request(); ok {
				at = t
			}
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			a.mu.Lock()
			a.at = append(a.at, at)
			a.late = append(a.late, now.Sub(at))
			a.path = append(a.path, r.URL.Path)
			a.key = append(a.key, r.Header.Get(bank131.HeaderIdempotency))
			a.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	a.srv.Listener = stampedListener{a.srv.Listener}
	a.srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if sc, ok := c.(*stampedConn); ok {
			return context.WithValue(ctx, stampedKey{}, sc)
		}
		return ctx
	}
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	return a
}

func (a *arrivals) to(bankURL string) {
	u, err := url.Parse(bankURL)
	if err != nil {
		panic(err)
	}
	a.mu.Lock()
	a.target = u
	a.mu.Unlock()
}

// times returns the arrivals so far, sorted.
func (a *arrivals) times() []time.Time {
	a.mu.Lock()
	at := append([]time.Time(nil), a.at...)
	a.mu.Unlock()
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	return at
}

// handled returns when the proxy's handler saw each request, sorted: the
// measure before arrivals were stamped by the kernel.
func (a *arrivals) handled() []time.Time {
	a.mu.Lock()
	out := make([]time.Time, len(a.at))
	for i := range a.at {
		out[i] = a.at[i].Add(a.late[i])
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// lateness is the handler's median and largest lateness.
func (a *arrivals) lateness() (median, most time.Duration) {
	a.mu.Lock()
	l := append([]time.Duration(nil), a.late...)
	a.mu.Unlock()
	if len(l) == 0 {
		return 0, 0
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[len(l)/2], l[len(l)-1]
}

// arrival is one API request as the proxy saw it.
type arrival struct {
	at  time.Time
	key string // idempotency header
}

// all returns every arrival with its key, by arrival.
func (a *arrivals) all() []arrival {
	a.mu.Lock()
	out := make([]arrival, len(a.at))
	for i := range a.at {
		out[i] = arrival{at: a.at[i], key: a.key[i]}
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// paths counts the calls by path that arrived in [from, from+w), from the
// first arrival.
func (a *arrivals) paths(from, w time.Duration) map[string]int {
	first := a.times()
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	if len(first) == 0 {
		return out
	}
	for i, at := range a.at {
		if off := at.Sub(first[0]) - from; off >= 0 && off < w {
			out[strings.TrimPrefix(a.path[i], "/api/")]++
		}
	}
	return out
}

// stampedListener hands out stampedConns.
type stampedListener struct{ net.Listener }

func (l stampedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return newStampedConn(tc), nil
}

// stampedConn is a server connection that knows when each request on it
// arrived. HTTP/1.1 alternates: bytes read after a response was written
// (or the connection's first) begin the next request, so their receive
// time is that request's arrival (request).
type stampedConn struct {
	*net.TCPConn
	stamps stamper

	mu      sync.Mutex
	answer  bool        // a response was written since the last bytes read
	started bool        // bytes were read on this connection
	pending []time.Time // arrivals of requests not yet handled
}

func (c *stampedConn) Read(b []byte) (int, error) {
	n, at, err := c.stamps.read(c.TCPConn, b)
	if n > 0 {
		c.mu.Lock()
		if !c.started || c.answer {
			c.pending = append(c.pending, at)
		}
		c.started, c.answer = true, false
		c.mu.Unlock()
	}
	return n, err
}

func (c *stampedConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.answer = true
	c.mu.Unlock()
	return c.TCPConn.Write(b)
}

// request returns the arrival of the request being handled.
func (c *stampedConn) request() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return time.Time{}, false
	}
	at := c.pending[0]
	c.pending = c.pending[1:]
	return at, true
}

// busiest is the most arrivals in any one-second window (sliding) and where
// it starts, from the first arrival.
func busiest(at []time.Time) (int, time.Duration) { return busiestIn(at, time.Second) }

// busiestIn is the same for a window of width w.
func busiestIn(at []time.Time, w time.Duration) (int, time.Duration) {
	most, from, j := 0, time.Duration(0), 0
	for i := range at {
		for at[i].Sub(at[j]) >= w {
			j++
		}
		if i-j+1 > most {
			most, from = i-j+1, at[j].Sub(at[0])
		}
	}
	return most, from
}

// tenths counts the arrivals in each tenth of the second from +from.
func tenths(at []time.Time, from time.Duration) []int {
	out := make([]int, 10)
	for _, a := range at {
		if off := a.Sub(at[0]) - from; off >= 0 && off < time.Second {
			out[off/(100*time.Millisecond)]++
		}
	}
	return out
}
