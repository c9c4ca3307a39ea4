package e2e

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// sharedRateRun pays rows of tokens (three calls each: session/create,
// session/start/payout, session/confirm) with n processors sharing
// --bank-rate r --burst b, and kills one with SIGKILL once a third of the
// calls reached the bank (with stall, first stops the ledger with SIGSTOP
// for that long once a sixth did). It returns the arrivals and the batch's
// time from ingest to the last row final.
func sharedRateRun(t testing.TB, n, rows int, r float64, b int, stall time.Duration) (*arrivals, time.Duration) {
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
	calls := func(n int) func() error {
		return func() error {
			if got := len(arr.times()); got < n {
				return fmt.Errorf("%d calls so far", got)
			}
			return nil
		}
	}
	if stall > 0 {
		testutil.Eventually(t, 2*time.Minute, 20*time.Millisecond, calls(rows/2))
		ledger := s.procs[0]
		require.Equal(t, "ledger", ledger.bin)
		require.NoError(t, ledger.cmd.Process.Signal(syscall.SIGSTOP))
		time.Sleep(stall)
		require.NoError(t, ledger.cmd.Process.Signal(syscall.SIGCONT))
		t.Logf("ledger stopped for %s at +%s from the first call", stall, time.Since(arr.times()[0]).Round(time.Millisecond))
	}
	testutil.Eventually(t, 2*time.Minute, 20*time.Millisecond, calls(rows))
	s.procs[len(s.procs)-1].kill()
	t.Logf("processor %s killed after %s, at +%s from the first call", s.procs[len(s.procs)-1].name, time.Since(start).Round(time.Millisecond),
		time.Since(arr.times()[0]).Round(time.Millisecond))
	sum := s.waitFinal(batch, rows, 5*time.Minute, nil)
	took := time.Since(start)
	s.agree(batch, rows)
	require.Equal(t, rows, sum.ByState[payout.StateSucceeded], "every row paid: %v", sum.ByState)
	return arr, took
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
	arr, took := sharedRateRun(t, 3, rows, r, b, 0)
	at := arr.times()
	most, from := busiest(at)
	handled, _ := busiest(arr.handled())
	median, worst := arr.lateness()
	t.Logf("%d calls in %s; most in any second %d from +%s (R + B = %.0f); by the proxy's handler time %d (handlers late by %s median, %s at most)",
		len(at), took.Round(time.Millisecond), most, from.Round(time.Millisecond), r+b, handled, median, worst.Round(time.Millisecond))
	t.Logf("the busiest second by tenths %v, by call %v", tenths(at, from), arr.paths(from, time.Second))
	require.LessOrEqual(t, most, int(r)+b, "the bank saw more than R + B in one second")
}

// TestSharedRateLimitHoldsThroughALedgerStall: the ledger stops for half a
// second mid-batch (a slow fsync, a starved process). The processors'
// calls granted meanwhile wait in their fence (the ledger records each
// send before it leaves) and are all answered at once when it resumes; the
// limiter paces what leaves (ratelimit.Limiter.Pace), so the bank still
// sees at most R + B in any second.
func TestSharedRateLimitHoldsThroughALedgerStall(t *testing.T) {
	const r, b = 100.0, 10
	arr, took := sharedRateRun(t, 2, 240, r, b, 500*time.Millisecond)
	at := arr.times()
	most, from := busiest(at)
	median, worst := arr.lateness()
	t.Logf("%d calls in %s; most in any second %d from +%s (R + B = %.0f), by tenths %v, by call %v (handlers late by %s median, %s at most)",
		len(at), took.Round(time.Millisecond), most, from.Round(time.Millisecond), r+b, tenths(at, from), arr.paths(from, time.Second),
		median, worst.Round(time.Millisecond))
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
				arr, took := sharedRateRun(b, n, rows, r, burst, 0)
				at := arr.times()
				handled, _ := busiest(arr.handled())
				median, worst := arr.lateness()
				b.Logf("by the proxy's handler time the busiest second held %d (handlers late by %s median, %s at most)",
					handled, median, worst.Round(time.Millisecond))
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
