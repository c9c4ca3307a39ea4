package ingest

import (
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/batch/batchtest"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// BenchmarkRowMessage compares what ingest does per card row since
// public-key sealing (seal under the upload's key, fingerprint, keyed
// digest, message) with encoding the message alone.
func BenchmarkRowMessage(b *testing.B) {
	s := testSealer(b)
	env, _ := s.Begin()
	row := &payout.Row{Batch: "b0123456789abcdef0123", Index: 1, Line: 2, Reference: "E-0000001", Method: payout.MethodCard,
		Amount: money.New(150000, "RUB"), FullName: "Иванов Иван", Description: "Зарплата за ноябрь",
		Card: &payout.Card{BIN: "424242", Last4: "4242"}, Meta: map[string]string{"department": "IT"}}
	buf := make([]byte, 0, 2048)
	b.Run("plain encode", func(b *testing.B) {
		for b.Loop() {
			buf = intake.AppendRow(buf[:0], row)
		}
	})
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			row.Card.Sealed = env.Seal("4242424242424242", "b0123456789abcdef0123/1")
		}
	})
	b.Run("rowMessage", func(b *testing.B) {
		for b.Loop() {
			buf, _, _ = rowMessage(buf[:0], env, row, "4242424242424242")
		}
	})
}

// BenchmarkReadFile is the publishing pass's own work per row without
// NATS: reading the checked file again, building, sealing, digesting and
// encoding each row and making its message (publisher.readFile), on
// 20 000 generated rows.
func BenchmarkReadFile(b *testing.B) {
	path := filepath.Join(b.TempDir(), "payroll.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	const rows = 20_000
	if err := batchtest.Write(f, rows); err != nil {
		b.Fatal(err)
	}
	f.Close()
	opts := testOptions(b)
	res, err := Check(path, opts)
	if err != nil || res.Status != StatusValid {
		b.Fatal(res.Status, err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		env, err := opts.Sealer.Begin()
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		p := &publisher{batch: res.Batch, ackEvery: defaultAckEvery}
		chunks := make(chan []outMsg, 4)
		go func() {
			for range chunks {
			}
		}()
		h := sha256.New()
		_, _, err = p.readFile(io.TeeReader(f, h), h, res, opts, env, chunks, make(chan struct{}))
		close(chunks)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(b.N*rows), "cpu-µs/row")
}

// cpuTime is the process's CPU time (user and system, every thread): on a
// shared machine it moves less than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
