package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

var update = flag.Bool("update", false, "rewrite the CSV and XLSX golden files in testdata/ from report.json")

func render(t *testing.T, rep *Report, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, rep.Write(&buf, format))
	return buf.Bytes()
}

// xlsxCells renders every cell of every sheet as type:value (s string, n
// number), one line per spreadsheet row; ReadXLSX fails on any formula.
func xlsxCells(t *testing.T, data []byte) string {
	t.Helper()
	sheets, err := ReadXLSX(data)
	require.NoError(t, err)
	var sb strings.Builder
	for _, sheet := range sheets {
		fmt.Fprintf(&sb, "== %s\n", sheet.Name)
		for _, row := range sheet.Rows {
			cells := make([]string, len(row))
			for j, c := range row {
				switch {
				case c.Value == "":
				case c.Number:
					cells[j] = "n:" + c.Value
				default:
					cells[j] = "s:" + c.Value
				}
			}
			sb.WriteString(strings.Join(cells, "\t") + "\n")
		}
	}
	return sb.String()
}

// goldenReport reads the golden report (testdata/report.json, which the
// ledger's TestReportGolden renders from a ledger with a row in every
// status and category), in lang.
func goldenReport(t *testing.T, lang string) (*Report, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "report.json"))
	require.NoError(t, err)
	var rep Report
	require.NoError(t, json.Unmarshal(data, &rep))
	require.NotEmpty(t, rep.Rows)
	rep.Localize(lang)
	return &rep, data
}

// TestWritersGolden writes the golden report in every format, in English
// and in Russian: English JSON gives the same bytes back, the rest the
// golden files (report.*, report-summary.csv; report-ru.*,
// report-ru-summary.csv: excel-ru CSV, Russian headers and words).
func TestWritersGolden(t *testing.T) {
	en, data := goldenReport(t, "en")
	require.Equal(t, string(data), string(render(t, en, FormatJSON)))
	ru, _ := goldenReport(t, "ru")
	for name, got := range map[string][]byte{
		"report.csv":            render(t, en, FormatCSV),
		"report-summary.csv":    render(t, en, FormatSummaryCSV),
		"report.xlsx.txt":       []byte(xlsxCells(t, render(t, en, FormatXLSX))),
		"report-ru.csv":         render(t, ru, FormatCSV),
		"report-ru-summary.csv": render(t, ru, FormatSummaryCSV),
		"report-ru.json":        render(t, ru, FormatJSON),
		"report-ru.xlsx.txt":    []byte(xlsxCells(t, render(t, ru, FormatXLSX))),
	} {
		path := filepath.Join("testdata", name)
		if *update {
			require.NoError(t, os.WriteFile(path, got, 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "%s differs; if the change is intended, run go test -update", path)
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	err := (&Report{}).Write(&bytes.Buffer{}, "pdf")
	require.True(t, errors.Is(err, ErrFormat), "%v", err)
	require.ErrorContains(t, err, `"pdf" (want csv, summary.csv, json, xlsx)`)
	rep := &Report{Batch: Batch{ID: "b1"}}
	require.Equal(t, "payrun-report-b1.xlsx", rep.FileName(FormatXLSX))
	require.Equal(t, "payrun-report-b1-summary.csv", rep.FileName(FormatSummaryCSV))
	rep.Localize("ru")
	require.Equal(t, "payrun-report-b1-ru.csv", rep.FileName(FormatCSV))
	require.Equal(t, "payrun-report-b1-ru-summary.csv", rep.FileName(FormatSummaryCSV))
}

func TestAddNotesSkipsRowsNotShown(t *testing.T) {
	rep := &Report{Rows: []Row{{Row: 2, Meta: noMeta}, {Row: 5, Meta: noMeta}}}
	rep.AddNotes([]Note{{Row: 1, Description: "a"}, {Row: 2, Description: "b", Meta: map[string]string{"k": "v"}},
		{Row: 4, Description: "d"}, {Row: 5, Description: "e"}, {Row: 6, Description: "f"}})
	require.Equal(t, "b", rep.Rows[0].Description)
	require.Equal(t, map[string]string{"k": "v"}, rep.Rows[0].Meta)
	require.Equal(t, "e", rep.Rows[1].Description)
	require.NotNil(t, rep.Rows[1].Meta)
	require.Equal(t, []string{"k"}, rep.metaKeys())
}

// TestAddNotesRedacts: card numbers in a description or a meta name or
// value are masked; should two names become one, the first in name order
// keeps its value.
func TestAddNotesRedacts(t *testing.T) {
	rep := &Report{Rows: []Row{{Row: 1, Meta: noMeta}}}
	rep.AddNotes([]Note{{Row: 1, Description: "card 4242 4242 4242 4242 of Ivan",
		Meta: map[string]string{"note": "paid to 5555555555554444", "card 4000056655665556": "y", "card ****5556": "z"}}})
	require.Equal(t, "card 424242******4242 of Ivan", rep.Rows[0].Description)
	require.Equal(t, map[string]string{"note": "paid to 555555******4444", "card 400005******5556": "y", "card ****5556": "z"}, rep.Rows[0].Meta)
}

// TestBuild lays out a small batch: totals by state, the bank's reported
// operations once each (orphans too), the webhook and report columns, and
// a rejected batch's rows.
func TestBuild(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	fee := money.New(2500, "RUB")
	paid := &reconcile.Row{No: 1, Reference: "E-1", Method: "card", Destination: "424242******4242", Amount: money.New(150050, "RUB"),
		State: payout.StateSucceeded, Attempt: 1, SessionID: "ps_1", PayoutID: "po_1", Fee: &fee, ReceivedAt: at, MovedAt: at.Add(time.Minute),
		UpdatedAt: at.Add(time.Minute), Hook: &reconcile.Hook{Type: "payment_finished", PayoutStatus: "succeeded",
			Amount: &money.Amount{Minor: 150050, Currency: "RUB"}}}
	line := &reconcile.Line{Report: "r1", Line: 1, Op: "po_1", Session: "ps_1", Type: bank131.ReportAdvice, Date: "2026-11-25",
		Amount: paid.Amount, RefRow: 1}
	again := *line
	again.Report = "r2"
	paid.Lines = []*reconcile.Line{line, &again}
	failed := &reconcile.Row{No: 2, Reference: "E-2", Method: "card", Amount: money.New(100, "RUB"), State: payout.StateFailed,
		ErrorCode: "card_expired", ReceivedAt: at, MovedAt: at, UpdatedAt: at}
	b := &reconcile.Batch{ID: "b1", Status: payout.BatchDone, HasManifest: true, ManifestRows: 2,
		ManifestTotals: money.Totals{"RUB": 150150}, AsOf: at.Add(time.Minute), Covered: map[string]bool{"2026-11-25": true},
		Rows:    []*reconcile.Row{paid, failed},
		Orphans: []*reconcile.Line{{Op: "po_x", Type: bank131.ReportAdvice, Amount: money.New(500, "RUB"), Date: "2026-11-25"}}}
	sum := &ledgerapi.BatchSummary{Batch: "b1", Name: "November", FileName: "payroll.csv", Status: payout.BatchDone, CreatedAt: at}
	rep := Build(sum, b, b.Reconcile())

	require.Equal(t, "2026-11-25T09:01:00Z", rep.AsOf)
	require.Equal(t, "2026-11-25T09:00:00Z", rep.Batch.CreatedAt)
	require.Equal(t, []Amount{{Amount: "1501.50", Currency: "RUB", Minor: 150150}}, rep.Batch.ManifestTotals)
	r := rep.Rows[0]
	require.Equal(t, "1500.50", r.Amount)
	require.Equal(t, "25.00", r.Fee)
	require.Equal(t, "succeeded 1500.50 RUB", r.Webhook)
	require.Equal(t, "Advice po_1 1500.50 RUB 2026-11-25", r.BankReport, "the same operation in two reports once")
	require.Equal(t, "2026-11-25T09:01:00Z", r.FinishedAt)
	require.Equal(t, string(reconcile.StatusMatched), r.Reconciliation)
	require.NotNil(t, r.Meta)
	require.Equal(t, bank131.Reason("card_expired"), rep.Rows[1].Reason, "a plain reason for the bank's code")

	totals := map[string][]Amount{}
	for _, l := range rep.Summary.Totals {
		totals[l.What] = l.Amounts
	}
	require.Equal(t, []Amount{{Amount: "1501.50", Currency: "RUB", Minor: 150150, Rows: 2}}, totals["requested"])
	require.Equal(t, []Amount{{Amount: "1505.50", Currency: "RUB", Minor: 150550, Rows: 2}}, totals["bank_reported"])
	require.Equal(t, []Amount{{Amount: "1500.50", Currency: "RUB", Minor: 150050, Rows: 1}}, totals["paid_as_reported"])
	require.Equal(t, []Amount{{Amount: "25.00", Currency: "RUB", Minor: 2500, Rows: 1}}, totals["fees"])
	for _, l := range rep.Summary.Totals {
		require.NotEmpty(t, l.Note, "total %s says what it sums", l.What)
	}
	require.Equal(t, []CategoryCount{{Category: reconcile.PaidNotInRecords, Label: reconcile.PaidNotInRecords.Label(), Count: 1},
		{Category: reconcile.BatchTotals, Label: reconcile.BatchTotals.Label(), Count: 1}}, rep.Summary.ExceptionCounts)

	// A rejected batch: every row shows the manifest's exception.
	b.Status, sum.Status, sum.Reason = payout.BatchRejected, payout.BatchRejected, "totals differ"
	rep = Build(sum, b, b.Reconcile())
	require.Equal(t, []Exception{{Category: reconcile.Manifest, Label: reconcile.Manifest.Label(), Row: 2, Reference: "E-2",
		Detail: "batch rejected: totals differ"}}, rep.Rows[1].Exceptions)
}

// TestXLSXTextReadsBack: text the Rows sheet writes itself reads back as
// the same text (markup, an escape-like "_x0041_", a long cell, characters
// XML does not allow).
func TestXLSXTextReadsBack(t *testing.T) {
	long := strings.Repeat("я", maxCellChars+10)
	tests := []struct{ in, want string }{
		{"a < b & c > d", "a < b & c > d"},
		{"_x0041_ and _x00e9_", "_x0041_ and _x00e9_"},
		{"_x12_ _xZZZZ_", "_x12_ _xZZZZ_"},
		{"bell\x07 and nul\x00", "bell\uFFFD and nul\uFFFD"},
		{"line\nbreak", "line\nbreak"},
		{" padded ", " padded "},
		{"Ünïcödé ✓ 中文", "Ünïcödé ✓ 中文"},
		{long, long[:maxCellChars*2]},
	}
	rep := &Report{Batch: Batch{ID: "b00000000000000000000"}, AsOf: "2026-11-25T09:00:00Z"}
	for i, tt := range tests {
		rep.Rows = append(rep.Rows, Row{Row: i + 1, Reference: tt.in})
	}
	f, err := excelize.OpenReader(bytes.NewReader(render(t, rep, FormatXLSX)))
	require.NoError(t, err)
	defer f.Close()
	for i, tt := range tests {
		got, err := f.GetCellValue(SheetRows, fmt.Sprintf("B%d", i+2))
		require.NoError(t, err)
		require.Equal(t, tt.want, got, "row %d", i+1)
	}
}
