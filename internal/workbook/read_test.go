package workbook

import (
	"archive/zip"
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
)

func TestGeneral(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0", 1: "1", -5: "-5", 1500.5: "1500.5", 85000: "85000", 12345678901: "12345678901",
		123456789012: "1.23457E+11", 4276380000000000: "4.27638E+15", 4.2e15: "4.2E+15", 1e15: "1E+15",
		-4276380000000000: "-4.27638E+15", 1234.567890123: "1234.56789", 0.000000000123: "1.23E-10",
		0.1 + 0.2: "0.3", 2200000000000004: "2.2E+15",
	} {
		require.Equal(t, want, General(f), "%v", f)
	}
}

func TestPlain(t *testing.T) {
	for f, want := range map[float64]string{
		4276381234567891: "4276381234567890", 1500.5499999999999: "1500.55", 0.1 + 0.2: "0.3", 85000: "85000", -1.5: "-1.5",
	} {
		require.Equal(t, want, plain(f), "%v", f)
	}
}

func TestIsDateFormat(t *testing.T) {
	for code, want := range map[string]bool{
		"dd.mm.yyyy": true, "yyyy-mm-dd": true, "[$-419]d mmmm yyyy": true, "m/d/yy": true,
		"0.00": false, "#,##0.00": false, `0" дней"`: false, "[Red]0": false, "General": false, `\d0`: false, "h:mm": false,
	} {
		require.Equal(t, want, isDateFormat(code), code)
	}
}

func TestCellName(t *testing.T) {
	require.Equal(t, "A1", CellName(0, 1))
	require.Equal(t, "AA10", CellName(26, 10))
	require.Equal(t, "C", ColumnName(2))
}

// TestReadHandWrittenSheet reads sheet XML as other programs write it:
// rows and cells without references, inline strings, a shared formula's
// cells, a prefixed namespace, a date cell.
func TestReadHandWrittenSheet(t *testing.T) {
	sheet := `<?xml version="1.0" encoding="UTF-8"?>
<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:cols><x:col min="2" max="3" width="0" customWidth="1"/></x:cols><x:sheetData>
<x:row><x:c t="inlineStr"><x:is><x:t>reference</x:t></x:is></x:c><x:c t="inlineStr"><x:is><x:r><x:t>am</x:t></x:r><x:r><x:t>ount</x:t></x:r></x:is></x:c></x:row>
<x:row><x:c t="inlineStr"><x:is><x:t>E-1</x:t></x:is></x:c><x:c><x:v>100</x:v></x:c></x:row>
<x:row r="5" ht="0" customHeight="1"><x:c r="A5" t="inlineStr"><x:is><x:t>E-2</x:t></x:is></x:c><x:c r="B5"><x:f t="shared" ref="B5:B6" si="0">B2*2</x:f><x:v>200</x:v></x:c></x:row>
<x:row r="6"><x:c r="B6"><x:f t="shared" si="0"/><x:v>400</x:v></x:c><x:c r="C6" t="d"><x:v>2026-11-20T00:00:00</x:v></x:c></x:row>
</x:sheetData><x:mergeCells count="1"><x:mergeCell ref="A6:A7"/></x:mergeCells></x:worksheet>`
	data := replacePart(t, "xl/worksheets/sheet1.xml", sheet)
	b, err := Open(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, []Sheet{{Name: "Sheet1", Rows: true}}, b.Sheets())
	rows, err := b.Rows("Sheet1")
	require.NoError(t, err)
	defer rows.Close()
	var got []Row
	for rows.Next() {
		r := rows.Row()
		r.Cells = append([]Cell(nil), r.Cells...)
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []Row{
		{Num: 1, Cells: []Cell{{Text: "reference"}, {Text: "amount"}}},
		{Num: 2, Cells: []Cell{{Text: "E-1"}, {Text: "100", Number: "100"}}},
		{Num: 5, Hidden: true, Cells: []Cell{{Text: "E-2"}, {Text: "200", Number: "200", Formula: "=B2*2"}}},
		{Num: 6, Cells: []Cell{{}, {Text: "400", Number: "400", Formula: "="}, {Text: got[3].Cells[2].Text, Date: "2026-11-20"}}},
	}, got)
	require.Equal(t, []Range{{Ref: "A6:A7", FromCol: 1, FromRow: 6, ToCol: 1, ToRow: 7}}, rows.Merged())
	require.Equal(t, []bool{false, true, true}, rows.HiddenColumns())
}

var (
	newBook      sync.Once
	newBookBytes []byte
)

// replacePart is a new workbook with one of its parts replaced.
func replacePart(t *testing.T, name, content string) []byte {
	t.Helper()
	newBook.Do(func() {
		var buf bytes.Buffer
		_, err := excelize.NewFile().WriteTo(&buf)
		require.NoError(t, err)
		newBookBytes = buf.Bytes()
	})
	zr, err := zip.NewReader(bytes.NewReader(newBookBytes), int64(len(newBookBytes)))
	require.NoError(t, err)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, m := range zr.File {
		w, err := zw.Create(m.Name)
		require.NoError(t, err)
		if m.Name == name {
			_, err = io.WriteString(w, content)
			require.NoError(t, err)
			continue
		}
		rc, err := m.Open()
		require.NoError(t, err)
		_, err = io.Copy(w, rc)
		require.NoError(t, err)
		rc.Close()
	}
	require.NoError(t, zw.Close())
	return out.Bytes()
}

func TestOpenDamaged(t *testing.T) {
	_, err := Open(bytes.NewReader([]byte("PK\x03\x04 not a zip")), 14)
	require.Error(t, err)
	data := replacePart(t, "xl/worksheets/sheet1.xml", "<worksheet><sheetData><row><c><v>1</v></c></row><row><c><v>2")
	b, err := Open(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	defer b.Close()
	rows, err := b.Rows("Sheet1")
	require.NoError(t, err)
	require.True(t, rows.Next())
	require.Equal(t, "1", rows.Row().Cells[0].Text)
	require.False(t, rows.Next())
	require.ErrorContains(t, rows.Err(), "read sheet XML", "the sheet is cut short")
}

// FuzzSheetXML reads arbitrary sheet XML: no panic, and the rows come in
// increasing order, each with something in it.
func FuzzSheetXML(f *testing.F) {
	f.Add(`<worksheet><sheetData><row r="2"><c r="B2"><v>1</v></c></row></sheetData></worksheet>`)
	f.Add(`<worksheet><cols><col min="1" max="2" hidden="1"/></cols><sheetData><row><c t="inlineStr"><is><t>x</t></is></c><c><f>A1</f><v>3</v></c></row><row r="1"><c><v>1</v></c></row></sheetData><mergeCells><mergeCell ref="A1:B2"/></mergeCells></worksheet>`)
	f.Fuzz(func(t *testing.T, sheet string) {
		data := replacePart(t, "xl/worksheets/sheet1.xml", sheet)
		b, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		defer b.Close()
		rows, err := b.Rows("Sheet1")
		if err != nil {
			return
		}
		defer rows.Close()
		last := 0
		for n := 0; rows.Next() && n < 10000; n++ {
			r := rows.Row()
			if r.Num <= last || len(r.Cells) == 0 {
				t.Fatalf("row %d after %d with %d cells", r.Num, last, len(r.Cells))
			}
			last = r.Num
		}
	})
}
