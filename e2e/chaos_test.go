package e2e

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// luhnCard returns a 16-digit Visa-like test number that passes Luhn.
func luhnCard(rng *rand.Rand) string {
	d := make([]byte, 15)
	copy(d, "4276")
	for i := 4; i < 15; i++ {
		d[i] = byte('0' + rng.IntN(10))
	}
	for c := byte('0'); c <= '9'; c++ {
		if n := string(d) + string(c); payout.Luhn(n) {
			return n
		}
	}
	panic("unreachable")
}

// chaosRows is a mixed batch: tokens and widget cards (two-step), card
// numbers (single-request) and transfers (3-D Secure completed by the
// sandbox itself).
func chaosRows(n int, seed uint64) []map[string]string {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([]map[string]string, 0, n)
	for i := 1; i <= n; i++ {
		ref := fmt.Sprintf("CH-%05d", i)
		// 100.00 .. 9999.99 RUB, never a sandbox trigger amount (131.01-131.10).
		minor := 10000 + rng.Int64N(990000)
		if minor >= 13100 && minor <= 13110 {
			minor += 100
		}
		amount := strconv.FormatInt(minor/100, 10) + "." + fmt.Sprintf("%02d", minor%100)
		switch i % 10 {
		case 0, 1, 2, 3:
			rows = append(rows, tokenRow(ref, amount, "Token Person", fmt.Sprintf("tok_%012x", rng.Uint64()&0xffffffffffff)))
		case 4, 5, 6:
			rows = append(rows, cardRow(ref, amount, "Card Person", luhnCard(rng)))
		case 7, 8:
			rows = append(rows, widgetRow(ref, amount, "Widget Person", fmt.Sprintf("%064x", rng.Uint64())))
		default:
			rows = append(rows, transferRow(ref, amount, "RUB", []string{"cash", "iban", "card"}[rng.IntN(3)]))
		}
	}
	return rows
}

// TestExactlyOnceUnderChaos pays a few thousand rows while the sandbox
// answers 5xx, drops connections after processing, duplicates, reorders
// and loses webhooks, and the processor is killed with SIGKILL several
// times. At the end every row is final, or in doubt with an open exception;
// no session was confirmed twice, no row was paid twice, and the ledger
// agrees with the bank's own record row by row.
func TestExactlyOnceUnderChaos(t *testing.T) {
	rows := 2000
	if testing.Short() {
		rows = 300
	}
	s := startSystem(t, options{
		sandboxArgs: []string{"--auto-3ds", "--fault-seed", "131",
			"--fault-5xx", "0.05", "--fault-drop", "0.03",
			"--fault-webhook-duplicate", "0.10", "--fault-webhook-reorder", "0.10", "--fault-webhook-drop", "0.05",
			"--confirm-timeout", "6s"},
		processorArgs: []string{"--concurrency", "32"},
		ledgerArgs:    []string{"--doubt-deadline", "4s"},
	})
	file := payoutFile(t, s.dir, "chaos.csv", chaosRows(rows, 7))
	batch := s.ingest(file)

	// Kill the processor three times while the batch is being paid.
	s.mu.Lock()
	p := s.procs[len(s.procs)-1]
	s.mu.Unlock()
	for i := 0; i < 3; i++ {
		time.Sleep(time.Duration(1500+700*i) * time.Millisecond)
		p.kill()
		t.Logf("processor killed (%d)", i+1)
		time.Sleep(300 * time.Millisecond)
		p = s.startProcessor(fmt.Sprintf("p1-r%d", i+1))
	}

	settled := func(st payout.State) bool { return st.Terminal() || st == payout.StateInDoubt }
	sum := s.waitFinal(batch, rows, 4*time.Minute, settled)
	// In-doubt rows become exceptions once past their deadline.
	if n := sum.ByState[payout.StateInDoubt]; n > 0 {
		testutil.Eventually(t, 30*time.Second, 200*time.Millisecond, func() error {
			b, err := s.ledger.Batch(t.Context(), batch)
			if err != nil {
				return err
			}
			if b.Exceptions < n {
				return fmt.Errorf("%d open exceptions for %d in-doubt rows", b.Exceptions, n)
			}
			return nil
		})
	}
	t.Logf("by state: %v", sum.ByState)
	codes := map[string]int{}
	for n := 1; n <= rows; n++ {
		if st := s.row(batch, n); st.State == payout.StateFailed {
			codes[string(st.Method)+" "+st.ErrorCode]++
			if st.ErrorCode == "gate_mismatch" {
				t.Errorf("row %d %s %s failed at our own gate: %s", n, st.Amount, st.Destination, st.Reason)
			}
		}
	}
	t.Logf("failures by method and code: %v", codes)
	s.agree(batch, rows)
	require.Greater(t, sum.ByState[payout.StateSucceeded], rows*8/10, "most rows are paid despite the faults")
}
