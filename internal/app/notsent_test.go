package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// luhnCard is a 16-digit test card number that passes Luhn.
func luhnCard(rng *rand.Rand) string {
	d := []byte("4276")
	for len(d) < 15 {
		d = append(d, byte('0'+rng.IntN(10)))
	}
	for c := byte('0'); c <= '9'; c++ {
		if n := string(d) + string(c); payout.Luhn(n) {
			return n
		}
	}
	panic("unreachable")
}

// TestLostRequestsSettledByReports: single-request card payouts whose
// session/init/payout the sandbox lost (read, never processed, the
// connection closed) stay in doubt; answers dropped after processing are
// in doubt too, until the bank's webhook settles them. Once the bank's
// complete reports of the day the requests were sent and the next day are
// imported, every row the bank never heard of is settled not paid
// (not_in_bank_report, source report), and no row the bank paid is.
func TestLostRequestsSettledByReports(t *testing.T) {
	dir := t.TempDir()
	var offset atomic.Int64 // the ledger's clock runs ahead by this much
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, err := app.Start(ctx, app.Config{
		Dir: dir, KeysDir: "../../samples/keys", Logger: testutil.QuietLogger(), LedgerClock: clock, Concurrency: 8,
		SandboxTiming: sandbox.Timing{Processing: 20 * time.Millisecond, Settle: 20 * time.Millisecond},
		SandboxFaults: sandbox.Faults{Seed: 14, Lost: 0.3, Drops: 0.15},
		SandboxRetry:  sandbox.WebhookRetry{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Policy:        &auth.Policy{Approvals: 1}, // released without approval: this is about the bank's report
	})
	require.NoError(t, err)
	defer a.Close()

	const n = 60
	rng := rand.New(rand.NewPCG(14, 1))
	file := filepath.Join(dir, "lost.csv")
	f, err := os.Create(file)
	require.NoError(t, err)
	w := csv.NewWriter(f)
	w.Write([]string{"reference", "method", "amount", "currency", "full_name", "card_number"})
	for i := 1; i <= n; i++ {
		w.Write([]string{fmt.Sprintf("LOST-%03d", i), "card", fmt.Sprintf("%d.00", 1000+i), "RUB", "Card Person", luhnCard(rng)})
	}
	w.Flush()
	require.NoError(t, f.Close())
	res, err := a.Ingest(ctx, file, ingest.Options{Name: "lost"})
	require.NoError(t, err)
	require.Equal(t, ingest.StatusCreated, res.Status, "%v", res.Errors)
	client := ledgerapi.NewClient(a.Conn, 10*time.Second)
	sentDay := time.Now().In(bank131.ReportZone())

	// Wait until every row is final or in doubt, and every payout the bank
	// made has settled its row (its webhook came).
	tryRows := func() ([]*ledgerapi.RowState, error) {
		var out []*ledgerapi.RowState
		for i := 1; i <= n; i++ {
			st, err := client.Get(ctx, ledgerapi.RowRequest{Batch: res.Batch, Row: i})
			if err != nil {
				return nil, err // the ledger is still reading the intake
			}
			out = append(out, st)
		}
		return out, nil
	}
	rows := func() []*ledgerapi.RowState {
		out, err := tryRows()
		require.NoError(t, err)
		return out
	}
	paidAtBank := func() map[int]sandbox.PayoutInfo {
		out := map[int]sandbox.PayoutInfo{}
		for _, p := range a.Sandbox.Payouts() {
			ref, err := payout.ParseBankRef(p.Metadata)
			require.NoError(t, err)
			require.Equal(t, res.Batch, ref.Batch)
			_, twice := out[ref.Row]
			require.False(t, twice, "row %d has two payouts at the bank", ref.Row)
			out[ref.Row] = p
		}
		return out
	}
	testutil.Eventually(t, 2*time.Minute, 100*time.Millisecond, func() error {
		bank := paidAtBank()
		list, err := tryRows()
		if err != nil {
			return err
		}
		for _, st := range list {
			if !st.State.Terminal() && st.State != payout.StateInDoubt {
				return fmt.Errorf("row %d is %s", st.Row, st.State)
			}
			if p, ok := bank[st.Row]; ok && (p.Status != "succeeded" || st.State != payout.StateSucceeded) {
				return fmt.Errorf("row %d: %s at the bank, %s in the ledger", st.Row, p.Status, st.State)
			}
		}
		return nil
	})
	var inDoubt int
	for _, st := range rows() {
		if st.State == payout.StateInDoubt {
			inDoubt++
		}
	}
	require.Positive(t, inDoubt, "lost requests leave rows in doubt")
	t.Logf("%d of %d rows in doubt after lost requests; %d paid at the bank", inDoubt, n, len(paidAtBank()))

	// The bank's reports of the day sent and the next, delivered after
	// both are over (the ledger's clock moves on two days).
	next := sentDay.AddDate(0, 0, 1)
	d2 := time.Date(sentDay.Year(), sentDay.Month(), sentDay.Day()+2, 3, 0, 0, 0, bank131.ReportZone())
	offset.Store(int64(time.Until(d2)))
	var notPaid int
	for _, day := range []time.Time{sentDay, next} {
		for _, project := range a.Projects() {
			date := day.Format(time.DateOnly)
			resp, err := http.Get(a.BankURL + "/sandbox/report?project=" + project + "&date=" + date)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			imp, err := a.Ledger.ImportBankReport(ctx, bytes.NewReader(body), fmt.Sprintf("%s_%s_%s.csv", project, date, date))
			require.NoError(t, err)
			require.Empty(t, imp.Partial)
			require.Equal(t, []string{date}, imp.Covered)
			notPaid += imp.NotPaid
		}
	}
	require.Equal(t, inDoubt, notPaid, "every row in doubt was one the bank never heard of")

	bank := paidAtBank()
	for _, st := range rows() {
		if _, paid := bank[st.Row]; paid {
			require.Equal(t, payout.StateSucceeded, st.State, "row %d was paid", st.Row)
			require.NotNil(t, st.Fee, "row %d has the bank's fee", st.Row)
			continue
		}
		require.Equal(t, payout.StateFailed, st.State, "row %d", st.Row)
		if st.ErrorCode != ledgerapi.ErrorNotInBankReport {
			continue // refused by the bank at the call
		}
		require.Contains(t, st.Reason, "its request never reached the bank")
		tr, err := a.DB.Transitions(ctx, res.Batch, st.Row)
		require.NoError(t, err)
		last := tr[len(tr)-1]
		require.Equal(t, ledgerapi.SourceReport, last.Evidence.Source)
		require.Equal(t, payout.StateInDoubt, last.From)
	}
	sum, err := client.Batch(ctx, res.Batch)
	require.NoError(t, err)
	require.Equal(t, payout.BatchDone, sum.Status)
	require.Zero(t, sum.ByState[payout.StateInDoubt])
}
