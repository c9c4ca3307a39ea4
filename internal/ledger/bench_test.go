package ledger

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

// benchNATS starts an embedded nats-server for a benchmark.
func benchNATS(b *testing.B) *natsEnv {
	b.Helper()
	return startNATS(b, jetstream.WithPublishAsyncMaxPending(8192))
}

// BenchmarkIntake measures the ledger reading a batch of b.N rows from
// PAYRUN_INTAKE into SQLite, manifest check and acceptance included (the
// rows are published before the timer starts). Run it with
// -benchtime=1000000x for the 1M-row figure.
func BenchmarkIntake(b *testing.B) {
	env := benchNATS(b)
	tb := makeBatch(b.N, fmt.Sprint("bench", b.N))
	ctx := context.Background()
	for i, data := range tb.Data {
		msg := &nats.Msg{Subject: queue.IntakeRowSubject(tb.ID), Data: data, Header: nats.Header{
			jetstream.MsgIDHeader: []string{queue.RowMsgID(tb.ID, i+1)}, queue.HeaderKind: []string{"row"}}}
		if _, err := env.js.PublishMsgAsync(msg); err != nil {
			b.Fatal(err)
		}
	}
	<-env.js.PublishAsyncComplete()
	raw, _ := intake.EncodeManifest(tb.Manifest)
	if _, err := env.js.PublishMsg(ctx, &nats.Msg{Subject: queue.IntakeManifestSubject(tb.ID), Data: raw,
		Header: nats.Header{queue.HeaderKind: []string{"manifest"}}}); err != nil {
		b.Fatal(err)
	}
	tb.Rows, tb.Data = nil, nil

	c := newClock()
	db, err := Open(b.TempDir() + "/ledger.db")
	if err != nil {
		b.Fatal(err)
	}
	db.Now = c.Now
	defer db.Close()
	cfg := testConfig()
	cfg.ReleaseInterval = time.Hour // the releaser still runs once when the batch is sealed
	b.ResetTimer()
	start := time.Now()
	s := NewService(db, cfg)
	if err := s.Start(ctx, env.nc); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for {
		var st payout.BatchStatus
		db.r.QueryRow(`SELECT status FROM batches WHERE id = ?`, tb.ID).Scan(&st)
		if st == payout.BatchScheduled || st == payout.BatchReleased {
			break
		}
		if st == payout.BatchRejected {
			b.Fatal("batch rejected")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkTransitions measures transitions over NATS request/reply (the
// micro service, group commit, synchronous=FULL) with 64 concurrent
// requesters on one machine. Each op is one queued → claimed transition.
func BenchmarkTransitions(b *testing.B) {
	env := benchNATS(b)
	c := newClock()
	db, err := Open(b.TempDir() + "/ledger.db")
	if err != nil {
		b.Fatal(err)
	}
	db.Now = c.Now
	defer db.Close()
	s := NewService(db, testConfig())
	ctx := context.Background()
	tb := makeBatch(b.N, fmt.Sprint("tr", b.N))
	msgs := tb.msgs(1)
	for i := 0; i < len(msgs); i += 5000 {
		chunk := msgs[i:min(i+5000, len(msgs))]
		if err := s.w.Do(ctx, func(tx *Tx) error { _, err := s.recordIntake(tx, chunk); return err }); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.ReleaseDue(ctx); err != nil {
		b.Fatal(err)
	}
	if err := s.Start(ctx, env.nc); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	// Requesters on their own connections, as processors on other hosts.
	const requesters = 64
	conns := make([]*nats.Conn, 8)
	for i := range conns {
		if conns[i], err = nats.Connect(env.srv.URL()); err != nil {
			b.Fatal(err)
		}
		defer conns[i].Close()
	}
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < requesters; w++ {
		wg.Add(1)
		client := ledgerapi.NewClient(conns[w%len(conns)], 30*time.Second)
		go func() {
			defer wg.Done()
			for {
				row := int(next.Add(1))
				if row > b.N {
					return
				}
				r, err := client.Transition(ctx, ledgerapi.Transition{Batch: tb.ID, Row: row, To: payout.StateClaimed, Gen: 1, Worker: "bench"})
				if err != nil || !r.Applied {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d transitions failed", failed.Load())
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "transitions/s")
}
