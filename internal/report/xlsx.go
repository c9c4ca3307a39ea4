package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/spreadsheet"
	"github.com/payrun/payrun/internal/workbook"
)

// Sheet names of the XLSX report, in English; a Russian report names
// them in Russian (SheetNames).
const (
	SheetRows    = "Rows"
	SheetSummary = "Summary"
)

// SheetNames are the names of the Rows and the Summary sheet in lang.
func SheetNames(lang string) (rows, summary string) {
	if reason.Lang(lang) == reason.Russian {
		return "Выплаты", "Итоги"
	}
	return SheetRows, SheetSummary
}

// Number formats of the report's cells.
const (
	rateFormat   = "0.0000##"
	dateFormatEN = "yyyy-mm-dd hh:mm:ss"
	dateFormatRU = "dd.mm.yyyy hh:mm:ss"
)

// moneyFormat is the number format of an amount with exp decimals:
// #,##0.00 for kopecks and cents.
func moneyFormat(exp int) string {
	if exp <= 0 {
		return "#,##0"
	}
	return "#,##0." + strings.Repeat("0", exp)
}

// xlsxStyles are the workbook's cell styles.
type xlsxStyles struct {
	header, wrap, date, rate, bold int
	money, moneyBold               map[int8]int // by currency exponent
	dateFormat                     string
}

func newXLSXStyles(b *workbook.Styled, lang string) (*xlsxStyles, error) {
	s := &xlsxStyles{money: map[int8]int{}, moneyBold: map[int8]int{}, dateFormat: dateFormatEN}
	if reason.Lang(lang) == reason.Russian {
		s.dateFormat = dateFormatRU
	}
	var err error
	style := func(st workbook.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = b.Style(st)
		return id
	}
	s.header = style(workbook.Style{Bold: true, Fill: "DDE5F0", BottomBorder: "808080", Wrap: true})
	s.wrap = style(workbook.Style{Wrap: true})
	s.date = style(workbook.Style{NumFmt: s.dateFormat})
	s.rate = style(workbook.Style{NumFmt: rateFormat})
	s.bold = style(workbook.Style{Bold: true})
	for _, exp := range []int8{0, 2, 3} {
		format := moneyFormat(int(exp))
		s.money[exp] = style(workbook.Style{NumFmt: format})
		s.moneyBold[exp] = style(workbook.Style{NumFmt: format, Bold: true})
	}
	return s, err
}

// moneyStyle is the style of an amount with exp decimals.
func (s *xlsxStyles) moneyStyle(exp int8, bold bool) int {
	m := s.money
	if bold {
		m = s.moneyBold
	}
	if id, ok := m[exp]; ok {
		return id
	}
	return m[2]
}

// WriteXLSX writes the report as a workbook in the default layout.
func (rep *Report) WriteXLSX(w io.Writer) error { return rep.Source().writeXLSX(w, Layout{}.with(rep)) }

// writeXLSX writes the report as a workbook an accountant keeps: a Rows
// sheet (one line per row under a frozen, filtered header, widths that
// fit, long text wrapped, then a totals line per currency) and a Summary
// sheet, both printed landscape, one page wide. Text is written as string
// cells (never formulas, and guarded like the CSV so that a copy to CSV
// stays safe), counts and money as numbers (amounts as #,##0.00, rates
// as 0.0000), times as date cells in the layout's zone; headers and
// values in the report's language. The document's created and modified
// times are the batch's creation and the ledger state's time, so the
// same state gives the same workbook, cell for cell.
//
// excelize builds the workbook (parts, styles, defined names, the Summary
// sheet, document properties). The Rows sheet, one line per row, is
// written here as worksheet XML straight into its part of the zip:
// excelize's stream writer spent about a microsecond per cell (escaping
// every string through a regular expression), 1.3 s for a 100k-row batch,
// against the 2 s the whole report may take (bench/README.md).
//
// The rows are measured as they are produced and kept in a spool until
// the workbook is written (the widths come before the rows in the sheet).
func (s *Source) writeXLSX(w io.Writer, l Layout) error {
	fail := func(err error) error { return fmt.Errorf("write XLSX report: %w", err) }
	sp, err := newSpool()
	if err != nil {
		return fail(err)
	}
	defer sp.Close()
	var sheet *rowsSheet
	var buf []cell
	rep, err := s.Rows(func(keys []string) error {
		sheet = newRowsSheet(s.Lang, l.Zone, keys)
		return nil
	}, func(row *Row) error {
		buf = row.cells(s.Lang, sheet.keys, buf)
		sheet.measure(row, buf)
		return writeCells(sp.Writer, buf)
	})
	if err != nil {
		return fail(err)
	}
	sheet.done()
	rows, err := sp.reader()
	if err != nil {
		return fail(err)
	}
	return rep.writeXLSX(w, l, sheet, rows)
}

// writeXLSX writes the workbook of writeXLSX (Source) whose rows were
// measured (sheet) and spooled (rows).
func (rep *Report) writeXLSX(w io.Writer, l Layout, sheet *rowsSheet, rows *bufio.Reader) error {
	fail := func(err error) error { return fmt.Errorf("write XLSX report: %w", err) }
	rowsName, summaryName := SheetNames(rep.Lang)
	f, err := workbook.NewStyled(rowsName, summaryName)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	st, err := newXLSXStyles(f, rep.Lang)
	if err != nil {
		return fail(err)
	}
	created := rep.Batch.CreatedAt
	if created == "" {
		created = rep.AsOf
	}
	if err := f.SetDocProps(workbook.DocProps{
		Created: created, Modified: rep.AsOf, Creator: "payrun ledger",
		Title: "payrun report " + rep.Batch.ID, Description: "generated from ledger state at " + rep.AsOf,
		Language: reason.Lang(rep.Lang),
	}); err != nil {
		return fail(err)
	}
	if err := rep.summarySheet(f, summaryName, st, l); err != nil {
		return fail(err)
	}
	// The defined names of the Rows sheet go in the workbook part, which
	// excelize writes: the filter's range and the header repeated on every
	// printed page. (AutoFilter also changes the empty sheet excelize
	// holds, which is never written: writeRowsSheet writes the part.)
	if err := f.AutoFilter(rowsName, sheet.filterRef); err != nil {
		return fail(err)
	}
	if err := f.PrintTitles(rowsName); err != nil {
		return fail(err)
	}
	if err := f.WriteTo(w, func(part io.Writer) error { return rep.writeRowsSheet(part, sheet, st, rows) }); err != nil {
		return fail(err)
	}
	return nil
}

// excelSerial is a time as a spreadsheet's date number in zone: days since
// 1899-12-30 with the time of day as the fraction; ok is false for text
// that is not an RFC 3339 time.
func excelSerial(text string, zone *time.Location) (float64, bool) {
	secs, ok := parseUTC(text)
	if !ok {
		t, err := time.Parse(time.RFC3339, text)
		if err != nil {
			return 0, false
		}
		secs = t.Unix()
	}
	_, off := time.Unix(secs, 0).In(zone).Zone()
	secs += int64(off)
	days := secs / 86400
	rem := secs % 86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	return float64(days+25569) + float64(rem)/86400, true
}

// parseUTC reads the one form the report writes times in
// (reconcile.TimeText: 2006-01-02T15:04:05Z) as Unix seconds, without
// time.Parse: the Rows sheet of a 100k-row batch has 300k times, and
// time.Parse took a quarter of the sheet's time.
func parseUTC(s string) (int64, bool) {
	if len(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return 0, false
	}
	num := func(a, b int) int64 {
		var v int64
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int64(c-'0')
		}
		return v
	}
	y, m, d, hh, mm, ss := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	if y < 0 || m < 1 || m > 12 || d < 1 || d > int64(daysIn(m, y)) || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59 {
		return 0, false
	}
	// Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
	// days_from_civil).
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	return days*86400 + hh*3600 + mm*60 + ss, true
}

// daysIn is the number of days of month m in year y.
func daysIn(m, y int64) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// summarySheet fills the Summary sheet: a few dozen cells, set one by one.
func (rep *Report) summarySheet(f *workbook.Styled, name string, st *xlsxStyles, l Layout) error {
	head := summaryHeader(rep.Lang)
	for i, c := range head {
		if err := f.SetText(name, i, 1, c); err != nil {
			return err
		}
	}
	last := columnName(len(head))
	if err := f.SetStyle(name, "A1", last+"1", st.header); err != nil {
		return err
	}
	lines := rep.summaryLines(zoneName(l.Zone))
	for i, line := range lines {
		for j, c := range line {
			ref := workbook.CellName(j, i+2)
			var err error
			switch c.kind {
			case kindInt:
				err = f.SetInt(name, j, i+2, c.n)
			case kindMoney, kindRate:
				// The same number the Rows sheet writes as decimal text.
				v, _ := strconv.ParseFloat(c.text, 64)
				if err = f.SetNumber(name, j, i+2, v); err == nil {
					style := st.rate
					if c.kind == kindMoney {
						style = st.moneyStyle(c.exp, false)
					}
					err = f.SetStyle(name, ref, ref, style)
				}
			case kindTime:
				if v, ok := excelSerial(c.text, l.Zone); ok {
					if err = f.SetNumber(name, j, i+2, v); err == nil {
						err = f.SetStyle(name, ref, ref, st.date)
					}
				} else {
					err = f.SetText(name, j, i+2, spreadsheet.SafeCell(c.text))
				}
			default:
				if c.text != "" {
					err = f.SetText(name, j, i+2, spreadsheet.SafeCell(c.text))
				}
			}
			if err != nil {
				return err
			}
		}
	}
	n := len(lines) + 1
	if err := f.SetStyle(name, "F2", fmt.Sprintf("F%d", n), st.wrap); err != nil {
		return err
	}
	for col, width := range map[string]float64{"A": 16, "B": 34, "C": 9, "D": 12, "E": 18, "F": 90} {
		if err := f.SetColWidth(name, col, width); err != nil {
			return err
		}
	}
	if err := f.FreezeHeader(name); err != nil {
		return err
	}
	if err := f.AutoFilter(name, fmt.Sprintf("A1:%s%d", last, n)); err != nil {
		return err
	}
	return f.PrintLandscape(name)
}

// columnName is the letter name of a 1-based column (1 → A, 27 → AA).
func columnName(n int) string {
	name := ""
	for ; n > 0; n = (n - 1) / 26 {
		name = string(rune('A'+(n-1)%26)) + name
	}
	return name
}

// Cell is a cell of a workbook as ReadXLSX reads it back.
type Cell = workbook.Value

// Sheet is a sheet of a workbook as ReadXLSX reads it back: its rows, each
// with its cells up to the last one that holds a value.
type Sheet = workbook.ValueSheet

// ReadXLSX reads back a workbook WriteXLSX wrote: every sheet with its
// cells' values and kinds. A formula anywhere is an error: reports never
// write one. Tests and tools read the XLSX report through it.
func ReadXLSX(data []byte) ([]Sheet, error) { return workbook.ReadValues(data) }
