package batch

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestGolden")

// TestGolden validates the files finance has (testdata/golden): a 1C
// export in Windows-1251 with Russian headers and no method column, the
// same payroll as an XLSX workbook (made here with excelize, with a card
// number Excel shows in scientific notation and a formula), with a totals
// line, and the binary files that are not payout files; each answer is in
// testdata/golden/<case>.want (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	csv1c, err := os.ReadFile("testdata/golden/1c_export.csv")
	require.NoError(t, err)
	cases := []struct {
		name string
		data []byte
		opts Options
	}{
		{name: "1c_export", data: csv1c},
		{name: "1c_export_xlsx", data: xlsxOf1C(t, csv1c, false)},
		{name: "1c_export_xlsx_excel_damage", data: xlsxOf1C(t, csv1c, true)},
		{name: "1c_totals", data: mustRead(t, "testdata/golden/1c_totals.csv")},
		{name: "1c_totals_wrong", data: mustRead(t, "testdata/golden/1c_totals_wrong.csv")},
		{name: "1c_totals_wrong_ru", data: mustRead(t, "testdata/golden/1c_totals_wrong.csv"), opts: Options{Lang: "ru"}},
		{name: "1c_totals_xlsx", data: xlsxOf1C(t, mustRead(t, "testdata/golden/1c_totals.csv"), false)},
		{name: "binary_xls", data: append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 1016)...)},
		{name: "binary_xls_ru", data: append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 1016)...), opts: Options{Lang: "ru"}},
		{name: "binary_zip", data: zipOf(t, "payroll.csv", string(csv1c))},
		{name: "binary_pdf", data: []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")},
		{name: "binary_ods", data: zipOf(t, "mimetype", "application/vnd.oasis.opendocument.spreadsheet", "content.xml", "<office:document-content/>")},
		{name: "binary_html_xls", data: []byte("<html><body><table><tr><td>Табельный номер</td><td>Сумма</td></tr></table></body></html>\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, got := validateBytes(t, tc.data, tc.opts)
			out := goldenText(res, got)
			path := filepath.Join("testdata", "golden", tc.name+".want")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(out), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "go test -run TestGolden -update writes it")
			require.Equal(t, string(want), out)
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// goldenText is what a golden file holds: the result and every message.
func goldenText(res *Result, msgs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "format: %s\nencoding: %s\ndelimiter: %q\nsheet: %s\nrows: %d\ntotals: %s\n", res.Format, res.Encoding, res.Delimiter, res.Sheet, res.Rows, res.Totals)
	var methods []string
	for m, n := range res.ByMethod {
		methods = append(methods, fmt.Sprintf("%s=%d", m, n))
	}
	sort.Strings(methods)
	fmt.Fprintf(&b, "by method: %s\n", strings.Join(methods, " "))
	if tl := res.TotalsLine; tl != nil {
		fmt.Fprintf(&b, "totals line: line %d, label %q, rows %d, amount %s\n", tl.Line, tl.Label, tl.Rows, tl.Amount)
	}
	fmt.Fprintf(&b, "valid: %v\nerrors: %d\n", res.Valid(), res.ErrorCount)
	for _, m := range msgs {
		b.WriteString(m + "\n")
	}
	return b.String()
}

// xlsxOf1C saves a Windows-1251 ";" file as a workbook, as Excel would:
// text cells, amounts as numbers with the format # ##0,00. With damage,
// Excel made the third card number a number (shown 2.2E+15) and the
// fourth amount a formula (its value cached).
func xlsxOf1C(t *testing.T, cp1251 []byte, damage bool) []byte {
	t.Helper()
	text, err := charmap.Windows1251.NewDecoder().Bytes(cp1251)
	require.NoError(t, err)
	f := excelize.NewFile()
	defer f.Close()
	require.NoError(t, f.SetSheetName("Sheet1", "Ведомость"))
	amountStyle, err := f.NewStyle(&excelize.Style{NumFmt: 4})
	require.NoError(t, err)
	for i, line := range strings.Split(strings.TrimSpace(string(text)), "\r\n") {
		for j, v := range strings.Split(line, ";") {
			ref, _ := excelize.CoordinatesToCellName(j+1, i+1)
			if j == 3 && i > 0 {
				a, err := parseAmount(v, "RUB")
				require.NoError(t, err)
				require.NoError(t, f.SetCellValue("Ведомость", ref, float64(a.Minor)/100))
				require.NoError(t, f.SetCellStyle("Ведомость", ref, ref, amountStyle))
				continue
			}
			if v != "" {
				require.NoError(t, f.SetCellValue("Ведомость", ref, v))
			}
		}
	}
	if damage {
		require.NoError(t, f.SetCellValue("Ведомость", "C4", 2200000000000004))
		require.NoError(t, f.SetCellFormula("Ведомость", "D5", "D2-23749.75"))
	}
	var buf bytes.Buffer
	_, err = f.WriteTo(&buf)
	require.NoError(t, err)
	return buf.Bytes()
}
