package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkRecordRows measures the SQLite side of intake alone: b.N
// pre-parsed rows recorded in groups of 1000, then the manifest check and
// acceptance (one bulk move and one transition per row).
func BenchmarkRecordRows(b *testing.B) {
	sealVerifyOff(b)
	c := newClock()
	db, err := Open(b.TempDir() + "/ledger.db")
	if err != nil {
		b.Fatal(err)
	}
	db.Now = c.Now
	defer db.Close()
	s := NewService(db, testConfig())
	noApprovals(b, s)
	defer s.Close()
	tb := makeBatch(b.N, fmt.Sprint("rec", b.N))
	msgs := tb.msgs(1)
	ctx := context.Background()
	b.ResetTimer()
	start, cpu := time.Now(), processCPU()
	for i := 0; i < len(msgs)-1; i += 5000 {
		chunk := msgs[i:min(i+5000, len(msgs)-1)]
		if err := s.w.Do(ctx, func(tx *Tx) error { _, err := s.recordIntake(tx, chunk); return err }); err != nil {
			b.Fatal(err)
		}
	}
	rows := time.Since(start)
	if err := s.w.Do(ctx, func(tx *Tx) error { _, err := s.recordIntake(tx, msgs[len(msgs)-1:]); return err }); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	total := time.Since(start)
	b.ReportMetric(float64(b.N)/rows.Seconds(), "rows/s")
	b.ReportMetric(float64(b.N)/total.Seconds(), "rows/s-sealed")
	b.ReportMetric((total - rows).Seconds(), "s-seal")
	b.ReportMetric((processCPU()-cpu).Seconds()*1e6/float64(b.N), "cpu-µs/row")
}

// BenchmarkRecordRowsPaidLedger is BenchmarkRecordRows of b.N token rows
// into a ledger holding b.N paid token rows already: the SQLite side of
// the duplicate guard's cost (BenchmarkIntakePaidLedger end to end).
func BenchmarkRecordRowsPaidLedger(b *testing.B) {
	sealVerifyOff(b)
	c := newClock()
	db, err := Open(b.TempDir() + "/ledger.db")
	if err != nil {
		b.Fatal(err)
	}
	db.Now = c.Now
	defer db.Close()
	s := NewService(db, testConfig())
	noApprovals(b, s)
	defer s.Close()
	preloadPaid(b, s, b.N)
	c.Add(time.Hour)
	msgs := tokenBatch(b.N, fmt.Sprint("rec", b.N), "N").msgs(uint64(b.N) + 1)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(msgs)-1; i += 4000 {
		chunk := msgs[i:min(i+4000, len(msgs)-1)]
		if err := s.w.Do(ctx, func(tx *Tx) error { _, err := s.recordIntake(tx, chunk); return err }); err != nil {
			b.Fatal(err)
		}
	}
	rows := time.Since(start)
	if err := s.w.Do(ctx, func(tx *Tx) error { _, err := s.recordIntake(tx, msgs[len(msgs)-1:]); return err }); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/rows.Seconds(), "rows/s")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s-sealed")
}
