package batch

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// TestTemplates: the template of every method, in either language and
// format, is refused as it is (its example row must not be paid) and is a
// clean upload once the example row is a payout of finance's own.
func TestTemplates(t *testing.T) {
	for _, m := range payout.Methods {
		for _, lang := range []string{"en", "ru"} {
			for _, format := range []string{FormatCSV, FormatXLSX} {
				t.Run(string(m)+"/"+lang+"/"+format, func(t *testing.T) {
					var buf bytes.Buffer
					require.NoError(t, WriteTemplate(&buf, m, lang, format, ""))
					data := buf.Bytes()

					res, got := validateBytes(t, data, Options{Lang: lang})
					require.Equal(t, 1, res.Rows)
					require.Equal(t, 1, res.ErrorCount, "%v", got)
					require.Contains(t, got[0], "2: reference: \"EXAMPLE-1\"")
					require.Equal(t, map[string]int{string(m): 1}, res.ByMethod, "the columns tell the method")
					require.Equal(t, format, res.Format)

					filled := fill(t, data, format)
					res, got = validateBytes(t, filled, Options{Lang: lang})
					require.Empty(t, got)
					require.Equal(t, 3, res.Rows)
					require.Equal(t, map[string]int{string(m): 3}, res.ByMethod)
					n := 0
					for row, err := range Rows(bytes.NewReader(filled), Options{Now: testNow}, func(string, int) string { return "sealed" }) {
						require.NoError(t, err)
						require.Equal(t, m, row.Method)
						n++
					}
					require.Equal(t, 3, n)
				})
			}
		}
	}
}

// fill replaces a template's example reference and adds two more rows
// like it, as finance would.
func fill(t *testing.T, data []byte, format string) []byte {
	t.Helper()
	if format == FormatCSV {
		text := strings.TrimSuffix(string(data), "\r\n")
		head, example, _ := strings.Cut(text, "\r\n")
		var b strings.Builder
		b.WriteString(head + "\r\n")
		for i := 1; i <= 3; i++ {
			b.WriteString(strings.Replace(example, ExamplePrefix+"1", "E-00"+string(rune('0'+i))+"/2026-11", 1) + "\r\n")
		}
		return []byte(b.String())
	}
	f, err := excelize.OpenReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer f.Close()
	sheet := f.GetSheetList()[0]
	rows, err := f.GetRows(sheet)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	for i := 1; i <= 3; i++ {
		r := make([]any, len(rows[1]))
		for j, v := range rows[1] {
			r[j] = v
		}
		r[0] = "E-00" + string(rune('0'+i)) + "/2026-11"
		ref, _ := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, f.SetSheetRow(sheet, ref, &r))
	}
	var out bytes.Buffer
	_, err = f.WriteTo(&out)
	require.NoError(t, err)
	return out.Bytes()
}

func TestTemplateShape(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteTemplate(&buf, payout.MethodCard, "ru", FormatCSV, ""))
	require.Equal(t, "\uFEFFНомер;ФИО;Номер карты;Сумма;Назначение платежа;Электронная почта;Телефон\r\n"+
		"EXAMPLE-1;Иванов Иван Иванович;4242 4242 4242 4242;85000,00;Пример: замените эту строку своими выплатами;ivanov@example.ru;+79991234567\r\n", buf.String())
	buf.Reset()
	require.NoError(t, WriteTemplate(&buf, payout.MethodCard, "en", FormatCSV, spreadsheet.ExcelRU))
	require.True(t, strings.HasPrefix(buf.String(), "\uFEFFreference;full_name;card_number;amount;"))
	buf.Reset()
	require.NoError(t, WriteTemplate(&buf, payout.MethodToken, "en", FormatCSV, ""))
	require.Equal(t, "reference,full_name,card_token,amount,description,email,phone\r\n"+
		"EXAMPLE-1,Ivan Petrov,tok_5f2b9c1e8d7a4b3c,85000.00,Example: replace this row with your payouts,ivan.petrov@example.com,+79991234567\r\n", buf.String())

	buf.Reset()
	require.NoError(t, WriteTemplate(&buf, payout.MethodTransfer, "ru", FormatXLSX, ""))
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, []string{"Выплаты transfer", "Правила"}, f.GetSheetList())
	rules, err := f.GetRows("Правила")
	require.NoError(t, err)
	require.Equal(t, []string{"колонка", "английское имя", "обязательна", "правило"}, rules[len(templateNotes)+1])
	require.Equal(t, []string{"Номер", "reference", "да"}, rules[len(templateNotes)+2][:3])
	require.Len(t, rules, len(templateNotes)+2+len(templateColumns[payout.MethodTransfer]))
	// The data cells are text, so a typed card number keeps its digits.
	style, err := f.GetCellStyle("Выплаты transfer", "F5")
	require.NoError(t, err)
	st, err := f.GetStyle(style)
	require.NoError(t, err)
	require.Equal(t, 49, st.NumFmt)

	require.ErrorContains(t, WriteTemplate(&buf, "cash", "en", FormatCSV, ""), `"cash" is not a method`)
	_, err = ParseTemplateFormat("pdf")
	require.ErrorContains(t, err, `template format "pdf": use csv or xlsx`)
}
