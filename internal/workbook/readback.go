package workbook

import (
	"bytes"
	"fmt"

	"github.com/xuri/excelize/v2"
)

// maxRaw bounds what a workbook read by ReadRaw may unpack to (the bank's
// report limit, 1 GiB).
const maxRaw = 1 << 30

// ReadRaw reads every sheet of a workbook from outside (the bank's daily
// report in XLSX) as rows of raw cell text: numbers and dates as stored (a
// date is its Excel serial number, 109.99999999999999 is not rounded),
// shared and inline strings as written, a formula's cached value. It is
// bank131.ReportOptions.XLSX.
func ReadRaw(data []byte) ([][][]string, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit: maxRaw, UnzipXMLSizeLimit: maxRaw})
	if err != nil {
		return nil, fmt.Errorf("read XLSX: %w", err)
	}
	defer f.Close()
	var out [][][]string
	for _, name := range f.GetSheetList() {
		rows, err := f.GetRows(name, excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, fmt.Errorf("read XLSX sheet %s: %w", name, err)
		}
		out = append(out, rows)
	}
	return out, nil
}

// ValueSheet is a sheet as ReadValues reads it back: its rows, each with
// its cells up to the last one that holds a value.
type ValueSheet struct {
	Name string
	Rows [][]Value
}

// Value is a cell as ReadValues reads it back.
type Value struct {
	Number bool   // a number (also a date); else text
	Value  string // as the cell's number format shows it
	Raw    string // as stored: a date is its serial number
}

// ReadValues reads back a workbook we wrote (a report): every sheet with
// its cells' values and kinds. A formula anywhere is an error: we never
// write one.
func ReadValues(data []byte) ([]ValueSheet, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read XLSX: %w", err)
	}
	defer f.Close()
	var out []ValueSheet
	for _, name := range f.GetSheetList() {
		rows, err := f.GetRows(name)
		if err != nil {
			return nil, fmt.Errorf("read XLSX sheet %s: %w", name, err)
		}
		raw, err := f.GetRows(name, excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, fmt.Errorf("read XLSX sheet %s: %w", name, err)
		}
		sheet := ValueSheet{Name: name, Rows: make([][]Value, len(rows))}
		for i, row := range rows {
			sheet.Rows[i] = make([]Value, len(row))
			for j, v := range row {
				ref := CellName(j, i+1)
				formula, err := f.GetCellFormula(name, ref)
				if err != nil {
					return nil, fmt.Errorf("read XLSX cell %s!%s: %w", name, ref, err)
				}
				if formula != "" {
					return nil, fmt.Errorf("XLSX cell %s!%s holds a formula", name, ref)
				}
				typ, err := f.GetCellType(name, ref)
				if err != nil {
					return nil, fmt.Errorf("read XLSX cell %s!%s: %w", name, ref, err)
				}
				number := v != "" && (typ == excelize.CellTypeNumber || typ == excelize.CellTypeUnset)
				r := v
				if i < len(raw) && j < len(raw[i]) {
					r = raw[i][j]
				}
				sheet.Rows[i][j] = Value{Number: number, Value: v, Raw: r}
			}
		}
		out = append(out, sheet)
	}
	return out, nil
}
