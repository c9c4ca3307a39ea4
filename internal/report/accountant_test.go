package report

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// renderLayout writes the report in format and layout.
// rowsSheetPart is the package part of the workbook's first sheet (Rows).
const rowsSheetPart = "xl/worksheets/sheet1.xml"

func renderLayout(t *testing.T, rep *Report, format string, l Layout) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, rep.WriteLayout(&buf, format, l))
	return buf.Bytes()
}

// colOf is the 1-based column of a header name in the report's language.
func colOf(t *testing.T, rep *Report, name string) int {
	t.Helper()
	for i, c := range rowColumns {
		if c.name == name {
			return i + 1
		}
	}
	t.Fatalf("no column %s", name)
	return 0
}

func cellRef(col, row int) string {
	ref, _ := excelize.CoordinatesToCellName(col, row)
	return ref
}

// sheetPart reads a part of an XLSX package.
func sheetPart(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			require.NoError(t, err)
			defer rc.Close()
			b, err := io.ReadAll(rc)
			require.NoError(t, err)
			return b
		}
	}
	t.Fatalf("no part %s", name)
	return nil
}

// TestXLSXForTheAccountant reads the Russian report's workbook back with
// excelize: date cells in Moscow time, amounts as numbers in #,##0.00,
// the autofilter and the frozen header, print settings (landscape, one
// page wide, the header on every page), widths that fit, wrapped long
// text, a totals line per currency, Russian headers and sheet names.
func TestXLSXForTheAccountant(t *testing.T) {
	rep, _ := goldenReport(t, "ru")
	data := render(t, rep, FormatXLSX)
	f, err := excelize.OpenReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer f.Close()
	rows, summary := SheetNames("ru")
	require.Equal(t, []string{rows, summary}, f.GetSheetList())
	keys := rep.metaKeys()
	head := header("ru", keys)
	got, err := f.GetRows(rows)
	require.NoError(t, err)
	require.Equal(t, head, got[0], "Russian headers")
	require.Equal(t, "Сумма", got[0][colOf(t, rep, "amount")-1])

	style := func(ref string) *excelize.Style {
		t.Helper()
		id, err := f.GetCellStyle(rows, ref)
		require.NoError(t, err)
		st, err := f.GetStyle(id)
		require.NoError(t, err)
		return st
	}
	numberCell := func(ref string) string {
		t.Helper()
		typ, err := f.GetCellType(rows, ref)
		require.NoError(t, err)
		require.Contains(t, []excelize.CellType{excelize.CellTypeNumber, excelize.CellTypeUnset}, typ, "%s is a number", ref)
		v, err := f.GetCellValue(rows, ref, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		_, err = strconv.ParseFloat(v, 64)
		require.NoError(t, err, "%s holds a number: %q", ref, v)
		return v
	}

	// Amounts: numbers, #,##0.00.
	amount := cellRef(colOf(t, rep, "amount"), 2)
	require.Equal(t, "85000.00", numberCell(amount))
	require.Equal(t, "#,##0.00", *style(amount).CustomNumFmt)
	shown, err := f.GetCellValue(rows, amount)
	require.NoError(t, err)
	require.Equal(t, "85,000.00", shown)
	rate := cellRef(colOf(t, rep, "fx_rate"), 17) // row 16, T-002
	require.Equal(t, "92.0000", numberCell(rate))

	// Dates: date cells in Moscow time (09:00 UTC is 12:00 there).
	received := cellRef(colOf(t, rep, "received_at"), 2)
	serial := numberCell(received)
	require.Equal(t, "46351.5", serial, "2026-11-25 12:00 MSK")
	require.Equal(t, dateFormatRU, *style(received).CustomNumFmt)
	shown, err = f.GetCellValue(rows, received)
	require.NoError(t, err)
	require.Equal(t, "25.11.2026 12:00:00", shown)
	expires := cellRef(colOf(t, rep, "action_expires_at"), 18)
	shown, err = f.GetCellValue(rows, expires)
	require.NoError(t, err)
	require.Equal(t, "25.11.2026 12:15:00", shown, "the 3-D Secure link's expiry")

	// The frozen header and the autofilter over the header and the rows.
	panes, err := f.GetPanes(rows)
	require.NoError(t, err)
	require.True(t, panes.Freeze)
	require.Equal(t, 1, panes.YSplit)
	var ws struct {
		AutoFilter struct {
			Ref string `xml:"ref,attr"`
		} `xml:"autoFilter"`
		SheetPr struct {
			PageSetUpPr struct {
				FitToPage bool `xml:"fitToPage,attr"`
			} `xml:"pageSetUpPr"`
		} `xml:"sheetPr"`
	}
	require.NoError(t, xml.Unmarshal(sheetPart(t, data, rowsSheetPart), &ws))
	last := columnName(len(head))
	require.Equal(t, "A1:"+last+strconv.Itoa(len(rep.Rows)+1), ws.AutoFilter.Ref)
	names := map[string]string{}
	for _, d := range f.GetDefinedName() {
		names[d.Name+"@"+d.Scope] = d.RefersTo
	}
	require.Equal(t, "'"+rows+"'!$A$1:$"+last+"$"+strconv.Itoa(len(rep.Rows)+1), names["_xlnm._FilterDatabase@"+rows])
	require.Equal(t, "'"+rows+"'!$1:$1", names["_xlnm.Print_Titles@"+rows], "the header on every printed page")

	// Printing: landscape, A4, one page wide.
	for _, sheet := range []string{rows, summary} {
		pl, err := f.GetPageLayout(sheet)
		require.NoError(t, err)
		require.Equal(t, "landscape", *pl.Orientation, sheet)
		require.Equal(t, 1, *pl.FitToWidth, sheet)
		require.Equal(t, 0, *pl.FitToHeight, sheet)
		require.Equal(t, 9, *pl.Size, sheet)
		props, err := f.GetSheetProps(sheet)
		require.NoError(t, err)
		require.True(t, *props.FitToPage, sheet)
	}
	require.True(t, ws.SheetPr.PageSetUpPr.FitToPage)

	// Widths that fit: the reference column is as wide as its longest
	// value; long text wraps in a column of at most wrapWidth, and its row
	// is as high as the text.
	refWidth, err := f.GetColWidth(rows, columnName(colOf(t, rep, "reference")))
	require.NoError(t, err)
	require.InDelta(t, float64(len("E-001/2026-11"))*1.1+2, refWidth, 0.1)
	reasonCol := columnName(colOf(t, rep, "reason_detail"))
	w, err := f.GetColWidth(rows, reasonCol)
	require.NoError(t, err)
	require.Equal(t, float64(wrapWidth), w)
	long := reasonCol + "19" // row 18, the gate's figures
	require.True(t, style(long).Alignment.WrapText)
	h, err := f.GetRowHeight(rows, 19)
	require.NoError(t, err)
	require.Greater(t, h, 15.0, "the wrapped row is taller")

	// The totals: a line per currency under an empty line, outside the
	// filter, each sum exact.
	want := money.Totals{}
	for _, r := range rep.Rows {
		want.Add(money.New(r.AmountMinor, r.Currency))
	}
	totalsAt := len(rep.Rows) + 3
	for i, a := range want.Amounts() {
		r := totalsAt + i
		label, err := f.GetCellValue(rows, cellRef(2, r))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(label, "Итого "+a.Currency), "%q", label)
		require.True(t, style(cellRef(2, r)).Font.Bold)
		require.Equal(t, a.Decimal(), numberCell(cellRef(colOf(t, rep, "amount"), r)))
		cur, err := f.GetCellValue(rows, cellRef(colOf(t, rep, "currency"), r))
		require.NoError(t, err)
		require.Equal(t, a.Currency, cur)
	}
	empty, err := f.GetCellValue(rows, cellRef(2, len(rep.Rows)+2))
	require.NoError(t, err)
	require.Empty(t, empty)

	// The Summary sheet: its header frozen, money and dates typed.
	panes, err = f.GetPanes(summary)
	require.NoError(t, err)
	require.True(t, panes.Freeze)
	sum, err := f.GetRows(summary)
	require.NoError(t, err)
	require.Equal(t, summaryHeader("ru"), sum[0])
}

// TestXLSXEnglishDates: an English workbook shows ISO dates, in the
// layout's zone.
func TestXLSXEnglishDates(t *testing.T) {
	rep, _ := goldenReport(t, "en")
	f, err := excelize.OpenReader(bytes.NewReader(renderLayout(t, rep, FormatXLSX, Layout{Zone: time.UTC})))
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, []string{SheetRows, SheetSummary}, f.GetSheetList())
	v, err := f.GetCellValue(SheetRows, cellRef(colOf(t, rep, "received_at"), 2))
	require.NoError(t, err)
	require.Equal(t, "2026-11-25 09:00:00", v)
}

// readCSV reads a CSV report in a dialect: its BOM, delimiter and line
// ends as the dialect says.
func readCSV(t *testing.T, data []byte, d spreadsheet.Dialect) [][]string {
	t.Helper()
	text := string(data)
	if d.BOM() {
		require.True(t, strings.HasPrefix(text, "\uFEFF"), "a byte-order mark")
		text = strings.TrimPrefix(text, "\uFEFF")
	} else {
		require.False(t, strings.HasPrefix(text, "\uFEFF"))
	}
	require.True(t, strings.HasSuffix(text, "\r\n"), "CR LF line ends")
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = d.Comma()
	recs, err := r.ReadAll()
	require.NoError(t, err)
	return recs
}

// TestCSVDialects: a Russian report is excel-ru by default (; a BOM,
// decimal commas, day-first Moscow times, Russian headers), an English
// one rfc4180; either dialect may be asked for; the rows' file is one
// table and the summary file agrees with it.
func TestCSVDialects(t *testing.T) {
	ru, _ := goldenReport(t, "ru")
	en, _ := goldenReport(t, "en")
	amount, received, ref := colOf(t, ru, "amount")-1, colOf(t, ru, "received_at")-1, colOf(t, ru, "reference")-1
	for _, tt := range []struct {
		name              string
		rep               *Report
		l                 Layout
		dialect           spreadsheet.Dialect
		head, amount, at  string
		summaryFirst      string
		summaryTimeOfAsOf string
	}{
		{"ru default", ru, Layout{}, spreadsheet.ExcelRU, "Строка", "85000,00", "25.11.2026 12:00:00", "раздел", "26.11.2026 12:00:00"},
		{"en default", en, Layout{}, spreadsheet.RFC4180, "row", "85000.00", "2026-11-25T09:00:00Z", "section", "2026-11-26T09:00:00Z"},
		{"ru rfc4180", ru, Layout{Dialect: spreadsheet.RFC4180}, spreadsheet.RFC4180, "Строка", "85000.00", "2026-11-25T09:00:00Z", "раздел", "2026-11-26T09:00:00Z"},
		{"en excel-ru UTC", en, Layout{Dialect: spreadsheet.ExcelRU, Zone: time.UTC}, spreadsheet.ExcelRU, "row", "85000,00", "25.11.2026 09:00:00", "section", "26.11.2026 09:00:00"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs := readCSV(t, renderLayout(t, tt.rep, FormatCSV, tt.l), tt.dialect)
			require.Len(t, recs, len(tt.rep.Rows)+1, "a header and one line per row, nothing else")
			require.Equal(t, tt.head, recs[0][0])
			require.Equal(t, tt.amount, recs[1][amount])
			require.Equal(t, tt.at, recs[1][received])
			for i, r := range tt.rep.Rows {
				require.Equal(t, strconv.Itoa(r.Row), recs[i+1][0])
				require.Equal(t, r.Reference, recs[i+1][ref])
			}
			sum := readCSV(t, renderLayout(t, tt.rep, FormatSummaryCSV, tt.l), tt.dialect)
			require.Equal(t, tt.summaryFirst, sum[0][0])
			found := false
			for _, line := range sum {
				if line[5] == tt.summaryTimeOfAsOf {
					found = true
				}
			}
			require.True(t, found, "the ledger state's time, as the dialect writes times")
		})
	}
}

// TestLocalize: Russian and back gives the English report again; every
// word the CSV and XLSX translate has its Russian.
func TestLocalize(t *testing.T) {
	en, data := goldenReport(t, "en")
	en.Localize("ru")
	require.Equal(t, reason.Russian, en.Lang)
	require.Equal(t, "Такого номера карты не существует; проверьте номер карты.", en.Rows[2].Reason)
	require.Contains(t, en.Rows[2].NextStep, "новым файлом")
	en.Localize("en")
	back, err := json.Marshal(en)
	require.NoError(t, err)
	var orig, again any
	require.NoError(t, json.Unmarshal(data, &orig))
	require.NoError(t, json.Unmarshal(back, &again))
	require.Equal(t, orig, again, "Localize keeps no trace of the other language")

	for st := range payout.Next {
		require.NotEmpty(t, ruWords[string(st)], "state %s", st)
	}
	for _, st := range reconcile.Statuses {
		require.NotEmpty(t, ruWords[string(st)], "reconciliation status %s", st)
	}
	for _, m := range []payout.Method{payout.MethodCard, payout.MethodToken, payout.MethodEncryptedCard, payout.MethodTransfer} {
		require.NotEmpty(t, ruWords[string(m)], "method %s", m)
	}
	for _, w := range append(append([]string{}, totalNames...), "manifest") {
		require.NotEmpty(t, totalNotes[w].EN, w)
		require.NotEmpty(t, totalNotes[w].RU, w)
		require.NotEmpty(t, ruSummary[w], w)
	}
	for _, c := range append(append([]column{}, rowColumns...), descriptionColumn) {
		require.NotEmpty(t, c.ru, c.name)
	}
}

// TestNextStep: what to do next follows the row's exception first (the
// bank paid a row we recorded failed: never "upload it again"), then the
// state when money may still move or came back, then the failed row's
// code; a paid row has no reason.
func TestNextStep(t *testing.T) {
	next := func(e reason.Kind, code string) string {
		x, ok := reason.Lookup(e, code)
		require.True(t, ok, code)
		return x.Next.EN
	}
	tests := []struct {
		name string
		row  Row
		want string
	}{
		{"failed", Row{Status: "failed", ErrorCode: "bank_card_expired"}, next(reason.Bank, "bank_card_expired")},
		{"failed but the bank paid it", Row{Status: "failed", ErrorCode: "provider_timeout",
			Exceptions: []Exception{{Category: reconcile.PaidAfterCancel}}}, next(reason.Exception, "paid_after_cancel")},
		{"in doubt with a code", Row{Status: "in_doubt", ErrorCode: "session_wrong_state"}, next(reason.State, "in_doubt")},
		{"waiting for 3-D Secure", Row{Status: "action_required"}, next(reason.State, "action_required")},
		{"queued with an old code", Row{Status: "queued", ErrorCode: "provider_timeout"}, ""},
		{"succeeded", Row{Status: "succeeded", ErrorCode: "internal_error", ReasonDetail: "no answer"}, ""},
		{"not in the bank's report", Row{Status: "failed", ErrorCode: "not_in_bank_report"}, next(reason.Payrun, "not_in_bank_report")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.row
			r.explain("en")
			require.Equal(t, tt.want, r.NextStep)
			if r.Status == "succeeded" {
				require.Empty(t, r.Reason)
				require.Equal(t, "no answer", r.ReasonDetail, "what the ledger recorded stays")
			} else {
				require.NotEmpty(t, r.Reason)
			}
		})
	}
}

// TestTCN: a transfer control number in its documented form is shown as
// it is, even when it passes the Luhn check; anything else is redacted.
func TestTCN(t *testing.T) {
	require.Equal(t, "000056-00063365", tcnText("000056-00063365"))
	require.Equal(t, "424242******4242", tcnText("4242424242424242"))
}

// TestParseUTC: the report's own time form is read as time.Parse reads
// it; anything else is left to time.Parse.
func TestParseUTC(t *testing.T) {
	for _, s := range []string{"2026-11-25T09:00:00Z", "1970-01-01T00:00:00Z", "2000-02-29T23:59:59Z", "1899-12-30T00:00:00Z",
		"0000-01-01T00:00:00Z", "0000-02-29T12:00:00Z",
		"2100-03-01T12:34:56Z", "2024-12-31T23:59:59Z"} {
		want, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		got, ok := parseUTC(s)
		require.True(t, ok, s)
		require.Equal(t, want.Unix(), got, s)
	}
	for _, s := range []string{"", "2026-11-25T09:00:00+03:00", "2026-13-25T09:00:00Z", "2026-11-25 09:00:00Z", "2026-11-25T09:00:0xZ",
		"2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z"} {
		_, ok := parseUTC(s)
		require.False(t, ok, s)
	}
	v, ok := excelSerial("2026-11-25T09:00:00+03:00", time.UTC)
	require.True(t, ok, "other RFC 3339 forms through time.Parse")
	require.Equal(t, 46351.25, v)
}

// FuzzParseUTC: whatever parseUTC reads, time.Parse reads as the same
// instant.
func FuzzParseUTC(f *testing.F) {
	for _, s := range []string{"2026-11-25T09:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-02-31T00:00:00Z", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTC(s)
		want, err := time.Parse(time.RFC3339, s)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("parseUTC(%q) = %d, time.Parse: %v", s, got, err)
		}
		if got != want.Unix() {
			t.Fatalf("parseUTC(%q) = %d, time.Parse = %d", s, got, want.Unix())
		}
	})
}
