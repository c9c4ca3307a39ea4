package report

import (
	"bytes"
	"fmt"

	"github.com/xuri/excelize/v2"
)

// maxWorkbook bounds what a workbook read by ReadWorkbook may unpack to
// (the bank's report limit, 1 GiB).
const maxWorkbook = 1 << 30

// ReadWorkbook reads every sheet of a workbook from outside (the bank's
// daily report in XLSX) as rows of raw cell text: numbers and dates as
// stored (a date is its Excel serial number, 109.99999999999999 is not
// rounded), shared and inline strings as written, a formula's cached
// value. It is bank131.ReportOptions.XLSX: reading the bank's XLSX lives
// here, beside the XLSX writer, so that excelize is imported by this
// package alone.
func ReadWorkbook(data []byte) ([][][]string, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit: maxWorkbook, UnzipXMLSizeLimit: maxWorkbook})
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
