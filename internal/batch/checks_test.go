package batch

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// validateText validates a file held in a string and returns its errors
// and warnings as the CLI prints them (without the file name).
func validateText(t *testing.T, content string, opts Options) (*Result, []string) {
	t.Helper()
	var got []string
	opts.Now = testNow
	opts.OnError = func(e Error) { got = append(got, e.String()) }
	opts.OnWarning = func(e Error) { got = append(got, "warning: "+e.String()) }
	res, err := Validate(strings.NewReader(content), opts)
	require.NoError(t, err)
	return res, got
}

// cardRow is a valid card row; cells replace its columns by name.
func cardFile(cells map[string]string) string {
	cols := []string{"reference", "method", "amount", "full_name", "card_number", "card_token", "phone", "description", "meta_note"}
	row := map[string]string{"reference": "R-1", "method": "card", "amount": "100", "full_name": "Ivan Petrov",
		"card_number": "4242424242424242"}
	for k, v := range cells {
		row[k] = v
	}
	var b strings.Builder
	b.WriteString(strings.Join(cols, ",") + "\n")
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		v := row[c]
		if strings.ContainsAny(v, ",\"\n\r") {
			v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		}
		b.WriteString(v)
	}
	b.WriteString("\n")
	return b.String()
}

const panMsg = "; card numbers go only into card_number"

// TestCardNumbersOutsideCardNumber: card numbers in any column but
// card_number, however written, are rejected and reported masked.
func TestCardNumbersOutsideCardNumber(t *testing.T) {
	tests := []struct {
		name  string
		cells map[string]string
		want  string
	}{
		{"reference then year", map[string]string{"reference": "4111111111111111-2026"},
			"2: reference: contains what looks like a card number (411111******1111)" + panMsg},
		{"description then year", map[string]string{"description": "card 5555 5555 5555 4444 2027"},
			"2: description: contains what looks like a card number (555555******4444)" + panMsg},
		{"meta with dots", map[string]string{"meta_note": "5105.1051.0510.5100"},
			"2: meta_note: contains what looks like a card number (510510******5100)" + panMsg},
		{"underscores", map[string]string{"description": "4000_0566_5566_5556"},
			"2: description: contains what looks like a card number (400005******5556)" + panMsg},
		{"slashes", map[string]string{"description": "4111/1111/1111/1111"},
			"2: description: contains what looks like a card number (411111******1111)" + panMsg},
		{"name with dots", map[string]string{"full_name": "Ivan.4242.4242.4242.4242"},
			"2: full_name: contains what looks like a card number (424242******4242)" + panMsg},
		{"double spaces", map[string]string{"description": "4242  4242  4242  4242"},
			"2: description: contains what looks like a card number (424242******4242)" + panMsg},
		{"tabs", map[string]string{"description": "x 4242\t4242\t4242\t4242"},
			"2: description: contains what looks like a card number (424242******4242)" + panMsg},
		{"no-break spaces", map[string]string{"description": "4242\u00a04242\u00a04242\u00a04242"},
			"2: description: contains what looks like a card number (424242******4242)" + panMsg},
		{"en dashes", map[string]string{"description": "4242–4242–4242–4242"},
			"2: description: contains what looks like a card number (424242******4242)" + panMsg},
		{"em dashes", map[string]string{"meta_note": "4242—4242—4242—4242"},
			"2: meta_note: contains what looks like a card number (424242******4242)" + panMsg},
		{"full-width digits", map[string]string{"description": "４１１１ １１１１ １１１１ １１１１"},
			"2: description: contains what looks like a card number (411111******1111)" + panMsg},
		{"Arabic-Indic digits", map[string]string{"meta_note": "٤١١١١١١١١١١١١١١١"},
			"2: meta_note: contains what looks like a card number (411111******1111)" + panMsg},
		{"token holding a card number", map[string]string{"method": "token", "card_number": "", "card_token": "tok-4111111111111111"},
			"2: card_token: contains what looks like a card number (411111******1111)" + panMsg},
		{"token that is a card number", map[string]string{"method": "token", "card_number": "", "card_token": "4111.1111.1111.1111"},
			"2: card_token: looks like a card number (411111******1111), not a token; card numbers go into card_number with method card"},
		// Values quoted by other rules are masked.
		{"phone", map[string]string{"phone": "4111 1111 1111 1111"},
			`2: phone: "411111******1111" must be "+" and 10–15 digits, e.g. +79991234567`},
		{"amount", map[string]string{"amount": "4111.1111.1111.1111"},
			`2: amount: "411111******1111" is not an amount; write digits with "." or "," before the fraction, e.g. 1500.50`},
		{"formula", map[string]string{"description": "=4111111111111111+1"},
			`2: description: "=411111******1111+1" starts with = and a spreadsheet would run it as a formula; formulas are not accepted`},
		{"long value cut after masking", map[string]string{"description": "=" + strings.Repeat("x", 30) + " 4111 1111 1111 1111"},
			`2: description: "=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 41111…" starts with = and a spreadsheet would run it as a formula; formulas are not accepted`},
		// Not card numbers.
		{"20-digit account", map[string]string{"description": "счёт 40817810099910004312"}, ""},
		{"date range", map[string]string{"description": "Премия 01.05.2026-28.05.2026"}, ""},
		{"all zeros", map[string]string{"description": "0000 0000 0000 0000"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := validateText(t, cardFile(tt.cells), Options{})
			if tt.want == "" {
				require.Empty(t, got)
				return
			}
			require.Equal(t, []string{tt.want}, got)
		})
	}
}

func TestCardNumberInHeaderAndName(t *testing.T) {
	file := strings.Replace(cardFile(nil), "meta_note", "meta_4111.1111.1111.1111", 1)
	res, got := validateText(t, file, Options{})
	require.Equal(t, []string{`1: "meta_411111******1111": column name contains what looks like a card number (411111******1111)`}, got)
	for _, c := range res.Columns {
		require.NotContains(t, c, "4111.1111")
	}

	file = strings.Replace(cardFile(nil), "meta_note", "meta_note\u202e", 1)
	_, got = validateText(t, file, Options{})
	require.Equal(t, []string{`1: "meta_note\u202e": column name contains an invisible character, U+202E (bidirectional text control), at character 10; delete it (it often comes with text pasted from a web page or a document)`}, got)

	tests := []struct{ name, want string }{
		{"Payroll November", ""},
		{"Payroll 4111 1111 1111 1111", "name: contains what looks like a card number (411111******1111); a batch name must not hold card data"},
		{"Payroll\u200bNovember", "name: contains an invisible character, U+200B (zero-width space), at character 8; delete it (it often comes with text pasted from a web page or a document)"},
		{strings.Repeat("x", 256), "name: is 256 characters long; at most 255"},
	}
	for _, tt := range tests {
		var report bytes.Buffer
		w := NewErrorsCSV(&report, spreadsheet.RFC4180)
		res, got := validateText(t, cardFile(nil), Options{Name: tt.name, OnRecord: w.Record})
		require.NoError(t, w.Close())
		if tt.want == "" {
			require.Empty(t, got)
			continue
		}
		require.Equal(t, []string{tt.want}, got)
		require.False(t, res.Valid())
		require.Contains(t, report.String(), ",name,")
		require.NotContains(t, report.String(), "4111 1111")
	}
}

// TestErrorsNeverShowCardNumbers validates rows whose every kind of cell
// holds a card number in some form, and greps the messages and the errors
// report for the numbers in every form.
func TestErrorsNeverShowCardNumbers(t *testing.T) {
	forms := []string{"%s", "Ivan.%s", "%s-2026", "card %s 2027", "=%s", "+%s"}
	seps := []string{"", " ", "-", ".", "/", "_", "  ", "\t", "\u00a0", "–"}
	pans := testPANs[:6] // the Luhn-valid ones
	var b strings.Builder
	b.WriteString("reference,method,amount,currency,full_name,card_number,card_token,phone,email,description,meta_note\n")
	n := 0
	for _, form := range forms {
		for _, sep := range seps {
			p := pans[n%len(pans)]
			v := strings.ReplaceAll(form, "%s", p[0:4]+sep+p[4:8]+sep+p[8:12]+sep+p[12:16])
			q := `"` + v + `"`
			n++
			b.WriteString(strings.Join([]string{q, "token", q, q, q, q, q, q, q, q, q}, ",") + "\n")
		}
	}
	var report bytes.Buffer
	w := NewErrorsCSV(&report, spreadsheet.RFC4180)
	res, got := validateText(t, b.String(), Options{OnRecord: w.Record})
	require.NoError(t, w.Close())
	require.False(t, res.Valid())
	require.Greater(t, len(got), n*9)
	all := strings.Join(got, "\n") + "\n" + report.String()
	for _, p := range pans {
		for _, sep := range seps {
			form := p[0:4] + sep + p[4:8] + sep + p[8:12] + sep + p[12:16]
			require.NotContains(t, all, form)
		}
	}
	for _, g := range got {
		_, leak := cardmask.Find(g)
		require.False(t, leak, g)
	}
}

// TestInvisibleCharacters: control, format (Cf) and separator (Zl, Zp)
// characters are rejected in every text cell, with their position.
func TestInvisibleCharacters(t *testing.T) {
	for _, r := range []rune{0x85, 0x9B, 0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067,
		0x2068, 0x2069, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0xFEFF, 0xAD, 0x2060, 0x061C, 0xE0041, 0x07} {
		for _, col := range []string{"description", "meta_note", "full_name", "reference"} {
			v := "Ab" + string(r) + "cd"
			_, got := validateText(t, cardFile(map[string]string{col: v}), Options{})
			require.Len(t, got, 1, "%U in %s", r, col)
			require.True(t, strings.HasPrefix(got[0], "2: "+col+": contains "), got[0])
			require.Contains(t, got[0], "U+", got[0])
			require.Contains(t, got[0], "at character 3", got[0])
		}
	}
	// What stays allowed: no-break spaces, line breaks in quoted text,
	// letters of any script, and the BOM at the start of the file.
	for _, v := range []string{"a\u00a0b", "a\nb", "Жанна Д'Арк", "a\u202fb", "a\tb"} {
		_, got := validateText(t, cardFile(map[string]string{"description": v}), Options{})
		require.Empty(t, got, "%q", v)
	}
	_, got := validateText(t, "\uFEFF"+cardFile(nil), Options{})
	require.Empty(t, got)

	// Every format character is caught; textProblem's shortcut below
	// U+0600 holds.
	for r := rune(0x80); r < 0x600; r++ {
		if unicode.Is(unicode.Cf, r) {
			require.Equal(t, rune(0xAD), r)
		}
	}
	for r := rune(0x600); r <= unicode.MaxRune; r++ {
		if unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) {
			require.NotEmpty(t, textProblem("a"+string(r)), "%U", r)
		}
	}
	require.Equal(t, "contains a control character (U+0085) at character 2", textProblem("a\u0085"))
	require.True(t, utf8.ValidString(textProblem("\xff")))
}

// TestFakeCardNumbers: a Luhn-valid number of one repeated digit is no
// card number.
func TestFakeCardNumbers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0000000000000", "2: card_number: is not a card number: all its digits are the same (last4 0000); enter the recipient's card number"},
		{"0000 0000 0000 0000", "2: card_number: is not a card number: all its digits are the same (last4 0000); enter the recipient's card number"},
		{"5555555555555555555", "2: card_number: is not a card number: all its digits are the same (last4 5555); enter the recipient's card number"},
		{"1111111111111", "2: card_number: is not a card number: all its digits are the same (last4 1111); enter the recipient's card number"},
		{"4242424242424242", ""},
		{"2200000000000004", ""},
	}
	for _, tt := range tests {
		_, got := validateText(t, cardFile(map[string]string{"card_number": tt.in}), Options{})
		if tt.want == "" {
			require.Empty(t, got, tt.in)
			continue
		}
		require.Equal(t, []string{tt.want}, got, tt.in)
	}
}

// TestAmountGrouping: spaces separate thousands only; anything else is an
// error that says which space and why.
func TestAmountGrouping(t *testing.T) {
	const tail = "; spaces may only separate thousands, as in 1 500 000,50"
	tests := []struct {
		in    string
		minor int64
		want  string
	}{
		{"1 500", 150000, ""},
		{"1 500,50", 150050, ""},
		{"1\u00a0500.5", 150050, ""},
		{"12 345", 1234500, ""},
		{"15 00", 0, `2: amount: "15 00" is not an amount: the space at character 3 is followed by 2 digits ("00"), not 3` + tail},
		{"1 5", 0, `2: amount: "1 5" is not an amount: the space at character 2 is followed by 1 digit ("5"), not 3` + tail},
		{"1 500 0,5", 0, `2: amount: "1 500 0,5" is not an amount: the space at character 6 is followed by 1 digit ("0"), not 3` + tail},
		{"1 0 0", 0, `2: amount: "1 0 0" is not an amount: the space at character 2 is followed by 1 digit ("0"), not 3` + tail},
		{"1000 000", 0, `2: amount: "1000 000" is not an amount: the space at character 5 follows 4 digits ("1000"); before the first space there may be 1–3` + tail},
		{"1 500,5 0", 0, `2: amount: "1 500,5 0" is not an amount: the space at character 8 is in the fraction, after the decimal separator` + tail},
	}
	for _, tt := range tests {
		res, got := validateText(t, cardFile(map[string]string{"amount": tt.in}), Options{})
		if tt.want == "" {
			require.Empty(t, got, tt.in)
			require.Equal(t, tt.minor, res.Totals["RUB"], tt.in)
			continue
		}
		require.Equal(t, []string{tt.want}, got, tt.in)
	}
}
