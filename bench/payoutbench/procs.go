package main

// The "procs" run: payrun as an operator runs it from the README, every
// component its own process on loopback (nats-server with JetStream,
// `ledger run`, one or more `processor`s, `hookrelay`, the
// `bank131-sandbox` binary, then `ingest` of a generated file), measured
// from /proc: each process's CPU seconds and peak RSS, and the RSA signing
// CPU per payout measured on one core of the same machine in the same run.

import (
	"context"
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
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
	sp, err := s.start("sandbox", "bank131-sandbox", append([]string{"--listen", addr["sandbox"], "--project", "payrun",
		"--partner-public-key", filepath.Join(keys, "partner_public.pem"), "--bank-private-key", filepath.Join(keys, "bank_private.pem"),
		"--webhook-url", "http://" + addr["relay"] + "/webhooks/bank131",
		"--processing-delay", "5ms", "--settle-delay", "5ms", "--log-level", "warn"}, s.profileArgs("sandbox")...)...)
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
