package batch

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/spreadsheet"
)

// errorsReport validates a file with an errors report in a dialect and
// returns the report's lines, without a BOM.
func errorsReport(t *testing.T, data []byte, d spreadsheet.Dialect, opts Options) (*Result, string, []string) {
	t.Helper()
	var report bytes.Buffer
	w := NewErrorsCSV(&report, d)
	opts.Now, opts.OnRecord = testNow, w.Record
	res, err := Validate(bytes.NewReader(data), opts)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	out := report.String()
	for _, p := range testPANs {
		require.NotContains(t, out, p)
	}
	return res, out, strings.Split(strings.TrimSuffix(strings.TrimPrefix(out, "\uFEFF"), "\r\n"), "\r\n")
}

// TestErrorsCSV: the report lists the failed rows only, each with its
// line, the file's columns (card numbers masked) and its problems.
func TestErrorsCSV(t *testing.T) {
	data, err := os.ReadFile("testdata/validate/card.csv")
	require.NoError(t, err)
	res, out, lines := errorsReport(t, data, spreadsheet.RFC4180, Options{})
	require.False(t, res.Valid())
	require.False(t, strings.HasPrefix(out, "\uFEFF"), "rfc4180: no BOM")
	require.Len(t, lines, 1+res.ErrorCount, "the header and one line per failed row")
	require.Equal(t, "line,reference,method,amount,full_name,card_number,card_token,description,error_column,error_message", lines[0])
	require.Equal(t, "3,C-2,card,100,Ivan Petrov,424242******4243,,,card_number,card_number: fails the Luhn check (last4 4243)", lines[1])
	require.Equal(t, "9,C-8,card,100,Ivan Petrov,220000******0004,,paid to card 555555******4444 as agreed,description,"+
		"description: contains what looks like a card number (555555******4444); card numbers go only into card_number", lines[7])
	require.Equal(t, "10,C-9,token,100,Ivan Petrov,,555555******4444,,card_token,"+
		`"card_token: looks like a card number (555555******4444), not a token; card numbers go into card_number with method card"`, lines[8])
	require.NotContains(t, out, "C-1,", "a valid row is not in the report")

	// The report is not an upload: it says so.
	_, got := validateFile(t, writeTemp(t, out), Options{})
	require.Contains(t, got, "1: line: unknown column; did you mean phone? (to carry it into the report, name it meta_line)")
	require.Contains(t, got, "1: this is an errors report payrun wrote (it has error_column and error_message), not a payout file: "+
		"fix the rows it lists in the original file and upload the original again")
}

// TestErrorsCSVExcelRU: ";", a BOM, CRLF and amounts with a decimal
// comma; the header's, a totals line's and the file's problems have
// lines of their own.
func TestErrorsCSVExcelRU(t *testing.T) {
	file := "Номер,ФИО,Номер карты,Сумма,fullname\n" +
		"E-1,Иван Петров,4242424242424242,1500.50,\n" +
		"E-2,Иван Петров,4242424242424243,1500.50,\n" +
		"Итого,,,3000,\n"
	_, out, lines := errorsReport(t, []byte(file), "", Options{ExpectCount: 3})
	require.True(t, strings.HasPrefix(out, "\uFEFF"), "excel-ru: a BOM")
	require.Equal(t, []string{
		"line;Номер;ФИО;Номер карты;Сумма;fullname;error_column;error_message",
		`1;;;;;;fullname;"fullname: unknown column; did you mean full_name? (to carry it into the report, name it meta_fullname)"`,
		`3;E-2;Иван Петров;424242******4243;1500,50;;card_number;card_number: fails the Luhn check (last4 4243)`,
		`4;Итого;;;3000;;amount;amount: the totals line says 3000.00 RUB, the rows above add up to 3001.00 RUB`,
		`;;;;;;;the file has 2 rows, expected 3 (control count)`,
	}, lines)
}

func TestErrorsCSVNeutralisesFormulas(t *testing.T) {
	data, err := os.ReadFile("testdata/validate/formula.csv")
	require.NoError(t, err)
	_, _, lines := errorsReport(t, data, spreadsheet.RFC4180, Options{})
	require.True(t, strings.HasPrefix(lines[1], "3,F-2,card,'=1+2,"), lines[1])
	require.Contains(t, lines[2], `"'=HYPERLINK(""http://x"",""click"")"`)
	require.Contains(t, lines[3], ",'@SUM(A1),")
	require.Contains(t, lines[4], ",'+cmd,")
	require.Contains(t, lines[5], ",'-bonus,")
	require.Contains(t, lines[6], `,'=cmd|' /C calc'!A0,`)
	require.True(t, strings.HasPrefix(lines[7], "9,F-8,card,100,'=Ivan,"), lines[7])
}

func TestErrorsCSVRejectedEncoding(t *testing.T) {
	_, out, _ := errorsReport(t, []byte("\xff\xfea\x00"), spreadsheet.RFC4180, Options{})
	require.Equal(t, "line,error_column,error_message\r\n,,\"the file is UTF-16 text (\"\"Unicode text\"\" in Excel); save it as CSV UTF-8 (or Windows-1251) and upload again\"\r\n", out)
}
