package ledger

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/report"
)

var update = flag.Bool("update", false, "rewrite the report golden files in ../report/testdata/")

// golden compares got with the report's golden file name (the report
// package's tests render the same files from report.json), or rewrites it
// with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "report", "testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	require.Equal(t, string(want), string(got), "%s differs; if the change is intended, run go test -run %s -update", path, t.Name())
}

// xlsxCells renders every cell of every sheet as type:value (s string, n
// number), one line per spreadsheet row, and fails on any formula
// (report.ReadXLSX refuses one).
func xlsxCells(t *testing.T, data []byte) string {
	t.Helper()
	sheets, err := report.ReadXLSX(data)
	require.NoError(t, err)
	var sb strings.Builder
	for _, sheet := range sheets {
		fmt.Fprintf(&sb, "== %s\n", sheet.Name)
		for _, row := range sheet.Rows {
			cells := make([]string, len(row))
			for j, c := range row {
				switch {
				case c.Value == "":
				case c.Number:
					cells[j] = "n:" + c.Value
				default:
					cells[j] = "s:" + c.Value
				}
			}
			sb.WriteString(strings.Join(cells, "\t") + "\n")
		}
	}
	return sb.String()
}

func render(t *testing.T, rep *report.Report, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, rep.Write(&buf, format))
	return buf.Bytes()
}

// TestReportGolden renders the golden ledger's report in every format and
// compares it with testdata/report.* (go test -run TestReportGolden -update
// rewrites them). XLSX is compared by its cells.
func TestReportGolden(t *testing.T) {
	s, _, id := goldenLedger(t)
	rep, err := s.db.Report(context.Background(), id)
	require.NoError(t, err)

	// Every status and every category the reconciliation finds is here.
	statuses := map[string]bool{}
	for _, r := range rep.Rows {
		statuses[r.Reconciliation] = true
	}
	require.Len(t, statuses, len(reconcile.Statuses))
	cats := map[reconcile.Category]bool{}
	for _, e := range rep.Summary.Exceptions {
		cats[e.Category] = true
	}
	for _, c := range []reconcile.Category{reconcile.PaidNotInRecords, reconcile.PaidAfterCancel, reconcile.AmountMismatch, reconcile.TwoOperations,
		reconcile.MissingFromReport, reconcile.ReturnedAfterSuccess, reconcile.InDoubt, reconcile.GateMismatch} {
		require.True(t, cats[c], "category %s in the golden report", c)
	}

	golden(t, "report.csv", render(t, rep, report.FormatCSV))
	golden(t, "report-summary.csv", render(t, rep, report.FormatSummaryCSV))
	golden(t, "report.json", render(t, rep, report.FormatJSON))
	golden(t, "report.xlsx.txt", []byte(xlsxCells(t, render(t, rep, report.FormatXLSX))))

	// The CSV is one table: a header and a line per row, nothing else; the
	// summary is a file of its own.
	r := csv.NewReader(bytes.NewReader(render(t, rep, report.FormatCSV)))
	all, err := r.ReadAll()
	require.NoError(t, err)
	require.Equal(t, append(report.Columns(), "description", "meta_department"), all[0])
	require.Len(t, all, len(rep.Rows)+1)
	sum, err := csv.NewReader(bytes.NewReader(render(t, rep, report.FormatSummaryCSV))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, report.SummaryColumns(), sum[0])

	// The transfer waiting for 3-D Secure carries its link, expiry and
	// control number.
	r17 := rep.Rows[16]
	require.Equal(t, "T-003/2026-11", r17.Reference)
	require.Equal(t, "https://bank.example/3ds/ps_17", r17.ActionURL)
	require.Equal(t, "592174-69412211", r17.TCN)
	require.Equal(t, "2026-11-25T09:00:00Z", r17.ActionAt)
	require.Equal(t, "2026-11-25T09:15:00Z", r17.ActionExpiresAt)
	require.Equal(t, "40.00", r17.Commission, "the quote's commission")
	require.Equal(t, "40000.00", r17.SourceAmount)
	// The file's description and meta_department reach the row's line.
	require.Equal(t, "Зарплата за ноябрь 2026", rep.Rows[0].Description)
	require.Equal(t, map[string]string{"department": "Бухгалтерия"}, rep.Rows[0].Meta)
	require.Equal(t, []string{"Зарплата за ноябрь 2026", "Бухгалтерия"}, all[1][len(report.Columns()):])
}

// metaBatch records a batch whose rows carry the given descriptions and
// meta (nil: none), and releases it.
func metaBatch(t *testing.T, s *Service, descriptions []string, metas []map[string]string) *testBatch {
	t.Helper()
	b := makeBatch(len(metas), t.Name())
	b.rewrite(t, func(i int, r *payout.Row) { r.Description, r.Meta = descriptions[i], metas[i] })
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(context.Background()))
	return b
}

// rewrite changes the batch's rows and encodes them and the manifest's
// rows digest again.
func (b *testBatch) rewrite(t *testing.T, change func(i int, r *payout.Row)) {
	t.Helper()
	var digests [][]byte
	for i, r := range b.Rows {
		change(i, r)
		data := intake.EncodeRow(r)
		b.Data[i] = data
		d := sha256.Sum256(data)
		digests = append(digests, d[:])
	}
	b.Manifest.RowsSHA256 = payout.DigestRows(digests)
}

// TestReportMetaColumns: rows with different meta names get one column per
// name in the batch, sorted, after the fixed columns and the description;
// a row without a name gets an empty cell; JSON carries a meta object per
// row ({} for none). Values starting with = + - @ are guarded in CSV and
// XLSX like every other text, and kept as they are in JSON.
func TestReportMetaColumns(t *testing.T) {
	s, _ := newService(t)
	descriptions := []string{"=HYPERLINK(\"http://x\")", "Salary, November", "", "+7 bonus"}
	metas := []map[string]string{
		{"department": "=1+2", "cost_center": "+CC-7"},
		{"department": "Sales", "project": "@apollo"},
		nil,
		{"project": "-42", "zone": "north"},
	}
	b := metaBatch(t, s, descriptions, metas)
	rep, err := s.db.Report(context.Background(), b.ID)
	require.NoError(t, err)

	wantHead := append(report.Columns(), "description", "meta_cost_center", "meta_department", "meta_project", "meta_zone")
	recs, err := csv.NewReader(bytes.NewReader(render(t, rep, report.FormatCSV))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, wantHead, recs[0])
	tail := func(rec []string) []string { return rec[len(report.Columns()):] }
	require.Equal(t, []string{"'=HYPERLINK(\"http://x\")", "'+CC-7", "'=1+2", "", ""}, tail(recs[1]))
	require.Equal(t, []string{"Salary, November", "", "Sales", "'@apollo", ""}, tail(recs[2]))
	require.Equal(t, []string{"", "", "", "", ""}, tail(recs[3]))
	require.Equal(t, []string{"'+7 bonus", "", "", "'-42", "north"}, tail(recs[4]))
	for _, rec := range recs {
		require.Len(t, rec, len(wantHead))
		for _, c := range rec {
			if c != "" {
				require.NotContains(t, "=+-@\t\r", c[:1], "CSV cell %q", c)
			}
		}
	}

	// XLSX: the same cells, as strings, never a formula (xlsxCells fails on one).
	lines := strings.Split(xlsxCells(t, render(t, rep, report.FormatXLSX)), "\n")
	require.Equal(t, "== "+report.SheetRows, lines[0])
	head := strings.Split(lines[1], "\t")
	require.Equal(t, "s:meta_zone", head[len(head)-1])
	require.Len(t, head, len(wantHead))
	row1 := strings.Split(lines[2], "\t")
	require.Equal(t, []string{"s:'=HYPERLINK(\"http://x\")", "s:'+CC-7", "s:'=1+2"}, row1[len(report.Columns()):])
	row4 := strings.Split(lines[5], "\t")
	require.Equal(t, []string{"s:'+7 bonus", "", "", "s:'-42", "s:north"}, row4[len(report.Columns()):])

	// JSON: the values as finance wrote them, {} for a row without meta.
	var back struct {
		Rows []struct {
			Description *string           `json:"description"`
			Meta        map[string]string `json:"meta"`
		} `json:"rows"`
	}
	js := render(t, rep, report.FormatJSON)
	require.NoError(t, json.Unmarshal(js, &back))
	require.Equal(t, "=HYPERLINK(\"http://x\")", *back.Rows[0].Description)
	require.Equal(t, map[string]string{"department": "=1+2", "cost_center": "+CC-7"}, back.Rows[0].Meta)
	require.Equal(t, map[string]string{"department": "Sales", "project": "@apollo"}, back.Rows[1].Meta)
	require.Nil(t, back.Rows[2].Description)
	require.NotNil(t, back.Rows[2].Meta)
	require.Empty(t, back.Rows[2].Meta)
	require.Contains(t, string(js), `"meta":{}`)
	require.Contains(t, string(js), `"meta":{"cost_center":"+CC-7","department":"=1+2"}`) // sorted names

	// The same state, the same bytes.
	again, err := s.db.Report(context.Background(), b.ID)
	require.NoError(t, err)
	for _, f := range report.Formats {
		require.Equal(t, render(t, rep, f), render(t, again, f), "format %s", f)
	}
}

// TestReportMetaNoCardNumber: a card number in a meta name or value or in
// the description (ingest refuses them; the ledger does not rely on it) is
// masked in every format, also in groupings the report's old expression
// let through (dots, no-break spaces).
func TestReportMetaNoCardNumber(t *testing.T) {
	s, _ := newService(t)
	b := metaBatch(t, s, []string{"card 4242 4242 4242 4242 of Ivan", "card 4111.1111.1111.1111 refused", "x"},
		[]map[string]string{{"note": "paid to 5555555555554444", "card 4000056655665556": "y"}, nil,
			{"note": "card 5105\u00a01051\u00a00510\u00a05100 refused"}})
	rep, err := s.db.Report(context.Background(), b.ID)
	require.NoError(t, err)
	require.Equal(t, "card 424242******4242 of Ivan", rep.Rows[0].Description)
	require.Equal(t, map[string]string{"note": "paid to 555555******4444", "card 400005******5556": "y"}, rep.Rows[0].Meta)
	require.Equal(t, "card 411111******1111 refused", rep.Rows[1].Description)
	require.Equal(t, map[string]string{"note": "card 510510******5100 refused"}, rep.Rows[2].Meta)
	for _, f := range report.Formats {
		out := render(t, rep, f)
		if f == report.FormatXLSX {
			out = unzipAll(t, out)
		}
		checkNoPAN(t, f+" report", out, false)
		for _, raw := range []string{"4111.1111.1111.1111", "5105\u00a01051\u00a00510\u00a05100", `5105\u00a01051`} {
			require.NotContains(t, string(out), raw, "%s report", f)
		}
		if f != report.FormatSummaryCSV {
			require.Contains(t, string(out), "card 411111******1111 refused", "%s report", f)
		}
	}
}

// TestReportMetaBeforeDescription: a read-only reader newer than the
// ledger file (no description column yet) still reports meta.
func TestReportMetaBeforeDescription(t *testing.T) {
	s, _ := newService(t)
	b := metaBatch(t, s, []string{"bonus"}, []map[string]string{{"department": "IT"}})
	require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec(`ALTER TABLE rows DROP COLUMN description`)
		return err
	}))
	rep, err := s.db.Report(context.Background(), b.ID)
	require.NoError(t, err)
	require.Equal(t, "", rep.Rows[0].Description)
	require.Equal(t, map[string]string{"department": "IT"}, rep.Rows[0].Meta)
}

func indexOf(recs [][]string, head []string) int {
	for i, r := range recs {
		if strings.Join(r[:len(head)], ",") == strings.Join(head, ",") {
			return i
		}
	}
	return -1
}

// TestReportIsDeterministic: the same state gives the same bytes, also
// after the database is closed and opened again, and in XLSX too.
func TestReportIsDeterministic(t *testing.T) {
	s, _, id := goldenLedger(t)
	ctx := context.Background()
	first := map[string][]byte{}
	rep, err := s.db.Report(ctx, id)
	require.NoError(t, err)
	for _, f := range report.Formats {
		first[f] = render(t, rep, f)
	}
	ro, err := OpenReadOnly(s.db.Path())
	require.NoError(t, err)
	defer ro.Close()
	again, err := ro.Report(ctx, id)
	require.NoError(t, err)
	for _, f := range report.Formats {
		require.Equal(t, first[f], render(t, again, f), "format %s", f)
	}
	// No clock of the reader in the content: the state's own time is.
	require.Equal(t, "2026-11-26T09:00:00Z", rep.AsOf)
}

// testPANs are every card number the fixtures use.
var testPANs = []string{"4242424242424242", "5555555555554444", "2200000000000004", "4111111111111111",
	"4000000000000028", "4242424242424243", "5105105105105100", "4000056655665556"}

var digitRun = regexp.MustCompile(`\d[\d -]{11,}\d`)

// cardRun is a digit run that is not part of a word (a hex id holds long
// digit runs that may pass the Luhn check by chance).
var cardRun = regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`)

// checkNoPAN fails when text holds a test card number, with or without
// separators, or (luhn) any 13–19 digit run that passes the Luhn check.
func checkNoPAN(t *testing.T, what string, text []byte, luhn bool) {
	t.Helper()
	for _, m := range digitRun.FindAll(text, -1) {
		digits := strings.NewReplacer(" ", "", "-", "").Replace(string(m))
		for _, pan := range testPANs {
			require.NotContains(t, digits, pan, "%s holds test card number %s", what, pan)
		}
	}
	if !luhn {
		return
	}
	for _, m := range cardRun.FindAll(text, -1) {
		digits := strings.NewReplacer(" ", "", "-", "").Replace(string(m))
		if digits[0] == '0' {
			continue // no card number starts with 0 (XLSX parts hold zero GUIDs)
		}
		require.False(t, payout.Luhn(digits), "%s holds a card-like number %s", what, m)
	}
}

// unzipAll concatenates every part of a zip (an XLSX).
func unzipAll(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	var out bytes.Buffer
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		_, err = io.Copy(&out, rc)
		require.NoError(t, err)
		rc.Close()
	}
	return out.Bytes()
}

// TestNoCardNumberAnywhere feeds the sample file with the test card
// numbers through the ledger and greps every report format, the HTTP
// answers and the SQLite files for them.
func TestNoCardNumberAnywhere(t *testing.T) {
	_, raw := csvBatch(t, filepath.Join("testdata", "payroll.csv"))
	plain := strings.NewReplacer(" ", "", "-", "").Replace(string(raw))
	found := 0
	for _, pan := range testPANs {
		if strings.Contains(plain, pan) {
			found++
		}
	}
	require.GreaterOrEqual(t, found, 4, "the fixture holds test card numbers")

	s, _, id := goldenLedger(t)
	ctx := context.Background()
	rep, err := s.db.Report(ctx, id)
	require.NoError(t, err)
	checkNoPAN(t, "CSV report", render(t, rep, report.FormatCSV), true)
	checkNoPAN(t, "JSON report", render(t, rep, report.FormatJSON), true)
	checkNoPAN(t, "XLSX report", unzipAll(t, render(t, rep, report.FormatXLSX)), true)
	rec, err := s.db.Reconcile(ctx, id)
	require.NoError(t, err)
	js, err := json.Marshal(rec)
	require.NoError(t, err)
	checkNoPAN(t, "reconciliation", js, true)
	require.NoError(t, s.Close())
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(s.db.Path() + suffix)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		// Binary records put columns side by side (the masked
		// destination's last four, the BIN, the last four), so only the
		// card numbers themselves are looked for.
		checkNoPAN(t, "ledger file "+filepath.Base(s.db.Path()+suffix), data, false)
	}
}

// TestReportNeverCarriesAFormula: text that a spreadsheet would run (the
// ledger does not trust that ingest refused it) gets a leading apostrophe
// in CSV and XLSX, and XLSX cells are never formulas.
func TestReportNeverCarriesAFormula(t *testing.T) {
	s, _ := newService(t)
	b := makeBatch(6, t.Name())
	nasty := []string{"=1+2", "+SUM(A1:A9)", "-2+3", "@cmd", "\tHYPERLINK", "\r=x"}
	b.rewrite(t, func(i int, r *payout.Row) { r.Reference, r.FullName = nasty[i], nasty[(i+1)%len(nasty)] })
	record(t, s, b.msgs(1))
	require.NoError(t, s.ReleaseDue(context.Background()))
	failRow(t, s, b.ID, 1, "ps_1", "po_1", "=cmd|' /C calc'!A0")
	rep, err := s.db.Report(context.Background(), b.ID)
	require.NoError(t, err)

	recs, err := csv.NewReader(bytes.NewReader(render(t, rep, report.FormatCSV))).ReadAll()
	require.NoError(t, err)
	refs := map[string]bool{}
	for _, rec := range recs {
		for _, cell := range rec {
			if cell != "" {
				require.NotContains(t, "=+-@\t\r", cell[:1], "CSV cell %q", cell)
			}
		}
		refs[rec[1]] = true
	}
	for _, n := range nasty {
		// CSV lines end with CR LF (both dialects): a lone CR in a cell
		// is dropped (encoding/csv), the guard stays.
		require.True(t, refs["'"+strings.ReplaceAll(n, "\r", "")], "reference %q kept, guarded", n)
	}
	// xlsxCells fails on any formula.
	cells := xlsxCells(t, render(t, rep, report.FormatXLSX))
	for _, line := range strings.Split(cells, "\n") {
		for _, c := range strings.Split(line, "\t") {
			if v, ok := strings.CutPrefix(c, "s:"); ok && v != "" {
				require.NotContains(t, "=+-@\t\r", v[:1], "XLSX cell %q", v)
			}
		}
	}
	// JSON keeps the data as it is.
	require.Equal(t, "=1+2", rep.Rows[0].Reference)
}

// TestReportJSONReadsBack: the streamed JSON is one valid document that
// decodes to the report.
func TestReportJSONReadsBack(t *testing.T) {
	s, _, id := goldenLedger(t)
	rep, err := s.db.Report(context.Background(), id)
	require.NoError(t, err)
	var back report.Report
	require.NoError(t, json.Unmarshal(render(t, rep, report.FormatJSON), &back))
	require.Equal(t, *rep, back)

	empty := &report.Report{Rows: []report.Row{}}
	require.NoError(t, json.Unmarshal(render(t, empty, report.FormatJSON), &back))
}

// TestDecodeMeta: meta is read as the JSON decoder reads it.
func TestDecodeMeta(t *testing.T) {
	for _, text := range []string{
		`{"department":"IT"}`, `{"a":"1","b":"=2"}`, `{}`, `{"a":""}`, `{"":"x"}`, `{"a":"b","a":"c"}`,
		`{"a":"b",}`, `{"a":"b","c"}`, `{"a""b"}`, `{"a":"b"x}`, `{"a":1}`, `{"a":"q\"uote"}`, `{"a":"\u00e9"}`,
		`{ "a" : "b" }`, `{"a":null}`, `{"a":"line\nbreak"}`, "{\"a\":\"tab\there\"}", `{"отдел":"Склад"}`, `[]`, `{`,
	} {
		var want map[string]string
		wantErr := gojson.Unmarshal([]byte(text), &want)
		got, err := decodeMeta(text)
		if wantErr == nil {
			require.NoError(t, err, text)
			if len(want) == 0 {
				want = nil // no meta (intake.DecodeMeta)
			}
			require.Equal(t, want, got, text)
		}
	}
	got, err := decodeMeta(`{"a":1,"b":null,"c":"x"}`)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "", "c": "x"}, got) // null: no value
	_, err = decodeMeta(`{"a":`)
	require.Error(t, err)
}
