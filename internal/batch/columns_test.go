package batch

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestColumnNames: every column has a name, no two share one, and the
// names the errors report adds are columns the reader understands.
func TestColumnNames(t *testing.T) {
	seen := map[string]col{}
	for c, n := range columnNames {
		require.NotEmpty(t, n, "column %d has no name", c)
		require.Equal(t, normalizeName(n), n, "column %d", c)
		prev, dup := seen[n]
		require.False(t, dup, "%s names columns %d and %d", n, prev, c)
		seen[n] = col(c)
		require.Equal(t, col(c), columnByName[n])
	}
	require.Equal(t, ErrorColumnName, colErrorColumn.String())
	require.Equal(t, ErrorMessageName, colErrorMessage.String())
}

// TestRussianNames: every column of a payout has Russian names, each
// names its column whatever its case, ё or separators, and no two columns
// share one.
func TestRussianNames(t *testing.T) {
	for c := range numCols {
		if c == colErrorColumn || c == colErrorMessage {
			require.Empty(t, russianNames[c])
			continue
		}
		require.NotEmpty(t, russianNames[c], "column %s has no Russian name", c)
		require.Equal(t, russianNames[c][0], RussianName(c.String()))
		for _, n := range russianNames[c] {
			for _, form := range []string{n, strings.ToUpper(n), strings.ToLower(n), " " + strings.ReplaceAll(n, " ", "_") + "\u00a0",
				strings.ReplaceAll(strings.ReplaceAll(n, "е", "ё"), "Е", "Ё"), strings.ReplaceAll(n, " ", "  ")} {
				got, ok := columnByName[foldName(normalizeName(form))]
				require.True(t, ok, "%q (%q)", form, n)
				require.Equal(t, c, got, "%q", form)
			}
		}
	}
	require.Equal(t, "", RussianName("nonsense"))
	require.Equal(t, "Номер карты", RussianName("Card_Number"))
}

func TestFoldName(t *testing.T) {
	for in, want := range map[string]string{
		"reference":          "reference",
		" Full Name ":        "full_name",
		"FULL__NAME":         "full_name",
		"Номер карты":        "номер_карты",
		"номер_карты":        "номер_карты",
		"Назначение платежа": "назначение_платежа",
		"Ф.И.О.":             "ф_и_о",
		"Счёт":               "счет",
		"E-mail":             "e_mail",
		"-_. ":               "",
		"":                   "",
	} {
		require.Equal(t, want, foldName(in), "%q", in)
	}
}

func TestMapHeader(t *testing.T) {
	tests := []struct {
		name    string
		rec     []string
		pos     map[col]int // the known columns found; every other is -1
		meta    []metaColumn
		unnamed []int
		errs    []Error
	}{
		{name: "plain", rec: []string{"reference", "method", "amount", "currency"},
			pos: map[col]int{colReference: 0, colMethod: 1, colAmount: 2, colCurrency: 3}},
		{name: "case, spaces, no-break spaces", rec: []string{" Reference ", "\u00a0METHOD\u00a0", "Amount", "full name", "Card-Number"},
			pos: map[col]int{colReference: 0, colMethod: 1, colAmount: 2, colFullName: 3, colCardNumber: 4}},
		{name: "1C export", rec: []string{"Табельный номер", "ФИО", "Номер карты", "Сумма", "Назначение платежа", "ВАЛЮТА", "Эл._почта"},
			pos: map[col]int{colReference: 0, colFullName: 1, colCardNumber: 2, colAmount: 3, colDescription: 4, colCurrency: 5, colEmail: 6}},
		{name: "transfer in Russian", rec: []string{"Номер", "Сумма", "Валюта", "Страна назначения", "Тип перевода", "IBAN получателя",
			"Фамилия получателя", "Имя получателя", "Дата рождения отправителя", "Токен карты отправителя", "Счёт IBAN"},
			pos: map[col]int{colReference: 0, colAmount: 1, colCurrency: 2, colCountry: 3, colTransferType: 4, colIBAN: 5,
				colRecipientLastName: 6, colRecipientFirstName: 7, colSenderBirthDate: 8, colSenderCardToken: 9},
			errs: []Error{{Line: 1, Column: "iban", Message: `column appears twice (columns 6 and 11: "IBAN получателя" and "Счёт IBAN")`}}},
		{name: "one column in two languages", rec: []string{"reference", "ФИО", "amount", "full_name"},
			pos:  map[col]int{colReference: 0, colFullName: 1, colAmount: 2},
			errs: []Error{{Line: 1, Column: "full_name", Message: `column appears twice (columns 2 and 4: "ФИО" and "full_name")`}}},
		{name: "an errors report", rec: []string{"reference", "amount", "error_column", "ERROR_MESSAGE"},
			pos: map[col]int{colReference: 0, colAmount: 1, colErrorColumn: 2, colErrorMessage: 3},
			errs: []Error{{Line: 1, Message: "this is an errors report payrun wrote (it has error_column and error_message), not a payout file: " +
				"fix the rows it lists in the original file and upload the original again"}}},
		{name: "suggestions in the same script", rec: []string{"Сума", "Подразделение", "amout", "Карта_получателя"},
			errs: []Error{
				{Line: 1, Column: "Сума", Message: "unknown column; did you mean Сумма? (to carry it into the report, name it meta_сума)"},
				{Line: 1, Column: "Подразделение", Message: "unknown column; did you mean Код подразделения? (to carry it into the report, name it meta_подразделение)"},
				{Line: 1, Column: "amout", Message: "unknown column; did you mean amount? (to carry it into the report, name it meta_amout)"},
				{Line: 1, Column: "Карта_получателя", Message: "unknown column; did you mean ФИО получателя? (to carry it into the report, name it meta_карта_получателя)"},
			}},
		{name: "meta and unnamed", rec: []string{"reference", "", "meta_dept", "Meta_Cost Center", " "},
			pos: map[col]int{colReference: 0}, meta: []metaColumn{{"dept", 2}, {"cost center", 3}}, unnamed: []int{1, 4}},
		{name: "repeated: the first counts", rec: []string{"amount", "reference", "Amount", "meta_x", "META_X"},
			pos: map[col]int{colAmount: 0, colReference: 1}, meta: []metaColumn{{"x", 3}},
			errs: []Error{{Line: 1, Column: "amount", Message: "column appears twice (columns 1 and 3)"},
				{Line: 1, Column: "meta_x", Message: "column appears twice (columns 4 and 5)"}}},
		{name: "problems first, then unknown names", rec: []string{"refrence", "amount", "card 4111.1111.1111.1111", "meta_", "amount"},
			pos: map[col]int{colAmount: 1},
			errs: []Error{
				{Line: 1, Column: `"card 411111******1111"`, Message: "column name contains what looks like a card number (411111******1111)"},
				{Line: 1, Column: "amount", Message: "column appears twice (columns 2 and 5)"},
				{Line: 1, Column: "refrence", Message: "unknown column; did you mean reference? (to carry it into the report, name it meta_refrence)"},
				{Line: 1, Column: "meta_", Message: "unknown column; did you mean method? (to carry it into the report, name it meta_meta_)"},
			}},
		{name: "an invisible character", rec: []string{"refer\u200bence", "amount"}, pos: map[col]int{colAmount: 1},
			errs: []Error{{Line: 1, Column: `"refer\u200bence"`,
				Message: "column name contains an invisible character, U+200B (zero-width space), at character 6; delete it (it often comes with text pasted from a web page or a document)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, errs := mapHeader(tt.rec, 1)
			for c := range numCols {
				want, ok := tt.pos[c]
				if !ok {
					want = -1
				}
				require.Equal(t, want, l.pos[c], "column %s", c)
			}
			require.Equal(t, tt.meta, l.meta)
			require.Equal(t, tt.unnamed, l.unnamed)
			require.Equal(t, tt.errs, errs)
			require.Len(t, l.names, len(tt.rec))
		})
	}
}

// TestREADMERussianNames: the README's table of Russian names is the
// column table's.
func TestREADMERussianNames(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	rows := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "| `") && strings.Count(line, "|") == 3 {
			cells := strings.Split(line, "|")
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
		}
	}
	for c := range numCols {
		if len(russianNames[c]) == 0 {
			continue
		}
		q := make([]string, len(russianNames[c]))
		for i, n := range russianNames[c] {
			q[i] = "`" + n + "`"
		}
		require.Equal(t, strings.Join(q, ", "), rows[c.String()], "README row of %s", c)
	}
}
