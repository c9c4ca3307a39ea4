package processor

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/hookrelay"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
	"github.com/payrun/payrun/internal/testutil"
)

// The in-process ledger is what the step machine is tested against.
var _ Ledger = (*ledger.Service)(nil)

var quiet = slog.New(slog.DiscardHandler)

// keys are the sandbox-only keys shipped in samples/keys.
const keys = "../../samples/keys"

// harness is the processor's world, all real and in process: an embedded
// nats-server (the intake stream and the webhooks), the ledger Service
// on a temporary SQLite file (the processor calls it directly), the
// sandbox bank behind a counter of the calls it gets, and the relay that
// verifies its webhooks into PAYRUN_HOOKS.
type harness struct {
	t       *testing.T
	ctx     context.Context
	nc      *nats.Conn
	js      jetstream.JetStream
	db      *ledger.DB
	svc     *ledger.Service
	sb      *sandbox.Server
	calls   *callCounter
	bank    *bank131.Client // two-step project "payrun"
	card    *bank131.Client // single-request project "payrun-card"
	sealer  *secret.Sealer  // the upload side's keys (ingest)
	opener  *secret.Opener  // the processor's
	now     *testutil.Clock
	relay   string          // the relay's webhook URL
	bankKey *rsa.PrivateKey // the sandbox bank's signing key
}

// startNATS starts the embedded nats-server and connects to it.
func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	nc, _ := testutil.JetStream(t, testutil.NATS(t).URL())
	return nc
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, sandbox.Modes{}, sandbox.Timing{})
}

// newHarnessWith is newHarness with the sandbox in modes, and its timing
// where given (20 ms each by default).
func newHarnessWith(t *testing.T, modes sandbox.Modes, timing sandbox.Timing) *harness {
	t.Helper()
	ms := 20 * time.Millisecond
	for _, d := range []*time.Duration{&timing.Processing, &timing.Settle, &timing.Refund, &timing.ErrorResolve} {
		if *d == 0 {
			*d = ms
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, now: testutil.NewClock(time.Now().UTC())}
	h.nc = startNATS(t)
	var err error
	h.js, err = jetstream.New(h.nc)
	require.NoError(t, err)

	h.db, err = ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	require.NoError(t, err)
	h.db.Now = h.now.Now
	h.svc = ledger.NewService(h.db, ledger.Config{StuckAfter: time.Minute, ReleaseInterval: 20 * time.Millisecond,
		SweepInterval: time.Hour, Logger: quiet}) // the tests sweep themselves
	// These tests are about what follows approval: no batch needs one.
	_, err = h.svc.SetPolicy(ctx, auth.HostActor("test"), auth.Policy{Approvals: 1})
	require.NoError(t, err)
	require.NoError(t, h.svc.Start(ctx, h.nc))
	t.Cleanup(func() {
		h.svc.Close()
		h.db.Close()
	})

	bankPub, err := os.ReadFile(filepath.Join(keys, "bank_public.pem"))
	require.NoError(t, err)
	verifier, err := bank131.NewVerifierPEM(bankPub)
	require.NoError(t, err)
	relay := httptest.NewServer(hookrelay.New(hookrelay.Config{Verifier: verifier, JS: h.js, Conn: h.nc, Logger: quiet}))
	t.Cleanup(relay.Close)
	h.relay = relay.URL + hookrelay.Path

	partnerPub, err := bank131.ReadPublicKey(filepath.Join(keys, "partner_public.pem"))
	require.NoError(t, err)
	bankKey, err := bank131.ReadPrivateKey(filepath.Join(keys, "bank_private.pem"))
	require.NoError(t, err)
	h.bankKey = bankKey
	h.sb, err = sandbox.New(sandbox.Config{
		Projects: []sandbox.Project{
			{Name: "payrun", PublicKey: partnerPub, Mode: sandbox.ModeTwoStep},
			{Name: "payrun-card", PublicKey: partnerPub, Mode: sandbox.ModeSingleRequest},
		},
		BankKey: bankKey, WebhookURL: relay.URL + hookrelay.Path, AutoThreeDS: true,
		Timing: timing,
		Modes:  modes,
		Logger: quiet,
	})
	require.NoError(t, err)
	h.calls = &callCounter{next: h.sb, n: map[string]int{}}
	bankSrv := httptest.NewServer(h.calls)
	t.Cleanup(func() {
		bankSrv.Close()
		h.sb.Close()
	})
	h.sb.SetPublicURL(bankSrv.URL)

	partnerKey, err := bank131.ReadPrivateKey(filepath.Join(keys, "partner_private.pem"))
	require.NoError(t, err)
	h.bank, err = bank131.NewClient(bank131.Config{BaseURL: bankSrv.URL, Project: "payrun", PrivateKey: partnerKey, Logger: quiet})
	require.NoError(t, err)
	h.card, err = bank131.NewClient(bank131.Config{BaseURL: bankSrv.URL, Project: "payrun-card", PrivateKey: partnerKey, Logger: quiet})
	require.NoError(t, err)
	h.sealer, h.opener = testutil.Keys(t)
	return h
}

// processor returns a processor over the harness: card rows go to the
// single-request project with CardSingleRequest, to the main two-step
// project with CardTwoStep.
func (h *harness) processor(flow CardFlow) *Processor {
	h.t.Helper()
	cfg := Config{Conn: h.nc, Bank: h.bank, CardFlow: flow, Opener: h.opener, Ledger: h.svc,
		CallRetries: 1, RetryBase: time.Millisecond, Worker: "w-test", Logger: quiet}
	if flow == CardSingleRequest {
		cfg.CardBank = h.card
	}
	p, err := New(cfg)
	require.NoError(h.t, err)
	t := h.t
	t.Cleanup(p.lim.Close)
	_, _, err = p.setup(h.ctx)
	require.NoError(t, err)
	return p
}

// callCounter counts the API calls that reach the sandbox, by path
// (bank131.Path*).
type callCounter struct {
	next http.Handler
	mu   sync.Mutex
	n    map[string]int
}

func (c *callCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		c.mu.Lock()
		c.n[r.URL.Path]++
		c.mu.Unlock()
	}
	c.next.ServeHTTP(w, r)
}

// snapshot copies the counts.
func (c *callCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// since returns the calls made after the snapshot (nil for none).
func (c *callCounter) since(before map[string]int) map[string]int {
	var out map[string]int
	for k, v := range c.snapshot() {
		if d := v - before[k]; d > 0 {
			if out == nil {
				out = map[string]int{}
			}
			out[k] = d
		}
	}
	return out
}

// total is how many API calls reached the bank.
func (c *callCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

// csvHeader holds every column the test rows use.
const csvHeader = "reference,method,amount,currency,full_name,card_number,card_token,country,transfer_type,iban," +
	"sender_card_token,recipient_first_name,recipient_last_name,recipient_citizenship,sender_first_name,sender_last_name," +
	"sender_birth_date,sender_citizenship,sender_document_number,sender_document_issue_date,sender_phone,sender_country," +
	"sender_city,sender_building"

// tokenRow pays amount (major units, RUB) to a tokenized card.
func tokenRow(ref, amount, token string) string {
	return fmt.Sprintf("%s,token,%s,RUB,Ivan Petrov,,%s,,,,,,,,,,,,,,,,,", ref, amount, token)
}

// cardRow pays amount to a card number.
func cardRow(ref, amount, number string) string {
	return fmt.Sprintf("%s,card,%s,RUB,Ivan Petrov,%s,,,,,,,,,,,,,,,,,,", ref, amount, number)
}

// transferRow sends amount RUB to a Turkish IBAN, debiting senderToken.
func transferRow(ref, amount, senderToken string) string {
	return fmt.Sprintf("%s,transfer,%s,RUB,,,,TUR,iban,TR330006100519786457841326,%s,Ayse,Demir,TUR,Ivan,Ivanov,"+
		"1985-03-14,RUS,4510 123456,2015-04-20,+79161234567,RUS,Moscow,1", ref, amount, senderToken)
}

// ingest publishes a batch of rows through ingest, as users do, and waits
// until the ledger recorded and released every row. It returns the batch.
func (h *harness) ingest(rows ...string) string {
	t := h.t
	t.Helper()
	path := filepath.Join(t.TempDir(), "steps.csv")
	require.NoError(t, os.WriteFile(path, []byte(csvHeader+"\n"+strings.Join(rows, "\n")+"\n"), 0o600))
	res, err := ingest.Ingest(h.ctx, h.js, path, ingest.Options{Sealer: h.sealer, Logger: quiet})
	require.NoError(t, err)
	require.Equal(t, ingest.StatusCreated, res.Status, "%+v", res.Errors)
	require.Eventually(t, func() bool {
		b, err := h.db.Batch(h.ctx, res.Batch)
		return err == nil && b.ByState[payout.StateQueued] == len(rows)
	}, 10*time.Second, 10*time.Millisecond, "the ledger releases the batch")
	return res.Batch
}

// row reads a row from the ledger.
func (h *harness) row(batch string, n int) *ledgerapi.RowState {
	h.t.Helper()
	st, err := h.svc.Get(h.ctx, ledgerapi.RowRequest{Batch: batch, Row: n})
	require.NoError(h.t, err)
	return st
}

// progressCount is a job's message as the step machine sees it: it counts
// the progress signals.
type progressCount struct{ n int }

func (c *progressCount) InProgress() error { c.n++; return nil }

// job is the pay job the ledger released for a row, at the row's gen.
func (h *harness) job(batch string, n int) ledgerapi.Job {
	st := h.row(batch, n)
	return ledgerapi.Job{Kind: ledgerapi.JobPay, Batch: batch, Row: n, Gen: st.Gen, IntakeSeq: st.IntakeSeq, RowDigest: st.RowDigest}
}

// run is a pay job of p at work on a row, as pay starts it.
func (h *harness) run(p *Processor, batch string, n int) *run {
	h.t.Helper()
	job := h.job(batch, n)
	st := h.row(batch, n)
	row, err := p.loadRow(h.ctx, st)
	require.NoError(h.t, err)
	return &run{p: p, msg: &progressCount{}, job: job, st: st, row: row, log: quiet}
}

// stepTo steps r until the row is in state, each step without faults.
func (h *harness) stepTo(r *run, state payout.State) {
	h.t.Helper()
	for i := 0; r.st.State != state; i++ {
		require.Less(h.t, i, maxSteps, "row still %s, want %s", r.st.State, state)
		done, err := r.step(h.ctx)
		require.NoError(h.t, err, "step from %s", r.st.State)
		require.False(h.t, done && r.st.State != state, "the job ended at %s before %s", r.st.State, state)
	}
}

// hooks waits until the bank sent n webhooks of typ about session, as the
// relay stored them in PAYRUN_HOOKS, and returns them in order.
func (h *harness) hooks(typ bank131.WebhookType, session string, n int) []jetstream.Msg {
	t := h.t
	t.Helper()
	var found []jetstream.Msg
	require.Eventually(t, func() bool {
		found = nil
		c, err := h.js.OrderedConsumer(h.ctx, queue.StreamHooks, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{queue.HookSubject(string(typ))}})
		require.NoError(t, err)
		for {
			batch, err := c.FetchNoWait(100)
			require.NoError(t, err)
			got := 0
			for m := range batch.Messages() {
				got++
				w, err := bank131.ParseWebhook(m.Data())
				if err == nil && w.Session != nil && w.Session.ID == session {
					found = append(found, m)
				}
			}
			if got == 0 {
				return len(found) >= n
			}
		}
	}, 10*time.Second, 20*time.Millisecond, "%d webhooks %s for %s", n, typ, session)
	return found[:n]
}

// noFaults and dropAnswers are the sandbox's fault settings around a step:
// dropAnswers processes every call and closes the connection without an
// answer, so its outcome is unknown to the processor.
var (
	noFaults    = sandbox.Faults{}
	dropAnswers = sandbox.Faults{Drops: 1}
	loseCalls   = sandbox.Faults{Lost: 1}
)

// deliver signs body with the bank's key and posts it to the relay, as the
// bank would send a webhook the sandbox does not (a payment_refunded for a
// payout the sandbox never returns).
func (h *harness) deliver(body []byte) {
	h.t.Helper()
	sig, err := bank131.Sign(h.bankKey, body)
	require.NoError(h.t, err)
	req, err := http.NewRequest(http.MethodPost, h.relay, bytes.NewReader(body))
	require.NoError(h.t, err)
	req.Header.Set(bank131.HeaderSign, sig)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	resp.Body.Close()
	require.Equal(h.t, http.StatusOK, resp.StatusCode)
}
