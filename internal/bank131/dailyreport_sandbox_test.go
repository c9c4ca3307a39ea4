package bank131_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// reportDay is when the sandbox's clock stands in these tests: 12:00 in
// Moscow, the same day in UTC.
var reportDay = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// sandboxDay pays two payouts at the sandbox in modes (a card, and a
// Russian account the bank then returns) and waits until they are final.
func sandboxDay(t *testing.T, modes sandbox.Modes) (*sandbox.Server, []sandbox.PayoutInfo) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "keys", name))
		require.NoError(t, err)
		return b
	}
	pub, err := bank131.LoadPublicKey(read("partner_public.pem"))
	require.NoError(t, err)
	bankKey, err := bank131.LoadPrivateKey(read("bank_private.pem"))
	require.NoError(t, err)
	srv, err := sandbox.New(sandbox.Config{
		Projects: []sandbox.Project{{Name: "payrun", PublicKey: pub, Mode: sandbox.ModeSingleRequest, Contract: "100-C-777", Product: "salary"}},
		BankKey:  bankKey, Modes: modes, Logger: testutil.QuietLogger(), Now: func() time.Time { return reportDay },
		Timing: sandbox.Timing{Processing: time.Millisecond, Settle: time.Millisecond, Refund: time.Millisecond}})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	key, err := bank131.LoadPrivateKey(read("partner_pkcs1.pem"))
	require.NoError(t, err)
	c, err := bank131.NewClient(bank131.Config{BaseURL: ts.URL, Project: "payrun", PrivateKey: key})
	require.NoError(t, err)
	ctx := context.Background()
	recipient := &bank131.ParticipantDetails{Recipient: &bank131.Participant{FullName: "Ivanov Ivan"}}
	for i, m := range []*bank131.PaymentMethod{bank131.BankCardMethod("4242424242424242"),
		{Type: bank131.MethodBankAccount, BankAccount: &bank131.BankAccount{SystemType: bank131.SystemRU,
			RU: &bank131.BankAccountRU{BIK: "044525974", Account: "40817810000000000001", FullName: "Ivanov Ivan", Description: "salary"}}}} {
		amount := []int64{150050, sandbox.AmountRefunded}[i]
		meta, _ := json.Marshal(map[string]string{"payrun": "b0123456789abcdef0123/" + string(rune('1'+i)), "reference": "Премия-1"})
		_, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: m, AmountDetails: &bank131.Amount{Amount: amount, Currency: "rub"},
			ParticipantDetails: recipient, Metadata: meta})
		require.NoError(t, err)
	}
	var list []sandbox.PayoutInfo
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		list = srv.Payouts()
		if len(list) != 2 || list[0].Status != "succeeded" || !list[1].Refunded {
			return context.DeadlineExceeded
		}
		return nil
	})
	return srv, list
}

// TestSandboxReportEveryMode: the sandbox's daily report in every mode the
// bank leaves open, in each container (one CSV or XLSX, two parts, one ZIP,
// a ZIP per part), reads as the same operations.
func TestSandboxReportEveryMode(t *testing.T) {
	tests := []struct {
		name  string
		modes sandbox.Modes
		zone  *time.Location
	}{
		{name: "defaults"},
		{name: "semicolon, decimal comma", modes: sandbox.Modes{ReportCSV: "semicolon-comma"}},
		{name: "semicolon, decimal dot", modes: sandbox.Modes{ReportCSV: "semicolon-dot"}},
		{name: "UTF-8 with BOM", modes: sandbox.Modes{ReportEncoding: "utf-8-bom", ReportCSV: "semicolon-comma"}},
		{name: "Windows-1251", modes: sandbox.Modes{ReportEncoding: "windows-1251", ReportCSV: "semicolon-comma"}},
		{name: "typed XLSX cells", modes: sandbox.Modes{ReportXLSXCells: "typed"}},
		{name: "header in the first part only", modes: sandbox.Modes{ReportPartHeader: "first"}},
		{name: "fixed amounts", modes: sandbox.Modes{ReportAmounts: "fixed"}},
		{name: "keyed by creation", modes: sandbox.Modes{ReportDay: "created"}},
		{name: "UTC", modes: sandbox.Modes{ReportZone: "utc"}, zone: time.UTC},
		{name: "fee deducted", modes: sandbox.Modes{ReportFee: "deducted"}},
		{name: "negative fee", modes: sandbox.Modes{ReportFeeSign: "negative"}},
		{name: "refund's own id", modes: sandbox.Modes{ReportRefund: "refund-id"}},
		{name: "negative refund", modes: sandbox.Modes{ReportRefund: "negative"}},
		{name: "lower-case currency", modes: sandbox.Modes{ReportCurrency: "lower"}},
		{name: "metadata as a JSON string", modes: sandbox.Modes{ReportMetadata: "quoted"}},
		{name: "transfers included", modes: sandbox.Modes{ReportTransfers: "include"}},
	}
	containers := []sandbox.ReportOptions{{}, {Format: "xlsx"}, {Parts: 2}, {Parts: 2, Format: "xlsx"}, {Zip: "one", Parts: 2},
		{Zip: "each", Parts: 2}, {Zip: "one", Format: "xlsx"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, payouts := sandboxDay(t, tt.modes)
			opt := bank131.ReportOptions{Zone: tt.zone, XLSX: readXLSX.XLSX}
			for _, c := range containers {
				files, err := srv.DailyReport(reportDay, "payrun", c)
				require.NoError(t, err)
				var named []bank131.NamedFile
				for _, f := range files {
					named = append(named, bank131.NamedFile{Name: f.Name, Data: f.Data})
				}
				if c.Parts == 2 && c.Zip != "one" {
					require.Len(t, files, 2, "%+v", c)
				}
				rep, err := bank131.ParseDailyReportFiles(named, opt)
				require.NoError(t, err, "%+v", c)
				require.Equal(t, []string{"2026-11-25"}, rep.Days, "%+v", c)
				require.Len(t, rep.Lines, 3, "%+v", c)
				card, account, refund := rep.Lines[0], rep.Lines[1], rep.Lines[2]
				// Card: 1500.50, fee 15.00 (the sandbox's 0.5 %, at least 15.00).
				wantPaid, wantGross := int64(150050), int64(151550)
				if tt.modes.ReportFee == "deducted" {
					wantPaid, wantGross = 148550, 150050
				}
				require.Equal(t, bank131.ReportAdvice, card.Type)
				require.Equal(t, payouts[0].PayoutID, card.OperationID)
				require.Equal(t, payouts[0].SessionID, card.SessionID)
				require.Equal(t, money.New(wantPaid, "RUB"), card.Amount, "%+v", c)
				require.Equal(t, money.New(wantGross, "RUB"), *card.Gross, "%+v", c)
				require.Equal(t, money.New(1500, "RUB"), *card.Fee, "%+v", c)
				require.Equal(t, "424242******4242", card.PaymentMethod)
				require.Equal(t, "100-C-777", card.Contract)
				require.Equal(t, "salary", card.Product)
				at := reportDay.In(bank131.ReportZone())
				if tt.zone != nil {
					at = reportDay.In(tt.zone)
				}
				require.Equal(t, at.Format(time.RFC3339), card.FinishedAt)
				require.Equal(t, at.Format(time.RFC3339), card.CreatedAt)
				ref, err := payout.ParseBankRef([]byte(card.Metadata))
				require.NoError(t, err, "%+v: %s", c, card.Metadata)
				require.Equal(t, payout.BankRef{Batch: "b0123456789abcdef0123", Row: 1, Reference: "Премия-1"}, ref)
				require.Equal(t, "40817810000000000001", account.PaymentMethod)
				// The return: a Refund line of the amount, fee 0.
				require.Equal(t, bank131.ReportRefund, refund.Type)
				require.Equal(t, money.New(sandbox.AmountRefunded, "RUB"), refund.Amount)
				require.Equal(t, payouts[1].SessionID, refund.SessionID)
				if tt.modes.ReportRefund == "refund-id" {
					require.Regexp(t, `^rf_`, refund.OperationID)
				} else {
					require.Equal(t, payouts[1].PayoutID, refund.OperationID)
				}
			}
		})
	}
}

// TestSandboxEmptyRegister: a day without operations is an empty register,
// the header alone or zero bytes, and reads as a report of that day with
// no lines.
func TestSandboxEmptyRegister(t *testing.T) {
	for _, empty := range []string{"header", "zero"} {
		srv, _ := sandboxDay(t, sandbox.Modes{ReportEmpty: empty})
		for _, format := range []string{"csv", "xlsx"} {
			files, err := srv.DailyReport(reportDay.AddDate(0, 0, 1), "payrun", sandbox.ReportOptions{Format: format})
			require.NoError(t, err)
			require.Len(t, files, 1)
			require.Equal(t, "payrun_2026-11-26_2026-11-26."+format, files[0].Name)
			if empty == "zero" && format == "csv" {
				require.Empty(t, files[0].Data)
			}
			rep, err := bank131.ParseDailyReportFiles([]bank131.NamedFile{{Name: files[0].Name, Data: files[0].Data}}, readXLSX)
			require.NoError(t, err)
			require.Equal(t, []string{"2026-11-26"}, rep.Days)
			require.Empty(t, rep.Lines)
		}
	}
}

func TestReportHeaderIsTheSandboxs(t *testing.T) {
	require.Equal(t, bank131.ReportColumns, sandbox.ReportHeader)
}
