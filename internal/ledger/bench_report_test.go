package ledger

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/report"
)

// benchLedger builds a ledger with one released batch of n card rows (each
// with a description and two meta_ columns), 95 %
// paid (session, payout, paid amount, fee, four transitions and a
// payment_finished webhook of ~1 KB each) and 5 % failed, and imports the
// bank's daily report listing every paid row. It reports how long the
// import took.
func benchLedger(b *testing.B, n int) (*Service, string) {
	b.Helper()
	c := newClock()
	// PAYRUN_BENCH_DB_DIR keeps the ledger file there (a new file each
	// time), for measuring a separate process on it (bench/README.md).
	dir := b.TempDir()
	if keep := os.Getenv("PAYRUN_BENCH_DB_DIR"); keep != "" {
		var err error
		if dir, err = os.MkdirTemp(keep, "ledger-"); err != nil {
			b.Fatal(err)
		}
	}
	db, err := Open(dir + "/ledger.db")
	if err != nil {
		b.Fatal(err)
	}
	db.Now = c.Now
	b.Cleanup(func() { db.Close() })
	s := NewService(db, testConfig())
	noApprovals(b, s)
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	tb := makeBatch(n, fmt.Sprint("report", n))
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
	body := strings.Repeat("x", 1000)
	err = s.w.Do(ctx, func(tx *Tx) error {
		now := formatTime(tx.Now)
		for _, q := range []string{
			`UPDATE rows SET description = 'Salary November 2026, employee ' || row_no,
				meta = '{"department":"' || (CASE row_no % 3 WHEN 0 THEN 'IT' WHEN 1 THEN 'Sales' ELSE 'Склад' END) ||
				'","employee":"' || row_no || '"}' WHERE batch_id = ?1`,
			`UPDATE rows SET state = 'succeeded', session_id = 'ps_' || row_no, payout_id = 'po_' || row_no,
				paid_minor = amount_minor, paid_currency = currency, fee_minor = 2500, fee_currency = 'RUB', attempt = 1
				WHERE batch_id = ?1 AND row_no % 20 <> 0`,
			`UPDATE rows SET state = 'failed', session_id = 'ps_' || row_no, error_code = 'provider_timeout',
				reason = 'The recipient''s bank did not answer in time.', attempt = 1 WHERE batch_id = ?1 AND row_no % 20 = 0`,
			`INSERT INTO sessions (session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at)
				SELECT session_id, batch_id, row_no, 1, 'row', state, ?2, ?2 FROM rows WHERE batch_id = ?1`,
			`INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, gen, attempt, session_id)
				SELECT batch_id, row_no, s.f, s.t, ?2, 'processor', 1, 1, session_id FROM rows,
				(SELECT 'queued' f, 'claimed' t UNION ALL SELECT 'claimed', 'opening' UNION ALL SELECT 'opening', 'payout_started'
				 UNION ALL SELECT 'payout_started', 'succeeded') s WHERE batch_id = ?1`,
			`INSERT INTO bank_events (hook_id, type, session_id, session_status, payout_id, payout_status, amount_minor, currency,
				fee_minor, fee_currency, ref_batch, ref_row, stream_seq, received_at, recorded_at, body)
				SELECT 'h' || row_no, 'payment_finished', session_id, 'succeeded', payout_id, state, amount_minor, currency, 2500, 'RUB',
				batch_id, row_no, row_no, ?2, ?2, ?3 FROM rows WHERE batch_id = ?1`,
		} {
			var args []any
			if strings.Contains(q, "?3") {
				args = []any{tb.ID, now, body}
			} else if strings.Contains(q, "?2") {
				args = []any{tb.ID, now}
			} else {
				args = []any{tb.ID}
			}
			if _, err := tx.Exec(q, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var lines []bankLine
	for i := 1; i <= n; i++ {
		if i%20 != 0 {
			a := rowAmount(i)
			lines = append(lines, bankLine{op: fmt.Sprintf("po_%d", i), session: fmt.Sprintf("ps_%d", i), batch: tb.ID, row: i,
				amount: a.Decimal(), fee: "25.00"}) // the fee the webhooks gave
		}
	}
	file := bankReportCSV(lines...)
	start := time.Now()
	res, err := s.ImportBankReport(ctx, strings.NewReader(file), "all_2026-11-25_2026-11-25.csv")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("imported a %d-line bank report (%.1f MB) in %s; reconciled %v, opened %d exceptions; ledger %s, batch %s",
		res.Lines, float64(len(file))/1e6, time.Since(start).Round(time.Millisecond), res.Batches, res.Opened, dir, tb.ID)
	return s, tb.ID
}

// BenchmarkReport100k measures the report of a 100k-row batch: reading
// and reconciling the batch, then writing it in each format (the target
// is 2 s).
func BenchmarkReport100k(b *testing.B) {
	const n = 100_000
	s, id := benchLedger(b, n)
	ctx := context.Background()
	b.Run("reconcile", func(b *testing.B) {
		cpu0 := cpuSeconds()
		for b.Loop() {
			if _, err := s.db.Reconcile(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	})
	for _, f := range report.Formats {
		b.Run(f, func(b *testing.B) {
			var size int
			cpu0 := cpuSeconds()
			for b.Loop() {
				rep, err := s.db.Report(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				var buf bytes.Buffer
				if err := rep.Write(&buf, f); err != nil {
					b.Fatal(err)
				}
				size = buf.Len()
				io.Copy(io.Discard, &buf)
			}
			b.ReportMetric(float64(size)/1e6, "MB")
			b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
	// As a download writes it: streamed from the ledger (DB.ReportSource).
	for _, f := range report.Formats {
		b.Run("stream/"+f, func(b *testing.B) {
			benchStream(b, s, id, f, n)
		})
	}
}

// benchStream writes the batch's report in format f as a download does
// (DB.ReportSource, streamed), counting the bytes.
//
// The collector's target is `ledger report`'s (ReportGCPercent) unless
// GOGC is set.
func benchStream(b *testing.B, s *Service, id, f string, n int) {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(ReportGCPercent))
	}
	ctx := context.Background()
	var size int64
	cpu0 := cpuSeconds()
	for b.Loop() {
		src, done, err := s.db.ReportSource(ctx, id, "en")
		if err != nil {
			b.Fatal(err)
		}
		cw := &countWriter{}
		if err := src.Write(cw, f); err != nil {
			b.Fatal(err)
		}
		done()
		size = cw.n
	}
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
}

// BenchmarkReportFile streams, in each format, the report of a batch in a
// ledger file kept by an earlier run (PAYRUN_BENCH_DB_DIR) without
// building it again: PAYRUN_BENCH_REPORT_DB=FILE PAYRUN_BENCH_REPORT_BATCH=ID
// (bench/README.md). For comparing two builds on the same file, run after
// run; skipped without them.
func BenchmarkReportFile(b *testing.B) {
	s, id, rows, ok := keptLedger(b)
	if !ok {
		b.Skip("needs PAYRUN_BENCH_REPORT_DB and PAYRUN_BENCH_REPORT_BATCH (bench/README.md)")
	}
	for _, f := range report.Formats {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			benchStream(b, s, id, f, rows)
		})
	}
}

// keptLedger opens, read-only as `ledger report` does, the ledger file
// PAYRUN_BENCH_REPORT_DB kept by an earlier run (PAYRUN_BENCH_DB_DIR) and
// counts the rows of its batch PAYRUN_BENCH_REPORT_BATCH; ok is false
// when they are not set.
func keptLedger(b *testing.B) (s *Service, id string, rows int, ok bool) {
	path, id := os.Getenv("PAYRUN_BENCH_REPORT_DB"), os.Getenv("PAYRUN_BENCH_REPORT_BATCH")
	if path == "" || id == "" {
		return nil, "", 0, false
	}
	db, err := OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.ReportZone = bank131.ReportZone() // as `ledger report` reads it
	if err := db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ?`, id).Scan(&rows); err != nil {
		b.Fatal(err)
	}
	return &Service{db: db}, id, rows, true
}

// countWriter counts what is written to it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// BenchmarkReport1M streams the CSV report of a 1M-row batch (target:
// ≤ 10 s). Its ledger takes minutes to build, so it runs only when asked
// (PAYRUN_BENCH_1M=1), as the documented run in bench/README.md; with
// PAYRUN_BENCH_REPORT_DB and PAYRUN_BENCH_REPORT_BATCH it streams the
// batch of a ledger file an earlier run kept (PAYRUN_BENCH_DB_DIR)
// instead of building one.
func BenchmarkReport1M(b *testing.B) {
	s, id, n, kept := keptLedger(b)
	if !kept {
		if os.Getenv("PAYRUN_BENCH_1M") == "" {
			b.Skip("a documented run: PAYRUN_BENCH_1M=1, or a kept file: PAYRUN_BENCH_REPORT_DB and PAYRUN_BENCH_REPORT_BATCH (bench/README.md)")
		}
		n = 1_000_000
		s, id = benchLedger(b, n)
	}
	for _, f := range []string{report.FormatCSV, report.FormatSummaryCSV} {
		b.Run(f, func(b *testing.B) {
			runtime.GC()
			debug.FreeOSMemory()
			base := resetPeakRSS()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			benchStream(b, s, id, f, n)
			runtime.ReadMemStats(&m1)
			b.ReportMetric(float64(peakRSSNow())/1e6, "MB-peak-RSS")
			b.ReportMetric(float64(base)/1e6, "MB-RSS-before")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(b.N)/1e6, "MB-alloc/op")
		})
	}
}

// BenchmarkReportDownloads serves a 100k-row batch's report through the
// ledger's HTTP handler (loopback, the default slots) and, per format,
// starts 8 downloads at once and reads them to the end. It reports the
// process's peak RSS during the downloads (VmHWM after resetting it;
// Linux) and the peak Go heap in use, sampled every 5 ms: the ledger's
// memory under 8 concurrent downloads (target: under 400 MB).
func BenchmarkReportDownloads(b *testing.B) {
	const n, clients = 100_000, 8
	s, id := benchLedger(b, n)
	srv := httptest.NewServer(NewHTTPHandler(s.db, WithHTTPLogger(quiet)))
	defer srv.Close()
	for _, f := range report.Formats {
		b.Run(f, func(b *testing.B) {
			var peakRSS, baseRSS, peakHeap, liveBefore uint64
			var size int64
			var took time.Duration
			var retried atomic.Int64
			for b.Loop() {
				runtime.GC()
				debug.FreeOSMemory()
				baseRSS = resetPeakRSS()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				liveBefore = before.HeapAlloc
				stop := make(chan struct{})
				sampled := make(chan uint64)
				go func() {
					var m runtime.MemStats
					var top uint64
					t := time.NewTicker(5 * time.Millisecond)
					defer t.Stop()
					for {
						runtime.ReadMemStats(&m)
						top = max(top, m.HeapInuse)
						select {
						case <-stop:
							sampled <- top
							return
						case <-t.C:
						}
					}
				}()
				start := time.Now()
				var wg sync.WaitGroup
				errs := make(chan error, clients)
				for range clients {
					wg.Go(func() {
						var resp *http.Response
						var err error
						for try := 0; ; try++ {
							// A client told to come back (503, Retry-After) comes back.
							resp, err = srv.Client().Get(srv.URL + "/batches/" + id + "/" + ReportPath(f))
							if err != nil || resp.StatusCode != http.StatusServiceUnavailable || try == 5 {
								break
							}
							resp.Body.Close()
							retried.Add(1)
							time.Sleep(time.Duration(reportRetryAfter) * time.Second)
						}
						if err != nil {
							errs <- err
							return
						}
						defer resp.Body.Close()
						got, err := io.Copy(io.Discard, resp.Body)
						if err == nil && resp.StatusCode != http.StatusOK {
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
						if err != nil {
							errs <- err
						}
						size = got
					})
				}
				wg.Wait()
				took = max(took, time.Since(start))
				close(stop)
				peakHeap = max(peakHeap, <-sampled)
				peakRSS = max(peakRSS, peakRSSNow())
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peakRSS)/1e6, "MB-peak-RSS")
			b.ReportMetric(float64(baseRSS)/1e6, "MB-RSS-before")
			// What the downloads added: the process also holds the
			// setup's ledger, which a ledger serving reports does not.
			b.ReportMetric(float64(peakRSS-min(baseRSS, peakRSS))/1e6, "MB-RSS-growth")
			b.ReportMetric(float64(peakHeap)/1e6, "MB-peak-heap")
			// The heap live before them (the setup's ledger): the Go heap
			// grows to about twice what is live before a collection.
			b.ReportMetric(float64(liveBefore)/1e6, "MB-live-heap-before")
			b.ReportMetric(float64(size)/1e6, "MB-file")
			b.ReportMetric(took.Seconds(), "s-all-8")
			b.ReportMetric(float64(retried.Load()), "retries-after-503")
		})
	}
}

// resetPeakRSS resets the process's peak RSS (VmHWM) and returns the RSS
// now, in bytes (0 where /proc does not tell).
func resetPeakRSS() uint64 {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return procStatus("VmRSS:")
}

// peakRSSNow is VmHWM, in bytes.
func peakRSSNow() uint64 { return procStatus("VmHWM:") }

func procStatus(key string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuSeconds is the process's CPU time so far (user and system): on a
// shared machine, where wall-clock times are noise, the cost of an
// operation is the CPU it took (b.N operations, nothing else running in
// the process).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
