package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// TestWalletCheck: payrun up reads the wallet before it releases a batch,
// as `ledger run --wallet-check` does. A main project's wallet short of
// the batch holds it waiting for funds with nothing sent; a top-up
// releases it and each row is paid once. (Without the check the bank's
// insufficient_wallet_balance held the batch too, but nothing ever read
// the wallet again to release it.)
func TestWalletCheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	a, err := Start(ctx, Config{Dir: dir, KeysDir: keys, Logger: testutil.QuietLogger(),
		WalletCheck: true, SandboxWallet: 10000, // 100.00 RUB
		Ledger:        ledger.Config{ExpectedFee: ledger.ExpectedFee{Min: 1}, WalletRecheck: 100 * time.Millisecond},
		SandboxTiming: sandbox.Timing{Processing: 20 * time.Millisecond, Settle: 20 * time.Millisecond},
		Policy:        &auth.Policy{Approvals: 1}})
	require.NoError(t, err)
	defer a.Close()
	file := filepath.Join(dir, "wallet.csv")
	require.NoError(t, os.WriteFile(file, []byte("reference,method,amount,currency,full_name,card_token\n"+
		"WAL-1,token,300.00,RUB,Anna Petrova,tok_5f2b9c1e8d7a4b3c\n"+
		"WAL-2,token,200.00,RUB,Ivan Petrov,tok_5f2b9c1e8d7a4b3d\n"), 0o600))
	res, err := a.Ingest(ctx, file, ingest.Options{Name: "wallet"})
	require.NoError(t, err)
	require.Equal(t, ingest.StatusCreated, res.Status, "%v", res.Errors)
	client := ledgerapi.NewClient(a.Conn, 10*time.Second)
	testutil.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		b, err := client.Batch(ctx, res.Batch)
		if err != nil {
			return err
		}
		if b.Hold == nil || b.Hold.Source != ledgerapi.HoldByWallet || b.ByState[payout.StateReceived] != 2 {
			return fmt.Errorf("batch not waiting for funds before its release: %+v", b)
		}
		return nil
	})
	require.Empty(t, a.Sandbox.Payouts(), "nothing sent while the wallet is short")

	_, err = a.Sandbox.TopUp("payrun", 100000)
	require.NoError(t, err)
	testutil.Eventually(t, 45*time.Second, 50*time.Millisecond, func() error {
		for n := 1; n <= 2; n++ {
			st, err := client.Get(ctx, ledgerapi.RowRequest{Batch: res.Batch, Row: n})
			if err != nil {
				return err
			}
			if st.State != payout.StateSucceeded {
				return fmt.Errorf("row %d is %s %s", n, st.State, st.Reason)
			}
		}
		return nil
	})
	require.Len(t, a.Sandbox.Payouts(), 2, "each row paid once")
}
