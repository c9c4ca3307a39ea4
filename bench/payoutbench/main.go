// Command payoutbench measures payrun end to end: the embedded system
// (JetStream, ledger, processor, relay) paying token rows through the Bank
// 131 sandbox on loopback, in the flow of seed 002 (session/create,
// session/start/payout, ready_to_confirm, gate, session/confirm,
// payment_finished).
//
//	go run ./bench/payoutbench                    # all runs
//	go run ./bench/payoutbench -run free -rows 3000
//	go run ./bench/payoutbench -run rate -rate 300 -burst 10 -rows 10000
//
// "free" pays with no rate limit and sets the payouts per second next to
// the RSA signing ceiling measured in the same run: every payout needs 3
// signed requests (ours) and 2 signed webhooks (the sandbox's), so the
// ceiling is (parallel RSA-2048 signatures per second) ÷ 5. "rate" pays
// with --rate R and counts the API requests reaching the sandbox: the mean
// rate against R, the most requests in any 1-second window against R +
// burst, and the batch's time against the time its calls need at R.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/csv"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/hookrelay"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

func main() {
	run := flag.String("run", "free,rate", "runs: free, rate (in this process); procs (the built binaries, each its own process)")
	rows := flag.Int("rows", 0, "rows per run (default 3000 free, 10000 rate)")
	rate := flag.Float64("rate", 300, "calls per second for the rate run (procs: only when given)")
	burst := flag.Int("burst", 10, "burst for the rate run")
	conc := flag.Int("concurrency", 64, "processor concurrency")
	keys := flag.String("keys", "samples/keys", "sandbox key folder")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the runs to this file")
	var po procOpts
	flag.StringVar(&po.bin, "bin", "", "procs: the built binaries' `folder` (ledger, processor, hookrelay, bank131-sandbox, ingest, nats-server); default: build them")
	flag.IntVar(&po.processors, "processors", 1, "procs: processors")
	flag.DurationVar(&po.stuckAfter, "stuck-after", 0, "procs: ledger run --stuck-after (0: its default)")
	flag.DurationVar(&po.poll, "poll", 20*time.Millisecond, "procs: ask the ledger for the batch's status this often while it pays")
	flag.BoolVar(&po.deleteJob, "delete-job", false, "procs: delete the newest job from "+queue.StreamJobs+" by hand once 5 % of the rows are paid, and time its re-enqueue")
	flag.StringVar(&po.profile, "profiles", "", "procs: write each process's CPU profile (--cpuprofile) into this `folder`")
	flag.BoolVar(&po.keep, "keep", false, "procs: keep the run's folder (logs, ledger.db, JetStream)")
	flag.Parse()
	procRate := 0.0 // procs pays free unless -rate is given
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "rate" {
			procRate = *rate
		}
	})
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "payoutbench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	for _, r := range strings.Split(*run, ",") {
		var err error
		switch r {
		case "free":
			n := *rows
			if n == 0 {
				n = 3000
			}
			err = free(n, *conc, *keys)
		case "procs":
			po.rows, po.rate, po.burst, po.conc, po.keys = *rows, procRate, *burst, *conc, *keys
			if po.rows == 0 {
				po.rows = 1000
			}
			if po.bin == "" {
				dir, err2 := os.MkdirTemp("", "payoutbench-bin")
				if err2 == nil {
					defer os.RemoveAll(dir)
					err2 = buildBinaries(dir)
				}
				if err2 != nil {
					err = err2
					break
				}
				po.bin = dir
			}
			if po.profile != "" {
				if po.profile, err = filepath.Abs(po.profile); err == nil {
					err = os.MkdirAll(po.profile, 0o755)
				}
				if err != nil {
					break
				}
			}
			err = procsRun(po)
		case "rate":
			n := *rows
			if n == 0 {
				n = 10000
			}
			err = limited(n, *rate, *burst, *conc, *keys)
		default:
			err = fmt.Errorf("unknown run %q", r)
		}
		if err != nil {
			pprof.StopCPUProfile()
			fmt.Fprintln(os.Stderr, "payoutbench:", err)
			os.Exit(1)
		}
	}
}

// counter records when each API request reached the sandbox.
type counter struct {
	next http.Handler
	mu   sync.Mutex
	at   []time.Time
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		c.mu.Lock()
		c.at = append(c.at, time.Now())
		c.mu.Unlock()
	}
	c.next.ServeHTTP(w, r)
}

type system struct {
	app  *app.App
	sb   *sandbox.Server
	cnt  *counter
	dir  string
	stop func()
}

func start(keys string, rate float64, burst, conc int) (*system, error) {
	dir, err := os.MkdirTemp("", "payoutbench")
	if err != nil {
		return nil, err
	}
	pub, err := bank131.ReadPublicKey(filepath.Join(keys, "partner_public.pem"))
	if err != nil {
		return nil, err
	}
	bankKey, err := bank131.ReadPrivateKey(filepath.Join(keys, "bank_private.pem"))
	if err != nil {
		return nil, err
	}
	sb, err := sandbox.New(sandbox.Config{
		Projects: []sandbox.Project{{Name: "payrun", PublicKey: pub, Mode: sandbox.ModeTwoStep}},
		BankKey:  bankKey, Logger: slog.New(slog.DiscardHandler),
		Timing:       sandbox.Timing{Processing: 5 * time.Millisecond, Settle: 5 * time.Millisecond},
		WebhookRetry: sandbox.WebhookRetry{Concurrency: 64},
	})
	if err != nil {
		return nil, err
	}
	cnt := &counter{next: sb}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: cnt}
	go srv.Serve(ln)
	quiet := slog.New(slog.DiscardHandler)
	a, err := app.Start(context.Background(), app.Config{Dir: dir, KeysDir: keys, BankURL: "http://" + ln.Addr().String(),
		Rate: rate, Burst: burst, Concurrency: conc, Logger: quiet,
		Ledger: ledger.Config{StuckAfter: time.Minute, PollAfter: 30 * time.Second},
		Policy: &auth.Policy{Approvals: 1}}) // the benchmark measures payouts, not approvals
	if err != nil {
		return nil, err
	}
	sb.SetWebhookURL(a.WebhookURL + hookrelay.Path)
	return &system{app: a, sb: sb, cnt: cnt, dir: dir, stop: func() {
		a.Close()
		srv.Close()
		sb.Close()
		os.RemoveAll(dir)
	}}, nil
}

// pay ingests n token rows and waits until the batch is done.
func (s *system) pay(n int) (time.Duration, *ledgerapi.BatchSummary, error) {
	path := filepath.Join(s.dir, "bench.csv")
	f, err := os.Create(path)
	if err != nil {
		return 0, nil, err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"reference", "method", "amount", "currency", "full_name", "card_token"})
	for i := 1; i <= n; i++ {
		w.Write([]string{"B-" + strconv.Itoa(i), "token", strconv.Itoa(100+i%5000) + ".00", "RUB", "Bench Person", fmt.Sprintf("tok_%08x", i)})
	}
	w.Flush()
	f.Close()
	ctx := context.Background()
	start := time.Now()
	res, err := s.app.Ingest(ctx, path, ingest.Options{})
	if err != nil {
		return 0, nil, err
	}
	c := ledgerapi.NewClient(s.app.Conn, 5*time.Second)
	for {
		b, err := c.Batch(ctx, res.Batch)
		if err == nil && b.Status == payout.BatchDone {
			return time.Since(start), b, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signRate is RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on every
// core, over d.
func signRate(d time.Duration) float64 {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	var n atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	start := time.Now()
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := []byte(`{"session_id":"ps_123456789","amount_details":{"amount":10000,"currency":"rub"}}`)
			for time.Now().Before(end) {
				sum := sha256.Sum256(body)
				rsa.SignPKCS1v15(nil, key, 5, sum[:]) // crypto.SHA256 == 5
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

func free(rows, conc int, keys string) error {
	s, err := start(keys, 0, 1, conc)
	if err != nil {
		return err
	}
	took, sum, err := s.pay(rows)
	s.stop()
	if err != nil {
		return err
	}
	sr := signRate(3 * time.Second)
	rate := float64(rows) / took.Seconds()
	ceiling := sr / 5
	fmt.Printf("free: %d rows in %s = %.0f payouts/s (%v); RSA-2048 signing %.0f/s on %d cores → ceiling %.0f payouts/s (5 signatures each); ratio %.2f (target ≥ 0.5)\n",
		rows, took.Round(time.Millisecond), rate, sum.ByState, sr, runtime.GOMAXPROCS(0), ceiling, rate/ceiling)
	return nil
}

func limited(rows int, rate float64, burst, conc int, keys string) error {
	s, err := start(keys, rate, burst, conc)
	if err != nil {
		return err
	}
	took, sum, err := s.pay(rows)
	s.cnt.mu.Lock()
	at := append([]time.Time(nil), s.cnt.at...)
	s.cnt.mu.Unlock()
	s.stop()
	if err != nil {
		return err
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	calls := len(at)
	span := at[len(at)-1].Sub(at[0])
	mean := float64(calls-1) / span.Seconds()
	maxWin, maxAt, j := 0, time.Duration(0), 0
	for i := range at {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		if i-j+1 > maxWin {
			maxWin, maxAt = i-j+1, at[j].Sub(at[0])
		}
	}
	allowed := time.Duration(float64(calls) / rate * float64(time.Second))
	fmt.Printf("rate: R=%.0f burst=%d: %d rows, %d calls reached the bank (%.2f per row) %v\n", rate, burst, rows, calls, float64(calls)/float64(rows), sum.ByState)
	fmt.Printf("rate: mean %.1f calls/s = %.2f%% off R (target within 3%%); most in any 1 s window %d, from +%s (limit R+burst = %.0f)\n",
		mean, 100*(mean-rate)/rate, maxWin, maxAt.Round(time.Millisecond), rate+float64(burst))
	fmt.Printf("rate: batch took %s; its %d calls need %s at R; ratio %.3f (target ≤ 1.05)\n",
		took.Round(time.Millisecond), calls, allowed.Round(time.Millisecond), took.Seconds()/allowed.Seconds())
	return nil
}
