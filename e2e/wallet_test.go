package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// topUp adds RUB kopecks to a sandbox project's wallet.
func (s *system) topUp(project string, minor int64) {
	s.t.Helper()
	resp, err := http.Post(s.bankURL+"/sandbox/wallet", "application/json",
		bytes.NewReader(fmt.Appendf(nil, `{"project":%q,"amount":%d}`, project, minor)))
	require.NoError(s.t, err)
	resp.Body.Close()
	require.Equal(s.t, http.StatusOK, resp.StatusCode)
}

// waitForFunds waits until the batch is on hold waiting for funds with an
// open exception, and returns its summary.
func (s *system) waitForFunds(batch string) *ledgerapi.BatchSummary {
	s.t.Helper()
	var sum *ledgerapi.BatchSummary
	testutil.Eventually(s.t, 30*time.Second, 50*time.Millisecond, func() error {
		b, err := s.ledger.Batch(context.Background(), batch)
		if err != nil {
			return err
		}
		if b.Hold == nil || b.Hold.Source != ledgerapi.HoldByWallet || b.Exceptions == 0 {
			return fmt.Errorf("batch %s is not waiting for funds: %+v", batch, b)
		}
		sum = b
		return nil
	})
	return sum
}

// A short wallet holds the batch until a top-up, then each row is paid
// once: the ledger's wallet check holds it before anything is sent; once
// topped up too little (the check reckons a kopeck of fee, the bank takes 15.00 a
// payout), the bank refuses the last row with insufficient_wallet_balance,
// which puts that row back in the queue and the batch on hold again,
// never failing it; the second top-up pays it. In both places the bank
// may say so: the call's answer and the payout's final status.
func TestWalletShortHoldsUntilTopUp(t *testing.T) {
	for _, at := range []string{"call", "webhook"} {
		t.Run(at, func(t *testing.T) {
			start := time.Now()
			s := startSystem(t, options{
				sandboxArgs: []string{"--wallet-balance", "0", "--wallet-short-at", at},
				walletCheck: []string{"--expected-fee-bp", "0", "--expected-fee-min", "0.01", "--wallet-recheck", "200ms"},
			})
			rows := []map[string]string{}
			for i := 1; i <= 5; i++ {
				rows = append(rows, tokenRow(fmt.Sprintf("W-%d", i), "100.00", "Ivan Petrov "+string(rune('A'+i)), fmt.Sprintf("tok_5f2b9c1e8d7a4b%02d", i)))
			}
			batch := s.ingest(payoutFile(t, s.dir, "wallet.csv", rows))

			// Empty wallet: nothing released, nothing sent.
			sum := s.waitForFunds(batch)
			require.Contains(t, sum.Hold.Reason, "the wallet holds 0.00 RUB; the batch still needs 500.05 RUB")
			require.Equal(t, 5, sum.ByState[payout.StateReceived])
			require.Empty(t, s.bankPayouts())

			// 520.00: the check passes, the bank pays four (115.00 each)
			// and refuses the fifth.
			s.topUp("payrun", 52000)
			testutil.Eventually(t, 60*time.Second, 100*time.Millisecond, func() error {
				b, err := s.ledger.Batch(context.Background(), batch)
				if err != nil {
					return err
				}
				if b.ByState[payout.StateSucceeded] != 4 || b.Hold == nil || b.Hold.Source != ledgerapi.HoldByWallet {
					return fmt.Errorf("want four paid and the batch waiting for funds: %+v", b)
				}
				return nil
			})
			waiting := 0
			for n := 1; n <= 5; n++ {
				st := s.row(batch, n)
				if st.State == payout.StateSucceeded {
					continue
				}
				waiting++
				require.Equal(t, payout.StateQueued, st.State, "row %d waits, not failed", n)
				require.Equal(t, "insufficient_wallet_balance", st.ErrorCode)
				// A new attempt, new keys; more than one when a check found
				// the wallet covering the batch at face value while the
				// other rows were in flight (the fee it reckons is too low).
				require.GreaterOrEqual(t, st.Attempt, 1)
			}
			require.Equal(t, 1, waiting)

			// 100.00 more: 160.00 covers the last row; it is paid once.
			s.topUp("payrun", 10000)
			sum = s.waitFinal(batch, 5, 60*time.Second, nil)
			require.Equal(t, 5, sum.ByState[payout.StateSucceeded], "%+v", sum)
			require.Nil(t, sum.Hold)
			require.Zero(t, sum.Exceptions, "the waiting_for_funds exceptions closed")
			s.agree(batch, 5)
			t.Logf("wallet-short-at %s: %s", at, time.Since(start).Round(time.Millisecond))
		})
	}
}
