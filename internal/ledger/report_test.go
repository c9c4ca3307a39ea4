package ledger

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the report golden files in testdata/")

// csvBatch turns a payout file into intake messages as ingest does: the
// file is validated, card numbers are sealed, each row is encoded, and
// the manifest seals the batch.
func csvBatch(t *testing.T, path string) (*testBatch, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	opts := batch.Options{Now: func() time.Time { return time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC) }}
	res, err := batch.Validate(bytes.NewReader(data), opts)
	require.NoError(t, err)
	require.True(t, res.Valid(), "%v", res.Errors)
	sum := sha256.Sum256(data)
	b := &testBatch{ID: payout.BatchID(sum[:])}
	sealer, _ := testutil.Keys(t)
	env, err := sealer.Begin()
	require.NoError(t, err)
	totals := money.Totals{}
	var digests [][]byte
	for row, err := range batch.Rows(bytes.NewReader(data), opts, func(pan string, row int) string {
		return env.Seal(pan, fmt.Sprintf("%s/%d", b.ID, row))
	}) {
		require.NoError(t, err)
		row.Batch = b.ID
		enc, err := ingest.EncodeRow(row)
		require.NoError(t, err)
		d := sha256.Sum256(enc)
		digests = append(digests, d[:])
		totals.Add(row.Amount)
		b.Data = append(b.Data, enc)
	}
	b.Manifest = &payout.Manifest{Batch: b.ID, Name: "Payroll November 2026", FileName: filepath.Base(path),
		FileSHA256: hex.EncodeToString(sum[:]), Rows: len(b.Data), Totals: totals, RowsSHA256: payout.DigestRows(digests),
		CreatedAt: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	return b, data
}

// paySteps are a row's transitions from queued to succeeded; source is the
// evidence of the success (webhook or status).
func paySteps(batch string, row int, session, payoutID string, paid money.Amount, source ledgerapi.Source, quote *ledgerapi.Quote) []ledgerapi.Transition {
	fee := rub(2500)
	trs := []ledgerapi.Transition{{To: payout.StateClaimed, Worker: "w1"}}
	if quote != nil {
		trs = append(trs, ledgerapi.Transition{To: payout.StateQuoted, Quote: quote})
	}
	return append(trs,
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: fmt.Sprintf("%s/%d/init", batch, row)},
		ledgerapi.Transition{To: payout.StatePayoutStarted, SessionID: session, PayoutID: payoutID},
		ledgerapi.Transition{To: payout.StateSucceeded, SessionID: session, PayoutID: payoutID, Paid: &paid, Fee: &fee,
			Evidence: ledgerapi.Evidence{Source: source}})
}

func quoteOf(src money.Amount, dst money.Amount, rate string) *ledgerapi.Quote {
	fee := rub(src.Minor / 1000)
	pay := src
	pay.Minor += fee.Minor
	return &ledgerapi.Quote{Source: src, Destination: dst, TransferFee: fee, SMSFee: rub(0), Payment: pay, FXRate: rate, Quantity: 1}
}

func amt(minor int64, cur string) money.Amount { return money.New(minor, cur) }

// goldenLedger builds the ledger state the golden reports show: the
// sample payroll file (cards, tokens, encrypted cards, transfers) with a
// row in every reconciliation status and every exception category.
func goldenLedger(t *testing.T) (*Service, *clock, string) {
	t.Helper()
	s, c := newService(t)
	b, _ := csvBatch(t, filepath.Join("testdata", "payroll.csv"))
	record(t, s, b.msgs(1))
	ctx := context.Background()
	require.NoError(t, s.ReleaseDue(ctx))
	id := b.ID
	wh := ledgerapi.SourceWebhook
	pay := func(row int, paid money.Amount, source ledgerapi.Source, q *ledgerapi.Quote) {
		session, po := fmt.Sprintf("ps_%d", row), fmt.Sprintf("po_%d", row)
		drive(t, s, id, row, paySteps(id, row, session, po, paid, source, q)...)
		if source == wh {
			recordEvent(t, s, bankEvent{HookID: "hook-" + po, Type: "payment_finished", SessionID: session, SessionStatus: "succeeded",
				PayoutID: po, PayoutStatus: "succeeded", Amount: bankAmount(paid), Ref: &payout.BankRef{Batch: id, Row: row}})
		}
	}
	pay(1, rub(8500000), wh, nil)                                      // matched
	pay(2, rub(9250050), wh, nil)                                      // the report shows another amount
	failRow(t, s, id, 3, "ps_3", "po_3", "card_number_does_not_exist") // failed, nothing paid: matched
	failRow(t, s, id, 4, "ps_4", "po_4", "provider_timeout")           // the report says paid
	drive(t, s, id, 5, ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: id + "/5/init"},
		ledgerapi.Transition{To: payout.StateInDoubt, Reason: "no answer to session/init/payout"}) // in doubt past the deadline
	pay(6, rub(12000000), wh, nil)        // missing from the report
	pay(7, rub(4500000), wh, nil)         // returned
	pay(8, rub(3999999), wh, nil)         // two operations
	startRow(t, s, id, 9, "ps_9", "po_9") // at the bank: awaiting bank
	// row 10 stays queued
	drive(t, s, id, 11, ledgerapi.Transition{To: payout.StateCancelled, Reason: "removed by finance",
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceOperator}})
	pay(12, rub(5400000), ledgerapi.SourceStatus, nil) // paid, as session/status said
	drive(t, s, id, 13, ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: id + "/13/init"},
		ledgerapi.Transition{To: payout.StateInDoubt, Reason: "no answer"}) // settled by the report
	// row 14 is paid tomorrow: awaiting the report
	pay(15, amt(27500, "USD"), wh, quoteOf(rub(2500000), amt(27500, "USD"), "90.9091"))
	pay(16, amt(30000, "USD"), wh, quoteOf(rub(2760000), amt(30000, "USD"), "92.0000"))
	// row 17: 3-D Secure pending (gate passed, confirmed, action required)
	q17 := quoteOf(rub(4000000), amt(1333333, "TRY"), "3.0000")
	drive(t, s, id, 17, ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"}, ledgerapi.Transition{To: payout.StateQuoted, Quote: q17},
		ledgerapi.Transition{To: payout.StateOpening, NewAttempt: true, IdemKey: id + "/17/a1/init"})
	g := gate(t, s, ledgerapi.GateRequest{Batch: id, Row: 17, SessionID: "ps_17", PayoutID: "po_17", Observed: ledgerapi.Observed{
		Source: &q17.Source, Destination: &q17.Destination, Commission: &q17.TransferFee}, Evidence: ledgerapi.Evidence{Source: wh}})
	require.Equal(t, ledgerapi.DecisionConfirm, g.Decision, g.Reason)
	drive(t, s, id, 17, ledgerapi.Transition{To: payout.StateConfirmed, SessionID: "ps_17"},
		ledgerapi.Transition{To: payout.StateActionRequired, SessionID: "ps_17", ActionURL: "https://bank.example/3ds/ps_17"})
	// row 18: the bank's exchange does not match the quote: cancelled at the gate
	q18 := quoteOf(rub(3750000), amt(1250000, "TRY"), "3.0000")
	drive(t, s, id, 18, ledgerapi.Transition{To: payout.StateClaimed, Worker: "w1"}, ledgerapi.Transition{To: payout.StateQuoted, Quote: q18},
		ledgerapi.Transition{To: payout.StateOpening, NewAttempt: true, IdemKey: id + "/18/a1/init"})
	bad := amt(1200000, "TRY")
	g = gate(t, s, ledgerapi.GateRequest{Batch: id, Row: 18, SessionID: "ps_18", Observed: ledgerapi.Observed{
		Source: &q18.Source, Destination: &bad, Commission: &q18.TransferFee}, Evidence: ledgerapi.Evidence{Source: wh}})
	require.Equal(t, ledgerapi.DecisionCancel, g.Decision)
	pay(19, amt(2850000, "KGS"), wh, quoteOf(rub(3000000), amt(2850000, "KGS"), "0.9500")) // the report shows RUB
	pay(20, amt(1500000, "KGS"), wh, quoteOf(rub(1580000), amt(1500000, "KGS"), "0.9494"))

	c.Add(2 * time.Hour)
	_, err := s.Sweep(ctx)
	require.NoError(t, err)

	line := func(row int, a money.Amount) bankLine {
		return bankLine{op: fmt.Sprintf("po_%d", row), session: fmt.Sprintf("ps_%d", row), batch: id, row: row,
			amount: a.Decimal(), currency: a.Currency}
	}
	refund := line(7, rub(4500000))
	refund.op, refund.typ, refund.at = "rf_7", ledgerapi.ReportRefund, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	second := line(8, rub(3999999))
	second.op, second.session = "po_8b", "ps_8b"
	orphan := line(99, rub(100000))
	importCSV(t, s, "2026-11-25",
		line(1, rub(8500000)), line(2, rub(9250000)), line(4, rub(7100000)), line(7, rub(4500000)), refund,
		line(8, rub(3999999)), second, line(12, rub(5400000)), line(13, rub(6125050)),
		line(15, amt(27500, "USD")), line(16, amt(30000, "USD")), line(19, rub(2850000)), line(20, amt(1500000, "KGS")),
		orphan, bankLine{op: "po_zz", session: "ps_zz", amount: "5.00"})

	c.Add(22 * time.Hour) // 2026-11-26 09:00
	pay(14, rub(3300000), wh, nil)
	_, err = s.Reconcile(ctx, id)
	require.NoError(t, err)
	return s, c, id
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	require.Equal(t, string(want), string(got), "%s differs; if the change is intended, run go test -run %s -update", path, t.Name())
}

// xlsxCells renders every cell of every sheet as type:value (s string, n
// number), one line per spreadsheet row, and fails on any formula.
func xlsxCells(t *testing.T, data []byte) string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer f.Close()
	var sb strings.Builder
	for _, sheet := range f.GetSheetList() {
		fmt.Fprintf(&sb, "== %s\n", sheet)
		rows, err := f.GetRows(sheet)
		require.NoError(t, err)
		for i, row := range rows {
			var cells []string
			for j, v := range row {
				ref, _ := excelize.CoordinatesToCellName(j+1, i+1)
				formula, err := f.GetCellFormula(sheet, ref)
				require.NoError(t, err)
				require.Empty(t, formula, "%s!%s holds a formula", sheet, ref)
				typ, err := f.GetCellType(sheet, ref)
				require.NoError(t, err)
				kind := "s"
				switch typ {
				case excelize.CellTypeNumber, excelize.CellTypeUnset:
					if v != "" {
						kind = "n"
					}
				}
				if v == "" {
					cells = append(cells, "")
					continue
				}
				cells = append(cells, kind+":"+v)
			}
			sb.WriteString(strings.Join(cells, "\t") + "\n")
		}
	}
	return sb.String()
}

func render(t *testing.T, rep *Report, format string) []byte {
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
	require.Len(t, statuses, len(ReconStatuses))
	cats := map[string]bool{}
	for _, e := range rep.Summary.Exceptions {
		cats[e.Category] = true
	}
	for _, c := range []string{ExceptionNotInRecords, ExceptionAfterCancel, ExceptionAmountMismatch, ExceptionTwoOperations,
		ExceptionMissingFromReport, ExceptionReturned, ExceptionInDoubt, ExceptionGateMismatch} {
		require.True(t, cats[c], "category %s in the golden report", c)
	}

	golden(t, "report.csv", render(t, rep, FormatCSV))
	golden(t, "report.json", render(t, rep, FormatJSON))
	golden(t, "report.xlsx.txt", []byte(xlsxCells(t, render(t, rep, FormatXLSX))))

	// The CSV reads back as one table.
	r := csv.NewReader(bytes.NewReader(render(t, rep, FormatCSV)))
	all, err := r.ReadAll()
	require.NoError(t, err)
	require.Equal(t, append(slices.Clone(reportColumns), "description", "meta_department"), all[0])
	require.Equal(t, len(rep.Rows)+1, indexOf(all, summaryColumns))
	// The file's description and meta_department reach the row's line.
	require.Equal(t, "Зарплата за ноябрь 2026", rep.Rows[0].Description)
	require.Equal(t, map[string]string{"department": "Бухгалтерия"}, rep.Rows[0].Meta)
	require.Equal(t, []string{"Зарплата за ноябрь 2026", "Бухгалтерия"}, all[1][len(reportColumns):])
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
		data, err := ingest.EncodeRow(r)
		require.NoError(t, err)
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

	wantHead := append(slices.Clone(reportColumns), "description", "meta_cost_center", "meta_department", "meta_project", "meta_zone")
	recs, err := csv.NewReader(bytes.NewReader(render(t, rep, FormatCSV))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, wantHead, recs[0])
	tail := func(rec []string) []string { return rec[len(reportColumns):] }
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
	lines := strings.Split(xlsxCells(t, render(t, rep, FormatXLSX)), "\n")
	require.Equal(t, "== "+SheetRows, lines[0])
	head := strings.Split(lines[1], "\t")
	require.Equal(t, "s:meta_zone", head[len(head)-1])
	require.Len(t, head, len(wantHead))
	row1 := strings.Split(lines[2], "\t")
	require.Equal(t, []string{"s:'=HYPERLINK(\"http://x\")", "s:'+CC-7", "s:'=1+2"}, row1[len(reportColumns):])
	row4 := strings.Split(lines[5], "\t")
	require.Equal(t, []string{"s:'+7 bonus", "", "", "s:'-42", "s:north"}, row4[len(reportColumns):])

	// JSON: the values as finance wrote them, {} for a row without meta.
	var back struct {
		Rows []struct {
			Description *string           `json:"description"`
			Meta        map[string]string `json:"meta"`
		} `json:"rows"`
	}
	js := render(t, rep, FormatJSON)
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
	for _, f := range ReportFormats {
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
	for _, f := range ReportFormats {
		out := render(t, rep, f)
		if f == FormatXLSX {
			out = unzipAll(t, out)
		}
		checkNoPAN(t, f+" report", out, false)
		for _, raw := range []string{"4111.1111.1111.1111", "5105\u00a01051\u00a00510\u00a05100", `5105\u00a01051`} {
			require.NotContains(t, string(out), raw, "%s report", f)
		}
		require.Contains(t, string(out), "card 411111******1111 refused", "%s report", f)
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

func TestAddNotesSkipsRowsNotShown(t *testing.T) {
	rep := &Report{Rows: []ReportRow{{Row: 2, Meta: noMeta}, {Row: 5, Meta: noMeta}}}
	rep.addNotes([]rowNote{{row: 1, description: "a"}, {row: 2, description: "b", meta: map[string]string{"k": "v"}},
		{row: 4, description: "d"}, {row: 5, description: "e", meta: noMeta}, {row: 6, description: "f"}})
	require.Equal(t, "b", rep.Rows[0].Description)
	require.Equal(t, map[string]string{"k": "v"}, rep.Rows[0].Meta)
	require.Equal(t, "e", rep.Rows[1].Description)
	require.Equal(t, []string{"k"}, rep.metaKeys())
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
	for _, f := range ReportFormats {
		first[f] = render(t, rep, f)
	}
	ro, err := OpenReadOnly(s.db.Path())
	require.NoError(t, err)
	defer ro.Close()
	again, err := ro.Report(ctx, id)
	require.NoError(t, err)
	for _, f := range ReportFormats {
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
	checkNoPAN(t, "CSV report", render(t, rep, FormatCSV), true)
	checkNoPAN(t, "JSON report", render(t, rep, FormatJSON), true)
	checkNoPAN(t, "XLSX report", unzipAll(t, render(t, rep, FormatXLSX)), true)
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

	recs, err := csv.NewReader(bytes.NewReader(render(t, rep, FormatCSV))).ReadAll()
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
		require.True(t, refs["'"+n], "reference %q kept, guarded", n)
	}
	// xlsxCells fails on any formula.
	cells := xlsxCells(t, render(t, rep, FormatXLSX))
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

func TestDecimalAgrees(t *testing.T) {
	for _, cur := range []string{"RUB", "USD", "JPY", "KWD", "xyz"} {
		for _, minor := range []int64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 150050, -1, -99, -100, -150050,
			1<<53 + 1, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
			a := money.New(minor, cur)
			require.Equal(t, a.Decimal(), decimal(a), "%d %s", minor, cur)
		}
	}
}

// TestReportJSONReadsBack: the streamed JSON is one valid document that
// decodes to the report.
func TestReportJSONReadsBack(t *testing.T) {
	s, _, id := goldenLedger(t)
	rep, err := s.db.Report(context.Background(), id)
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(render(t, rep, FormatJSON), &back))
	for i := range rep.Rows {
		rep.Rows[i].amount, rep.Rows[i].fee, rep.Rows[i].dest = nil, nil, nil
	}
	require.Equal(t, *rep, back)

	empty := &Report{Rows: []ReportRow{}}
	require.NoError(t, json.Unmarshal(render(t, empty, FormatJSON), &back))
}

// TestXLSXTextReadsBack: text the Rows sheet writes itself reads back as
// the same text (markup, an escape-like "_x0041_", a long cell, characters
// XML does not allow).
func TestXLSXTextReadsBack(t *testing.T) {
	long := strings.Repeat("я", maxCellChars+10)
	tests := []struct{ in, want string }{
		{"a < b & c > d", "a < b & c > d"},
		{"_x0041_ and _x00e9_", "_x0041_ and _x00e9_"},
		{"_x12_ _xZZZZ_", "_x12_ _xZZZZ_"},
		{"bell\x07 and nul\x00", "bell\uFFFD and nul\uFFFD"},
		{"line\nbreak", "line\nbreak"},
		{" padded ", " padded "},
		{"Ünïcödé ✓ 中文", "Ünïcödé ✓ 中文"},
		{long, long[:maxCellChars*2]},
	}
	rep := &Report{Batch: ReportBatch{ID: "b00000000000000000000"}, AsOf: "2026-11-25T09:00:00Z"}
	for i, tt := range tests {
		rep.Rows = append(rep.Rows, ReportRow{Row: i + 1, Reference: tt.in})
	}
	f, err := excelize.OpenReader(bytes.NewReader(render(t, rep, FormatXLSX)))
	require.NoError(t, err)
	defer f.Close()
	for i, tt := range tests {
		got, err := f.GetCellValue(SheetRows, fmt.Sprintf("B%d", i+2))
		require.NoError(t, err)
		require.Equal(t, tt.want, got, "row %d", i+1)
	}
}

// TestParseMeta: the fast reader of meta agrees with the JSON decoder on
// what it takes, and leaves the rest to it.
func TestParseMeta(t *testing.T) {
	for _, text := range []string{
		`{"department":"IT"}`, `{"a":"1","b":"=2"}`, `{}`, `{"a":""}`, `{"":"x"}`, `{"a":"b","a":"c"}`,
		`{"a":"b",}`, `{"a":"b","c"}`, `{"a""b"}`, `{"a":"b"x}`, `{"a":1}`, `{"a":"q\"uote"}`, `{"a":"\u00e9"}`,
		`{ "a" : "b" }`, `{"a":null}`, `{"a":"line\nbreak"}`, "{\"a\":\"tab\there\"}", `{"отдел":"Склад"}`, `[]`, `{`,
	} {
		names := map[string]string{}
		fast, ok := parseMetaFast(text, names)
		var want map[string]string
		wantErr := gojson.Unmarshal([]byte(text), &want)
		if ok {
			require.NoError(t, wantErr, "fast took %s", text)
			require.Equal(t, want, fast, text)
		}
		got, err := parseMeta(text, names)
		if wantErr == nil {
			require.NoError(t, err, text)
			if len(want) == 0 {
				want = map[string]string{}
			}
			require.Equal(t, want, got, text)
		}
	}
	got, err := parseMeta(`{"a":1,"b":null,"c":"x"}`, map[string]string{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "", "c": "x"}, got) // null: no value
	_, err = parseMeta(`{"a":`, map[string]string{})
	require.Error(t, err)
}
