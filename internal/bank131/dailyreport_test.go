package bank131_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/workbook"
)

var readXLSX = bank131.ReportOptions{XLSX: workbook.ReadRaw}

const fixtures = "testdata/dailyreport"

func readFixture(t *testing.T, name string) bank131.NamedFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	require.NoError(t, err)
	return bank131.NamedFile{Name: filepath.Base(name), Data: b}
}

// TestDailyReportFixtures: the same day in every form the bank may send
// reads as the same lines (want.json, written by hand).
func TestDailyReportFixtures(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "want.json"))
	require.NoError(t, err)
	var want []bank131.ReportLine
	require.NoError(t, json.Unmarshal(b, &want))
	tests := []struct {
		name     string
		files    []string
		part     int
		encoding string
		tables   int
	}{
		{name: "CSV UTF-8", files: []string{"payrun_2026-11-25_2026-11-25.csv"}, encoding: "utf-8", tables: 1},
		{name: "CSV BOM ; decimal comma", files: []string{"bom-semicolon/payrun_2026-11-25_2026-11-25.csv"}, encoding: "utf-8-bom", tables: 1},
		{name: "CSV Windows-1251", files: []string{"windows-1251/payrun_2026-11-25_2026-11-25.csv"}, encoding: "windows-1251", tables: 1},
		{name: "XLSX", files: []string{"xlsx/payrun_2026-11-25_2026-11-25.xlsx"}, tables: 1},
		{name: "two parts", files: []string{"parts/payrun_2026-11-25_2026-11-25_2.csv", "parts/payrun_2026-11-25_2026-11-25_1.csv"},
			encoding: "utf-8", tables: 2},
		{name: "ZIP of two parts", files: []string{"zip/payrun_2026-11-25_2026-11-25.zip"}, encoding: "utf-8", tables: 2},
	}
	ids := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []bank131.NamedFile
			for _, f := range tt.files {
				files = append(files, readFixture(t, f))
			}
			rep, err := bank131.ParseDailyReportFiles(files, readXLSX)
			require.NoError(t, err)
			require.Equal(t, []string{"2026-11-25"}, rep.Days)
			require.Equal(t, tt.part, rep.Part)
			require.Len(t, rep.ID, 64)
			require.NotContains(t, ids, rep.ID)
			ids[rep.ID] = tt.name
			require.Len(t, rep.Files, tt.tables)
			if tt.encoding != "" {
				require.Equal(t, tt.encoding, rep.Files[0].Encoding)
			}
			got := make([]bank131.ReportLine, len(rep.Lines))
			for i, l := range rep.Lines {
				require.Positive(t, l.File)
				require.Positive(t, l.FileLine)
				l.File, l.FileLine = 0, 0
				got[i] = l
			}
			require.Equal(t, want, got)
			ref, err := payout.ParseBankRef([]byte(rep.Lines[1].Metadata))
			require.NoError(t, err)
			require.Equal(t, payout.BankRef{Batch: "b0123456789abcdef0123", Row: 2, Reference: "Премия-2"}, ref)
		})
	}
	// A part alone is that part of the day.
	for n := 1; n <= 2; n++ {
		f := readFixture(t, fmt.Sprintf("parts/payrun_2026-11-25_2026-11-25_%d.csv", n))
		rep, err := bank131.ParseDailyReport(bytes.NewReader(f.Data), f.Name, bank131.ReportOptions{})
		require.NoError(t, err)
		require.Equal(t, n, rep.Part)
		require.Equal(t, []string{"2026-11-25"}, rep.Days)
	}
}

const documented = "operationId,transactionDate,finishedAt,typeOfPayment,paymentFast,paymentSessionId,contract," +
	"paymentSessionMerchantMetadata,paymentMethodIdentity,product,grossLocalAmount,paymentLocalAmount,feesLocalAmount,currency\n"

func zipOf(t *testing.T, files map[string]string) string {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, body := range files {
		w, err := zw.Create(name)
		require.NoError(t, err)
		w.Write([]byte(body))
	}
	require.NoError(t, zw.Close())
	return b.String()
}

func TestParseDailyReport(t *testing.T) {
	adv := "po_1,%s,%s,Advice,0,ps_1,100-C-1,,424242******4242,p,%s,%s,%s,RUB\n"
	line := func(created, finished, gross, pay, fee string) string {
		return documented + fmt.Sprintf(adv, created, finished, gross, pay, fee)
	}
	legacy := "operationId,paymentSessionId,paymentSessionMerchantMetadata,typeOfPayment,transactionDate,finishedAt,amount,currency,fee,feeCurrency,paymentFast,paymentMethod,contract\n" +
		"po_1,ps_1,,Advice,2026-11-25,2026-11-25T09:00:00.000000Z,1500.50,RUB,10.00,RUB,0,bank_card,payrun\n"
	moscow := bank131.ReportZone()
	tests := []struct {
		name, file, source string
		opt                bank131.ReportOptions
		wantDays           []string
		wantLines          int
		check              func(t *testing.T, l bank131.ReportLine)
		wantErr            string
	}{
		{name: "documented", file: line("2026-11-25 09:00:00", "2026-11-25 09:00:05", "110", "100", "10"), source: "P_2026-11-25_2026-11-25.csv",
			wantDays: []string{"2026-11-25"}, wantLines: 1, check: func(t *testing.T, l bank131.ReportLine) {
				require.Equal(t, money.New(10000, "RUB"), l.Amount)
				require.Equal(t, money.New(11000, "RUB"), *l.Gross)
				require.Equal(t, money.New(1000, "RUB"), *l.Fee)
				require.Equal(t, "2026-11-25T09:00:05+03:00", l.FinishedAt)
			}},
		{name: "hyphen between the days", file: line("2026-11-25 09:00:00", "2026-11-25 09:00:05", "110", "100", "10"),
			source: "Slug_2026-11-24-2026-11-25.csv", wantDays: []string{"2026-11-24", "2026-11-25"}, wantLines: 1},
		{name: "day from finishedAt in Moscow", file: line("2026-11-25T20:00:00Z", "2026-11-25T21:30:00Z", "110", "100", "10"), source: "x.csv",
			wantDays: []string{"2026-11-26"}, wantLines: 1, check: func(t *testing.T, l bank131.ReportLine) {
				require.Equal(t, "2026-11-26", l.TransactionDate)
				require.Equal(t, "2026-11-26T00:30:00+03:00", l.FinishedAt)
			}},
		{name: "day in another zone", file: line("2026-11-25T20:00:00Z", "2026-11-25T21:30:00Z", "110", "100", "10"), source: "x.csv",
			opt: bank131.ReportOptions{Zone: time.UTC}, wantDays: []string{"2026-11-25"}, wantLines: 1},
		{name: "acquiring-report date form", file: line("25.11.2026 09:00:00", "25.11.2026 09:00:08", "110", "100", "10"), source: "x.csv",
			wantDays: []string{"2026-11-25"}, wantLines: 1, check: func(t *testing.T, l bank131.ReportLine) {
				require.Equal(t, time.Date(2026, 11, 25, 9, 0, 8, 0, moscow).Format(time.RFC3339), l.FinishedAt)
			}},
		{name: "date only", file: line("2026-11-25", "2026-11-25", "110", "100", "10"), source: "x.csv", wantDays: []string{"2026-11-25"}, wantLines: 1},
		{name: "legacy sandbox format", file: legacy, source: "all_2026-11-25_2026-11-25.csv", wantDays: []string{"2026-11-25"}, wantLines: 1,
			check: func(t *testing.T, l bank131.ReportLine) {
				require.Equal(t, money.New(150050, "RUB"), l.Amount)
				require.Equal(t, money.New(1000, "RUB"), *l.Fee)
				require.Nil(t, l.Gross)
				require.Equal(t, "bank_card", l.PaymentMethod)
			}},
		{name: "gross and fee only", source: "x.csv", wantDays: []string{"2026-11-25"}, wantLines: 1,
			file: "operationId;typeOfPayment;finishedAt;grossLocalAmount;feesLocalAmount;currency\npo_1;Advice;2026-11-25 10:00:00;110,50;-10,50;rub\n",
			check: func(t *testing.T, l bank131.ReportLine) {
				require.Equal(t, money.New(10000, "RUB"), l.Amount)
				require.Equal(t, money.New(1050, "RUB"), *l.Fee, "a negative fee is the fee")
			}},
		{name: "refund with negative amounts", source: "x.csv", wantDays: []string{"2026-11-25"}, wantLines: 1,
			file:  documented + "rf_1,2026-11-20 10:00:00,2026-11-25 10:00:00,Refund,0,ps_1,c,,,p,-100.00,-100.00,0,RUB\n",
			check: func(t *testing.T, l bank131.ReportLine) { require.Equal(t, money.New(10000, "RUB"), l.Amount) }},
		{name: "tab delimited, header in another order", source: "x.csv", wantDays: []string{"2026-11-25"}, wantLines: 1,
			file: "currency\tpaymentLocalAmount\toperationId\ttypeOfPayment\ttransactionDate\nRUB\t1 500.00\tpo_1\tAdvice\t2026-11-25 09:00:00\n"},
		{name: "card number in paymentMethodIdentity is masked", source: "x.csv", wantDays: []string{"2026-11-25"}, wantLines: 1,
			file:  documented + "po_1,2026-11-25 09:00:00,,Advice,0,ps_1,c,,4111111111111111,p,110,100,10,RUB\n",
			check: func(t *testing.T, l bank131.ReportLine) { require.Equal(t, "411111******1111", l.PaymentMethod) }},
		{name: "empty register: zero bytes", file: "", source: "P_2026-11-25_2026-11-25.csv", wantDays: []string{"2026-11-25"}},
		{name: "empty register: header only", file: documented, source: "P_2026-11-25_2026-11-25.csv", wantDays: []string{"2026-11-25"}},
		{name: "empty register of no day", file: "", source: "report.csv", wantErr: "must say its day"},
		{name: "explicit days", file: "", source: "report.csv", opt: bank131.ReportOptions{Days: []string{"2026-11-30"}}, wantDays: []string{"2026-11-30"}},
		{name: "bad explicit day", file: "", source: "x.csv", opt: bank131.ReportOptions{Days: []string{"yesterday"}}, wantErr: "not YYYY-MM-DD"},
		{name: "ZIP of a CSV in a ZIP", file: zipOf(t, map[string]string{"inner.zip": zipOf(t, map[string]string{"a.csv": line("2026-11-25", "", "1", "1", "0")})}),
			source: "P_2026-11-25_2026-11-25.zip", wantDays: []string{"2026-11-25"}, wantLines: 1},
		{name: "second part continues the header", source: "P_2026-11-25_2026-11-25.zip", wantDays: []string{"2026-11-25"}, wantLines: 2,
			file: zipOf(t, map[string]string{"P_2026-11-25_2026-11-25_1.csv": line("2026-11-25", "", "1", "1", "0"),
				"P_2026-11-25_2026-11-25_2.csv": fmt.Sprintf(adv, "2026-11-25", "", "2", "2", "0")})},
		{name: "gross is not payment plus fee", file: line("2026-11-25 09:00:00", "", "111", "100", "10"), source: "x.csv",
			wantErr: "line 2: grossLocalAmount 111.00 ≠ paymentLocalAmount 100.00 + feesLocalAmount 10.00"},
		{name: "negative Advice", file: line("2026-11-25 09:00:00", "", "-110", "-100", "10"), source: "x.csv", wantErr: "is negative"},
		{name: "float amount", file: line("2026-11-25 09:00:00", "", "1e3", "1e3", "0"), source: "x.csv", wantErr: `line 2: paymentLocalAmount "1e3": not a decimal amount`},
		{name: "too many decimals", file: line("2026-11-25 09:00:00", "", "1.001", "1.001", "0"), source: "x.csv", wantErr: "decimal places"},
		{name: "bad date", file: line("25/11/2026", "", "1", "1", "0"), source: "x.csv", wantErr: `transactionDate "25/11/2026"`},
		{name: "no operation", file: documented + ",2026-11-25,,Advice,0,,,,,,1,1,0,RUB\n", source: "x.csv", wantErr: "no operationId"},
		{name: "bad currency", file: documented + "po_1,2026-11-25,,Advice,0,,,,,,1,1,0,рубль\n", source: "x.csv", wantErr: "currency"},
		{name: "missing columns", file: "operationId,amount\npo_1,1\n", source: "x.csv", wantErr: "header lacks typeOfPayment, currency, finishedAt or transactionDate"},
		{name: "no header", file: "po_1,Advice\n", source: "x.csv", wantErr: "line 1: not a header"},
		{name: "fields beyond the header", file: line("2026-11-25", "", "1", "1", "0")[:len(documented)] + "po_1,2026-11-25,,Advice,0,,,,,,1,1,0,RUB,x\n",
			source: "x.csv", wantErr: "15 fields, the header has 14"},
		{name: "UTF-16", file: "\xff\xfeo\x00p\x00", source: "x.csv", wantErr: "UTF-16"},
		{name: "XLSX without a reader", file: zipOf(t, map[string]string{"xl/workbook.xml": "<workbook/>"}), source: "x.xlsx", wantErr: "no XLSX reader"},
		{name: "unknown member", file: zipOf(t, map[string]string{"notes.pdf": "x"}), source: "x.zip", wantErr: "notes.pdf is not a CSV, XLSX or ZIP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := bank131.ParseDailyReport(strings.NewReader(tt.file), tt.source, tt.opt)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.ErrorContains(t, err, tt.source, "the error names the file")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantDays, rep.Days)
			require.Len(t, rep.Lines, tt.wantLines)
			if tt.check != nil {
				tt.check(t, rep.Lines[0])
			}
		})
	}
}

// TestParseDailyReportZipBomb: a ZIP of more members than allowed is
// refused before it is read.
func TestParseDailyReportZipBomb(t *testing.T) {
	files := map[string]string{}
	for i := 0; i <= 1000; i++ {
		files[fmt.Sprintf("P_2026-11-25_2026-11-25_%d.csv", i)] = ""
	}
	_, err := bank131.ParseDailyReport(strings.NewReader(zipOf(t, files)), "P.zip", bank131.ReportOptions{})
	require.ErrorContains(t, err, "more than 1000 files")
}

func TestDaysFromName(t *testing.T) {
	tests := []struct {
		source string
		want   []string
	}{
		{"payrun_2026-11-25_2026-11-27.csv", []string{"2026-11-25", "2026-11-26", "2026-11-27"}},
		{"Slug_2026-11-25-2026-11-26.csv", []string{"2026-11-25", "2026-11-26"}},
		{"payrun_2026-11-25_2026-11-25_2.csv", []string{"2026-11-25"}},
		{`C:\reports\all_2026-11-25_2026-11-25.csv`, []string{"2026-11-25"}},
		{"sandbox-report-2026-11-25.csv", []string{"2026-11-25"}},
		{"https://bank.example/reports/all_2026-11-01_2026-11-02.csv", []string{"2026-11-01", "2026-11-02"}},
		{"http://127.0.0.1:9/sandbox/report?date=2026-11-24", []string{"2026-11-24"}},
		{"http://127.0.0.1:9/sandbox/report?project=p#p_2026-11-23_2026-11-23.csv", []string{"2026-11-23"}},
		{"all_2026-11-27_2026-11-25.csv", []string{"2026-11-27"}}, // a range backwards: its first date
		{"report.csv", nil},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, bank131.DaysFromName(tt.source), tt.source)
	}
}

func TestPartFromName(t *testing.T) {
	for source, want := range map[string]int{
		"payrun_2026-11-25_2026-11-25.csv":         0,
		"payrun_2026-11-25_2026-11-25_1.csv":       1,
		"payrun_2026-11-25_2026-11-25_part12.xlsx": 12,
		"payrun_2026-11-25_2026-11-25-part_3.zip":  3,
		"payrun_2026-11-25-2026-11-25_2.csv":       2,
		"dir/payrun_2026-11-25_2026-11-25_2.csv":   2,
		"payrun7_2026-11-25.csv":                   0,
		"payrun_2026-11-25_2026-11-25 (1).csv":     0,
	} {
		require.Equal(t, want, bank131.PartFromName(source), source)
	}
}

func TestLoadReportZone(t *testing.T) {
	for name, offset := range map[string]int{"": 3 * 3600, "Europe/Moscow": 3 * 3600, "UTC": 0, "+05:00": 5 * 3600, "-02:30": -9000} {
		loc, err := bank131.LoadReportZone(name)
		require.NoError(t, err, name)
		_, off := time.Date(2026, 7, 1, 0, 0, 0, 0, loc).Zone()
		require.Equal(t, offset, off, name)
	}
	_, err := bank131.LoadReportZone("Mars/Olympus")
	require.Error(t, err)
}

// FuzzParseDailyReport: any file either fails with an error or parses to
// lines that each have an operation, a type, a day, amounts in a
// three-letter currency (gross = payment + fee when all are given, fees
// never negative), and sorted days; the report's identity is its digest.
func FuzzParseDailyReport(f *testing.F) {
	for _, name := range []string{"payrun_2026-11-25_2026-11-25.csv", "bom-semicolon/payrun_2026-11-25_2026-11-25.csv",
		"windows-1251/payrun_2026-11-25_2026-11-25.csv", "zip/payrun_2026-11-25_2026-11-25.zip"} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(documented + "po_1,2026-11-25 09:00:00,,Advice,0,ps_1,c,,,p,110,100,10,RUB\n"))
	f.Add([]byte("currency;amount;operationId;typeOfPayment;finishedAt\nRUB;1,00;po_1;Refund;25.11.2026 10:00:00\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := bank131.ParseDailyReport(bytes.NewReader(data), "fuzz_2026-11-25_2026-11-25.csv", readXLSX)
		if err != nil {
			return
		}
		require.Len(t, rep.ID, 64)
		require.Equal(t, []string{"2026-11-25"}, rep.Days)
		for _, l := range rep.Lines {
			require.NotEmpty(t, l.OperationID)
			require.NotEmpty(t, l.Type)
			_, err := time.Parse(time.DateOnly, l.TransactionDate)
			require.NoError(t, err)
			require.Len(t, l.Amount.Currency, 3)
			if l.Fee != nil {
				require.GreaterOrEqual(t, l.Fee.Minor, int64(0))
				if l.Gross != nil && l.Fee.Currency == l.Amount.Currency {
					require.Equal(t, l.Gross.Minor, l.Amount.Minor+l.Fee.Minor)
				}
			}
		}
		require.IsNonDecreasing(t, rep.Days)
	})
}
