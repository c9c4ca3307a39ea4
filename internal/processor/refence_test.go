package processor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ratelimit"
)

// sendClock notes when each request begins its way to the bank: right
// after the limiter let it go, in the caller's goroutine.
type sendClock struct {
	mu   sync.Mutex
	at   []time.Time
	next http.RoundTripper
}

func (c *sendClock) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.at = append(c.at, time.Now())
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// TestRefencedCallsLeaveAtTheRate: calls that waited in Limiter.Pace ask
// their fence again, and a loaded ledger's writer answers the fences of a
// whole commit group at once (here every 400 ms). Sent as soon as the
// answer came, each group's calls left together: on a loaded machine the
// processors let 119 calls go in one second against R + B = 110 (e2e
// TestSharedRateLimitHoldsWithAProcessorKilled). A call answered late
// takes a turn of its own, so the sends keep the limiter's rate: in any
// 100 ms at most R × 0.1 + the burst, +1 for a send reserved before the
// window and +1 for one answered within refenceLate of its turn.
func TestRefencedCallsLeaveAtTheRate(t *testing.T) {
	bank := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok","session":{"id":"ps_refence","status":"in_progress"}}`)
	}))
	defer bank.Close()
	clock := &sendClock{next: http.DefaultTransport}
	key, err := bank131.ReadPrivateKey(filepath.Join(keys, "partner_private.pem"))
	require.NoError(t, err)
	client, err := bank131.NewClient(bank131.Config{BaseURL: bank.URL, Project: "payrun", PrivateKey: key,
		HTTPClient: &http.Client{Transport: clock}, Logger: quiet})
	require.NoError(t, err)

	const r, burst, n = 50.0, 5, 40
	lim := ratelimit.New(r, burst)
	defer lim.Close()
	p := &Processor{lim: lim, cfg: Config{Logger: quiet}}

	var mu sync.Mutex
	group := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(400 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				mu.Lock()
				close(group)
				group = make(chan struct{})
				mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
	fences := 0
	fence := func(ctx context.Context) error {
		mu.Lock()
		g := group
		fences++
		mu.Unlock()
		select {
		case <-g:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.callFenced(ctx, "session/status", ratelimit.Low, fence, func(ctx context.Context) error {
				_, err := client.Status(ctx, "ps_refence")
				return err
			})
			require.NoError(t, err)
		}()
	}
	wg.Wait()

	sent := slices.Clone(clock.at)
	slices.SortFunc(sent, time.Time.Compare)
	require.Len(t, sent, n)
	const w = 100 * time.Millisecond
	bound := int(r*w.Seconds()) + burst + 2
	most, j := 0, 0
	for i := range sent {
		for sent[i].Sub(sent[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	t.Logf("%d calls, %d fences, sent in %s; most in any %s: %d (bound %d)", n, fences,
		sent[n-1].Sub(sent[0]).Round(time.Millisecond), w, most, bound)
	require.Greater(t, fences, n, "calls were fenced again")
	require.LessOrEqual(t, most, bound)
}
