package sandbox

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The report as XLSX: a minimal SpreadsheetML package written here (the
// sandbox links nothing of payrun's report code, and excelize is imported
// by internal/report alone). Cells are inline strings, or with
// Modes.ReportXLSXCells typed, numbers for the amounts and date cells
// (Excel serials, number format 22 "m/d/yy h:mm") for the times, as a
// spreadsheet saved by a person would hold them.
var xlsxParts = map[string]string{
	"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>`,
	"_rels/.rels": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
	"xl/workbook.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Report" sheetId="1" r:id="rId1"/></sheets></workbook>`,
	"xl/_rels/workbook.xml.rels": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`,
	"xl/styles.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>`,
}

var xlsxPartOrder = []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"}

// excelEpoch is day 0 of Excel's 1900 date system for serials from 61 on.
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

// reportXLSX writes lines as a one-sheet workbook.
func (s *Server) reportXLSX(lines []reportLine, header bool) ([]byte, error) {
	typed := s.cfg.Modes.ReportXLSXCells == modeTyped
	var sheet strings.Builder
	sheet.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	row := 0
	text := func(col int, v string) {
		fmt.Fprintf(&sheet, `<c r="%s%d" t="inlineStr"><is><t xml:space="preserve">`, columnLetters(col), row)
		xml.EscapeText(&sheet, []byte(v))
		sheet.WriteString(`</t></is></c>`)
	}
	if header {
		row++
		fmt.Fprintf(&sheet, `<row r="%d">`, row)
		for j, h := range ReportHeader {
			text(j, h)
		}
		sheet.WriteString(`</row>`)
	}
	for _, l := range lines {
		row++
		fmt.Fprintf(&sheet, `<row r="%d">`, row)
		for j, v := range l.rec {
			switch {
			case typed && (j == 1 || j == 2):
				fmt.Fprintf(&sheet, `<c r="%s%d" s="1"><v>%s</v></c>`, columnLetters(j), row, excelSerial(l.times[j-1]))
			case typed && j >= 10 && j <= 12:
				fmt.Fprintf(&sheet, `<c r="%s%d"><v>%s</v></c>`, columnLetters(j), row, l.amount[j-10])
			case typed && j == 4:
				fmt.Fprintf(&sheet, `<c r="%s%d"><v>%s</v></c>`, columnLetters(j), row, v)
			default:
				text(j, v)
			}
		}
		sheet.WriteString(`</row>`)
	}
	sheet.WriteString(`</sheetData></worksheet>`)
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	write := func(name, body string) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			return err
		}
		_, err = w.Write([]byte(body))
		return err
	}
	for _, name := range xlsxPartOrder {
		if err := write(name, xlsxParts[name]); err != nil {
			return nil, fmt.Errorf("write report XLSX: %w", err)
		}
	}
	if err := write("xl/worksheets/sheet1.xml", sheet.String()); err != nil {
		return nil, fmt.Errorf("write report XLSX: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("write report XLSX: %w", err)
	}
	return b.Bytes(), nil
}

// excelSerial is a wall-clock time as an Excel serial date: whole days
// since excelEpoch, and the seconds of the day as a fraction (printed with
// 10 decimals, finer than a second).
func excelSerial(t time.Time) string {
	wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	secs := int64(wall.Sub(excelEpoch) / time.Second)
	days, rest := secs/86400, secs%86400
	frac := strconv.FormatInt(rest*10_000_000_000/86400, 10)
	return strconv.FormatInt(days, 10) + "." + strings.Repeat("0", 10-len(frac)) + frac
}

// columnLetters is a 0-based column's letters: 0 → A, 13 → N.
func columnLetters(j int) string {
	s := ""
	for j++; j > 0; j = (j - 1) / 26 {
		s = string(rune('A'+(j-1)%26)) + s
	}
	return s
}
