// -run procs: paying a batch through the separate processes and printing
// what it cost.

package main

// The "procs" run: payrun as an operator runs it from the README, every
// component its own process on loopback (nats-server with JetStream,
// `ledger run`, one or more `processor`s, `hookrelay`, the
// `bank131-sandbox` binary, then `ingest` of a generated file), measured
// from /proc: each process's CPU seconds and peak RSS, and the RSA signing
// CPU per payout measured on one core of the same machine in the same run.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
)

// procResult is what one procs run measured.
type procResult struct {
	rows          int
	took, paying  time.Duration // ingest start → done; release → done
	ingestTook    time.Duration
	byState       map[payout.State]int
	stats         map[string]procStat // the measured window's CPU, peak RSS
	order         []string
	signOurs      [3]float64 // before, after, during: CPU seconds per signature
	signBank      [3]float64
	signDuring    int // signatures with each key during the run
	requeued      float64
	polls         int
	pollCPU       float64 // this process's CPU while polling
	deleted       *deletedJob
	calls         []time.Time
	bankCalls     map[string]float64 // the processors' calls by method (payrun_bank_call_seconds_count)
	webhooks      float64            // the webhooks hookrelay received (the sandbox signed each)
	fillsDropped  int                // rows a full token/info queue turned away (the processors' logs)
	fillsLeftOver int                // rows left without their token/info when the processors stopped
}

// payProcs runs one procs run of o.rows rows.
func payProcs(o procOpts) (*procResult, error) {
	keys, err := filepath.Abs(o.keys)
	if err != nil {
		return nil, err
	}
	res := &procResult{rows: o.rows, stats: map[string]procStat{}}
	const signN = 200
	if res.signOurs[0], res.signBank[0], err = signCPU(keys, signN); err != nil {
		return nil, err
	}
	s, err := startProcs(o)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	file := filepath.Join(s.dir, "bench.csv")
	if err := writeTokenFile(file, o.rows); err != nil {
		return nil, err
	}
	for _, p := range s.procs {
		st, err := readStat(p.cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		p.cpu0 = st.cpu
		res.order = append(res.order, p.name)
	}
	ctx := context.Background()

	start := time.Now()
	ing := exec.Command(filepath.Join(o.bin, "ingest"), "--nats-url", s.natsURL, "--json", "--progress", "never",
		"--card-public-key", filepath.Join(s.dir, "keys", secret.CardPublicFile),
		"--upload-key", filepath.Join(s.dir, "keys", secret.UploadKeyFile), file)
	var stderr strings.Builder
	ing.Stderr = &stderr
	out, err := ing.Output()
	if err != nil {
		return nil, fmt.Errorf("ingest: %w: %s", err, stderr.String())
	}
	res.ingestTook = time.Since(start)
	var ir struct {
		Batch string `json:"batch"`
	}
	if err := json.Unmarshal(out, &ir); err != nil || ir.Batch == "" {
		return nil, fmt.Errorf("ingest printed %q: %v", out, err)
	}
	ru := ing.ProcessState.SysUsage().(*syscall.Rusage)
	res.stats["ingest"] = procStat{cpu: float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, hwmMB: float64(ru.Maxrss) / 1024}

	sampler, err := startSignSampler(keys)
	if err != nil {
		return nil, err
	}
	cpuPoll0 := selfCPU()
	var sum *ledgerapi.BatchSummary
	lastScrape := time.Time{}
	for {
		b, err := s.ledger.Batch(ctx, ir.Batch)
		res.polls++
		if err == nil && b.Status == payout.BatchDone {
			sum = b
			break
		}
		if o.deleteJob && err == nil {
			if res.deleted == nil && b.Status == payout.BatchReleased && b.ByState[payout.StateSucceeded] >= o.rows/20 {
				if res.deleted, err = s.deleteLastJob(ctx); err != nil {
					return nil, err
				}
				if d := res.deleted; d != nil {
					fmt.Printf("procs: deleted job %d (row %d gen %d) from %s at +%s; the processors had been handed up to %d\n",
						d.seq, d.job.Row, d.job.Gen, queue.StreamJobs, time.Since(start).Round(time.Millisecond), d.delivered)
				}
			}
			if d := res.deleted; d != nil && d.requeued.IsZero() && time.Since(lastScrape) > 100*time.Millisecond {
				lastScrape = time.Now()
				if n, err := scrapeRequeued(s.metrics); err == nil && n > 0 {
					d.requeued = time.Now()
					fmt.Printf("procs: the sweeper re-enqueued %g row(s) %s after the deletion\n", n, d.requeued.Sub(d.at).Round(time.Millisecond))
				}
			}
		}
		if o.poll > 0 {
			time.Sleep(o.poll)
		} else {
			time.Sleep(time.Second)
		}
	}
	res.took = time.Since(start)
	res.signOurs[2], res.signBank[2], res.signDuring = sampler.end()
	res.pollCPU = selfCPU() - cpuPoll0
	res.byState = sum.ByState
	if sum.ReleasedAt != nil && sum.FinishedAt != nil {
		res.paying = sum.FinishedAt.Sub(*sum.ReleasedAt)
	}
	for _, p := range s.procs {
		st, err := readStat(p.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		st.cpu -= p.cpu0
		res.stats[p.name] = st
	}
	res.order = append(res.order, "ingest")
	if res.requeued, err = scrapeRequeued(s.metrics); err != nil {
		return nil, err
	}
	res.bankCalls = map[string]float64{}
	for _, a := range s.procMetrics {
		m, err := scrape(a, "payrun_bank_call_seconds_count")
		if err != nil {
			return nil, err
		}
		for series, v := range m {
			res.bankCalls[label(series, "method")] += v
		}
	}
	hooks, err := scrape(s.relayMetrics, "payrun_webhooks_total")
	if err != nil {
		return nil, err
	}
	for _, v := range hooks {
		res.webhooks += v
	}
	if s.calls != nil {
		s.calls.mu.Lock()
		res.calls = append([]time.Time(nil), s.calls.at...)
		s.calls.mu.Unlock()
	}
	if res.signOurs[1], res.signBank[1], err = signCPU(keys, signN); err != nil {
		return nil, err
	}
	s.halt()
	for _, p := range s.procs {
		if !strings.HasPrefix(p.name, "processor") {
			continue
		}
		b, _ := os.ReadFile(p.log)
		for _, line := range strings.Split(string(b), "\n") {
			var l struct {
				Msg  string `json:"msg"`
				Rows int    `json:"rows"`
			}
			if json.Unmarshal([]byte(line), &l) != nil {
				continue
			}
			switch {
			case strings.Contains(l.Msg, "rows left without their card's last four"):
				res.fillsLeftOver += l.Rows
			case strings.Contains(l.Msg, "token/info queue full"):
				res.fillsDropped += max(l.Rows, 1) // one line a row before it counted them
			}
		}
	}
	return res, nil
}

func procsRun(o procOpts) error {
	res, err := payProcs(o)
	if err != nil {
		return err
	}
	res.print(o)
	return nil
}

func (r *procResult) print(o procOpts) {
	n := float64(r.rows)
	mode := "free"
	if o.rate > 0 {
		mode = fmt.Sprintf("R=%g B=%d", o.rate, o.burst)
	}
	stuck := "default"
	if o.stuckAfter > 0 {
		stuck = o.stuckAfter.String()
	}
	fmt.Printf("procs: %d rows, %s, %d processor(s) × concurrency %d, --stuck-after %s, status polled every %s (%d polls); %v\n",
		r.rows, mode, o.processors, o.conc, stuck, o.poll, r.polls, r.byState)
	fmt.Printf("procs: %.1f payouts/s from ingest to done (%s; ingest %s); %.1f payouts/s from release to done (%s)\n",
		n/r.took.Seconds(), r.took.Round(time.Millisecond), r.ingestTook.Round(time.Millisecond), n/r.paying.Seconds(), r.paying.Round(time.Millisecond))
	fmt.Printf("procs: %-12s %8s %14s %12s\n", "process", "cpu-s", "cpu-ms/payout", "peak RSS MB")
	var all, sandbox float64
	for _, name := range r.order {
		st := r.stats[name]
		fmt.Printf("procs: %-12s %8.2f %14.3f %12.1f\n", name, st.cpu, 1000*st.cpu/n, st.hwmMB)
		all += st.cpu
		if name == "sandbox" {
			sandbox += st.cpu
		}
	}
	payrun := all - sandbox
	fmt.Printf("procs: %-12s %8.2f %14.3f   (payrun's processes and nats-server: %.3f ms; the sandbox %.3f ms; the poller in payoutbench %.2f cpu-s)\n",
		"all", all, 1000*all/n, 1000*payrun/n, 1000*sandbox/n, r.pollCPU)
	// The yardstick: the signatures timed during the run (the same
	// contention as the run's own), else before and after.
	ours, bank := r.signOurs[2], r.signBank[2]
	if r.signDuring == 0 {
		ours, bank = (r.signOurs[0]+r.signOurs[1])/2, (r.signBank[0]+r.signBank[1])/2
	}
	sign := 3*ours + 2*bank
	fmt.Printf("procs: RSA-2048 signature on one core: ours %.0f / %.0f / %.0f µs, the sandbox's %.0f / %.0f / %.0f µs (before / after / during the run, %d each) → signing %.3f ms per payout (3 ours + 2 the sandbox's, during)\n",
		1e6*r.signOurs[0], 1e6*r.signOurs[1], 1e6*r.signOurs[2], 1e6*r.signBank[0], 1e6*r.signBank[1], 1e6*r.signBank[2], r.signDuring, 1000*sign)
	var calls float64
	var methods []string
	for m, v := range r.bankCalls {
		calls += v
		methods = append(methods, fmt.Sprintf("%s %.0f", m, v))
	}
	sort.Strings(methods)
	fmt.Printf("procs: signed in the window: %.0f calls of ours (%.2f per payout: %s), %.0f webhooks of the sandbox (%.2f per payout) → %.3f ms of signing per payout; token/info: %d rows turned away by a full queue, %d rows left when the processors stopped\n",
		calls, calls/n, strings.Join(methods, ", "), r.webhooks, r.webhooks/n, 1000*(calls*ours+r.webhooks*bank)/n, r.fillsDropped, r.fillsLeftOver)
	cores := float64(runtime.NumCPU())
	ceiling := cores / sign
	fmt.Printf("procs: CPU-normalised ratio %.3f (signing CPU per payout, 5 signatures, ÷ all processes' CPU per payout; target ≥ 0.7); payrun's own: signing %.3f of its %.3f ms\n",
		sign/(all/n), 1000*3*ours, 1000*payrun/n)
	fmt.Printf("procs: wall-clock: ceiling %.0f payouts/s (%g cores ÷ signing CPU per payout) → ratio %.3f (release to done)\n",
		ceiling, cores, (n/r.paying.Seconds())/ceiling)
	fmt.Printf("procs: re-enqueues %g (payrun_ledger_requeued_total)\n", r.requeued)
	if d := r.deleted; d != nil {
		if d.requeued.IsZero() {
			fmt.Printf("procs: the job deleted by hand (row %d) was re-enqueued after the batch's polls stopped watching (total re-enqueues %g)\n", d.job.Row, r.requeued)
		} else {
			lim := o.stuckAfter
			if lim == 0 {
				lim = 5 * time.Minute
			}
			fmt.Printf("procs: the job deleted by hand (row %d) re-enqueued %s after its deletion (--stuck-after %s)\n", d.job.Row, d.requeued.Sub(d.at).Round(time.Millisecond), lim)
		}
	} else if o.deleteJob {
		fmt.Printf("procs: no job was deleted (none left undelivered when 5 %% of the rows were paid)\n")
	}
	if len(r.calls) > 1 {
		at := r.calls
		sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
		span := at[len(at)-1].Sub(at[0])
		mean := float64(len(at)-1) / span.Seconds()
		maxWin, j := 0, 0
		for i := range at {
			for at[i].Sub(at[j]) >= time.Second {
				j++
			}
			maxWin = max(maxWin, i-j+1)
		}
		need := time.Duration(float64(len(at)) / o.rate * float64(time.Second))
		fmt.Printf("procs: %d calls reached the bank; mean %.1f calls/s = %+.2f%% off R (target within 3%%); most in any 1 s window %d (R+B = %g); release to done %s against %s at R: ratio %.3f\n",
			len(at), mean, 100*(mean-o.rate)/o.rate, maxWin, o.rate+float64(o.burst), r.paying.Round(time.Millisecond), need.Round(time.Millisecond), r.paying.Seconds()/need.Seconds())
	}
}
