package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// decide runs a ledger decision command (hold, resume, release, drop,
// cancel, resubmit …) through the running ledger's HTTP API with a
// person's token: carl, a checker; a resubmit by mia, the maker whose
// batch it is (carl then approves the child: four eyes).
func (s *system) decide(args ...string) string {
	s.t.Helper()
	out, err := s.tryDecide(args...)
	require.NoError(s.t, err, "ledger %s: %s", strings.Join(args, " "), out)
	return out
}

func (s *system) tryDecide(args ...string) (string, error) {
	user := "carl"
	if args[0] == "resubmit" {
		user = "mia"
	}
	return s.asUser(user, args...)
}

// restart kills every payrun process (ledger, processors, relay) with
// SIGKILL and starts each again with its flags.
func (s *system) restart() {
	s.t.Helper()
	s.mu.Lock()
	var live []*proc
	for _, p := range s.procs {
		if !p.exited() && (p.bin == "ledger" || p.bin == "processor" || p.bin == "hookrelay") {
			live = append(live, p)
		}
	}
	s.mu.Unlock()
	for _, p := range live {
		p.kill()
	}
	for _, p := range live {
		np := s.start(p.bin, p.args...)
		np.name = p.name
		switch p.bin {
		case "ledger":
			s.waitLedger()
		case "hookrelay":
			s.waitHTTP("http://" + s.relayAddr + "/readyz")
		}
	}
}

// payoutsOf counts the bank's payouts of the batch created after t (the
// session/start/payout and session/init/payout calls that reached it).
func (s *system) payoutsOf(batch string, after time.Time) int {
	n := 0
	for ref, ps := range s.bankPayouts() {
		if !strings.HasPrefix(ref, batch+"/") {
			continue
		}
		for _, p := range ps {
			if p.CreatedAt.After(after) {
				n++
			}
		}
	}
	return n
}

// paidByReference counts the bank's succeeded payouts by our reference.
func (s *system) paidByReference() map[string]int {
	out := map[string]int{}
	for _, ps := range s.bankPayouts() {
		for _, p := range ps {
			ref, err := payout.ParseBankRef(p.Metadata)
			if err == nil && p.Status == "succeeded" {
				out[ref.Reference]++
			}
		}
	}
	return out
}

func (s *system) httpGet(path string) string {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.api+path, nil)
	require.NoError(s.t, err)
	tok, err := os.ReadFile(s.tokens["vera"])
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(s.t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

// TestCorrectedReExportPaysNobodyTwice: a payroll is paid; finance uploads
// a corrected re-export (one amount changed by 0.01, and one more row that
// pays the first row's card token the same amount under a new reference).
// Validation warns about every repeat before the upload; the ledger holds
// every repeat of a paid row and the probable duplicate, pays the rows
// whose earlier payout failed, and nobody is paid twice. Every process is
// killed and restarted while rows are held. A person's release of one
// held row pays exactly that row; a dropped row is never paid.
func TestCorrectedReExportPaysNobodyTwice(t *testing.T) {
	s := startSystem(t, options{})
	first := []map[string]string{
		tokenRow("T-1/2026-11", "1001.00", "Ivanov Ivan", "tok_guard_0001"),
		tokenRow("T-2/2026-11", "1002.00", "Petrova Anna", "tok_guard_0002"),
		tokenRow("T-3/2026-11", "1003.00", "Sidorov Oleg", "tok_guard_0003"),
		cardRow("C-1/2026-11", "2001.00", "Smirnova Olga", "4242424242424242"),
		cardRow("C-2/2026-11", "2002.00", "Kuznetsov Pavel", "5555555555554444"),
		tokenRow("F-1/2026-11", "1004.00", "Failed Once", "tok_guard_"+"fa11ed02"),
	}
	a := s.ingest(payoutFile(t, s.dir, "payroll.csv", first))
	s.waitFinal(a, len(first), 60*time.Second, nil)
	require.Equal(t, payout.StateFailed, s.row(a, 6).State)

	corrected := append([]map[string]string(nil), first...)
	corrected[2] = tokenRow("T-3/2026-11", "1003.01", "Sidorov Oleg", "tok_guard_0003")
	corrected = append(corrected, tokenRow("N-1/2026-12", "1001.00", "Ivanov Ivan", "tok_guard_0001"))
	file := payoutFile(t, s.dir, "payroll-corrected.csv", corrected)

	// Before the upload: warnings name both rows.
	cmd := exec.Command(filepath.Join(binDir, "ingest"), "--validate", "--json", "--nats-url", s.natsURL, file)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	require.NoError(t, cmd.Run())
	var res ingest.Result
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
	require.Equal(t, ingest.CrossFileChecked, res.CrossFileCheck)
	require.Equal(t, 7, res.WarningCount, "%+v", res.Warnings)
	require.Contains(t, res.Warnings[0].Message, "T-1/2026-11 was paid on ")
	require.Contains(t, res.Warnings[0].Message, "in batch "+a+" row 1")
	// N-1 pays T-1's card token T-1's amount: in this file and in the ledger.
	require.Contains(t, res.Warnings[5].Message, "probable duplicate of line 2 (T-1/2026-11)")
	require.Contains(t, res.Warnings[6].Message, "probable duplicate: the same card token was paid 1001.00 RUB as T-1/2026-11")

	b := s.ingest(file)
	require.NotEqual(t, a, b)
	sum := s.waitFinal(b, 1, 60*time.Second, func(st payout.State) bool { return st == payout.StateFailed })
	require.Equal(t, 6, sum.Held, "five repeats of paid rows and one probable duplicate")
	for n := 1; n <= 5; n++ {
		require.Equal(t, payout.StateReceived, s.row(b, n).State, "row %d held", n)
	}
	require.Contains(t, s.row(b, 1).Reason, "T-1/2026-11 was paid on ")
	require.Contains(t, s.row(b, 7).Reason, "probable duplicate")

	s.restart()
	time.Sleep(2 * time.Second) // every sweep and release had its turn
	for ref, n := range s.paidByReference() {
		require.Equal(t, 1, n, "%s paid %d times", ref, n)
	}
	require.Equal(t, 1, s.payoutsOf(b, time.Time{}), "only the row whose payout failed went to the bank again")

	status, err := exec.Command(filepath.Join(binDir, "ledger"), "status", "--nats-url", s.natsURL, "--batch", b).CombinedOutput()
	require.NoError(t, err, string(status))
	require.Contains(t, string(status), "HELD BY THE DUPLICATE GUARD  6 waiting for a decision")

	// A person releases the corrected row: exactly that row is paid.
	s.decide("release", "--batch", b, "--row", "3", "--reason", "the corrected amount is due")
	s.decide("drop", "--batch", b, "--row", "7", "--reason", "a duplicate of T-1")
	testutil.Eventually(t, 60*time.Second, 100*time.Millisecond, func() error {
		if st := s.row(b, 3).State; st != payout.StateSucceeded {
			return fmt.Errorf("row 3 is %s", st)
		}
		return nil
	})
	time.Sleep(time.Second)
	paid := s.paidByReference()
	require.Equal(t, 2, paid["T-3/2026-11"], "paid in the first run and, by a person's decision, in the corrected one")
	for ref, n := range paid {
		if ref != "T-3/2026-11" {
			require.Equal(t, 1, n, "%s", ref)
		}
	}
	require.Equal(t, payout.StateCancelled, s.row(b, 7).State)
	require.Equal(t, 2, s.payoutsOf(b, time.Time{}))
	s.agree(a, len(first))
	s.agree(b, len(corrected))

	out, err := exec.Command(filepath.Join(binDir, "ledger"), "status", "--nats-url", s.natsURL, "--batch", b).CombinedOutput()
	require.NoError(t, err)
	require.Contains(t, string(out), "released by carl")
	require.Contains(t, string(out), "the corrected amount is due")
	rep := s.httpGet("/batches/" + b + "/report.csv")
	require.Contains(t, rep, "held: T-3/2026-11 was paid on ")
	require.Contains(t, rep, "released by carl: the corrected amount is due")
	logsHaveNoCardNumbers(t, s, "4242424242424242", "5555555555554444")
}

// TestResubmitPaysOnlyTheFailedRows: the card project is misconfigured,
// so the card rows fail at the bank (final for that attempt) while the
// token rows are paid. Once the processor is fixed, finance resubmits the
// failed rows: a child batch pays exactly those rows, once, from the card
// numbers sealed at the first upload; every process is restarted while
// the child pays, and the parent's report says where each failed row went.
func TestResubmitPaysOnlyTheFailedRows(t *testing.T) {
	s := startSystem(t, options{processorArgs: []string{"--card-project", "payrun-misconfigured"}})
	rows := []map[string]string{
		cardRow("R-1", "3001.00", "Smirnova Olga", "4242424242424242"),
		tokenRow("R-2", "3002.00", "Petrova Anna", "tok_resubmit_0002"),
		cardRow("R-3", "3003.00", "Kuznetsov Pavel", "5555555555554444"),
	}
	parent := s.ingest(payoutFile(t, s.dir, "resubmit.csv", rows))
	s.waitFinal(parent, 3, 60*time.Second, nil)
	require.Equal(t, payout.StateFailed, s.row(parent, 1).State)
	require.Equal(t, payout.StateSucceeded, s.row(parent, 2).State)
	require.Equal(t, payout.StateFailed, s.row(parent, 3).State)

	// The processor is fixed.
	s.mu.Lock()
	var old *proc
	for _, p := range s.procs {
		if p.bin == "processor" && !p.exited() {
			old = p
		}
	}
	s.mu.Unlock()
	old.stop()
	s.opts.processorArgs = nil
	s.startProcessor("p2")

	out := s.decide("resubmit", "--batch", parent, "--failed", "--reason", "the card project is fixed")
	require.Contains(t, out, "resubmitted rows 1→1, 3→2 of "+parent+" as batch ")
	sum, err := s.ledger.Batch(context.Background(), parent)
	require.NoError(t, err)
	require.Len(t, sum.Children, 1)
	child := sum.Children[0]
	s.approve("carl", child) // mia resubmitted it: another person approves
	s.restart()
	s.waitFinal(child, 2, 60*time.Second, nil)
	for n := 1; n <= 2; n++ {
		require.Equal(t, payout.StateSucceeded, s.row(child, n).State, "child row %d", n)
	}
	time.Sleep(time.Second)
	paid := s.paidByReference()
	require.Equal(t, map[string]int{"R-1": 1, "R-2": 1, "R-3": 1}, paid)
	s.agree(child, 2)
	s.agree(parent, 3)
	childSum, err := s.ledger.Batch(context.Background(), child)
	require.NoError(t, err)
	require.Equal(t, parent, childSum.Parent)

	// Asked again: nothing more to resubmit, nothing paid twice.
	_, err = s.tryDecide("resubmit", "--batch", parent, "--rows", "1", "--reason", "again")
	require.Error(t, err)
	rep := s.httpGet("/batches/" + parent + "/report.json")
	require.Contains(t, rep, `"resubmit":"resubmitted in batch `+child+` row 1"`)
	logsHaveNoCardNumbers(t, s, "4242424242424242", "5555555555554444")
}
