package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// TestCancelWhileTheBankIsDown: the bank answers every call with HTTP 500,
// so the rows wait before it (a card row and a token row at opening, their
// calls retried; a transfer at claimed, its quote retried). Finance cancels
// the batch with `ledger cancel`; then the bank recovers. Nothing may be
// paid: the token and transfer rows are cancelled (neither moves money
// without our confirm), and the single-request card row is in doubt (an
// earlier send may have reached the bank), never sent again. The sandbox's
// own record has no payout of the batch.
func TestCancelWhileTheBankIsDown(t *testing.T) {
	s := startSystem(t, options{sandboxArgs: []string{"--fault-5xx", "1"}})
	file := payoutFile(t, s.dir, "cancel.csv", []map[string]string{
		cardRow("X-1", "1500.00", "Ivanov Ivan", "4242424242424242"),
		tokenRow("X-2", "700.00", "Petrova Anna", "tok_cancel_0002"),
		transferRow("X-3", "25000.00", "RUB", "cash"),
	})
	batch := s.ingest(file)
	want := map[int]payout.State{1: payout.StateOpening, 2: payout.StateOpening, 3: payout.StateClaimed}
	testutil.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		for n, st := range want {
			if r := s.tryRow(batch, n); r == nil || r.State != st {
				return fmt.Errorf("row %d is not waiting before the bank at %s", n, st)
			}
		}
		return nil
	})

	out, err := s.asUser("mia", "cancel", "--batch", batch, "--reason", "wrong file")
	require.NoError(t, err, "ledger cancel: %s", out)
	require.Contains(t, string(out), "cancelled")

	// The bank recovers: the same address, no faults.
	s.mu.Lock()
	var bank *proc
	for _, p := range s.procs {
		if p.name == "bank131-sandbox" && !p.exited() {
			bank = p
		}
	}
	s.mu.Unlock()
	bank.stop()
	i := slices.Index(bank.args, "--fault-5xx")
	require.GreaterOrEqual(t, i, 0)
	s.start("bank131-sandbox", slices.Delete(slices.Clone(bank.args), i, i+2)...)
	s.waitHTTP(s.bankURL + "/sandbox/payouts")

	sum := s.waitFinal(batch, 3, 30*time.Second, func(st payout.State) bool {
		return st.Terminal() || st == payout.StateInDoubt
	})
	require.Equal(t, payout.BatchCancelled, sum.Status)
	checkRows(t, s, batch, []expect{
		{payout.StateInDoubt, ""},
		{payout.StateCancelled, "batch_cancelled"},
		{payout.StateCancelled, ""},
	})
	// Give every retry, redelivery and sweep time to misbehave.
	time.Sleep(5 * time.Second)
	for n, st := range map[int]payout.State{1: payout.StateInDoubt, 2: payout.StateCancelled, 3: payout.StateCancelled} {
		require.Equal(t, st, s.row(batch, n).State, "row %d", n)
	}
	for ref, ps := range s.bankPayouts() {
		require.NotContains(t, ref, batch, "the bank has a payout of the cancelled batch: %+v", ps)
	}
	s.agree(batch, 3)
}

// TestCancelWhileRateLimited: single-request card rows wait in the rate
// limiter (1 call/s) with their opening intent recorded when finance
// cancels the batch. No payout may leave after the cancel: each send is
// recorded in the ledger once the limiter lets it go, and the ledger
// refuses it for a cancelled batch; rows that never sent are cancelled.
func TestCancelWhileRateLimited(t *testing.T) {
	s := startSystem(t, options{processorArgs: []string{"--rate", "1", "--burst", "1"}})
	const n = 20
	var rows []map[string]string
	for i := 1; i <= n; i++ {
		rows = append(rows, cardRow("R-"+itoa(i), itoa(100+i)+".00", "Ivanov Ivan", "4242424242424242"))
	}
	batch := s.ingest(payoutFile(t, s.dir, "limited.csv", rows))
	testutil.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		opening := 0
		for i := 1; i <= n; i++ {
			if r := s.tryRow(batch, i); r != nil && r.State == payout.StateOpening {
				opening++
			}
		}
		if opening < 5 {
			return fmt.Errorf("%d rows waiting in the limiter at opening", opening)
		}
		return nil
	})
	out, err := s.asUser("mia", "cancel", "--batch", batch, "--reason", "wrong file")
	require.NoError(t, err, "ledger cancel: %s", out)
	time.Sleep(500 * time.Millisecond) // a send that passed its check before the cancel arrives
	paid := func() int {
		k := 0
		for ref := range s.bankPayouts() {
			if strings.HasPrefix(ref, batch+"/") {
				k++
			}
		}
		return k
	}
	atCancel := paid()
	sum := s.waitFinal(batch, n, 60*time.Second, func(st payout.State) bool { return st.Terminal() || st == payout.StateInDoubt })
	time.Sleep(3 * time.Second) // every waiting send had its turn at 1/s
	require.Equal(t, atCancel, paid(), "no payout left after the cancel")
	require.Less(t, atCancel, n, "the cancel came before the end")
	t.Logf("paid before the cancel: %d; rows: %v", atCancel, sum.ByState)
	// Rows that waited in the limiter never recorded a send: cancelled, not
	// in doubt (at most the one whose send was under way).
	require.LessOrEqual(t, sum.ByState[payout.StateInDoubt], 1, "%v", sum.ByState)
	require.GreaterOrEqual(t, sum.ByState[payout.StateCancelled], n-atCancel-1, "%v", sum.ByState)
	s.agree(batch, n)
}
