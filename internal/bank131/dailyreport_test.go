package bank131_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// reportLine is one line of a constructed daily report.
type reportLine struct {
	op, session, meta, typ, amount string
	at                             time.Time
}

// dailyReportCSV writes lines as the bank (and the sandbox) write a daily
// report: RUB, a fee of 10.00 RUB.
func dailyReportCSV(lines ...reportLine) string {
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	w.Write(bank131.ReportColumns)
	for _, l := range lines {
		w.Write([]string{l.op, l.session, l.meta, l.typ, l.at.Format(time.DateOnly), l.at.Format("2006-01-02T15:04:05.000000Z07:00"),
			l.amount, "RUB", "10.00", "RUB", "0", "bank_card", "payrun"})
	}
	w.Flush()
	return sb.String()
}

func TestReportHeaderIsTheSandboxs(t *testing.T) {
	require.Equal(t, sandbox.ReportHeader, bank131.ReportColumns)
}

func TestParseDailyReport(t *testing.T) {
	meta := string(payout.BankRef{Batch: "b0123456789abcdef0123", Row: 7, Reference: "E-00007"}.Metadata())
	good := dailyReportCSV(
		reportLine{op: "po_1", session: "ps_1", meta: meta, typ: bank131.ReportAdvice, amount: "1500.50",
			at: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)},
		reportLine{op: "rf_1", session: "ps_1", typ: bank131.ReportRefund, amount: "12", at: time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)})
	columns := strings.Join(bank131.ReportColumns, ",")
	tests := []struct {
		name, file, source string
		days               []string
		wantDays           []string
		wantErr            string
	}{
		{name: "sandbox name", file: good, source: "all_2026-11-20_2026-11-22.csv", wantDays: []string{"2026-11-20", "2026-11-21", "2026-11-22"}},
		{name: "URL date", file: good, source: "http://127.0.0.1:9/sandbox/report?date=2026-11-24", wantDays: []string{"2026-11-24"}},
		{name: "lines' dates", file: good, source: "report.csv", wantDays: []string{"2026-11-25", "2026-11-26"}},
		{name: "explicit days", file: good, source: "all_2026-11-20_2026-11-22.csv", days: []string{"2026-11-30"}, wantDays: []string{"2026-11-30"}},
		{name: "columns in another order, BOM", source: "x.csv", wantDays: []string{"2026-11-25"},
			file: "\ufeffcurrency,amount,operationId,paymentSessionId,paymentSessionMerchantMetadata,typeOfPayment,transactionDate,finishedAt\n" +
				"RUB,1 500.00,po_1,ps_1,,Advice,2026-11-25,2026-11-25T09:00:00Z\n"},
		{name: "missing column", file: "operationId,amount\npo_1,1\n", source: "x.csv", wantErr: "header lacks paymentSessionId"},
		{name: "float amount", source: "x.csv", wantErr: "line 1: amount \"1e3\"",
			file: columns + "\npo_1,ps_1,,Advice,2026-11-25,x,1e3,RUB,0,RUB,0,card,c\n"},
		{name: "too many decimals", source: "x.csv", wantErr: "too many decimal places",
			file: columns + "\npo_1,ps_1,,Advice,2026-11-25,x,1.001,RUB,0,RUB,0,card,c\n"},
		{name: "bad date", source: "x.csv", wantErr: "transactionDate",
			file: columns + "\npo_1,ps_1,,Advice,25.11.2026,x,1.00,RUB,0,RUB,0,card,c\n"},
		{name: "no operation", source: "x.csv", wantErr: "no operationId",
			file: columns + "\n,ps_1,,Advice,2026-11-25,x,1.00,RUB,0,RUB,0,card,c\n"},
		{name: "empty", file: "", source: "x.csv", wantErr: "empty file"},
		{name: "bad explicit day", file: good, source: "x.csv", days: []string{"yesterday"}, wantErr: "not YYYY-MM-DD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := bank131.ParseDailyReport(strings.NewReader(tt.file), tt.source, tt.days...)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantDays, rep.Days)
			require.Len(t, rep.ID, 64)
			require.NotEmpty(t, rep.Lines)
		})
	}
	rep, err := bank131.ParseDailyReport(strings.NewReader(good), "x.csv")
	require.NoError(t, err)
	require.Equal(t, money.New(150050, "RUB"), rep.Lines[0].Amount)
	require.Equal(t, money.New(1000, "RUB"), *rep.Lines[0].Fee)
	ref, err := payout.ParseBankRef([]byte(rep.Lines[0].Metadata))
	require.NoError(t, err)
	require.Equal(t, 7, ref.Row)
	require.Equal(t, money.New(1200, "RUB"), rep.Lines[1].Amount)
}

func TestDaysFromName(t *testing.T) {
	tests := []struct {
		source string
		want   []string
	}{
		{"all_2026-11-25_2026-11-27.csv", []string{"2026-11-25", "2026-11-26", "2026-11-27"}},
		{`C:\reports\all_2026-11-25_2026-11-25.csv`, []string{"2026-11-25"}},
		{"sandbox-report-2026-11-25.csv", []string{"2026-11-25"}},
		{"https://bank.example/reports/all_2026-11-01_2026-11-02.csv", []string{"2026-11-01", "2026-11-02"}},
		{"http://127.0.0.1:9/sandbox/report?date=2026-11-24", []string{"2026-11-24"}},
		{"all_2026-11-27_2026-11-25.csv", []string{"2026-11-27"}}, // a range backwards: its first date
		{"report.csv", nil},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, bank131.DaysFromName(tt.source), tt.source)
	}
}

// FuzzParseDailyReport: any file either fails with an error or parses to
// lines that each have an operation, a type, a transaction date and an
// amount in a three-letter currency, and days in order; the file's
// identity is its digest.
func FuzzParseDailyReport(f *testing.F) {
	f.Add([]byte(dailyReportCSV(reportLine{op: "po_1", session: "ps_1", typ: "Advice", amount: "1 500,50",
		at: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)})))
	f.Add([]byte("\ufeffcurrency,amount,operationId,paymentSessionId,paymentSessionMerchantMetadata,typeOfPayment,transactionDate,finishedAt\n" +
		"RUB,1.00,po_1,ps_1,,Refund,2026-11-25,x\n\n"))
	f.Add([]byte(strings.Join(bank131.ReportColumns, ",") + "\npo_1,ps_1,,Advice,2026-11-25,x,1e3,RUB,0,RUB,0,card,c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := bank131.ParseDailyReport(bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			return
		}
		require.Len(t, rep.ID, 64)
		for _, l := range rep.Lines {
			require.NotEmpty(t, l.OperationID)
			require.NotEmpty(t, l.Type)
			_, err := time.Parse(time.DateOnly, l.TransactionDate)
			require.NoError(t, err)
			require.Len(t, l.Amount.Currency, 3)
		}
		require.IsNonDecreasing(t, rep.Days)
	})
}
