package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/queue/natsauth"
	"github.com/payrun/payrun/internal/testutil"
)

// TestClusterSurvivesNodeAndProcessorLoss is the production deployment on
// one machine: three nats-server nodes in one JetStream cluster with R3
// streams, TLS on clients and routes and each component with its own nkey
// and permissions (deploy/nats), the ledger as the single writer, two
// processors and a relay as separate processes. A processor's identity is
// refused when it tries to approve or cancel a batch or to publish a
// webhook. Mid-batch one node and one processor die; every row is still
// paid exactly once; the surviving processor takes the killed one's share of
// the bank's rate limit.
func TestClusterSurvivesNodeAndProcessorLoss(t *testing.T) {
	rows := 600
	if testing.Short() {
		rows = 200
	}
	// The processors share the bank's limit through the R3 KV bucket, which
	// must go on working with a node down.
	s := startSystem(t, options{cluster: true, secure: true, processors: 2, ledgerArgs: []string{"--replicas", "3"},
		processorArgs: []string{"--bank-rate", "400", "--burst", "20"}, sandboxArgs: []string{"--auto-3ds"}})

	held := s.upload("mia", payoutFile(t, s.dir, "held.csv", []map[string]string{
		tokenRow("HELD-1", "101.00", "Held One", "tok_held_0001"), tokenRow("HELD-2", "102.00", "Held Two", "tok_held_0002"),
		tokenRow("HELD-3", "103.00", "Held Three", "tok_held_0003"),
	}))
	s.permissionsHold(held)

	file := payoutFile(t, s.dir, "cluster.csv", chaosRows(rows, 11)[:rows])
	batch := s.ingest(file)

	testutil.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error {
		b, err := s.ledger.Batch(t.Context(), batch)
		if err != nil {
			return err
		}
		if n := b.ByState[payout.StateSucceeded]; n < rows/10 {
			return fmt.Errorf("payouts not under way: %d succeeded", n)
		}
		return nil
	})
	s.nodes[1].Close()
	t.Log("nats node 2 stopped")
	s.mu.Lock()
	var p2 *proc
	for _, p := range s.procs {
		if p.name == "p2" {
			p2 = p
		}
	}
	s.mu.Unlock()
	p2.kill()
	t.Log("processor p2 killed")

	sum := s.waitFinal(batch, rows, 2*time.Minute, nil)
	t.Logf("by state: %v", sum.ByState)
	s.agree(batch, rows)
	require.Equal(t, rows, sum.ByState[payout.StateSucceeded], "every row paid: %v", sum.ByState)

	s.mu.Lock()
	var p1 *proc
	for _, p := range s.procs {
		if p.name == "p1" {
			p1 = p
		}
	}
	s.mu.Unlock()
	testutil.Eventually(t, 10*time.Second, 100*time.Millisecond, func() error {
		if !strings.Contains(readLog(p1), `"msg":"rate limit share","held":20,"of":20,"live":1`) {
			return fmt.Errorf("%s does not hold the whole rate limit", p1.name)
		}
		return nil
	})

	hb, err := s.ledger.Batch(t.Context(), held)
	require.NoError(t, err)
	require.Equal(t, payout.BatchAwaitingApproval, hb.Status, "the held batch was neither approved nor cancelled")
	require.Empty(t, hb.ApprovedBy)

	// Every component did its work within its permissions: none was
	// refused anything (queue.LogErrors logs each refusal).
	s.mu.Lock()
	procs := append([]*proc(nil), s.procs...)
	s.mu.Unlock()
	for _, p := range procs {
		b, err := os.ReadFile(p.log)
		require.NoError(t, err)
		for line := range strings.SplitSeq(string(b), "\n") {
			require.NotContains(t, line, "NATS refused", "%s was refused an operation", p.name)
		}
	}
}

// The batch commands a person gives; a processor may never send them.
const (
	batchApprove = "payrun.ledger.batch.approve"
	batchCancel  = "payrun.ledger.batch.cancel"
)

// violations collects the permission violations the server reports to a
// connection.
type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		v.mu.Lock()
		v.errs = append(v.errs, err.Error())
		v.mu.Unlock()
	}
}

// saw waits until the server has refused an operation on subject.
func (v *violations) saw(t testing.TB, what, subject string) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, 20*time.Millisecond, func() error {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, e := range v.errs {
			if strings.Contains(e, what) && strings.Contains(e, `"`+subject+`"`) {
				return nil
			}
		}
		return fmt.Errorf("no refusal of %s to %s; refusals: %v", what, subject, v.errs)
	})
}

// permissionsHold connects with the processor's and ingest's identities and
// does what each must not: the server refuses it, and the batch waiting for
// approval stays as it is.
func (s *system) permissionsHold(held string) {
	t := s.t
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		b, err := s.ledger.Batch(t.Context(), held)
		if err != nil {
			return err
		}
		if b.Status != payout.BatchAwaitingApproval {
			return fmt.Errorf("held batch is %s", b.Status)
		}
		return nil
	})

	var pv violations
	nc, err := queue.Connect(s.natsURL, "payrun-processor", append(s.natsOptions("processor"), nats.ErrorHandler(pv.handler))...)
	require.NoError(t, err)
	defer nc.Close()
	client := ledgerapi.NewClient(nc, 2*time.Second)
	// What a processor may ask works with its identity ...
	_, err = client.Get(t.Context(), ledgerapi.RowRequest{Batch: held, Row: 1})
	require.NoError(t, err, "a processor reads a row")
	// ... approving and cancelling a batch does not, whether or not the
	// ledger still serves those person-facing subjects (people decide
	// through the authenticated HTTP API): the server refuses the publish.
	for _, subject := range []string{batchApprove, batchCancel} {
		body, err := json.Marshal(ledgerapi.BatchCommand{Batch: held, By: "processor", Reason: "not mine to decide"})
		require.NoError(t, err)
		_, err = nc.Request(subject, body, 2*time.Second)
		require.Error(t, err, "%s never reached the ledger", subject)
		pv.saw(t, "Publish", subject)
	}
	// A processor publishes no webhook and answers no ledger request.
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	_, err = js.Publish(ctx, queue.HookSubject("payment_finished"), []byte(`{"type":"payment_finished"}`))
	cancel()
	require.Error(t, err, "a processor's webhook is not stored")
	pv.saw(t, "Publish", queue.HookSubject("payment_finished"))
	_, err = nc.Subscribe(ledgerapi.SubjectRowTransition, func(*nats.Msg) {})
	require.NoError(t, err) // refused asynchronously
	pv.saw(t, "Subscription", ledgerapi.SubjectRowTransition)

	// Ingest publishes intake only: no jobs.
	var iv violations
	ic, err := queue.Connect(s.natsURL, "payrun-ingest", append(s.natsOptions("ingest"), nats.ErrorHandler(iv.handler))...)
	require.NoError(t, err)
	defer ic.Close()
	require.NoError(t, ic.Publish(queue.JobSubject(held), []byte(`{}`)))
	iv.saw(t, "Publish", queue.JobSubject(held))

	// The operator's identity reads (ledger status) but imports no bank
	// report: that is the report watcher's (reports), audited by the ledger.
	var ov violations
	oc, err := queue.Connect(s.natsURL, "payrun-ops", append(s.natsOptions("ops"), nats.ErrorHandler(ov.handler))...)
	require.NoError(t, err)
	defer oc.Close()
	_, err = oc.Request(ledgerapi.SubjectReportImport, []byte(`{}`), 2*time.Second)
	require.Error(t, err, "an operator's report import never reached the ledger")
	ov.saw(t, "Publish", ledgerapi.SubjectReportImport)
	var rv violations
	rc, err := queue.Connect(s.natsURL, "payrun-ledger-import-report", append(s.natsOptions("reports"), nats.ErrorHandler(rv.handler))...)
	require.NoError(t, err)
	defer rc.Close()
	require.NoError(t, rc.Publish(ledgerapi.SubjectRowTransition, []byte(`{}`)))
	rv.saw(t, "Publish", ledgerapi.SubjectRowTransition)

	// Without its nkey, or without a client certificate, nobody gets in.
	ca := natsauth.CAFile
	sec, err := queue.Security{CA: s.natsKeys + "/" + ca, Cert: s.natsKeys + "/" + natsauth.ClientCert("processor"),
		Key: s.natsKeys + "/" + natsauth.ClientKey("processor")}.Options()
	require.NoError(t, err)
	_, err = queue.Connect(s.natsURL, "anonymous", append(sec, nats.MaxReconnects(0))...)
	require.ErrorIs(t, err, nats.ErrAuthorization, "no nkey, no connection")
	sec, err = queue.Security{NKey: s.natsKeys + "/" + natsauth.Seed("processor"), CA: s.natsKeys + "/" + ca}.Options()
	require.NoError(t, err)
	_, err = queue.Connect(s.natsURL, "payrun-processor", append(sec, nats.MaxReconnects(0))...)
	require.Error(t, err, "no client certificate, no connection")

	b, err := s.ledger.Batch(t.Context(), held)
	require.NoError(t, err)
	require.Equal(t, payout.BatchAwaitingApproval, b.Status)
	require.Equal(t, 3, b.ByState[payout.StateReceived], "no row of the held batch was released: %v", b.ByState)
}
