package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// Webhooks in the forms the bank's pages disagree about settle their rows:
// amounts written as floats (10000.0, the transfer notification page's
// "float"), times as 2022-11-15 15:38:50 (the report pages' form), the fee
// on the payout, unknown extra fields. Both flows: the two-step one reads
// ready_to_confirm (the gate compares its float amount), the single
// request payment_finished.
func TestWebhookFloatAmountsAndSpaceTimes(t *testing.T) {
	start := time.Now()
	s := startSystem(t, options{sandboxArgs: []string{"--hook-amounts", "float", "--hook-times", "space",
		"--hook-fees", "merchant-fee", "--hook-extra-fields", "on"}})
	batch := s.ingest(payoutFile(t, s.dir, "forms.csv", []map[string]string{
		tokenRow("F-1", "45000.00", "Фёдорова Мария", "tok_5f2b9c1e8d7a4b3c"),
		tokenRow("F-2", "100", "Expired", "tok_fa11ed01"),
		cardRow("F-3", "1500.00", "Ivanov Ivan", "4242424242424242"),
		cardRow("F-4", "2500.50", "Petrova Anna", "5555555555554444"),
	}))
	s.waitFinal(batch, 4, 60*time.Second, nil)
	checkRows(t, s, batch, []expect{
		{payout.StateSucceeded, ""},
		{payout.StateFailed, "bank_card_expired"},
		{payout.StateSucceeded, ""},
		{payout.StateSucceeded, ""},
	})
	for _, n := range []int{1, 3, 4} {
		st := s.row(batch, n)
		require.NotNil(t, st.Fee, "row %d: the webhook's fee is recorded", n)
		require.Positive(t, st.Fee.Minor)
	}
	s.agree(batch, 4)
	t.Logf("float amounts and space times: %s", time.Since(start).Round(time.Millisecond))
}

// A verified webhook payrun cannot read (an amount that is not whole) is
// never dropped: the ledger keeps it whole, opens an exception naming the
// row (found by its metadata), and the row is polled with session/status,
// which settles it. The sandbox sends no webhooks here, and the ledger's
// own polls come only after a minute: only the unreadable webhook's poll
// can settle the row in time.
func TestUnreadableWebhookOpensExceptionAndPolls(t *testing.T) {
	start := time.Now()
	s := startSystem(t, options{
		sandboxArgs: []string{"--fault-webhook-drop", "1"},
		ledgerArgs:  []string{"--poll-after", "1m", "--poll-max", "1m", "--stall-after", "10m"},
	})
	batch := s.ingest(payoutFile(t, s.dir, "unreadable.csv", []map[string]string{
		cardRow("U-1", "100.00", "Ivanov Ivan", "4242424242424242"),
	}))
	var session string
	testutil.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		st := s.tryRow(batch, 1)
		if st == nil || st.State != payout.StatePayoutStarted || st.SessionID == "" {
			return fmt.Errorf("row 1 not at the bank yet: %+v", st)
		}
		session = st.SessionID
		return nil
	})
	body := fmt.Appendf(nil, `{"type":"payment_finished","session":{"id":%q,"status":"accepted",`+
		`"payments":[{"id":"po_1","status":"succeeded","amount_details":{"amount":10000.5,"currency":"rub"},`+
		`"metadata":{"payrun":"%s/1","reference":"U-1"}}]}}`, session, batch)
	require.Equal(t, 200, s.post(t, body, bankKey(t)))

	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if st := s.row(batch, 1); st.State != payout.StateSucceeded {
			return fmt.Errorf("row 1 is %s", st.State)
		}
		return nil
	})
	exc := s.httpGet("/exceptions?all=1&batch=" + batch)
	require.Contains(t, exc, `"category": "unreadable_hook"`)
	require.Contains(t, exc, `"row": 1`)
	require.Contains(t, exc, "is polled with session/status")
	require.Contains(t, exc, `"resolution": "row succeeded"`, "closed once the poll settled the row")
	s.agree(batch, 1)
	t.Logf("unreadable webhook settled by a poll: %s", time.Since(start).Round(time.Millisecond))
}
