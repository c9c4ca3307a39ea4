package report

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/internal/spreadsheet"
)

// russianProfile is a LibreOffice user profile with Russian settings
// (locale ru-RU: decimal comma, day-first dates), as a Russian accountant's.
const russianProfile = `<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse"><value>ru-RU</value></prop></item>
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooLocale" oor:op="fuse"><value>ru-RU</value></prop></item>
<item oor:path="/org.openoffice.Office.Linguistic/General"><prop oor:name="DefaultLocale" oor:op="fuse"><value>ru-RU</value></prop></item>
</oor:items>
`

// sofficeFilter is LibreOffice's CSV import as Excel-RU opens a file:
// ";" between cells (59), '"' around text (34), UTF-8 (76), from line 1,
// standard columns, language Russian (1049), quoted cells not forced to
// text, special numbers (dates) detected.
const sofficeFilter = "CSV:59,34,76,1,,1049,false,true"

// findSoffice finds LibreOffice; in CI (CI set) its absence fails the
// test, since .ci/run installs it (Debian's libreoffice-calc-nogui).
func findSoffice(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"soffice", "libreoffice"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("soffice not found: install LibreOffice (apt-get install -y libreoffice-calc-nogui; .ci/run does) — " +
			"this test may not be skipped in CI")
	}
	t.Skip("soffice not found (apt-get install -y libreoffice-calc-nogui); CI runs this test")
	return ""
}

// convertWithLibreOffice converts a CSV file to XLSX with headless
// LibreOffice under a fresh Russian profile and returns the workbook.
func convertWithLibreOffice(t *testing.T, csvData []byte) *excelize.File {
	t.Helper()
	soffice := findSoffice(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile")
	require.NoError(t, os.MkdirAll(filepath.Join(profile, "user"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(profile, "user", "registrymodifications.xcu"), []byte(russianProfile), 0o644))
	in := filepath.Join(dir, "report.csv")
	require.NoError(t, os.WriteFile(in, csvData, 0o644))
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, soffice, "-env:UserInstallation=file://"+profile, "--headless", "--norestore",
		"--nolockcheck", "--infilter="+sofficeFilter, "--convert-to", "xlsx", "--outdir", out, in)
	cmd.Env = append(os.Environ(), "LANG=ru_RU.UTF-8", "HOME="+dir)
	cmd.Dir = dir
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "soffice: %s", output)
	f, err := excelize.OpenFile(filepath.Join(out, "report.xlsx"))
	require.NoError(t, err, "soffice wrote no workbook: %s", output)
	t.Cleanup(func() { f.Close() })
	return f
}

// TestExcelRUOpensInLibreOffice opens the Russian report's excel-ru CSV
// in LibreOffice with Russian settings, as finance would, and reads the
// sheet back: one spreadsheet row per payout (under the header, nothing
// after), the row numbers, amounts, fees, rates and counts as numbers
// with their values, the times as dates, text as text (a cell with ";",
// quotes and a line break included).
func TestExcelRUOpensInLibreOffice(t *testing.T) {
	rep, _ := goldenReport(t, "ru")
	rep.Rows[0].Description = "Зарплата; премия \"за ноябрь\"\nвторая строка"
	data := render(t, rep, FormatCSV)
	require.Equal(t, spreadsheet.ExcelRU, DefaultDialect(rep.Lang))
	f := convertWithLibreOffice(t, data)
	sheet := f.GetSheetList()[0]
	rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	require.Len(t, rows, len(rep.Rows)+1, "a header and one row per payout")
	require.Equal(t, header("ru", rep.metaKeys()), rows[0])

	value := func(col, row int) (string, excelize.CellType) {
		t.Helper()
		ref := cellRef(col, row)
		v, err := f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		typ, err := f.GetCellType(sheet, ref)
		require.NoError(t, err)
		return v, typ
	}
	number := func(col, row int, want string) {
		t.Helper()
		v, typ := value(col, row)
		require.NotEqual(t, excelize.CellTypeSharedString, typ, "%s is a number, not text: %q", cellRef(col, row), v)
		require.NotEqual(t, excelize.CellTypeInlineString, typ, "%s is a number, not text: %q", cellRef(col, row), v)
		got, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err, "%s: %q", cellRef(col, row), v)
		w, err := strconv.ParseFloat(want, 64)
		require.NoError(t, err)
		require.InDelta(t, w, got, 1e-9, "%s", cellRef(col, row))
	}
	serial := func(text string) string {
		v, ok := excelSerial(text, layoutZone(rep))
		require.True(t, ok)
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	for i, r := range rep.Rows {
		line := i + 2
		number(colOf(t, rep, "row"), line, strconv.Itoa(r.Row))
		number(colOf(t, rep, "amount"), line, r.Amount)
		number(colOf(t, rep, "attempts"), line, strconv.Itoa(r.Attempts))
		number(colOf(t, rep, "received_at"), line, serial(r.ReceivedAt))
		if r.Fee != "" {
			number(colOf(t, rep, "fee"), line, r.Fee)
		}
		if r.DestinationAmount != "" {
			number(colOf(t, rep, "destination_amount"), line, r.DestinationAmount)
			number(colOf(t, rep, "fx_rate"), line, r.FXRate)
			number(colOf(t, rep, "commission"), line, r.Commission)
		}
		ref, typ := value(colOf(t, rep, "reference"), line)
		require.Equal(t, r.Reference, ref)
		require.Contains(t, []excelize.CellType{excelize.CellTypeSharedString, excelize.CellTypeInlineString}, typ)
		if r.TCN != "" {
			tcn, _ := value(colOf(t, rep, "tcn"), line)
			require.Equal(t, r.TCN, tcn, "the control number stays text")
		}
	}
	desc, _ := value(len(rowColumns)+1, 2)
	require.Equal(t, rep.Rows[0].Description, desc)
	// The dates show as dates: a date format on the received_at cells.
	id, err := f.GetCellStyle(sheet, cellRef(colOf(t, rep, "received_at"), 2))
	require.NoError(t, err)
	st, err := f.GetStyle(id)
	require.NoError(t, err)
	format := ""
	if st.CustomNumFmt != nil {
		format = *st.CustomNumFmt
	}
	require.True(t, st.NumFmt >= 14 && st.NumFmt <= 22 || strings.Contains(strings.ToLower(format), "yy"),
		"a date format, got %d %q", st.NumFmt, format)
	t.Log(fmt.Sprintf("LibreOffice read %d rows; date format %d %q", len(rows)-1, st.NumFmt, format))
}

// layoutZone is the zone the default layout writes times in.
func layoutZone(rep *Report) *time.Location { return Layout{}.with(rep).Zone }
