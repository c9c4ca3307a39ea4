package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// expect is a row's final state in the ledger and its error code.
type expect struct {
	state payout.State
	code  string
}

func checkRows(t *testing.T, s *system, batch string, want []expect) {
	t.Helper()
	for i, w := range want {
		st := s.row(batch, i+1)
		require.Equal(t, w.state, st.State, "row %d (%s): %s %s", i+1, st.Reference, st.ErrorCode, st.Reason)
		require.Equal(t, w.code, st.ErrorCode, "row %d (%s)", i+1, st.Reference)
		if w.code != "" {
			require.NotEmpty(t, st.Reason, "row %d has a plain-language reason", i+1)
		}
		if w.state == payout.StateSucceeded {
			require.NotEmpty(t, st.SessionID)
			require.NotEmpty(t, st.PayoutID)
		}
	}
}

// Seed 001: single-request payout with a card number, on a separate
// single-request project; a card the bank rejects at once and one whose
// payout fails.
func TestFlowCardSingleRequest(t *testing.T) {
	s := startSystem(t, options{})
	file := payoutFile(t, s.dir, "cards.csv", []map[string]string{
		cardRow("C-1", "1500.00", "Ivanov Ivan", "4242424242424242"),
		cardRow("C-2", "2500.50", "Petrova Anna", "5555555555554444"),
		cardRow("C-3", "100", "Expired Card", "4000000000000028"),
		cardRow("C-4", "100", "No Such Card", "4000000000000002"),
		cardRow("C-5", "131.07", "Session Error", "4242424242424242"),
	})
	batch := s.ingest(file)
	s.waitFinal(batch, 5, 60*time.Second, nil)
	checkRows(t, s, batch, []expect{
		{payout.StateSucceeded, ""},
		{payout.StateSucceeded, ""},
		{payout.StateFailed, "bank_card_expired"},
		{payout.StateFailed, "card_number_does_not_exist"},
		{payout.StateSucceeded, ""}, // session error first, resolved to success later
	})
	s.agree(batch, 5)
	for _, ps := range s.bankPayouts() {
		for _, p := range ps {
			require.Equal(t, "payrun-card", p.Project, "card numbers go to the card project")
			require.Equal(t, "card/bank_card", p.Method)
		}
	}
	logsHaveNoCardNumbers(t, s, "4242424242424242", "5555555555554444")
}

// The same card rows through the two-step flow (create, start, gate,
// confirm) on the main project.
func TestFlowCardTwoStep(t *testing.T) {
	s := startSystem(t, options{processorArgs: []string{"--card-flow", "two-step", "--card-project", ""}})
	file := payoutFile(t, s.dir, "cards.csv", []map[string]string{
		cardRow("C-1", "1500.00", "Ivanov Ivan", "4242424242424242"),
		cardRow("C-2", "100", "Limit", "4000000000000044"),
	})
	batch := s.ingest(file)
	s.waitFinal(batch, 2, 60*time.Second, nil)
	checkRows(t, s, batch, []expect{{payout.StateSucceeded, ""}, {payout.StateFailed, "provider_exceeds_amount_limit"}})
	s.agree(batch, 2)
	for _, ps := range s.bankPayouts() {
		require.Equal(t, "payrun", ps[0].Project)
	}
	st := s.row(batch, 1)
	require.Equal(t, 1, s.bankPayouts()[batch+"/1"][0].ConfirmsAccepted)
	require.Equal(t, "card 424242******4242", st.Destination)
}

// Seed 002: payout by token, two-step with confirm; failures, and the
// refund trigger, which does nothing to a card payout: the bank returns
// only payouts to Russian bank accounts (developer.131.ru payout-refunds),
// which payrun does not make.
func TestFlowToken(t *testing.T) {
	s := startSystem(t, options{})
	file := payoutFile(t, s.dir, "tokens.csv", []map[string]string{
		tokenRow("T-1", "45000.00", "Фёдорова Мария", "tok_5f2b9c1e8d7a4b3c"),
		tokenRow("T-2", "100", "Expired", "tok_fa11ed01"),
		tokenRow("T-3", "100", "Rejected", "tok_dead0001"),
		tokenRow("T-4", "131.08", "Refund Trigger", "tok_77aa10bb20cc30dd"),
		tokenRow("T-5", "131.04", "Bank Internal", "tok_0e9d8c7b6a5f4e3d"),
	})
	batch := s.ingest(file)
	s.waitFinal(batch, 5, 60*time.Second, nil)
	checkRows(t, s, batch, []expect{
		{payout.StateSucceeded, ""},
		{payout.StateFailed, "bank_card_expired"},
		{payout.StateFailed, "card_number_does_not_exist"},
		{payout.StateSucceeded, ""},
		{payout.StateFailed, "internal_error"},
	})
	require.False(t, s.bankPayouts()[batch+"/4"][0].Refunded)
	s.agree(batch, 5)
	// token/info, asked once the row is final, names the card behind the
	// token: the report shows its last four after the token's own tail.
	s.waitCardShown(batch, 1, "token …4b3c")
}

// waitCardShown waits until row n's destination shows the card's last
// four as the bank shows them in its payout (token/info is asked once the
// row is final), after shown, and checks the batch's report shows the same.
func (s *system) waitCardShown(batch string, n int, shown string) {
	s.t.Helper()
	last4 := s.bankPayouts()[batch+"/"+itoa(n)][0].Last4
	require.Regexp(s.t, `^\d{4}$`, last4)
	want := shown + " (card …" + last4 + ")"
	if shown == "" {
		want = "card …" + last4
	}
	testutil.Eventually(s.t, 30*time.Second, 50*time.Millisecond, func() error {
		if got := s.row(batch, n).Destination; got != want {
			return fmt.Errorf("row %d shows %q, want %q", n, got, want)
		}
		return nil
	})
	require.Contains(s.t, s.httpGet("/batches/"+batch+"/report.csv"), want)
}

// Seed 000: payout to card data from the tokenization widget.
func TestFlowWidgetCard(t *testing.T) {
	s := startSystem(t, options{})
	file := payoutFile(t, s.dir, "widget.csv", []map[string]string{
		widgetRow("W-1", "68400.00", "Новиков Андрей", "93c6cdd33a610f6c0c4372d7450a80dc03745b214a704bd257392c1e8b3043f4"),
		widgetRow("W-2", "131.03", "Limit At Provider", "38e8289de72938d2d082d24158f2d6f3961d26de7e9736fbafcc3d07bc20f8f7"),
	})
	batch := s.ingest(file)
	s.waitFinal(batch, 2, 60*time.Second, nil)
	checkRows(t, s, batch, []expect{{payout.StateSucceeded, ""}, {payout.StateFailed, "provider_exceeds_amount_limit"}})
	s.agree(batch, 2)
	require.Equal(t, "card/encrypted_card", s.bankPayouts()[batch+"/1"][0].Method)
	s.waitCardShown(batch, 1, "encrypted card …3043f4")
}

// Seed 003: cross-border transfers. Quote, multi/init/payment, the gate
// compares the bank's confirm_information with the quote, confirm, the
// 3-D Secure link is recorded, the sender opens it, payment_finished. The
// transfer control number is kept for the recipient.
func TestFlowTransfer(t *testing.T) {
	s := startSystem(t, options{})
	file := payoutFile(t, s.dir, "transfers.csv", []map[string]string{
		transferRow("X-1", "25000", "RUB", "cash"),
		transferRow("X-2", "12500.00", "TRY", "iban"),
		transferRow("X-3", "30000", "RUB", "card"),
		transferRow("X-4", "131.09", "RUB", "cash"), // 3-D Secure fails
	})
	batch := s.ingest(file)
	// Each transfer waits for its sender's 3-D Secure: open the links as
	// the senders would.
	opened := map[int]bool{}
	var urls []string
	testutil.Eventually(t, 60*time.Second, 100*time.Millisecond, func() error {
		for n := 1; n <= 4; n++ {
			st := s.tryRow(batch, n)
			if st != nil && st.ActionURL != "" && !opened[n] {
				resp, err := http.Get(st.ActionURL)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				opened[n] = true
				urls = append(urls, st.ActionURL)
			}
		}
		if len(opened) != 4 {
			return fmt.Errorf("%d of 4 transfers show their 3-D Secure link", len(opened))
		}
		return nil
	})
	for _, u := range urls {
		require.Regexp(t, `^http://127\.0\.0\.1:\d+/sandbox/3ds/`, u)
	}
	s.waitFinal(batch, 4, 60*time.Second, nil)
	checkRows(t, s, batch, []expect{
		{payout.StateSucceeded, ""},
		{payout.StateSucceeded, ""},
		{payout.StateSucceeded, ""},
		{payout.StateFailed, "3DS_error"},
	})
	s.agree(batch, 4)
	tcn := regexp.MustCompile(`^\d{6}-\d{8}$`)
	for n, dst := range map[int]string{1: "USD", 2: "TRY", 3: "KGS"} {
		st := s.row(batch, n)
		require.Regexp(t, tcn, st.TCN, "row %d keeps the decoded transfer control number", n)
		require.NotNil(t, st.Quote, "row %d keeps its quote", n)
		require.Equal(t, dst, st.Quote.Destination.Currency)
		require.NotEmpty(t, st.Quote.FXRate)
		bank := s.bankPayouts()[batch+"/"+itoa(n)]
		require.Len(t, bank, 1)
		require.Equal(t, dst, bank[0].Currency)
		require.Equal(t, st.Quote.Destination.Minor, bank[0].Amount, "row %d pays what was quoted", n)
	}
	require.EqualValues(t, 1250000, s.row(batch, 2).Quote.Destination.Minor, "reverse rate: the recipient gets the row's amount")
	checkTransferReport(t, s, batch, urls)
}

// checkTransferReport: the built `ledger report`, read-only beside the
// running ledger, and `ledger status --batch` show each transfer's quote
// (rate, commission, what the recipient gets), its transfer control
// number and the 3-D Secure link it waited on, with the link's expiry.
func checkTransferReport(t *testing.T, s *system, batch string, urls []string) {
	t.Helper()
	db := filepath.Join(s.dir, "ledger.db")
	out, err := exec.Command(filepath.Join(binDir, "ledger"), "report", "--db", db, "--batch", batch, "--format", "json", "--lang", "en").Output()
	require.NoError(t, err)
	var rep struct {
		Rows []struct {
			Reference           string `json:"reference"`
			Status              string `json:"status"`
			SourceAmount        string `json:"source_amount"`
			SourceCurrency      string `json:"source_currency"`
			FXRate              string `json:"fx_rate"`
			DestinationAmount   string `json:"destination_amount"`
			DestinationCurrency string `json:"destination_currency"`
			Commission          string `json:"commission"`
			TCN                 string `json:"tcn"`
			ActionURL           string `json:"action_url"`
			ActionExpiresAt     string `json:"action_expires_at"`
			Reason              string `json:"reason"`
			NextStep            string `json:"next_step"`
		} `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(out, &rep))
	require.Len(t, rep.Rows, 4)
	for n, r := range rep.Rows[:3] {
		st := s.row(batch, n+1)
		require.Equal(t, st.Quote.FXRate, r.FXRate, "row %d", n+1)
		require.Equal(t, st.Quote.Destination.Decimal(), r.DestinationAmount, "row %d", n+1)
		require.Equal(t, st.Quote.Destination.Currency, r.DestinationCurrency, "row %d", n+1)
		require.Equal(t, st.Quote.Source.Decimal(), r.SourceAmount, "row %d", n+1)
		require.NotEmpty(t, r.Commission, "row %d", n+1)
		require.Equal(t, st.TCN, r.TCN, "row %d", n+1)
		require.Contains(t, urls, r.ActionURL, "row %d", n+1)
		require.NotEmpty(t, r.ActionExpiresAt, "row %d", n+1)
	}
	failed := rep.Rows[3]
	require.Equal(t, "failed", failed.Status)
	require.NotEmpty(t, failed.Reason)
	require.NotEmpty(t, failed.NextStep, "a failed transfer says what to do next")
	status, err := exec.Command(filepath.Join(binDir, "ledger"), "status", "--db", db, "--batch", batch).CombinedOutput()
	require.NoError(t, err, "%s", status)
	require.Contains(t, string(status), "TCN")
	for n := 1; n <= 3; n++ {
		st := s.row(batch, n)
		require.Contains(t, string(status), st.TCN, "ledger status shows row %d's TCN", n)
		require.Contains(t, string(status), st.Quote.FXRate, "ledger status shows row %d's rate", n)
	}
}

// Seed 003's sender as its parameter table documents it, checked by the
// sandbox's documented transfer checks at their strictest (no spaces in a
// document number, all four phone fields for the recipient too): a
// Russian citizen with a Russian passport, and a foreign citizen with a
// document of their own (documents_foreigner) and a Kyrgyz phone. Both
// forms of confirm_information the seed shows: exchanges an array with
// fx_rate a string (its example, the SDK), and an object with a number
// (its table, bpa/calculate's answer).
func TestFlowTransferRussianAndForeignSender(t *testing.T) {
	for _, form := range [][2]string{{"array", "string"}, {"object", "number"}} {
		t.Run(form[0]+" "+form[1], func(t *testing.T) { transferSenders(t, form[0], form[1]) })
	}
}

func transferSenders(t *testing.T, exchanges, fxRate string) {
	start := time.Now()
	s := startSystem(t, options{sandboxArgs: []string{"--auto-3ds", "--transfer-checks", "documented",
		"--id-number-spaces", "refuse", "--recipient-phone", "four", "--foreigner-documents", "table",
		"--confirm-exchanges", exchanges, "--confirm-fx-rate", fxRate}})
	ru := transferRow("S-1", "25000", "RUB", "cash")
	ru["recipient_phone"] = "+90 532 123 45 67"
	foreign := transferRow("S-2", "30000", "RUB", "card")
	for k, v := range map[string]string{"sender_first_name": "Aibek", "sender_last_name": "Asanov", "sender_middle_name": "",
		"sender_citizenship": "KGZ", "sender_document_number": "", "sender_document_issue_date": "", "sender_document_issued_by": "",
		"sender_foreign_document_number": "ID 1234567", "sender_foreign_document_valid_from": "2021-05-01",
		"sender_foreign_document_valid_to": "2031-05-01", "sender_foreign_document_type": "Паспорт", "sender_phone": "+996 555 123 456"} {
		foreign[k] = v
	}
	batch := s.ingest(payoutFile(t, s.dir, "senders.csv", []map[string]string{ru, foreign}))
	s.waitFinal(batch, 2, 60*time.Second, nil)
	checkRows(t, s, batch, []expect{{payout.StateSucceeded, ""}, {payout.StateSucceeded, ""}})
	s.agree(batch, 2)
	t.Logf("Russian and foreign sender, confirm_information %s/%s: %s", exchanges, fxRate, time.Since(start).Round(time.Millisecond))
}
