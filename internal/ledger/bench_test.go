package ledger

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
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
	benchIntake(b, makeBatch(b.N, fmt.Sprint("bench", b.N)), nil)
}

// BenchmarkIntakePaidLedger is BenchmarkIntake of b.N token rows into a
// ledger that already holds b.N paid token rows (other references, other
// payees, the same amounts): what the duplicate guard costs at scale, each
// new row looked up by reference and by payee and amount. Run it with
// -benchtime=1000000x for the figure of 1M rows into a ledger of 1M.
func BenchmarkIntakePaidLedger(b *testing.B) {
	preload := func(s *Service) { preloadPaid(b, s, b.N) }
	benchIntake(b, tokenBatch(b.N, fmt.Sprint("new", b.N), "N"), preload)
}

// preloadPaid records n paid token rows in one batch, straight into
// SQLite (no guard: they are the ledger's history).
func preloadPaid(b *testing.B, s *Service, n int) {
	b.Helper()
	paid := tokenBatch(n, "paid", "P")
	ctx := context.Background()
	msgs := paid.msgs(1)
	for i := 0; i < len(msgs)-1; i += insertChunk * 100 {
		chunk := msgs[i:min(i+insertChunk*100, len(msgs)-1)]
		if err := s.w.Do(ctx, func(tx *Tx) error {
			if _, err := ensureBatch(tx, paid.ID); err != nil {
				return err
			}
			res := &intakeResult{}
			var fresh []guardRow
			for j := 0; j < len(chunk); j += insertChunk {
				var err error
				if fresh, err = insertRows(tx, chunk[j:min(j+insertChunk, len(chunk))], res, fresh); err != nil {
					return err
				}
			}
			return countRows(tx, fresh, func(string) bool { return true })
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE rows SET state = 'succeeded' WHERE batch_id = ?`, paid.ID)
		if err == nil {
			_, err = tx.Exec(`UPDATE batches SET status = 'done' WHERE id = ?`, paid.ID)
		}
		return err
	}); err != nil {
		b.Fatal(err)
	}
	// The preload's WAL is checkpointed before the timed part, and the
	// guard's indexes hold the preloaded rows, as after a start.
	if _, err := s.db.wc.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	s.gidxMu.Lock()
	s.gidx = nil
	s.gidxMu.Unlock()
	if _, err := s.guardIndex(); err != nil {
		b.Fatal(err)
	}
}

// tokenBatch makes n token rows with references and tokens of their own
// (prefix), amounts cycling through a thousand values.
func tokenBatch(n int, seed, prefix string) *testBatch {
	rows := make([]*payout.Row, 0, n)
	for i := 1; i <= n; i++ {
		rows = append(rows, &payout.Row{Reference: fmt.Sprintf("%s-%07d", prefix, i), Method: payout.MethodToken,
			Amount: money.New(100000+int64(i%1000), "RUB"), FullName: "Anna Petrova",
			CardToken: fmt.Sprintf("tok_%s_%d", prefix, i)})
	}
	return makeRows(seed, rows)
}

// benchIntake publishes tb to a fresh PAYRUN_INTAKE, lets preload fill the
// ledger (untimed), then times the ledger recording the batch, from the
// start of the service until the batch is accepted.
func benchIntake(b *testing.B, tb *testBatch, preload func(*Service)) {
	sealVerifyOff(b)
	env := benchNATS(b)
	ctx := context.Background()
	// The rows go in chunks of intake.ChunkRows rows, as ingest publishes
	// them; PAYRUN_BENCH_CHUNK=N sets N rows a chunk, 1 a message a row
	// (as before chunks, bench/README.md "t2").
	k := intake.ChunkRows
	if v := os.Getenv("PAYRUN_BENCH_CHUNK"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("PAYRUN_BENCH_CHUNK=%q: want a positive number", v)
		}
		k = n
	}
	pub := func(msg *nats.Msg) {
		if _, err := env.js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	if k == 1 {
		for i, data := range tb.Data {
			pub(&nats.Msg{Subject: queue.IntakeRowSubject(tb.ID), Data: data, Header: nats.Header{
				jetstream.MsgIDHeader: []string{queue.RowMsgID(tb.ID, i+1)}, queue.HeaderKind: []string{"row"}}})
		}
	} else {
		data, first := tb.chunks(k)
		for i, d := range data {
			pub(chunkMsg(tb.ID, first[i], min(k, len(tb.Data)-first[i]+1), d))
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
	if v := os.Getenv("PAYRUN_BENCH_INTAKE_BATCH"); v != "" {
		// The intake's group size (Config.IntakeBatch), to weigh a group's
		// commit against its size (bench/README.md, "s2").
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("PAYRUN_BENCH_INTAKE_BATCH=%q: want a positive number", v)
		}
		cfg.IntakeBatch = n
	}
	if preload != nil {
		s := NewService(db, cfg)
		noApprovals(b, s)
		preload(s)
		s.Close()
		c.Add(time.Hour) // the new batch is recorded after the ledger's rows
	}
	// The service is made (its payee index loaded) before the timer
	// starts: the intake is what is timed, from the start of the service.
	s := NewService(db, cfg)
	noApprovals(b, s)
	b.ResetTimer()
	if path := os.Getenv("PAYRUN_BENCH_CPUPROFILE"); path != "" {
		// A profile of the timed part alone (-test.cpuprofile holds the
		// publishing before it too).
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile() // after a failure; else below
	}
	start, cpu := time.Now(), processCPU()
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
	pprof.StopCPUProfile()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
	b.ReportMetric((processCPU()-cpu).Seconds()*1e6/float64(b.N), "cpu-µs/row")
	reportIntakeStats(b, &s.stats)
	var held int
	db.r.QueryRow(`SELECT count(*) FROM rows WHERE held = 1`).Scan(&held)
	if held > 0 {
		b.Fatalf("%d rows held: the benchmark's rows repeat nothing", held)
	}
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
	noApprovals(b, s)
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

// processCPU is the CPU time the test process used so far (user and
// system, every thread): on a shared machine it moves less than the wall
// clock, and it shows what the intake costs besides SQLite's own work.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportIntakeStats reports where the intake pipeline's time went: the
// committer's wait for a parsed group (the writer idle on its account),
// its time in the writer, the batcher's wait for messages and its
// parsing, and the mean group size.
func reportIntakeStats(b *testing.B, st *intakeStats) {
	ms := func(v *atomic.Int64) float64 { return float64(v.Load()) / 1e6 }
	b.ReportMetric(ms(&st.wait), "wait-ms")
	b.ReportMetric(ms(&st.record), "record-ms")
	b.ReportMetric(ms(&st.fetchWait), "fetchwait-ms")
	b.ReportMetric(ms(&st.parse), "parse-ms")
	b.ReportMetric(ms(&st.insert), "r-insert-ms")
	b.ReportMetric(ms(&st.triggers), "r-trig-ms")
	b.ReportMetric(ms(&st.batches), "r-batch-ms")
	b.ReportMetric(ms(&st.count), "r-count-ms")
	b.ReportMetric(ms(&st.guard), "r-guard-ms")
	b.ReportMetric(ms(&st.seal), "r-seal-ms")
	b.ReportMetric(ms(&st.other), "r-other-ms")
	b.ReportMetric(ms(&st.cursor), "r-cursor-ms")
	b.ReportMetric(float64(st.record.Load()-st.fn.Load())/1e6, "r-commit-ms")
	b.ReportMetric(float64(st.refProbes.Load()), "ref-probes")
	if g := st.groups.Load(); g > 0 {
		b.ReportMetric(float64(st.msgs.Load())/float64(g), "msgs/group")
	}
}
