// Package e2e drives payrun's own binaries (ingest, ledger, processor,
// hookrelay) against the Bank 131 sandbox binary over loopback, with a real
// nats-server (JetStream, file store) and a real SQLite file. Nothing here
// stands in for a payrun component.
package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/queue/natsserver"
	"github.com/payrun/payrun/internal/secret"
	"github.com/payrun/payrun/internal/testutil"
)

var (
	binDir   string // built commands
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		wd, err := os.Getwd()
		if err != nil {
			panic(err)
		}
		repoRoot = filepath.Dir(wd)
		dir, err := os.MkdirTemp("", "payrun-e2e-bin")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		binDir = dir
		cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
			"./cmd/ledger", "./cmd/processor", "./cmd/hookrelay", "./cmd/bank131-sandbox", "./cmd/ingest", "./cmd/payrun")
		cmd.Dir = repoRoot
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: build commands:", err)
			return 1
		}
		return m.Run()
	}())
}

// proc is one running payrun or sandbox binary.
type proc struct {
	name string
	bin  string
	args []string
	cmd  *exec.Cmd
	log  string // file with its stdout and stderr
	done chan struct{}
}

// options shape a system.
type options struct {
	sandboxArgs   []string // extra flags for bank131-sandbox
	processorArgs []string // extra flags for every processor
	ledgerArgs    []string
	processors    int  // default 1
	cluster       bool // three nats-server nodes with R3 streams instead of one
	// secure runs the cluster as deploy/nats does: TLS on clients and
	// routes, each component with its own nkey and client certificate and
	// the permissions of deploy/nats/payrun-auth.conf (keys from `payrun
	// keys nats`). Only with cluster.
	secure        bool
	bankPublicKey string // hookrelay's --bank-public-key; default the sandbox's
	natsDir       string // the single node's JetStream store folder; default a temporary one
	ledgerDB      string // the ledger's database; default <dir>/ledger.db
	// widget gives the ledger the bank flags and the sandbox's widget
	// script: recipient links for widget rows.
	widget bool
	// walletCheck runs the ledger with --wallet-check against the sandbox
	// (project payrun) and these extra flags (the expected fee, the recheck).
	walletCheck []string
}

// system is NATS, ledger, sandbox, hookrelay and processors on loopback.
type system struct {
	t            testing.TB
	dir          string
	nats         *natsserver.Server   // the single node, or node 1 of the cluster
	nodes        []*natsserver.Server // every node
	natsURL      string               // every node's client URL, comma-separated
	nc           *nats.Conn
	ledger       *ledgerapi.Client
	bankURL      string
	relayAddr    string
	relayMetrics string // hookrelay --metrics
	keys         string // the key files (secret.EnsureKeys): card.key, card.pub, upload.key
	natsKeys     string // with secure: the NATS keys and certificates (payrun keys nats)
	sandbox      *proc  // the sandbox bank binary
	relay        *proc  // the hookrelay binary
	opts         options
	apiAddr      string            // ledger run --http: the people-facing API
	api          string            // http://apiAddr
	tokens       map[string]string // user → token file: the harness's people

	mu    sync.Mutex
	procs []*proc
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func startSystem(t testing.TB, o options) *system {
	t.Helper()
	if o.processors == 0 {
		o.processors = 1
	}
	dir := t.TempDir()
	s := &system{t: t, dir: dir, opts: o, keys: filepath.Join(dir, "keys")}
	if o.cluster {
		s.startCluster()
	} else if o.natsDir != "" {
		e, err := natsserver.Start(natsserver.Options{Dir: o.natsDir})
		require.NoError(t, err)
		t.Cleanup(e.Close)
		s.nats, s.nodes, s.natsURL = e, []*natsserver.Server{e}, e.URL()
	} else {
		e := testutil.NATS(t)
		s.nats, s.nodes, s.natsURL = e, []*natsserver.Server{e}, e.URL()
	}
	// The test reads the ledger as an operator would (the ops identity).
	nc, err := queue.Connect(s.natsURL, "payrun-ops", s.natsOptions("ops")...)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	s.nc = nc
	s.ledger = ledgerapi.NewClient(nc, 5*time.Second)
	t.Cleanup(s.stopAll)
	_, err = secret.EnsureKeys(s.keys)
	require.NoError(t, err)

	s.apiAddr = freeAddr(t)
	s.api = "http://" + s.apiAddr
	s.bankURL = "http://" + freeAddr(t)
	s.startLedger()
	s.waitLedger()
	s.waitHTTP(s.api + "/healthz")
	s.addPeople()
	s.relayAddr = freeAddr(t)
	s.startSandbox(s.repo("samples/keys/bank_private.pem"))
	s.relayMetrics = freeAddr(t)
	bankPublic := o.bankPublicKey
	if bankPublic == "" {
		bankPublic = s.repo("samples/keys/bank_public.pem")
	}
	s.startRelay(bankPublic)
	for i := 0; i < o.processors; i++ {
		s.startProcessor("p" + strconv.Itoa(i+1))
	}
	return s
}

// startSandbox starts the sandbox bank at s.bankURL, signing webhooks
// with bankPrivate, and waits until it answers. extra are more flags
// (a sandbox started again needs --first-id past the ids it gave out: it
// forgets them, and the bank never reuses one).
func (s *system) startSandbox(bankPrivate string, extra ...string) *proc {
	s.t.Helper()
	p := s.start("bank131-sandbox", append(append([]string{
		"--listen", strings.TrimPrefix(s.bankURL, "http://"), "--project", "payrun", "--extra-project", "payrun-card:single-request",
		"--partner-public-key", s.repo("samples/keys/partner_public.pem"),
		"--bank-private-key", bankPrivate,
		"--webhook-url", "http://" + s.relayAddr + "/webhooks/bank131",
		"--processing-delay", "30ms", "--settle-delay", "30ms", "--error-resolve-delay", "300ms", "--refund-delay", "200ms",
		"--webhook-retry-initial", "200ms", "--webhook-retry-max", "2s",
	}, s.opts.sandboxArgs...), extra...)...)
	s.waitHTTP(s.bankURL + "/sandbox/payouts")
	s.sandbox = p
	return p
}

// startRelay starts hookrelay at s.relayAddr, verifying webhooks with the
// keys in bankPublic, and waits until it is ready.
func (s *system) startRelay(bankPublic string) *proc {
	s.t.Helper()
	p := s.start("hookrelay", append(s.natsArgs("hookrelay"), "--listen", s.relayAddr, "--log-format", "json",
		"--bank-public-key", bankPublic, "--metrics", s.relayMetrics)...)
	s.waitHTTP("http://" + s.relayAddr + "/readyz")
	s.relay = p
	return p
}

// waitLedger waits until the ledger answers over NATS: its streams and
// consumers exist, so nothing else creates them first.
func (s *system) waitLedger() {
	s.t.Helper()
	testutil.Eventually(s.t, 60*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := s.ledger.Batches(ctx, 1)
		return err
	})
}

func (s *system) repo(p string) string { return filepath.Join(repoRoot, p) }

func (s *system) startLedger() *proc {
	return s.start("ledger", s.ledgerRunArgs(s.ledgerDB())...)
}

// ledgerDB is the database the harness's ledger runs on.
func (s *system) ledgerDB() string {
	if s.opts.ledgerDB != "" {
		return s.opts.ledgerDB
	}
	return filepath.Join(s.dir, "ledger.db")
}

// ledgerRunArgs are the harness's `ledger run` arguments for a database.
func (s *system) ledgerRunArgs(db string) []string {
	args := append([]string{"run", "--db", db}, s.natsArgs("ledger")...)
	args = append(args, "--http", s.apiAddr, "--card-public-key", filepath.Join(s.keys, secret.CardPublicFile),
		"--upload-key", filepath.Join(s.keys, secret.UploadKeyFile),
		"--release-interval", "100ms", "--sweep-interval", "250ms", "--stuck-after", "3s", "--poll-after", "2s",
		"--poll-max", "4s", "--doubt-deadline", "20s")
	if s.opts.widget {
		args = append(args, "--widget-script", s.bankURL+sandbox.WidgetScriptPath, "--bank-url", s.bankURL, "--project", "payrun",
			"--private-key", s.repo("samples/keys/partner_private.pem"))
	}
	if s.opts.walletCheck != nil {
		args = append(append(args, "--wallet-check", "--bank-url", s.bankURL, "--project", "payrun",
			"--private-key", s.repo("samples/keys/partner_private.pem")), s.opts.walletCheck...)
	}
	return append(args, s.opts.ledgerArgs...)
}

func (s *system) startProcessor(name string, extra ...string) *proc {
	args := append(append(s.natsArgs("processor"), "--bank-url", s.bankURL, "--project", "payrun",
		"--card-project", "payrun-card", "--card-flow", "single",
		"--private-key", s.repo("samples/keys/partner_private.pem"), "--card-key", filepath.Join(s.keys, secret.CardKeyFile),
		"--worker", name, "--ack-wait", "5s", "--log-format", "json", "-v"), s.opts.processorArgs...)
	p := s.start("processor", append(args, extra...)...)
	p.name = name
	return p
}

// start runs a built command; its output goes to a log file shown when the
// test fails.
func (s *system) start(bin string, args ...string) *proc {
	s.t.Helper()
	return s.startEnv(nil, bin, args...)
}

// startEnv is start with more environment variables.
func (s *system) startEnv(env []string, bin string, args ...string) *proc {
	t := s.t
	t.Helper()
	s.mu.Lock()
	logPath := filepath.Join(s.dir, fmt.Sprintf("%s-%d.log", bin, len(s.procs)))
	s.mu.Unlock()
	f, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(filepath.Join(binDir, bin), args...)
	cmd.Dir = repoRoot
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	require.NoError(t, cmd.Start(), "start %s", bin)
	p := &proc{bin: bin, name: bin, args: args, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits (SIGKILL after 20s).
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.kill()
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (s *system) stopAll() {
	s.mu.Lock()
	procs := append([]*proc(nil), s.procs...)
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
	if s.t.Failed() {
		for _, p := range procs {
			b, _ := os.ReadFile(p.log)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			s.t.Logf("---- %s (%s) log tail ----\n%s", p.name, filepath.Base(p.log), b)
		}
	}
}

func (s *system) waitHTTP(url string) {
	s.t.Helper()
	testutil.Eventually(s.t, 15*time.Second, 20*time.Millisecond, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answers %s", url, resp.Status)
		}
		return nil
	})
}
