// Package e2e drives payrun's own binaries (ingest, ledger, processor,
// hookrelay) against the Bank 131 sandbox binary over loopback, with a real
// nats-server (JetStream, file store) and a real SQLite file. Nothing here
// stands in for a payrun component.
package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
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
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/queue/natsauth"
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

// natsArgs are a component's --nats-* flags: the URL and, with secure, its
// nkey and client certificate (component is its identity in
// deploy/nats/payrun-auth.conf).
func (s *system) natsArgs(component string) []string {
	args := []string{"--nats-url", s.natsURL}
	if s.opts.secure {
		k := func(f string) string { return filepath.Join(s.natsKeys, f) }
		args = append(args, "--nats-nkey", k(natsauth.Seed(component)), "--nats-ca", k(natsauth.CAFile),
			"--nats-cert", k(natsauth.ClientCert(component)), "--nats-key", k(natsauth.ClientKey(component)))
	}
	return args
}

// natsOptions are the same for a connection of the test's own.
func (s *system) natsOptions(component string) []nats.Option {
	s.t.Helper()
	opts := []nats.Option{nats.MaxReconnects(-1)}
	if !s.opts.secure {
		return opts
	}
	k := func(f string) string { return filepath.Join(s.natsKeys, f) }
	sec, err := queue.Security{NKey: k(natsauth.Seed(component)), CA: k(natsauth.CAFile),
		Cert: k(natsauth.ClientCert(component)), Key: k(natsauth.ClientKey(component))}.Options()
	require.NoError(s.t, err)
	return append(opts, sec...)
}

// startCluster starts three nats-server nodes routed into one JetStream
// cluster and waits until it has a meta leader. With secure, each node runs
// a configuration like deploy/nats/nats-N.conf on loopback ports, including
// deploy/nats/payrun-auth.conf as shipped.
func (s *system) startCluster() {
	t := s.t
	routes := make([]string, 3)
	for i := range routes {
		routes[i] = "nats-route://" + freeAddr(t)
	}
	if s.opts.secure {
		s.makeNATSKeys()
	}
	var urls []string
	for i := 0; i < 3; i++ {
		o := natsserver.Options{
			Dir: filepath.Join(s.dir, fmt.Sprintf("nats-%d", i+1)), ServerName: fmt.Sprintf("payrun-nats-%d", i+1),
			ClusterName: "payrun", ClusterListen: strings.TrimPrefix(routes[i], "nats-route://"), Routes: routes,
		}
		if s.opts.secure {
			o.ConfigFile = s.nodeConfig(i+1, freeAddr(t), o.ClusterListen, routes)
		}
		e, err := natsserver.Start(o)
		require.NoError(t, err)
		t.Cleanup(e.Close)
		s.nodes = append(s.nodes, e)
		urls = append(urls, e.URL())
	}
	s.nats, s.natsURL = s.nodes[0], strings.Join(urls, ",")
	if s.opts.secure {
		// No identity may create a stream of its own: wait until there is
		// one meta leader that has every peer's current stats (what placing
		// an R3 stream needs) and every node is current; the ledger retries
		// its set-up until the R3 streams can be placed.
		testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
			var peers []string
			leaders := 0
			for _, n := range s.nodes {
				if !n.Server.JetStreamIsCurrent() {
					return fmt.Errorf("%s is not current", n.Server.Name())
				}
				if n.Server.JetStreamIsLeader() {
					leaders++
					peers = n.Server.JetStreamClusterPeers()
				}
			}
			if leaders != 1 || len(peers) != 3 {
				return fmt.Errorf("%d meta leaders; the leader sees JetStream peers %v", leaders, peers)
			}
			return nil
		})
		return
	}
	nc, err := nats.Connect(s.natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	// A meta leader answers account info before every peer has reported;
	// only a placed (and removed) R3 stream shows the cluster can hold ours.
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"},
			Replicas: 3, Storage: jetstream.MemoryStorage}); err != nil {
			return fmt.Errorf("JetStream cluster not ready for R3 streams: %w", err)
		}
		return js.DeleteStream(ctx, "PROBE")
	})
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

// addPeople makes the harness's users on the ledger's host, as an admin
// would (`ledger users add`, `ledger tokens create`), while the ledger
// runs: mia the maker, carl and dora the checkers, vera the viewer, ada
// the admin; each gets an API token in <dir>/<name>.token.
func (s *system) addPeople() {
	s.t.Helper()
	s.tokens = map[string]string{}
	for _, u := range []struct{ name, roles string }{
		{"mia", "maker"}, {"carl", "checker"}, {"dora", "checker"}, {"vera", "viewer"}, {"ada", "admin"},
	} {
		s.host("users", "add", "--name", u.name, "--roles", u.roles)
		file := filepath.Join(s.dir, u.name+".token")
		s.host("tokens", "create", "--user", u.name, "--name", "e2e", "--out", file)
		s.tokens[u.name] = file
	}
}

// host runs a `ledger` command against the database, as on its host.
func (s *system) host(args ...string) string {
	s.t.Helper()
	n := 2 // "users add", "tokens create", "policy set"
	if args[0] == "audit" {
		n = 1
	}
	cmd := exec.Command(filepath.Join(binDir, "ledger"), append(args[:n:n], append([]string{"--db", s.ledgerDB()}, args[n:]...)...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(s.t, err, "ledger %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// asUser runs a `ledger` command through the API with a user's token.
func (s *system) asUser(user string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "ledger"), append(args, "--api", s.api, "--token-file", s.tokens[user])...)
	cmd.Env = append(os.Environ(), "PAYRUN_TOKEN=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

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

// ingest uploads a file as mia the maker through the API (`ingest --api`)
// and has carl the checker approve it (`ledger approve`): the four eyes
// every batch needs under the default policy. It returns the batch id.
func (s *system) ingest(path string, extra ...string) string {
	s.t.Helper()
	batch := s.upload("mia", path, extra...)
	s.approve("carl", batch)
	return batch
}

// upload runs `ingest --api` with a user's token and returns the batch.
func (s *system) upload(user, path string, extra ...string) string {
	s.t.Helper()
	res, stderr, err := s.tryUpload(user, path, extra...)
	require.NoError(s.t, err, "ingest: %s", stderr)
	require.True(s.t, payout.ValidBatchID(res.Batch), "%+v", res)
	return res.Batch
}

func (s *system) tryUpload(user, path string, extra ...string) (*ingest.Result, string, error) {
	args := append([]string{"--api", s.api, "--token-file", s.tokens[user], "--json"}, extra...)
	cmd := exec.Command(filepath.Join(binDir, "ingest"), append(args, path)...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "PAYRUN_TOKEN=", "PAYRUN_API=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String() + stdout.String(), err
	}
	var res ingest.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, stdout.String(), err
	}
	return &res, stderr.String(), nil
}

// sealed waits until the ledger sealed the batch.
func (s *system) sealed(batch string) *ledgerapi.BatchSummary {
	s.t.Helper()
	var sum *ledgerapi.BatchSummary
	testutil.Eventually(s.t, 30*time.Second, 20*time.Millisecond, func() error {
		b, err := s.ledger.Batch(context.Background(), batch)
		if err != nil {
			return err
		}
		if b.Status == payout.BatchReceiving {
			return fmt.Errorf("batch %s is still receiving", batch)
		}
		sum = b
		return nil
	})
	return sum
}

// approve has a checker approve a sealed batch with `ledger approve`.
func (s *system) approve(user, batch string) string {
	s.t.Helper()
	require.Equal(s.t, payout.BatchAwaitingApproval, s.sealed(batch).Status)
	out, err := s.asUser(user, "approve", "--batch", batch)
	require.NoError(s.t, err, "ledger approve: %s", out)
	return out
}

// waitFinal waits until every row of the batch is final (or, with
// allowDoubt, in doubt) and returns the batch summary.
func (s *system) waitFinal(batch string, rows int, timeout time.Duration, settled func(payout.State) bool) *ledgerapi.BatchSummary {
	s.t.Helper()
	if settled == nil {
		settled = payout.State.Terminal
	}
	var last *ledgerapi.BatchSummary
	testutil.Eventually(s.t, timeout, 100*time.Millisecond, func() error {
		b, err := s.ledger.Batch(context.Background(), batch)
		if err != nil {
			return err
		}
		last = b
		n := 0
		for st, c := range b.ByState {
			if settled(st) {
				n += c
			}
		}
		if n != rows {
			return fmt.Errorf("batch %s not settled: %+v", batch, b)
		}
		return nil
	})
	return last
}

// tryRow returns the row, or nil while the ledger does not have it.
func (s *system) tryRow(batch string, n int) *ledgerapi.RowState {
	st, err := s.ledger.Get(context.Background(), ledgerapi.RowRequest{Batch: batch, Row: n})
	if err != nil {
		return nil
	}
	return st
}

func (s *system) row(batch string, n int) *ledgerapi.RowState {
	s.t.Helper()
	st, err := s.ledger.Get(context.Background(), ledgerapi.RowRequest{Batch: batch, Row: n})
	require.NoError(s.t, err)
	return st
}

// bankPayouts returns the sandbox's own record by our row reference.
func (s *system) bankPayouts() map[string][]sandbox.PayoutInfo {
	s.t.Helper()
	resp, err := http.Get(s.bankURL + "/sandbox/payouts")
	require.NoError(s.t, err)
	defer resp.Body.Close()
	var list struct {
		Payouts []sandbox.PayoutInfo `json:"payouts"`
	}
	require.NoError(s.t, json.NewDecoder(resp.Body).Decode(&list))
	out := map[string][]sandbox.PayoutInfo{}
	for _, p := range list.Payouts {
		ref, err := payout.ParseBankRef(p.Metadata)
		if err != nil {
			continue
		}
		out[ref.String()] = append(out[ref.String()], p)
	}
	return out
}

// agree checks the ledger against the sandbox row by row: a succeeded row
// has exactly one succeeded payout at the bank, confirmed at most once; a
// row that is not succeeded has no succeeded payout; no session was
// confirmed twice.
func (s *system) agree(batch string, rows int) {
	s.t.Helper()
	bank := s.bankPayouts()
	for n := 1; n <= rows; n++ {
		st := s.row(batch, n)
		key := batch + "/" + strconv.Itoa(n)
		succeeded := 0
		for _, p := range bank[key] {
			require.LessOrEqual(s.t, p.ConfirmsAccepted, 1, "row %s session %s confirmed twice", key, p.SessionID)
			if p.Status == "succeeded" {
				succeeded++
				if st.State == payout.StateSucceeded || st.State == payout.StateReturned {
					require.Equal(s.t, st.SessionID, p.SessionID, "row %s: the ledger's session is the one paid", key)
				}
			}
		}
		switch st.State {
		case payout.StateInDoubt:
			// Only evidence settles it; it must not be paid twice.
			require.LessOrEqual(s.t, succeeded, 1, "row %s (%s) paid twice: %+v", key, st.Reference, bank[key])
		case payout.StateSucceeded, payout.StateReturned:
			require.Equal(s.t, 1, succeeded, "row %s (%s) is paid once at the bank: %+v", key, st.Reference, bank[key])
		default:
			require.Zero(s.t, succeeded, "row %s (%s) is %s in the ledger but paid at the bank: %+v", key, st.Reference, st.State, bank[key])
		}
	}
}

// payoutFile writes a payout file with the given rows (column → value).
func payoutFile(t testing.TB, dir, name string, rows []map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	require.NoError(t, w.Write(columns))
	for _, r := range rows {
		rec := make([]string, len(columns))
		for i, c := range columns {
			rec[i] = r[c]
		}
		require.NoError(t, w.Write(rec))
	}
	w.Flush()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	return path
}

var columns = strings.Split("reference,method,amount,currency,full_name,card_number,card_token,number_hash,"+
	"expiration_date_hash,cardholder_name_hash,security_code_hash,description,email,phone,country,transfer_type,"+
	"iban,recipient_card_token,sender_card_token,recipient_first_name,recipient_last_name,recipient_citizenship,"+
	"recipient_phone,sender_first_name,sender_last_name,sender_middle_name,sender_birth_date,sender_citizenship,"+
	"sender_document_number,sender_document_issue_date,sender_document_issued_by,sender_foreign_document_number,"+
	"sender_foreign_document_valid_from,sender_foreign_document_valid_to,sender_foreign_document_type,sender_phone,sender_country,"+
	"sender_city,sender_street,sender_building", ",")

func cardRow(ref, amount, name, pan string) map[string]string {
	return map[string]string{"reference": ref, "method": "card", "amount": amount, "currency": "RUB", "full_name": name, "card_number": pan}
}

func tokenRow(ref, amount, name, token string) map[string]string {
	return map[string]string{"reference": ref, "method": "token", "amount": amount, "currency": "RUB", "full_name": name, "card_token": token}
}

func widgetRow(ref, amount, name, hash string) map[string]string {
	return map[string]string{"reference": ref, "method": "encrypted_card", "amount": amount, "currency": "RUB", "full_name": name,
		"number_hash": hash, "expiration_date_hash": strings.Repeat("ab", 32)}
}

func transferRow(ref, amount, currency, typ string) map[string]string {
	r := map[string]string{"reference": ref, "method": "transfer", "amount": amount, "currency": currency,
		"transfer_type": typ, "sender_card_token": "tok_sender_9a8b7c6d",
		"recipient_first_name": "Mehmet", "recipient_last_name": "Yilmaz", "recipient_citizenship": "TUR",
		"sender_first_name": "Иван", "sender_last_name": "Иванов", "sender_middle_name": "Петрович",
		"sender_birth_date": "1985-03-14", "sender_citizenship": "RUS", "sender_document_number": "4510 123456",
		"sender_document_issue_date": "2015-04-20", "sender_document_issued_by": "ОВД Тверского района",
		"sender_phone": "+79161234567", "sender_country": "RUS", "sender_city": "Москва", "sender_street": "Тверская",
		"sender_building": "1"}
	switch typ {
	case "cash":
		r["country"] = "TUR"
	case "iban":
		r["country"], r["iban"] = "TUR", "TR330006100519786457841326"
	case "card":
		r["country"], r["recipient_card_token"], r["recipient_citizenship"] = "KGZ", "tok_mbank_1c2d3e4f", "KGZ"
	}
	return r
}

func itoa(n int) string { return strconv.Itoa(n) }

// logsHaveNoCardNumbers checks that no full card number reached any log,
// the JetStream store or the ledger's database.
func logsHaveNoCardNumbers(t *testing.T, s *system, pans ...string) {
	t.Helper()
	err := filepath.WalkDir(s.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(path, ".csv") {
			return nil // the finance file itself
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, pan := range pans {
			require.NotContains(t, string(b), pan, "full card number in %s", path)
		}
		return nil
	})
	require.NoError(t, err)
}

// makeNATSKeys runs `payrun keys nats` for the three nodes and puts the
// shipped permissions beside the keys, as deploy/README.md installs them.
func (s *system) makeNATSKeys() {
	t := s.t
	s.natsKeys = filepath.Join(s.dir, "nats-keys")
	cmd := exec.Command(filepath.Join(binDir, "payrun"), "keys", "nats", "--dir", s.natsKeys,
		"--server", "payrun-nats-1", "--server", "payrun-nats-2", "--server", "payrun-nats-3")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "payrun keys nats: %s", out)
	auth, err := os.ReadFile(s.repo("deploy/nats/payrun-auth.conf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(s.natsKeys, "payrun-auth.conf"), auth, 0o644))
}

// nodeConfig writes node n's configuration: deploy/nats/nats-N.conf's TLS
// and users on loopback ports.
func (s *system) nodeConfig(n int, listen, clusterListen string, routes []string) string {
	k := func(f string) string { return strconv.Quote(filepath.Join(s.natsKeys, f)) }
	name := fmt.Sprintf("payrun-nats-%d", n)
	tls := fmt.Sprintf("tls {\n  cert_file: %s\n  key_file: %s\n  ca_file: %s\n  verify: true\n  timeout: 5\n}\n",
		k(natsauth.ServerCert(name)), k(natsauth.ServerKey(name)), k(natsauth.CAFile))
	conf := fmt.Sprintf("server_name: %s\nlisten: %s\nmax_payload: 4MB\nwrite_deadline: \"10s\"\n%sinclude ./payrun-auth.conf\n"+
		"cluster {\n  name: payrun\n  listen: %s\n  %s  routes: [%s]\n}\n",
		name, listen, tls, clusterListen, strings.ReplaceAll(tls, "\n", "\n  "), strings.Join(routes, ", "))
	path := filepath.Join(s.natsKeys, name+".conf")
	require.NoError(s.t, os.WriteFile(path, []byte(conf), 0o644))
	return path
}
