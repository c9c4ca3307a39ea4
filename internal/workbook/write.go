package workbook

import (
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"
)

// WriteSheet is a sheet Write writes: rows of text cells.
type WriteSheet struct {
	Name string
	Rows [][]string
	// Header makes the first row bold and keeps it in view (frozen).
	Header bool
	// Text formats every cell of the sheet's columns as text (@), so
	// what is typed in later stays as typed: a card number is not turned
	// into 4.27638E+15, a leading zero is kept.
	Text bool
	// Widths are column widths in characters, from column A; 0 or
	// missing means the default.
	Widths []float64
	// Wrap wraps long text in every cell.
	Wrap bool
}

// Write writes a workbook of text sheets to w, in the order given.
func Write(w io.Writer, sheets []WriteSheet) error {
	f := excelize.NewFile()
	defer f.Close()
	for i, sh := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", sh.Name); err != nil {
				return fmt.Errorf("write workbook: %w", err)
			}
		} else if _, err := f.NewSheet(sh.Name); err != nil {
			return fmt.Errorf("write workbook: %w", err)
		}
		if err := writeSheet(f, sh); err != nil {
			return fmt.Errorf("write workbook sheet %s: %w", sh.Name, err)
		}
	}
	f.SetActiveSheet(0)
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("write workbook: %w", err)
	}
	return nil
}

func writeSheet(f *excelize.File, sh WriteSheet) error {
	width := len(sh.Widths)
	for _, r := range sh.Rows {
		width = max(width, len(r))
	}
	if width == 0 {
		return nil
	}
	last, err := excelize.ColumnNumberToName(width)
	if err != nil {
		return err
	}
	style := &excelize.Style{Alignment: &excelize.Alignment{WrapText: sh.Wrap, Vertical: "top"}}
	if sh.Text {
		style.NumFmt = 49 // @
	}
	cellStyle, err := f.NewStyle(style)
	if err != nil {
		return err
	}
	if err := f.SetColStyle(sh.Name, "A:"+last, cellStyle); err != nil {
		return err
	}
	for i, w := range sh.Widths {
		if w <= 0 {
			continue
		}
		name, _ := excelize.ColumnNumberToName(i + 1)
		if err := f.SetColWidth(sh.Name, name, name, w); err != nil {
			return err
		}
	}
	for i, r := range sh.Rows {
		cells := make([]any, len(r))
		for j, v := range r {
			cells[j] = v
		}
		ref, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sh.Name, ref, &cells); err != nil {
			return err
		}
		end, _ := excelize.CoordinatesToCellName(width, i+1)
		if err := f.SetCellStyle(sh.Name, ref, end, cellStyle); err != nil {
			return err
		}
	}
	if sh.Header && len(sh.Rows) > 0 {
		bold := *style
		bold.Font = &excelize.Font{Bold: true}
		headStyle, err := f.NewStyle(&bold)
		if err != nil {
			return err
		}
		end, _ := excelize.CoordinatesToCellName(width, 1)
		if err := f.SetCellStyle(sh.Name, "A1", end, headStyle); err != nil {
			return err
		}
		if err := f.SetPanes(sh.Name, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return err
		}
	}
	return nil
}
