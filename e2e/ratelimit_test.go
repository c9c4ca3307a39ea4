package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// arrivals is a reverse proxy in front of the sandbox that records when
// each API request reached it: what the bank would see. Its target is set
// once the sandbox is up.
type arrivals struct {
	srv    *httptest.Server
	mu     sync.Mutex
	target *url.URL
	at     []time.Time
}

func newArrivals(t testing.TB) *arrivals {
	a := &arrivals{}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		a.mu.Lock()
		target := a.target
		a.mu.Unlock()
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			a.mu.Lock()
			a.at = append(a.at, time.Now())
			a.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
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

// sharedRateRun pays rows of tokens (three calls each: session/create,
// session/start/payout, session/confirm) with n processors sharing
// --bank-rate r --burst b, and kills one with SIGKILL once a third of the
// calls reached the bank. It returns the arrivals and the batch's time from
// ingest to the last row final.
func sharedRateRun(t testing.TB, n, rows int, r float64, b int) ([]time.Time, time.Duration) {
	arr := newArrivals(t)
	s := startSystem(t, options{processors: n,
		processorArgs: []string{"--bank-url", arr.srv.URL, "--bank-rate", fmt.Sprint(r), "--burst", fmt.Sprint(b),
			"--concurrency", "32", "-v=false"}})
	arr.to(s.bankURL)
	// Every processor holds its part before the batch starts.
	testutil.Eventually(t, 20*time.Second, 100*time.Millisecond, func() error {
		for _, p := range s.procs {
			if p.bin == "processor" && !strings.Contains(readLog(p), `"msg":"processor running"`) {
				return fmt.Errorf("%s not running", p.name)
			}
		}
		return nil
	})
	time.Sleep(2 * time.Second) // two rounds of the leases: the shares are split

	var file []map[string]string
	for i := 1; i <= rows; i++ {
		file = append(file, tokenRow(fmt.Sprintf("RL-%05d", i), fmt.Sprintf("%d.00", 100+i), "Rate Person", fmt.Sprintf("tok_rate_%06d", i)))
	}
	start := time.Now()
	batch := s.ingest(payoutFile(t, s.dir, "rate.csv", file))
	testutil.Eventually(t, 2*time.Minute, 20*time.Millisecond, func() error {
		if got := len(arr.times()); got < rows {
			return fmt.Errorf("%d calls so far", got)
		}
		return nil
	})
	s.procs[len(s.procs)-1].kill()
	t.Logf("processor %s killed after %s", s.procs[len(s.procs)-1].name, time.Since(start).Round(time.Millisecond))
	sum := s.waitFinal(batch, rows, 5*time.Minute, nil)
	took := time.Since(start)
	s.agree(batch, rows)
	require.Equal(t, rows, sum.ByState[payout.StateSucceeded], "every row paid: %v", sum.ByState)
	return arr.times(), took
}

func readLog(p *proc) string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// TestSharedRateLimitHoldsWithAProcessorKilled: three processors share the
// bank's limit R=100, B=10; one is killed mid-batch. In no second does the
// bank see more than R + B calls. (How close to R they get is the
// benchmark's, BenchmarkSharedRate: a figure, not a test.)
func TestSharedRateLimitHoldsWithAProcessorKilled(t *testing.T) {
	rows := 300
	if testing.Short() {
		rows = 150
	}
	const r, b = 100.0, 10
	at, took := sharedRateRun(t, 3, rows, r, b)
	most, from := busiest(at)
	t.Logf("%d calls in %s; most in any second %d from +%s (R + B = %.0f)", len(at), took.Round(time.Millisecond), most, from.Round(time.Millisecond), r+b)
	require.LessOrEqual(t, most, int(r)+b, "the bank saw more than R + B in one second")
}

// BenchmarkSharedRate measures two and three processors sharing R=100, B=10
// with one killed mid-batch: the busiest second at the bank against R + B,
// the mean rate, and the batch's time against calls ÷ R.
//
//	go test ./e2e -run '^$' -bench SharedRate -benchtime 1x -v
func BenchmarkSharedRate(b *testing.B) {
	rows := 1000
	const r, burst = 100.0, 10
	for _, n := range []int{2, 3} {
		b.Run(fmt.Sprintf("processors=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				at, took := sharedRateRun(b, n, rows, r, burst)
				most, from := busiest(at)
				most100, from100 := busiestIn(at, 100*time.Millisecond)
				b.Logf("busiest 100 ms: %d calls from +%s (R × 0.1 s = %.0f)", most100, from100.Round(time.Millisecond), r/10)
				b.Logf("the busiest second by tenths: %v", tenths(at, from))
				need := time.Duration(float64(len(at)) / r * float64(time.Second))
				mean := float64(len(at)-1) / at[len(at)-1].Sub(at[0]).Seconds()
				b.ReportMetric(float64(most), "busiest-second-calls")
				b.ReportMetric(mean, "mean-calls/s")
				b.ReportMetric(took.Seconds()/need.Seconds(), "time/(calls÷R)")
				b.Logf("%d processors, one killed: %d rows, %d calls; busiest second %d from +%s (R+B = %.0f); mean %.1f calls/s; batch %s against %s at R: ratio %.3f (target ≤ 1.1)",
					n, rows, len(at), most, from.Round(time.Millisecond), r+burst, mean, took.Round(time.Millisecond), need.Round(time.Millisecond), took.Seconds()/need.Seconds())
			}
		})
	}
}
