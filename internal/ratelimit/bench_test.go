package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"
)

// BenchmarkAccuracy runs 16 callers against a limiter of 500/s (burst 10)
// for two seconds and reports the achieved rate, its error against the
// configured rate and the most tokens granted in any one-second window.
// Run: go test -bench Accuracy -benchtime 1x ./internal/ratelimit
func BenchmarkAccuracy(b *testing.B) {
	const r, burst, callers = 500.0, 10, 16
	for i := 0; i < b.N; i++ {
		l := New(r, burst)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var mu sync.Mutex
		var stamps []time.Time
		var wg sync.WaitGroup
		start := time.Now()
		for c := 0; c < callers; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				p := Low
				if c%4 == 0 {
					p = High
				}
				for l.Wait(ctx, p) == nil {
					mu.Lock()
					stamps = append(stamps, time.Now())
					mu.Unlock()
				}
			}(c)
		}
		wg.Wait()
		cancel()
		l.Close()
		elapsed := time.Since(start).Seconds()
		got := float64(len(stamps)-burst) / elapsed
		maxWin := 0
		for j := range stamps {
			k := j
			for k < len(stamps) && stamps[k].Sub(stamps[j]) < time.Second {
				k++
			}
			if k-j > maxWin {
				maxWin = k - j
			}
		}
		b.ReportMetric(got, "tokens/s")
		b.ReportMetric(100*(got-r)/r, "err%")
		b.ReportMetric(float64(maxWin), "max/1s")
	}
}
