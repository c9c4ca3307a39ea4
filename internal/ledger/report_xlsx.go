package ledger

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/internal/money"
)

// Sheet names of the XLSX report.
const (
	SheetRows    = "Rows"
	SheetSummary = "Summary"
)

// xlsxStyles are the workbook's cell styles.
type xlsxStyles struct {
	header int
	money  map[int]int // by currency exponent
}

func newXLSXStyles(f *excelize.File) (*xlsxStyles, error) {
	s := &xlsxStyles{money: map[int]int{}}
	var err error
	if s.header, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		return nil, err
	}
	for _, exp := range []int{0, 2, 3} {
		format := "0"
		if exp > 0 {
			format = "0." + strings.Repeat("0", exp)
		}
		if s.money[exp], err = f.NewStyle(&excelize.Style{CustomNumFmt: &format}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// value is a cell's XLSX value: text as a string cell (never a formula;
// guarded like the CSV so that a copy to CSV stays safe), counts as
// integers, money as a number shown with the currency's decimals.
func (s *xlsxStyles) value(c cell) any {
	switch {
	case c.num != nil:
		return *c.num
	case c.amount != nil:
		// A spreadsheet keeps every number as a binary float; the decimal
		// text (exact, at most 15 significant digits for any amount payrun
		// accepts) is what it is parsed from, and CSV/JSON keep the text.
		v, _ := strconv.ParseFloat(c.amount.Decimal(), 64)
		return excelize.Cell{StyleID: s.money[money.Exponent(c.amount.Currency)], Value: v}
	case c.text == "":
		return nil
	default:
		return safeCell(c.text)
	}
}

// WriteXLSX writes the report as a workbook with two sheets, Rows and
// Summary. Text is written as string cells (never formulas), numbers as
// numbers; the document's created and modified times are the batch's
// creation and the ledger state's time, so the same state gives the same
// workbook.
func (rep *Report) WriteXLSX(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	fail := func(err error) error { return fmt.Errorf("write XLSX report: %w", err) }
	if err := f.SetSheetName("Sheet1", SheetRows); err != nil {
		return fail(err)
	}
	if _, err := f.NewSheet(SheetSummary); err != nil {
		return fail(err)
	}
	st, err := newXLSXStyles(f)
	if err != nil {
		return fail(err)
	}
	created := rep.Batch.CreatedAt
	if created == "" {
		created = rep.AsOf
	}
	if err := f.SetDocProps(&excelize.DocProperties{
		Created: created, Modified: rep.AsOf, Creator: "payrun ledger", LastModifiedBy: "payrun ledger",
		Title: "payrun report " + rep.Batch.ID, Description: "generated from ledger state at " + rep.AsOf,
	}); err != nil {
		return fail(err)
	}

	// Rows: streamed, one line per row.
	sw, err := f.NewStreamWriter(SheetRows)
	if err != nil {
		return fail(err)
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fail(err)
	}
	header := make([]any, len(reportColumns))
	for i, c := range reportColumns {
		header[i] = excelize.Cell{StyleID: st.header, Value: c}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return fail(err)
	}
	vals := make([]any, len(reportColumns))
	for i := range rep.Rows {
		for j, c := range rep.Rows[i].cells() {
			vals[j] = st.value(c)
		}
		ref, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(ref, vals); err != nil {
			return fail(err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fail(err)
	}

	// Summary: a few dozen cells, set one by one (one stream per workbook
	// keeps the file's part order fixed).
	for i, c := range summaryColumns {
		ref, _ := excelize.CoordinatesToCellName(i+1, 1)
		if err := f.SetCellStr(SheetSummary, ref, c); err != nil {
			return fail(err)
		}
	}
	if err := f.SetCellStyle(SheetSummary, "A1", "F1", st.header); err != nil {
		return fail(err)
	}
	for i, line := range rep.summaryLines() {
		for j, c := range line {
			ref, _ := excelize.CoordinatesToCellName(j+1, i+2)
			switch v := st.value(c).(type) {
			case nil:
			case int:
				err = f.SetCellInt(SheetSummary, ref, int64(v))
			case string:
				err = f.SetCellStr(SheetSummary, ref, v)
			case excelize.Cell:
				if err = f.SetCellFloat(SheetSummary, ref, v.Value.(float64), -1, 64); err == nil {
					err = f.SetCellStyle(SheetSummary, ref, ref, v.StyleID)
				}
			}
			if err != nil {
				return fail(err)
			}
		}
	}
	if err := f.SetColWidth(SheetSummary, "A", "B", 18); err != nil {
		return fail(err)
	}
	if err := f.SetColWidth(SheetSummary, "F", "F", 80); err != nil {
		return fail(err)
	}
	f.SetActiveSheet(0)
	if _, err := f.WriteTo(w); err != nil {
		return fail(err)
	}
	return nil
}
