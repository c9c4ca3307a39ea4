package batch

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/internal/payout"
)

// book builds a workbook with excelize: sheet "Sheet1" gets rows (a
// string is a text cell, a number a number cell), then edit changes
// anything else.
func book(t testing.TB, rows [][]any, edit func(f *excelize.File)) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		ref, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Sheet1", ref, &r))
	}
	if edit != nil {
		edit(f)
	}
	var buf bytes.Buffer
	_, err := f.WriteTo(&buf)
	require.NoError(t, err)
	return buf.Bytes()
}

// numFmt gives cells a number format.
func numFmt(t testing.TB, f *excelize.File, from, to string, id int, custom string) {
	t.Helper()
	st := &excelize.Style{NumFmt: id}
	if custom != "" {
		st.CustomNumFmt = &custom
	}
	s, err := f.NewStyle(st)
	require.NoError(t, err)
	require.NoError(t, f.SetCellStyle("Sheet1", from, to, s))
}

func validateBytes(t testing.TB, data []byte, opts Options) (*Result, []string) {
	t.Helper()
	var got []string
	opts.Now = testNow
	opts.OnError = func(e Error) { got = append(got, e.String()) }
	opts.OnWarning = func(e Error) { got = append(got, "warning: "+e.String()) }
	res, err := Validate(bytes.NewReader(data), opts)
	require.NoError(t, err)
	return res, got
}

var cardHeader = []any{"reference", "amount", "full_name", "card_number", "description"}

func TestXLSX(t *testing.T) {
	tests := []struct {
		name   string
		rows   [][]any
		edit   func(f *excelize.File)
		opts   Options
		rows_  int
		totals string
		want   []string
	}{
		{name: "valid", rows: [][]any{cardHeader,
			{"E-1", 85000, "Иванов Иван", "4242 4242 4242 4242", "Зарплата"},
			{"E-2", 1500.5, "Petrova Anna", "5555555555554444", 2026},
		}, edit: func(f *excelize.File) { numFmt(t, f, "B2", "B3", 4, "") }, // #,##0.00
			rows_: 2, totals: "86500.50 RUB"},
		{name: "amount as stored, not as rounded for display", rows: [][]any{cardHeader,
			{"E-1", 1500.555, "Ivan Petrov", "4242424242424242"},
		}, edit: func(f *excelize.File) { numFmt(t, f, "B2", "B2", 2, "") }, // 0.00 shows 1500.56
			rows_: 1, want: []string{`2: amount: "1500.555" has more than 2 decimal places`}},
		{name: "an id shown in scientific notation", rows: [][]any{cardHeader,
			{"E-1", 100, "Ivan Petrov", 4276380000000000},
		}, rows_: 1, totals: "100.00 RUB", want: []string{`2: card_number: "4.27638E+15" is in scientific notation: a spreadsheet turned the card number into a float and lost digits; format the column as text and export again`}},
		{name: "an id of 16 digits formatted 0", rows: [][]any{cardHeader,
			{"E-1", 100, "Ivan Petrov", 4242424242424240},
			{int64(12345), 100, "Ivan Petrov", "4242424242424242"},
		}, edit: func(f *excelize.File) { numFmt(t, f, "D2", "D2", 1, "") },
			rows_: 2, totals: "200.00 RUB", want: []string{
				"2: card_number: cell D2 is a number of 16 digits (4242424242424240), and a spreadsheet keeps only 15: the last digits are lost; format the column as text and enter the numbers again"}},
		{name: "a formula, with its value cached", rows: [][]any{cardHeader,
			{"E-1", 100, "Ivan Petrov", "4242424242424242"},
			{"E-2", 200, "Ivan Petrov", "4242424242424242"},
		}, edit: func(f *excelize.File) { require.NoError(t, f.SetCellFormula("Sheet1", "B3", "B2*2")) },
			rows_: 2, totals: "100.00 RUB", want: []string{
				`3: amount: cell B3 holds a formula ("=B2*2"); payout files take values only: copy the cells and paste them as values`}},
		{name: "hidden row, hidden column, merged cells", rows: [][]any{{"reference", "amount", "full_name", "card_number", "meta_note"},
			{"E-1", 100, "Ivan Petrov", "4242424242424242", "x"},
			{"E-2", 100, "Ivan Petrov", "4242424242424242"},
			{"E-3", 100, "Ivan Petrov", "4242424242424242"},
		}, edit: func(f *excelize.File) {
			require.NoError(t, f.SetRowVisible("Sheet1", 3, false))
			require.NoError(t, f.SetColVisible("Sheet1", "E", false))
			require.NoError(t, f.MergeCell("Sheet1", "C4", "D4"))
		}, rows_: 3, totals: "300.00 RUB", want: []string{
			`1: "meta_note": column E is hidden; show it (or delete it), so that what is paid is what you see`,
			"3: row 3 is hidden; show it (or delete it), so that what is paid is what you see",
			"4: full_name: cells C4:D4 are merged; unmerge them: every value needs a cell of its own",
			"4: method: the file has no method column and the row has none of card_number, card_token, number_hash or the transfer columns; fill one in, add a method column or give the file's method (ingest --method)",
		}},
		{name: "a value outside the header", rows: [][]any{{"reference", "amount", "full_name", "card_number"},
			{"E-1", 100, "Ivan Petrov", "4242424242424242", "extra"},
		}, rows_: 1, totals: "100.00 RUB", want: []string{`2: cell E2 holds "extra", but its column has no name in the header`}},
		{name: "dates as dates, Russian names, no method column", rows: [][]any{
			{"Номер", "Сумма", "Валюта", "Страна назначения", "Тип перевода", "IBAN получателя", "Имя получателя", "Фамилия получателя",
				"Гражданство получателя", "Токен карты отправителя", "Имя отправителя", "Фамилия отправителя", "Дата рождения отправителя",
				"Гражданство отправителя", "Номер документа отправителя", "Дата выдачи документа", "Телефон отправителя",
				"Страна отправителя", "Город отправителя", "Дом отправителя"},
			{"T-1", 1000, "RUB", "TUR", "iban", "TR330006100519786457841326", "Mehmet", "Yilmaz", "TUR", "tok_s", "Ivan", "Petrov",
				31120, "RUS", "4510 123456", 42156, "+79991234567", "RUS", "Moscow", 1},
		}, edit: func(f *excelize.File) { numFmt(t, f, "M2", "M2", 0, "dd.mm.yyyy"); numFmt(t, f, "P2", "P2", 14, "") },
			rows_: 1, totals: "1000.00 RUB"},
		{name: "a sheet by name", rows: [][]any{{"x"}}, edit: func(f *excelize.File) {
			_, err := f.NewSheet("Выплаты")
			require.NoError(t, err)
			require.NoError(t, f.SetSheetRow("Выплаты", "A1", &[]any{"reference", "amount", "full_name", "card_number"}))
			require.NoError(t, f.SetSheetRow("Выплаты", "A2", &[]any{"E-1", 100, "Ivan Petrov", "4242424242424242"}))
		}, opts: Options{Sheet: "выплаты"}, rows_: 1, totals: "100.00 RUB"},
		{name: "no such sheet", rows: [][]any{{"x"}}, opts: Options{Sheet: "Payroll"},
			want: []string{`sheet: the workbook has no sheet "Payroll"; its sheets are "Sheet1"`}},
		{name: "a hidden sheet read, in Russian", rows: cardRowsAny(), edit: func(f *excelize.File) {
			i, err := f.NewSheet("Other")
			require.NoError(t, err)
			f.SetActiveSheet(i) // excelize hides no active sheet
			require.NoError(t, f.SetSheetVisible("Sheet1", false))
		}, opts: Options{Lang: "ru"}, want: []string{
			`sheet: лист "Sheet1" скрыт; покажите его (Формат → Скрыть или отобразить) или укажите видимый лист (--sheet), чтобы платилось только то, что видно`}},
		{name: "another sheet hidden", rows: cardRowsAny(), edit: func(f *excelize.File) {
			_, err := f.NewSheet("Old")
			require.NoError(t, err)
			require.NoError(t, f.SetSheetVisible("Old", false))
		}, rows_: 1, totals: "100.00 RUB", want: []string{`warning: sheet: sheet "Old" is hidden and was not read`}},
		{name: "an empty sheet", rows: nil, want: []string{`sheet "Sheet1" is empty; a header row is required`}},
		{name: "rows below empty rows", rows: [][]any{{}, {}, cardHeader, {}, {"E-1", 100, "Ivan Petrov", "4242424242424242"}},
			rows_: 1, totals: "100.00 RUB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := book(t, tt.rows, tt.edit)
			res, got := validateBytes(t, data, tt.opts)
			require.Equal(t, tt.want, got)
			require.Equal(t, FormatXLSX, res.Format)
			require.Equal(t, tt.rows_, res.Rows)
			require.Equal(t, tt.totals, res.Totals.String())
			require.Empty(t, res.Encoding)
			require.Empty(t, res.Delimiter)
		})
	}
}

func cardRowsAny() [][]any {
	return [][]any{{"reference", "amount", "full_name", "card_number"}, {"E-1", 100, "Ivan Petrov", "4242424242424242"}}
}

// TestXLSXRows: the rows of a valid workbook read back as a CSV file's
// would, with the sheet's row numbers as lines.
func TestXLSXRows(t *testing.T) {
	data := book(t, [][]any{{}, {"Табельный номер", "ФИО", "Номер карты", "Сумма", "meta_Отдел"},
		{"0001/2026-11", "Иванов Иван", "4242424242424242", 85000, "Бухгалтерия"},
		{"0002/2026-11", "Petrova Anna", "5555555555554444", 1500.5, ""},
	}, func(f *excelize.File) { numFmt(t, f, "D3", "D4", 4, "") })
	res, got := validateBytes(t, data, Options{})
	require.Empty(t, got)
	require.True(t, res.Valid())
	require.Equal(t, map[string]int{"card": 2}, res.ByMethod)

	var rows []payout.Row
	for row, err := range Rows(bytes.NewReader(data), Options{Now: testNow}, func(pan string, _ int) string { return "sealed:" + pan[len(pan)-4:] }) {
		require.NoError(t, err)
		rows = append(rows, *row)
	}
	require.Len(t, rows, 2)
	require.Equal(t, 3, rows[0].Line)
	require.Equal(t, "0001/2026-11", rows[0].Reference)
	require.Equal(t, payout.MethodCard, rows[0].Method)
	require.Equal(t, int64(85000_00), rows[0].Amount.Minor)
	require.Equal(t, "sealed:4242", rows[0].Card.Sealed)
	require.Equal(t, map[string]string{"отдел": "Бухгалтерия"}, rows[0].Meta)
	require.Equal(t, int64(1500_50), rows[1].Amount.Minor)
	require.Equal(t, 4, rows[1].Line)

	// Against the validation's record sums, without the rules: the same rows.
	var checked []payout.Row
	for row, err := range RowsChecked(bytes.NewReader(data), Options{Now: testNow}, res.Sums, func(pan string, _ int) string { return "sealed:" + pan[len(pan)-4:] }) {
		require.NoError(t, err)
		checked = append(checked, *row)
	}
	require.Equal(t, rows, checked)
	// Another workbook's records are not the ones validated.
	other := book(t, [][]any{{}, {"Табельный номер", "ФИО", "Номер карты", "Сумма", "meta_Отдел"},
		{"0001/2026-11", "Иванов Иван", "4242424242424242", 85001, "Бухгалтерия"},
		{"0002/2026-11", "Petrova Anna", "5555555555554444", 1500.5, ""},
	}, func(f *excelize.File) { numFmt(t, f, "D3", "D4", 4, "") })
	var last error
	for _, err := range RowsChecked(bytes.NewReader(other), Options{Now: testNow}, res.Sums, func(pan string, _ int) string { return "s" }) {
		last = err
	}
	require.ErrorContains(t, last, "changed since it was validated")
}

// TestXLSXContentDigest: the batch id of a workbook comes from its
// records, so the same table saved again (other document properties) or
// uploaded as the equivalent CSV names the same batch.
func TestXLSXContentDigest(t *testing.T) {
	rows := [][]any{{"reference", "amount", "full_name", "card_number"}, {"E-1", 100, "Ivan Petrov", "4242424242424242"}}
	a := book(t, rows, nil)
	b := book(t, rows, func(f *excelize.File) {
		require.NoError(t, f.SetDocProps(&excelize.DocProperties{Creator: "someone else", Modified: "2026-11-21T10:00:00Z"}))
	})
	require.NotEqual(t, a, b)
	ra, _ := validateBytes(t, a, Options{})
	rb, _ := validateBytes(t, b, Options{})
	require.NotEqual(t, ra.SHA256, rb.SHA256)
	require.Equal(t, ra.ContentSHA256, rb.ContentSHA256)
	rc, got := validateText(t, "reference,amount,full_name,card_number\nE-1,100,Ivan Petrov,4242424242424242\n", Options{})
	require.Empty(t, got)
	require.Equal(t, ra.ContentSHA256, rc.ContentSHA256)
	rd, _ := validateBytes(t, book(t, [][]any{rows[0], {"E-1", 101, "Ivan Petrov", "4242424242424242"}}, nil), Options{})
	require.NotEqual(t, ra.ContentSHA256, rd.ContentSHA256)
}

// TestXLSXNoTemporaryFiles: a workbook whose sheet is larger than
// excelize's default in-memory limit (16 MB) is still read without a
// file in the temporary directory (it would hold the card numbers).
func TestXLSXNoTemporaryFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 17 MB sheet")
	}
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	require.NoError(t, err)
	require.NoError(t, sw.SetRow("A1", []any{"reference", "amount", "full_name", "card_number", "description"}))
	pad := strings.Repeat("x", 60)
	n := 0
	for i := 2; n < 17<<20; i++ {
		ref, _ := excelize.CoordinatesToCellName(1, i)
		require.NoError(t, sw.SetRow(ref, []any{"E-" + ref, 100, "Ivan Petrov", "4242424242424242", pad}))
		n += 250 // about the XML of a row
	}
	require.NoError(t, sw.Flush())
	var buf bytes.Buffer
	_, err = f.WriteTo(&buf)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	for _, e := range mustReadDir(t, dir) {
		require.NoError(t, os.RemoveAll(dir+"/"+e))
	}
	res, got := validateBytes(t, buf.Bytes(), Options{MaxErrors: 1})
	require.Empty(t, got)
	require.Greater(t, res.Rows, 60_000)
	require.Empty(t, mustReadDir(t, dir), "no temporary file")
}

func mustReadDir(t testing.TB, dir string) []string {
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
