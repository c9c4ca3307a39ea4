package main

// The "procs" run: payrun as an operator runs it from the README, every
// component its own process on loopback (nats-server with JetStream,
// `ledger run`, one or more `processor`s, `hookrelay`, the
// `bank131-sandbox` binary, then `ingest` of a generated file), measured
// from /proc: each process's CPU seconds and peak RSS, and the RSA signing
// CPU per payout measured on one core of the same machine in the same run.

import (
	"bufio"
	"context"
	"crypto/rsa"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
)

// procOpts shape a procs run.
type procOpts struct {
	rows       int
	rate       float64 // 0: free
	burst      int
	conc       int
	processors int
	stuckAfter time.Duration // 0: the ledger's default
	poll       time.Duration // batch status requests while it pays
	deleteJob  bool
	bin        string // built binaries (ledger, processor, hookrelay, bank131-sandbox, ingest, nats-server)
	keys       string // the sandbox key folder
	profile    string // folder for the processes' CPU profiles ("": none)
	keep       bool
}

// proc is one running binary.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	cpu0 float64 // CPU seconds when the measured window opened
}

// procSystem is the processes of one run.
type procSystem struct {
	o            procOpts
	dir          string
	natsURL      string
	nc           *nats.Conn
	ledger       *ledgerapi.Client
	metrics      string   // ledger --metrics
	relayMetrics string   // hookrelay --metrics
	procMetrics  []string // each processor's --metrics
	procs        []*proc
	calls        *counter // with a rate: the API requests reaching the sandbox
	proxy        *http.Server
	halted       bool
}

// buildBinaries builds payrun's commands and nats-server (the module's
// version, from the module cache) into dir.
func buildBinaries(dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"./cmd/ledger", "./cmd/processor", "./cmd/hookrelay", "./cmd/bank131-sandbox", "./cmd/ingest",
		"github.com/nats-io/nats-server/v2")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the binaries: %w", err)
	}
	return nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (s *procSystem) start(name, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(s.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(s.o.bin, bin), args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		f.Close()
		close(p.done)
	}()
	s.procs = append(s.procs, p)
	return p, nil
}

// waitFor retries check every 50 ms until it succeeds, p exits or 60 s pass.
func waitFor(p *proc, what string, check func() error) error {
	end := time.Now().Add(60 * time.Second)
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.log)
			return fmt.Errorf("%s exited before %s: %s", p.name, what, tail(string(b), 2000))
		default:
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s: %s after 60 s: %w", p.name, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func httpOK(u string) func() error {
	return func() error {
		resp, err := http.Get(u)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		return nil
	}
}

// startProcs starts nats-server, the ledger, the sandbox, hookrelay and the
// processors, each waited for as the e2e harness waits for them.
func startProcs(o procOpts) (_ *procSystem, err error) {
	dir, err := os.MkdirTemp("", "payoutbench-procs")
	if err != nil {
		return nil, err
	}
	s := &procSystem{o: o, dir: dir}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	keys, err := filepath.Abs(o.keys)
	if err != nil {
		return nil, err
	}
	if _, err := secret.EnsureKeys(filepath.Join(dir, "keys")); err != nil {
		return nil, err
	}
	addr := map[string]string{}
	for _, k := range []string{"nats", "sandbox", "relay", "relay-metrics", "ledger-metrics", "proxy"} {
		if addr[k], err = freePort(); err != nil {
			return nil, err
		}
	}

	// nats-server with JetStream, as deploy/nats runs it, on one node.
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("server_name: payrun-bench\nlisten: %s\nmax_payload: 4MB\nwrite_deadline: \"10s\"\njetstream {\n  store_dir: %q\n}\n",
		addr["nats"], filepath.Join(dir, "jetstream"))), 0o600); err != nil {
		return nil, err
	}
	ns, err := s.start("nats-server", "nats-server", "-c", conf)
	if err != nil {
		return nil, err
	}
	s.natsURL = "nats://" + addr["nats"]
	if err := waitFor(ns, "accepting connections", func() error {
		nc, err := nats.Connect(s.natsURL)
		if err == nil {
			s.nc = nc
		}
		return err
	}); err != nil {
		return nil, err
	}
	s.ledger = ledgerapi.NewClient(s.nc, 5*time.Second)

	// The ledger: no approval rule (the benchmark measures payouts).
	db := filepath.Join(dir, "ledger.db")
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"every": false, "approvals": 1, "expire_after": "72h"}`), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.Command(filepath.Join(o.bin, "ledger"), "policy", "set", "--db", db, policy).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ledger policy set: %w: %s", err, out)
	}
	s.metrics, s.relayMetrics = addr["ledger-metrics"], addr["relay-metrics"]
	largs := []string{"run", "--db", db, "--nats-url", s.natsURL, "--metrics", s.metrics}
	if o.stuckAfter > 0 {
		largs = append(largs, "--stuck-after", o.stuckAfter.String())
	}
	lp, err := s.start("ledger", "ledger", append(largs, s.profileArgs("ledger")...)...)
	if err != nil {
		return nil, err
	}
	if err := waitFor(lp, "answering over NATS", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := s.ledger.Batches(ctx, 1)
		return err
	}); err != nil {
		return nil, err
	}

	// The sandbox bank with the delays of the in-process run.
	sp, err := s.start("sandbox", "bank131-sandbox", "--listen", addr["sandbox"], "--project", "payrun",
		"--partner-public-key", filepath.Join(keys, "partner_public.pem"), "--bank-private-key", filepath.Join(keys, "bank_private.pem"),
		"--webhook-url", "http://"+addr["relay"]+"/webhooks/bank131",
		"--processing-delay", "5ms", "--settle-delay", "5ms", "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	bankURL := "http://" + addr["sandbox"]
	if err := waitFor(sp, "answering", httpOK(bankURL+"/sandbox/healthz")); err != nil {
		return nil, err
	}
	if o.rate > 0 {
		// Count the requests reaching the bank: a reverse proxy in this
		// process (its CPU is not the system's).
		target, _ := url.Parse(bankURL)
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
		s.calls = &counter{next: rp}
		ln, err := net.Listen("tcp", addr["proxy"])
		if err != nil {
			return nil, err
		}
		s.proxy = &http.Server{Handler: s.calls}
		go s.proxy.Serve(ln)
		bankURL = "http://" + addr["proxy"]
	}

	rp, err := s.start("hookrelay", "hookrelay", append([]string{"--nats-url", s.natsURL, "--listen", addr["relay"],
		"--bank-public-key", filepath.Join(keys, "bank_public.pem"), "--metrics", s.relayMetrics}, s.profileArgs("hookrelay")...)...)
	if err != nil {
		return nil, err
	}
	if err := waitFor(rp, "ready", httpOK("http://"+addr["relay"]+"/readyz")); err != nil {
		return nil, err
	}

	for i := 1; i <= o.processors; i++ {
		name := "processor-" + strconv.Itoa(i)
		ma, err := freePort()
		if err != nil {
			return nil, err
		}
		s.procMetrics = append(s.procMetrics, ma)
		args := []string{"--nats-url", s.natsURL, "--metrics", ma, "--bank-url", bankURL, "--project", "payrun",
			"--private-key", filepath.Join(keys, "partner_private.pem"), "--card-key", filepath.Join(dir, "keys", secret.CardKeyFile),
			"--worker", "p" + strconv.Itoa(i), "--concurrency", strconv.Itoa(o.conc)}
		switch {
		case o.rate > 0 && o.processors > 1:
			args = append(args, "--bank-rate", fmt.Sprint(o.rate), "--burst", strconv.Itoa(o.burst))
		case o.rate > 0:
			args = append(args, "--rate", fmt.Sprint(o.rate), "--burst", strconv.Itoa(o.burst))
		}
		pp, err := s.start(name, "processor", append(args, s.profileArgs(name)...)...)
		if err != nil {
			return nil, err
		}
		if err := waitFor(pp, "running", func() error {
			b, _ := os.ReadFile(pp.log)
			if !strings.Contains(string(b), "processor running") {
				return errors.New("not running yet")
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if o.processors > 1 {
		time.Sleep(2 * time.Second) // two rounds of the rate leases: the shares are split
	}
	return s, nil
}

// profileArgs is --cpuprofile for a process when profiles are asked for.
func (s *procSystem) profileArgs(name string) []string {
	if s.o.profile == "" {
		return nil
	}
	return []string{"--cpuprofile", filepath.Join(s.o.profile, name+".prof")}
}

// halt ends every process with SIGTERM (SIGKILL after 30 s) in reverse
// order of starting.
func (s *procSystem) halt() {
	if s.halted {
		return
	}
	s.halted = true
	if s.proxy != nil {
		s.proxy.Close()
	}
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	if s.nc != nil {
		s.nc.Close()
	}
}

// stop halts the processes and removes the folder unless kept.
func (s *procSystem) stop() {
	s.halt()
	if s.o.keep {
		fmt.Printf("procs: kept %s\n", s.dir)
		return
	}
	os.RemoveAll(s.dir)
}

// procStat is a process's CPU seconds (utime + stime) and peak RSS.
type procStat struct {
	cpu   float64
	hwmMB float64
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

func readStat(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// Fields after the command's ")": state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return st, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	stt, _ := strconv.ParseFloat(f[12], 64)
	st.cpu = (ut + stt) / clockTicks
	sf, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	defer sf.Close()
	sc := bufio.NewScanner(sf)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			st.hwmMB = kb / 1024
		}
	}
	return st, sc.Err()
}

// threadCPU is the calling thread's CPU seconds (RUSAGE_THREAD).
func threadCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// signCPU is the CPU seconds one RSA-2048 signature (PKCS#1 v1.5,
// SHA-256, what bank131.Sign does for us and the sandbox) takes with each
// key, on one locked thread: n signatures each.
func signCPU(keys string, n int) (ours, bank float64, err error) {
	partner, err := bank131.ReadPrivateKey(filepath.Join(keys, "partner_private.pem"))
	if err != nil {
		return 0, 0, err
	}
	bankKey, err := bank131.ReadPrivateKey(filepath.Join(keys, "bank_private.pem"))
	if err != nil {
		return 0, 0, err
	}
	body := []byte(`{"session_id":"ps_123456789","amount_details":{"amount":10000,"currency":"rub"},"payment_method":{"type":"card","card":{"type":"bank_card","bank_card":{"token":"tok_00000001"}}}}`)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for _, k := range []struct {
			key *rsa.PrivateKey
			out *float64
		}{{partner, &ours}, {bankKey, &bank}} {
			bank131.Sign(k.key, body) // warm
			t0 := threadCPU()
			for i := 0; i < n; i++ {
				if _, err2 := bank131.Sign(k.key, body); err2 != nil {
					err = err2
					return
				}
			}
			*k.out = (threadCPU() - t0) / float64(n)
		}
	}()
	<-done
	return ours, bank, err
}

// signSampler measures the signing CPU during the run, under the run's own
// contention: every second, a few signatures with each key on one locked
// thread (about 1 % of a core).
type signSampler struct {
	stop       chan struct{}
	done       chan struct{}
	ours, bank float64 // CPU seconds per signature
	n          int     // signatures with each key
}

func startSignSampler(keys string) (*signSampler, error) {
	partner, err := bank131.ReadPrivateKey(filepath.Join(keys, "partner_private.pem"))
	if err != nil {
		return nil, err
	}
	bankKey, err := bank131.ReadPrivateKey(filepath.Join(keys, "bank_private.pem"))
	if err != nil {
		return nil, err
	}
	body := []byte(`{"session_id":"ps_123456789","amount_details":{"amount":10000,"currency":"rub"}}`)
	s := &signSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var ours, bank float64
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				if s.n > 0 {
					s.ours, s.bank = ours/float64(s.n), bank/float64(s.n)
				}
				return
			case <-tick.C:
			}
			const k = 3
			t0 := threadCPU()
			for i := 0; i < k; i++ {
				bank131.Sign(partner, body)
			}
			t1 := threadCPU()
			for i := 0; i < k; i++ {
				bank131.Sign(bankKey, body)
			}
			ours, bank = ours+t1-t0, bank+threadCPU()-t1
			s.n += k
		}
	}()
	return s, nil
}

// end stops the sampler and returns the CPU seconds per signature.
func (s *signSampler) end() (ours, bank float64, n int) {
	close(s.stop)
	<-s.done
	return s.ours, s.bank, s.n
}

// scrape reads the series of a family from a /metrics endpoint: the
// labels ("" for none, else `{a="b",…}`) → value.
func scrape(addr, family string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), family)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		v, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", family, sc.Text(), err)
		}
		out[strings.TrimSpace(rest[:i])] = v
	}
	return out, sc.Err()
}

// scrapeRequeued reads payrun_ledger_requeued_total from the ledger's
// /metrics.
func scrapeRequeued(addr string) (float64, error) {
	m, err := scrape(addr, "payrun_ledger_requeued_total")
	if err != nil {
		return 0, err
	}
	v, ok := m[""]
	if !ok {
		return 0, errors.New("no payrun_ledger_requeued_total in the ledger's /metrics")
	}
	return v, nil
}

// label is one label's value in a series' labels.
func label(series, name string) string {
	_, v, ok := strings.Cut(series, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, `"`)
	return v
}

// deletedJob is the job deleted by hand and when the sweeper put it back.
type deletedJob struct {
	seq       uint64
	job       ledgerapi.Job
	at        time.Time
	requeued  time.Time
	delivered uint64 // the consumer's last delivered stream sequence then
}

// deleteLastJob deletes the newest job of PAYRUN_JOBS if no processor was
// handed it yet (an operator's `nats stream rmm`), and returns it (nil: none
// to delete now).
func (s *procSystem) deleteLastJob(ctx context.Context) (*deletedJob, error) {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, queue.StreamJobs)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	ci, err := js.Consumer(ctx, queue.StreamJobs, queue.ConsumerJobs)
	if err != nil {
		return nil, err
	}
	cinfo, err := ci.Info(ctx)
	if err != nil {
		return nil, err
	}
	last := info.State.LastSeq
	if last == 0 || cinfo.Delivered.Stream >= last {
		return nil, nil
	}
	m, err := st.GetMsg(ctx, last)
	if err != nil {
		return nil, err
	}
	d := &deletedJob{seq: last, delivered: cinfo.Delivered.Stream}
	if err := json.Unmarshal(m.Data, &d.job); err != nil {
		return nil, fmt.Errorf("job %d: %w", last, err)
	}
	if err := st.DeleteMsg(ctx, last); err != nil {
		return nil, fmt.Errorf("delete job %d: %w", last, err)
	}
	d.at = time.Now()
	return d, nil
}

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

func writeTokenFile(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"reference", "method", "amount", "currency", "full_name", "card_token"})
	for i := 1; i <= n; i++ {
		w.Write([]string{"B-" + strconv.Itoa(i), "token", strconv.Itoa(100+i%5000) + ".00", "RUB", "Bench Person", fmt.Sprintf("tok_%08x", i)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
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
