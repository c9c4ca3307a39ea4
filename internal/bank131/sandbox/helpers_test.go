package sandbox_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/testutil"
)

// Projects every test environment has.
const (
	projTwoStep = "payrun"
	projSingle  = "payrun-pci"
	projAuto    = "payrun-auto"
)

// wait bounds every wait in these tests; nothing asserts on time.
const wait = 10 * time.Second

func loadPriv(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "keys", name))
	require.NoError(t, err)
	k, err := bank131.LoadPrivateKey(b)
	require.NoError(t, err)
	return k
}

func loadPub(t testing.TB, name string) *rsa.PublicKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "keys", name))
	require.NoError(t, err)
	k, err := bank131.LoadPublicKey(b)
	require.NoError(t, err)
	return k
}

// env is a sandbox on loopback with a webhook receiver and clients.
type env struct {
	t       *testing.T
	srv     *sandbox.Server
	ts      *httptest.Server
	sink    *sink
	partner *rsa.PrivateKey
	clients map[string]*bank131.Client
}

// fastConfig is a sandbox config with short delays for tests.
func fastConfig(t testing.TB) sandbox.Config {
	pub := loadPub(t, "partner_public.pem")
	return sandbox.Config{
		Projects: []sandbox.Project{
			{Name: projTwoStep, PublicKey: pub, Mode: sandbox.ModeTwoStep},
			{Name: projSingle, PublicKey: pub, Mode: sandbox.ModeSingleRequest},
			{Name: projAuto, PublicKey: pub, Mode: sandbox.ModeAutoConfirm},
		},
		BankKey:      loadPriv(t, "bank_private.pem"),
		FirstID:      1000,
		Timing:       sandbox.Timing{Processing: 5 * time.Millisecond, Settle: 5 * time.Millisecond, ErrorResolve: 50 * time.Millisecond, Refund: 30 * time.Millisecond},
		WebhookRetry: sandbox.WebhookRetry{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, GiveUp: 5 * time.Second, Timeout: 2 * time.Second},
		Logger:       testutil.QuietLogger(),
	}
}

func newEnv(t *testing.T, tweak ...func(*sandbox.Config)) *env {
	t.Helper()
	cfg := fastConfig(t)
	for _, f := range tweak {
		f(&cfg)
	}
	e := &env{t: t, partner: loadPriv(t, "partner_pkcs1.pem"), clients: map[string]*bank131.Client{}}
	e.sink = newSink(t, loadPub(t, "bank_public.pem"))
	cfg.WebhookURL = e.sink.ts.URL + "/webhooks/bank131"
	srv, err := sandbox.New(cfg)
	require.NoError(t, err)
	e.srv = srv
	e.ts = httptest.NewServer(srv)
	t.Cleanup(func() {
		e.ts.Close()
		srv.Close()
	})
	return e
}

// client returns a client signing with the partner key for project.
func (e *env) client(project string) *bank131.Client {
	if c, ok := e.clients[project]; ok {
		return c
	}
	c, err := bank131.NewClient(bank131.Config{BaseURL: e.ts.URL, Project: project, PrivateKey: e.partner, Timeout: 5 * time.Second})
	require.NoError(e.t, err)
	e.clients[project] = c
	return c
}

// payout returns the sandbox's record of a session's payout.
func (e *env) payout(session string) sandbox.PayoutInfo {
	e.t.Helper()
	for _, p := range e.srv.Payouts() {
		if p.SessionID == session {
			return p
		}
	}
	e.t.Fatalf("no payout for session %s", session)
	return sandbox.PayoutInfo{}
}

// sink receives webhooks, verifies them with bank131.Verifier before
// parsing, and answers 200 (or what fail says).
type sink struct {
	t        *testing.T
	ts       *httptest.Server
	verifier *bank131.Verifier
	mu       sync.Mutex
	cond     *sync.Cond
	hooks    []*bank131.Webhook
	raws     [][]byte // the bodies of hooks, as received
	rejected int
	attempts int
	// fail, if set, gives the HTTP status for the n-th attempt (1-based).
	fail func(n int) int
}

func newSink(t *testing.T, bankPub *rsa.PublicKey) *sink {
	v, err := bank131.NewVerifier(bankPub)
	require.NoError(t, err)
	s := &sink{t: t, verifier: v}
	s.cond = sync.NewCond(&s.mu)
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.ts.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.fail != nil {
		if code := s.fail(s.attempts); code != http.StatusOK {
			w.WriteHeader(code)
			return
		}
	}
	if err := s.verifier.Verify(body, r.Header.Get("X-PARTNER-SIGN")); err != nil {
		s.rejected++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	h, err := bank131.ParseWebhook(body)
	if err != nil {
		s.t.Logf("sink: unreadable webhook: %v: %s", err, body)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	s.hooks = append(s.hooks, h)
	s.raws = append(s.raws, body)
	s.cond.Broadcast()
}

// await waits for a webhook of typ for session (the n-th one, 1-based,
// counting only that type and session) and returns it.
func (s *sink) await(session string, typ bank131.WebhookType, n int) *bank131.Webhook {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	timer := time.AfterFunc(wait, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		seen := 0
		for _, h := range s.hooks {
			if h.Session != nil && h.Session.ID == session && h.Type == typ {
				seen++
				if seen == n {
					return h
				}
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %s #%d for %s; got %s", typ, n, session, s.summaryLocked())
		}
		s.cond.Wait()
	}
}

// raw returns the body of the n-th webhook of typ for session (1-based),
// waiting for it.
func (s *sink) raw(session string, typ bank131.WebhookType, n int) []byte {
	s.t.Helper()
	h := s.await(session, typ, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, got := range s.hooks {
		if got == h {
			return s.raws[i]
		}
	}
	s.t.Fatalf("webhook not found")
	return nil
}

// of returns the webhooks received for session, in arrival order.
func (s *sink) of(session string) []bank131.WebhookType {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bank131.WebhookType
	for _, h := range s.hooks {
		if h.Session != nil && h.Session.ID == session {
			out = append(out, h.Type)
		}
	}
	return out
}

func (s *sink) summaryLocked() string {
	out := ""
	for _, h := range s.hooks {
		if h.Session != nil {
			out += " " + h.Session.ID + ":" + string(h.Type)
		}
	}
	return "[" + out + " ]"
}

var ctx = context.Background()

func recipient(name string) *bank131.ParticipantDetails {
	return &bank131.ParticipantDetails{Recipient: &bank131.Participant{FullName: name}}
}

// ruAccount is a Russian bank account payout (the only method the bank
// refunds, DOC-refunds).
func ruAccount() *bank131.PaymentMethod {
	return &bank131.PaymentMethod{Type: bank131.MethodBankAccount, BankAccount: &bank131.BankAccount{SystemType: bank131.SystemRU,
		RU: &bank131.BankAccountRU{BIK: "044525974", Account: "40817810000000000001", FullName: "Ivanov Ivan", Description: "salary"}}}
}

func rub(minor int64) *bank131.Amount { return &bank131.Amount{Amount: minor, Currency: "rub"} }

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// syncBuffer is a bytes.Buffer safe for a logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
