package batch

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
)

const totalsHead = "reference;full_name;card_number;amount;currency;description\n" +
	"E-1;Ivan Petrov;4242424242424242;100,50;;\n" +
	"E-2;Anna Petrova;5555555555554444;200;;\n"

// TestTotalsLine: a last line that totals the rows above is checked as a
// control total and is not a payout; anything else is a row.
func TestTotalsLine(t *testing.T) {
	tests := []struct {
		name   string
		last   string
		opts   Options
		rows   int
		totals *TotalsLine
		want   []string
	}{
		{name: "Итого with the sum", last: "Итого;;;300,50;;", rows: 2, totals: &TotalsLine{Line: 4, Label: "Итого", Amount: "300.50 RUB"}},
		{name: "ИТОГО: and the count", last: "ИТОГО: 2;;;300,50;;", rows: 2, totals: &TotalsLine{Line: 4, Label: "ИТОГО: 2", Rows: 2, Amount: "300.50 RUB"}},
		{name: "Всего, count in the reference", last: "2;Всего по ведомости;;300.50;RUB;", rows: 2,
			totals: &TotalsLine{Line: 4, Label: "Всего по ведомости", Rows: 2, Amount: "300.50 RUB"}},
		{name: "Total in English", last: ";Total;;300.50;;", rows: 2, totals: &TotalsLine{Line: 4, Label: "Total", Amount: "300.50 RUB"}},
		{name: "an empty reference with an amount", last: ";;;300,50;;", rows: 2, totals: &TotalsLine{Line: 4, Amount: "300.50 RUB"}},
		{name: "a count with its word in a cell", last: "Итого;2 сотрудника;;300,50;;", rows: 2,
			totals: &TotalsLine{Line: 4, Label: "Итого", Rows: 2, Amount: "300.50 RUB"}},
		{name: "a count only", last: "Итого 2 строки;;;;;", rows: 2, totals: &TotalsLine{Line: 4, Label: "Итого 2 строки", Rows: 2}},
		{name: "the sum differs", last: "Итого;;;300;;", rows: 2, totals: &TotalsLine{Line: 4, Label: "Итого", Amount: "300.00 RUB"},
			want: []string{"4: amount: the totals line says 300.00 RUB, the rows above add up to 300.50 RUB"}},
		{name: "the count differs, in Russian", last: "Итого: 3;;;300,50;;", opts: Options{Lang: "ru"}, rows: 2,
			totals: &TotalsLine{Line: 4, Label: "Итого: 3", Rows: 3, Amount: "300.50 RUB"},
			want:   []string{"4: в строке итогов число строк 3, а в файле над ней строк: 2"}},
		{name: "no figure to check", last: "Итого;;;;;", rows: 2, totals: &TotalsLine{Line: 4, Label: "Итого"},
			want: []string{"4: the totals line has neither an amount nor a number of rows to check; fill in the total or delete the line"}},
		{name: "not an amount", last: "Итого;;;много;;", rows: 2, totals: &TotalsLine{Line: 4, Label: "Итого"},
			want: []string{`4: amount: the totals line's amount "много" is not an amount in RUB`}},
		{name: "with --expect-count", last: "Итого;;;300,50;;", opts: Options{ExpectCount: 2, ExpectTotal: "300.50"}, rows: 2,
			totals: &TotalsLine{Line: 4, Label: "Итого", Amount: "300.50 RUB"}},
		{name: "a payout row with a reference", last: "E-3;Total Petrov;4242424242424242;300,50;;", rows: 3},
		{name: "a row with a card number is a payout, whatever its name", last: "3;Итого;4242424242424242;300,50;;", rows: 3},
		{name: "a row without a reference", last: ";Ivan Petrov;;300,50;;", rows: 3,
			want: []string{"4: reference: is required", "4: method: the file has no method column and the row has none of card_number, card_token, number_hash or the transfer columns; fill one in, add a method column or give the file's method (ingest --method)"}},
		{name: "a totals line that is not the last", last: "Итого;;;300,50;;\nE-3;Ivan Petrov;4242424242424242;1;;", rows: 4,
			want: []string{`4: reference: "Итого" may hold only letters A–Z, digits and _ . : / - (found 'И')`, "4: method: the file has no method column and the row has none of card_number, card_token, number_hash or the transfer columns; fill one in, add a method column or give the file's method (ingest --method)"}},
		{name: "blank lines after it", last: "Итого;;;300,50;;\n;;;;;\n\n", rows: 2, totals: &TotalsLine{Line: 4, Label: "Итого", Amount: "300.50 RUB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := totalsHead + tt.last + "\n"
			res, got := validateText(t, file, tt.opts)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.rows, res.Rows)
			require.Equal(t, tt.totals, res.TotalsLine)
			if res.Valid() {
				n := 0
				for row, err := range Rows(strings.NewReader(file), Options{Now: testNow, Lang: tt.opts.Lang}, func(string, int) string { return "s" }) {
					require.NoError(t, err)
					require.NotEmpty(t, row.Reference)
					n++
				}
				require.Equal(t, res.Rows, n, "the totals line is not a payout")
			}
		})
	}
}

// TestTotalsLineXLSX: the same in a workbook, where a total is often a
// formula: an error that says to paste it as a value.
func TestTotalsLineXLSX(t *testing.T) {
	rows := [][]any{{"Табельный номер", "ФИО", "Номер карты", "Сумма"},
		{"E-1", "Иванов Иван", "4242424242424242", 100.5},
		{"E-2", "Петрова Анна", "5555555555554444", 200},
		{"", "Итого", "", 300.5},
	}
	res, got := validateBytes(t, book(t, rows, nil), Options{})
	require.Empty(t, got)
	require.Equal(t, 2, res.Rows)
	require.Equal(t, &TotalsLine{Line: 4, Label: "Итого", Amount: "300.50 RUB"}, res.TotalsLine)

	res, got = validateBytes(t, book(t, rows, func(f *excelize.File) {
		require.NoError(t, f.SetCellFormula("Sheet1", "D4", "SUM(D2:D3)"))
	}), Options{})
	require.Equal(t, []string{`4: amount: cell D4 holds a formula ("=SUM(D2:D3)"); payout files take values only: copy the cells and paste them as values`}, got)
	require.Equal(t, 2, res.Rows)
}

// FuzzTotalsLine puts an arbitrary last line under two valid rows: it
// never panics, a totals line is never published, and a line whose
// reference is a valid one other than digits is a row.
func FuzzTotalsLine(f *testing.F) {
	for _, s := range []string{"Итого;;;300,50;;", "ИТОГО: 2;;;300,50;;", "2;Всего;;300.50;RUB;", ";;;300,50;;", "Total (2 rows);;;;;",
		"E-3;Total Petrov;4242424242424242;300,50;;", "3;Итого;4242424242424242;300,50;;", "итог;;;;;", "Итогоx;;;1;;", "Всего 2026 год;;;;;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, last string) {
		file := totalsHead + last + "\n"
		res, err := Validate(strings.NewReader(file), Options{Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if res.TotalsLine != nil {
			if res.Rows != 2 {
				t.Fatalf("a totals line counted as a row: %d rows", res.Rows)
			}
			if res.TotalsLine.Line != 4 {
				t.Fatalf("totals line at %d", res.TotalsLine.Line)
			}
		}
		fields := strings.Split(last, ";")
		if ref := strings.TrimSpace(fields[0]); !strings.ContainsAny(last, "\"\n\r") && len(fields) == 6 && ref != "" &&
			strings.Trim(ref, "0123456789") != "" && checkRefSyntax(ref) {
			if _, label := totalsLabel(ref); !label && res.TotalsLine != nil {
				t.Fatalf("a row with reference %q read as a totals line", ref)
			}
		}
		if res.Valid() {
			n := 0
			for row, err := range Rows(strings.NewReader(file), Options{Now: testNow}, func(string, int) string { return "s" }) {
				if err != nil {
					t.Fatalf("Rows of a valid file: %v", err)
				}
				if row.Line == 4 && res.TotalsLine != nil {
					t.Fatal("the totals line was published")
				}
				n++
			}
			if n != res.Rows {
				t.Fatalf("Rows yielded %d, Validate counted %d", n, res.Rows)
			}
		}
	})
}

// checkRefSyntax is the reference rule's alphabet.
func checkRefSyntax(ref string) bool {
	for _, r := range ref {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:/-", r)) {
			return false
		}
	}
	return true
}
