// The harness's people and batches: users and tokens on the ledger's host,
// upload and approval as they would do it, and reading the outcome back
// from the ledger and the sandbox.

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

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
