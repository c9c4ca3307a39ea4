package batch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"

	"github.com/payrun/payrun/internal/batch/batchtest"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/secret"
	"github.com/payrun/payrun/internal/testutil"
)

// testNow is the clock of every test: the sender age rule depends on it.
func testNow() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }

// validateFile validates a file and returns the result and every error
// and warning as the CLI prints them (without the file name).
func validateFile(t *testing.T, path string, opts Options) (*Result, []string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var got []string
	opts.Now = testNow
	opts.OnError = func(e Error) { got = append(got, e.String()) }
	opts.OnWarning = func(e Error) { got = append(got, "warning: "+e.String()) }
	res, err := Validate(f, opts)
	require.NoError(t, err)
	return res, got
}

func TestValidateFiles(t *testing.T) {
	tests := []struct {
		name, file          string
		encoding, delimiter string
		rows                int
		totals              string
		want                []string
	}{
		{
			name: "amounts", file: "amounts.csv",
			encoding: "utf-8", delimiter: ",", rows: 12, totals: "1003001.00 RUB",
			want: []string{
				"4: amount: \"1500.555\" has more than 2 decimal places",
				"5: amount: \"0\" is zero",
				"6: amount: \"-5\" is negative",
				"7: amount: \"1000000.01\" is above the per-row limit of 1000000.00 RUB",
				"8: amount: \"12a\" is not an amount; write digits with \".\" or \",\" before the fraction, e.g. 1500.50",
				"9: amount: is required",
				"10: currency: \"XYZ\" is not an ISO 4217 currency code payrun pays in",
				"11: currency: \"RUR\" is the old ruble code; use RUB",
				"12: currency: \"USD\" is not allowed for method card: domestic payouts are in RUB",
			},
		},
		{
			name: "binary", file: "binary.csv",
			encoding: "", delimiter: "", rows: 0, totals: "",
			want: []string{
				"the file holds binary data (a NUL byte on line 1), not CSV text in UTF-8 or Windows-1251",
			},
		},
		{
			name: "bom_crlf", file: "bom_crlf.csv",
			encoding: "utf-8 with BOM", delimiter: ",", rows: 3, totals: "1600.50 RUB",
			want: []string{
				"5: amount: \"1500.555\" has more than 2 decimal places",
			},
		},
		{
			name: "card", file: "card.csv",
			encoding: "utf-8", delimiter: ",", rows: 12, totals: "1200.00 RUB",
			want: []string{
				"3: card_number: fails the Luhn check (last4 4243)",
				"4: card_number: has 12 digits; a card number has 13–19 (last4 4242)",
				"5: card_number: holds a masked number (last4 4242); enter the full card number",
				"6: card_number: may hold only digits, spaces and dashes (last4 2424)",
				"7: card_number: is required for method card",
				"8: card_number: \"4.24242E+15\" is in scientific notation: a spreadsheet turned the card number into a float and lost digits; format the column as text and export again",
				"9: description: contains what looks like a card number (555555******4444); card numbers go only into card_number",
				"10: card_token: looks like a card number (555555******4444), not a token; card numbers go into card_number with method card",
				"11: card_token: is required for method token",
				"12: card_token: \"tok abc\" is not a token: it may hold only letters, digits and punctuation, no spaces",
				"13: card_number: has 20 digits; a card number has 13–19 (last4 1234)",
			},
		},
		{
			name: "cp1251_semicolon", file: "cp1251_semicolon.csv",
			encoding: "windows-1251", delimiter: ";", rows: 3, totals: "86234.50 RUB",
			want: []string{
				"4: amount: \"10,555\" has more than 2 decimal places",
			},
		},
		{
			name: "domestic", file: "domestic.csv",
			encoding: "utf-8", delimiter: ",", rows: 13, totals: "1300.00 RUB",
			want: []string{
				"3: full_name: is required for method token",
				"4: full_name: \"Ivan P3trov\" may hold only letters, spaces and - ' .",
				"5: number_hash: must be 64 hexadecimal characters (has 3)",
				"6: number_hash: is required with the other card hashes (leave all four empty for a recipient link)",
				"7: expiration_date_hash: must be 64 hexadecimal characters (found 'z')",
				"8: email: \"ivan@\" is not a valid email address",
				"9: phone: \"89991234567\" must be \"+\" and 10–15 digits, e.g. +79991234567",
				"10: phone: \"+7999\" must be \"+\" and 10–15 digits, e.g. +79991234567",
				"11: method: \"cash\" is not a method; use card, token, encrypted_card or transfer",
				"12: method: cannot tell the method: the row fills the columns of card_token (token) and number_hash (encrypted_card); fill in method or keep the columns of one method only",
				"13: description: is 216 characters long; at most 210",
				"warning: 14: number_hash: ignored for method token",
			},
		},
		{
			name: "empty", file: "empty.csv",
			encoding: "", delimiter: "", rows: 0, totals: "",
			want: []string{
				"the file is empty; a header row is required",
			},
		},
		{
			name: "formula", file: "formula.csv",
			encoding: "utf-8", delimiter: ",", rows: 8, totals: "700.00 RUB",
			want: []string{
				"3: amount: \"=1+2\" starts with = and a spreadsheet would run it as a formula; formulas are not accepted",
				"4: description: \"=HYPERLINK(\\\"http://x\\\",\\\"click\\\")\" starts with = and a spreadsheet would run it as a formula; formulas are not accepted",
				"5: description: \"@SUM(A1)\" starts with @ and a spreadsheet would run it as a formula; formulas are not accepted",
				"6: description: \"+cmd\" starts with + and a spreadsheet would run it as a formula; formulas are not accepted",
				"7: description: \"-bonus\" starts with - and a spreadsheet would run it as a formula; formulas are not accepted",
				"8: meta_note: \"=cmd|' /C calc'!A0\" starts with = and a spreadsheet would run it as a formula; formulas are not accepted",
				"9: full_name: \"=Ivan\" starts with = and a spreadsheet would run it as a formula; formulas are not accepted",
			},
		},
		{
			name: "header", file: "header.csv",
			encoding: "utf-8", delimiter: ",", rows: 1, totals: "100.00 RUB",
			want: []string{
				"1: card_number: column appears twice (columns 5 and 7)",
				"1: fullname: unknown column; did you mean full_name? (to carry it into the report, name it meta_fullname)",
				"1: department: unknown column; did you mean reference? (to carry it into the report, name it meta_department)",
				"2: full_name: is required for method card, and the file has no such column",
			},
		},
		{
			name: "header_only", file: "header_only.csv",
			encoding: "utf-8", delimiter: ",", rows: 0, totals: "",
			want: []string{
				"the file has a header but no rows",
			},
		},
		{
			name: "missing_columns", file: "missing_columns.csv",
			encoding: "utf-8", delimiter: ",", rows: 1, totals: "",
			want: []string{
				"1: amount: required column is missing from the header",
				"2: amount: is required, and the file has no such column",
				"2: card_number: is required for method card, and the file has no such column",
			},
		},
		{
			name: "multiline", file: "multiline.csv",
			encoding: "utf-8", delimiter: ",", rows: 3, totals: "200.00 RUB",
			want: []string{
				"3: amount: \"1500.555\" has more than 2 decimal places",
				"7: reference: \"ML-1\" already used on line 2",
				"7: full_name: \"Ivan\\nPetrov\" may hold only letters, spaces and - ' .",
				"8: card_number: fails the Luhn check (last4 4243)",
			},
		},
		{
			name: "notcp1251", file: "notcp1251.csv",
			encoding: "", delimiter: "", rows: 0, totals: "",
			want: []string{
				"the file is neither UTF-8 nor Windows-1251 text (byte 0x81 on line 2); save it as CSV UTF-8 and upload again",
			},
		},
		{
			name: "reference", file: "reference.csv",
			encoding: "utf-8", delimiter: ",", rows: 7, totals: "700.00 RUB",
			want: []string{
				"4: reference: \"E 043\" may hold only letters A–Z, digits and _ . : / - (found ' ')",
				"5: reference: is required",
				"6: reference: is 66 characters long; at most 64",
				"7: reference: \"E-042\" already used on line 2",
				"9: reference: \"E-042\" already used on line 2",
			},
		},
		{
			name: "syntax", file: "syntax.csv",
			encoding: "utf-8", delimiter: ",", rows: 5, totals: "200.00 RUB",
			want: []string{
				"3: a quote (\") inside a field that is not quoted; put the whole field in quotes and double the inner quote (\"\")",
				"4: has 5 fields, the header has 6 (check the delimiter \",\" and quotes)",
				"5: column 6 has no name in the header but holds \"extra\"",
				"7: a quoted field is not closed properly (a missing or extra \")",
			},
		},
		{
			name: "tab", file: "tab.tsv",
			encoding: "utf-8", delimiter: "\t", rows: 2, totals: "10.50 RUB",
			want: []string{
				"2: full_name: \"Anna, Petrova\" may hold only letters, spaces and - ' .",
				"3: amount: \"1,000.00\" is not an amount; write digits with \".\" or \",\" before the fraction, e.g. 1500.50",
			},
		},
		{
			name: "transfer", file: "transfer.csv",
			encoding: "utf-8", delimiter: ",", rows: 19, totals: "100.00 EUR, 100.00 KGS, 1400.00 RUB, 100.00 TRY, 100.00 USD",
			want: []string{
				"6: currency: is required for method transfer (RUB: the amount the sender pays; the destination currency: the amount the recipient gets)",
				"7: currency: \"EUR\" is not allowed for a cash transfer: use RUB (the amount the sender pays) or USD (the amount the recipient gets)",
				"8: country: \"RUS\" is not a transfer destination; transfers go to TUR or KGZ",
				"9: transfer_type: iban transfers go to TUR, not KGZ",
				"10: transfer_type: \"wire\" is not a transfer type; use cash (TUR, USD), iban (TUR, TRY) or card (KGZ, KGS)",
				"11: iban: \"DE89370400440532013000\" is not a Turkish IBAN: it must start with TR",
				"12: iban: \"TR33000610051978645784132\" must have 26 characters without spaces (has 25)",
				"13: iban: \"TR340006100519786457841326\" fails the IBAN check digits (mod 97); check for a typo",
				"14: iban: is required for transfer_type iban",
				"15: recipient_card_token: is required for transfer_type card",
				"16: recipient_first_name: \"Мехмет\" must be written in Latin letters, as in the passport",
				"16: recipient_last_name: is required for transfer_type cash",
				"16: recipient_citizenship: \"TR\" is a two-letter code; use the three-letter ISO 3166-1 code TUR",
				"17: recipient_citizenship: \"XXX\" is not an ISO 3166-1 alpha-3 country code (e.g. RUS, TUR, KGZ)",
				"17: sender_birth_date: the sender must be 18 or older (born 2010-05-01)",
				"18: sender_birth_date: \"14.03.1985\" is not a date in the form YYYY-MM-DD",
				"18: sender_citizenship: \"RU\" is a two-letter code; use the three-letter ISO 3166-1 code RUS",
				"18: sender_document_issue_date: \"2030-01-01\" is in the future",
				"18: sender_phone: \"+7999\" must be \"+\" and 10–15 digits, e.g. +79991234567",
				"18: sender_country: \"Russia\" is not an ISO 3166-1 alpha-3 country code (e.g. RUS, TUR, KGZ)",
				"19: sender_card_token: is required for method transfer",
				"19: sender_first_name: is required for method transfer",
				"19: sender_last_name: is required for method transfer",
				"19: sender_birth_date: is required for method transfer",
				"19: sender_citizenship: is required for method transfer",
				"19: sender_document_number: is required for method transfer",
				"19: sender_document_issue_date: is required for method transfer",
				"19: sender_phone: is required for method transfer",
				"19: sender_country: is required for method transfer",
				"19: sender_city: is required for method transfer",
				"19: sender_building: is required for method transfer",
				"warning: 20: recipient_card_token: ignored for transfer_type cash",
			},
		},
		{
			// A Russian citizen's passport, or a foreign citizen's own
			// document (documents_foreigner, seed 003), and phones the
			// bank's four fields can be derived from.
			name: "foreign sender", file: "foreign.csv",
			encoding: "utf-8", delimiter: ",", rows: 7, totals: "700.00 RUB",
			want: []string{
				"5: sender_foreign_document_number: is required for a sender who is not a Russian citizen (documents_foreigner)",
				"5: sender_foreign_document_valid_from: is required for a sender who is not a Russian citizen (documents_foreigner)",
				"6: sender_foreign_document_number: \"PA1234567\" is for a sender who is not a Russian citizen; this sender's citizenship is RUS (use the sender_document_* columns)",
				"7: sender_foreign_document_valid_to: the document expired on 2021-01-01",
				"8: recipient_phone: \"+12025550123\" cannot be split into the bank's phone fields: only Russian (+7 3/4/8/9…), Kazakh (+7 6/7…), Turkish (+90) and Kyrgyz (+996) numbers can be split",
				"8: sender_phone: \"+442071234567\" cannot be split into the bank's phone fields: only Russian (+7 3/4/8/9…), Kazakh (+7 6/7…), Turkish (+90) and Kyrgyz (+996) numbers can be split",
			},
		},
		{
			name: "utf16", file: "utf16.csv",
			encoding: "", delimiter: "", rows: 0, totals: "",
			want: []string{
				"the file is UTF-16 text (\"Unicode text\" in Excel); save it as CSV UTF-8 (or Windows-1251) and upload again",
			},
		},
		{
			name: "valid", file: "valid.csv",
			encoding: "utf-8", delimiter: ",", rows: 3, totals: "300.00 RUB",
		},
		{
			name: "warnings", file: "warnings.csv",
			encoding: "utf-8", delimiter: ",", rows: 2, totals: "200.00 RUB",
			want: []string{
				"warning: 2: card_number: ignored for method token",
				"warning: 2: country: ignored for method token",
				"warning: 3: iban: ignored for method card",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, got := validateFile(t, filepath.Join("testdata", "validate", tt.file), Options{})
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.encoding, res.Encoding, "encoding")
			require.Equal(t, tt.delimiter, res.Delimiter, "delimiter")
			require.Equal(t, tt.rows, res.Rows, "rows")
			require.Equal(t, tt.totals, res.Totals.String(), "totals")
			errs := 0
			for _, g := range got {
				if !strings.HasPrefix(g, "warning: ") {
					errs++
				}
			}
			require.Equal(t, errs, res.ErrorCount)
			require.Equal(t, errs == 0, res.Valid())
			require.Len(t, res.Errors, errs)
		})
	}
}

func TestValidateOptions(t *testing.T) {
	tests := []struct {
		name string
		file string
		opts Options
		want []string
	}{
		{"count matches", "testdata/validate/valid.csv", Options{ExpectCount: 3}, nil},
		{"count differs", "testdata/validate/valid.csv", Options{ExpectCount: 4},
			[]string{"the file has 3 rows, expected 4 (control count)"}},
		{"total matches", "testdata/validate/valid.csv", Options{ExpectTotal: "300"}, nil},
		{"total matches with comma", "testdata/validate/valid.csv", Options{ExpectTotal: "300,00"}, nil},
		{"total differs", "testdata/validate/valid.csv", Options{ExpectTotal: "300.01"},
			[]string{"the file's total is 300.00 RUB, expected 300.01 RUB (control total)"}},
		{"total not an amount", "testdata/validate/valid.csv", Options{ExpectTotal: "lots"},
			[]string{`control total "lots" is not an amount in RUB`}},
		{"total of several currencies", "../../samples/payroll.csv", Options{ExpectTotal: "1"},
			[]string{"a control total needs a file in one currency; this file has KGS, RUB, TRY, USD"}},
		{"max amount", "testdata/validate/valid.csv", Options{MaxAmount: 100_00},
			[]string{`3: amount: "100.50" is above the per-row limit of 100.00 RUB`}},
		{"both control totals", "testdata/validate/valid.csv", Options{ExpectCount: 2, ExpectTotal: "1"},
			[]string{"the file has 3 rows, expected 2 (control count)",
				"the file's total is 300.00 RUB, expected 1.00 RUB (control total)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := validateFile(t, tt.file, tt.opts)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSamplesAreValid(t *testing.T) {
	files, err := filepath.Glob("../../samples/*.csv")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		res, got := validateFile(t, f, Options{})
		require.Empty(t, got, f)
		require.True(t, res.Valid(), f)
	}
}

// testSealer is one upload's envelope and the processor's opener of it.
func testSealer(t testing.TB) (*secret.Envelope, *secret.Opener) {
	s, o := testutil.Keys(t)
	env, err := s.Begin()
	require.NoError(t, err)
	return env, o
}

// testPANs are the card numbers of the fixtures; none may leak.
var testPANs = []string{"4242424242424242", "5555555555554444", "2200000000000004", "4111111111111111",
	"5105105105105100", "4000056655665556", "4242424242424243"}

func TestRows(t *testing.T) {
	const batchID = "b0123456789abcdef0123"
	data, err := os.ReadFile("../../samples/payroll.csv")
	require.NoError(t, err)
	sealer, opener := testSealer(t)
	seal := func(pan string, row int) string { return sealer.Seal(pan, fmt.Sprintf("%s/%d", batchID, row)) }

	var rows []payout.Row
	var encoded bytes.Buffer
	for row, err := range Rows(bytes.NewReader(data), Options{Now: testNow}, seal) {
		require.NoError(t, err)
		rows = append(rows, *row)
		b, err := json.Marshal(row)
		require.NoError(t, err)
		encoded.Write(b)
	}
	require.Len(t, rows, 23)
	for i, r := range rows {
		require.Equal(t, i+1, r.Index)
		require.Equal(t, i+2, r.Line) // no quoted line breaks in the sample
	}

	first := rows[0]
	require.Equal(t, "E-001/2026-11", first.Reference)
	require.Equal(t, payout.MethodCard, first.Method)
	require.Equal(t, int64(85_000_00), first.Amount.Minor)
	require.Equal(t, "RUB", first.Amount.Currency)
	require.Equal(t, "Иванов Иван Иванович", first.FullName)
	require.Equal(t, map[string]string{"department": "Бухгалтерия"}, first.Meta)
	require.Equal(t, "424242", first.Card.BIN)
	require.Equal(t, "4242", first.Card.Last4)
	pan, err := opener.Open(first.Card.Sealed, batchID+"/1")
	require.NoError(t, err)
	require.Equal(t, "4242424242424242", pan)
	_, err = opener.Open(first.Card.Sealed, batchID+"/2")
	require.Error(t, err, "a sealed number is bound to its row")

	phone := rows[4]
	require.Equal(t, "+79165551234", phone.Phone, "phone separators are dropped")

	iban := rows[16]
	require.Equal(t, payout.MethodTransfer, iban.Method)
	require.Equal(t, "TR330006100519786457841326", iban.Transfer.IBAN)
	require.Equal(t, payout.TransferIBAN, iban.Transfer.Type)
	require.Equal(t, "TUR", iban.Transfer.Country)
	require.Equal(t, "1985-03-14", iban.Transfer.SenderBirthDate)
	kgz := rows[19]
	require.Equal(t, "KGS", kgz.Amount.Currency)
	require.Equal(t, payout.TransferCard, kgz.Transfer.Type)
	require.Equal(t, "tok_mbank_5a6b7c8d", kgz.Transfer.RecipientCardToken)
	require.Nil(t, rows[6].Card)
	require.Equal(t, "tok_5f2b9c1e8d7a4b3c", rows[6].CardToken)
	require.Len(t, rows[10].Encrypted.NumberHash, 64)

	for _, p := range testPANs {
		require.NotContains(t, encoded.String(), p)
	}

	// The same file gives the same rows; sealing is randomized, so the
	// sealed numbers differ and open to the same digits.
	i := 0
	for row, err := range Rows(bytes.NewReader(data), Options{Now: testNow}, seal) {
		require.NoError(t, err)
		want := rows[i]
		i++
		if row.Card != nil {
			require.NotEqual(t, want.Card.Sealed, row.Card.Sealed)
			a, err := opener.Open(want.Card.Sealed, fmt.Sprintf("%s/%d", batchID, row.Index))
			require.NoError(t, err)
			b, err := opener.Open(row.Card.Sealed, fmt.Sprintf("%s/%d", batchID, row.Index))
			require.NoError(t, err)
			require.Equal(t, a, b)
			c := *row.Card
			c.Sealed = want.Card.Sealed
			row.Card = &c
		}
		require.Equal(t, want, *row)
	}
	require.Equal(t, len(rows), i)
}

func TestRowsStopsAtAnError(t *testing.T) {
	f, err := os.Open("testdata/validate/amounts.csv")
	require.NoError(t, err)
	defer f.Close()
	n := 0
	var last error
	for _, err := range Rows(f, Options{Now: testNow}, nil) {
		if err != nil {
			last = err
			break
		}
		n++
	}
	require.Equal(t, 2, n, "the rows before the first error")
	require.ErrorContains(t, last, `changed since it was validated: 4: amount: "1500.555" has more than 2 decimal places`)
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "file.csv")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// TestLargeFile validates a generated 100 000-row file.
func TestLargeFile(t *testing.T) {
	const n = 100_000
	p := filepath.Join(t.TempDir(), "large.csv")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, batchtest.Write(f, n))
	// A duplicate of the second row's reference at the end.
	_, err = fmt.Fprintf(f, "E-%07d,card,1.00,RUB,Ivan Petrov,4242424242424242,,,x,Salary,ivan@example.com,+79991234567\n", 2)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	res, got := validateFile(t, p, Options{})
	require.Equal(t, n+1, res.Rows)
	require.Equal(t, []string{fmt.Sprintf(`%d: reference: "E-0000002" already used on line 3`, n+2)}, got)
	require.Equal(t, n/2+1, res.ByMethod["card"])
}

func TestColumnsMatchHeaderStruct(t *testing.T) {
	require.Equal(t, "reference", colReference.String())
	require.Equal(t, "iban", colIBAN.String())
	require.Equal(t, "sender_document_division_code", colSenderDocDivision.String())
	require.Equal(t, "source_of_money", colSourceOfMoney.String())
	require.Equal(t, "error_message", colErrorMessage.String())
	for c := range numCols {
		require.NotEmpty(t, c.String(), "column %d", c)
	}
}

func TestCountriesMatchXText(t *testing.T) {
	require.Len(t, countries, 249)
	for c := range countries {
		r, err := language.ParseRegion(c)
		require.NoError(t, err, c)
		require.True(t, r.IsCountry(), c)
		require.Equal(t, c, r.ISO3())
	}
}

func TestErrorString(t *testing.T) {
	require.Equal(t, `14: amount: "1500.555" has more than 2 decimal places`,
		Error{Line: 14, Column: "amount", Message: `"1500.555" has more than 2 decimal places`}.String())
	require.Equal(t, "3: has 5 fields", Error{Line: 3, Message: "has 5 fields"}.String())
	require.Equal(t, "the file is empty", Error{Message: "the file is empty"}.String())
}

func TestParseAmountMatchesMoneyParse(t *testing.T) {
	for _, v := range []string{"0", "1", "1500", "1500.5", "1500.50", "1500,5", "1500.555", "007.10", "1.", ".5",
		"1 500,50", "-5", "+5", "12a", "123456789012345", "99999999999999999999", "1e5", "1,000.00",
		"15 00", "1 5", "1 500 0,5", "1 0 0", "1\u00a0500", "1500 000"} {
		for _, cur := range []string{"RUB", "JPY", "KWD"} {
			want, werr := money.Parse(v, cur)
			got, gerr := parseAmount(v, cur)
			require.Equal(t, werr, gerr, "%q %s", v, cur)
			require.Equal(t, want, got, "%q %s", v, cur)
		}
	}
}

// TestRowsChecked: given Validate's record sums, the second pass builds
// exactly the rows the checked pass builds, without the checks, and stops
// before the first record that is not the one validated.
func TestRowsChecked(t *testing.T) {
	seal := func(pan string, row int) string { return "sealed:" + pan[len(pan)-4:] }
	files, err := filepath.Glob("testdata/golden/*.csv")
	require.NoError(t, err)
	files = append(files, "../../samples/payroll.csv")
	xlsx, _ := filepath.Glob("../../samples/*.xlsx")
	files = append(files, xlsx...)
	valid := 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		res, err := Validate(bytes.NewReader(data), Options{Now: testNow})
		require.NoError(t, err)
		if !res.Valid() {
			continue
		}
		valid++
		var want []payout.Row
		for row, err := range Rows(bytes.NewReader(data), Options{Now: testNow}, seal) {
			require.NoError(t, err, name)
			want = append(want, *row)
		}
		var got []payout.Row
		for row, err := range RowsChecked(bytes.NewReader(data), Options{Now: testNow}, res.Sums, seal) {
			require.NoError(t, err, name)
			got = append(got, *row)
		}
		require.Equal(t, want, got, name)
		require.Equal(t, res.Rows, len(got), name)
	}
	require.GreaterOrEqual(t, valid, 2)

	data, err := os.ReadFile("../../samples/payroll.csv")
	require.NoError(t, err)
	res, err := Validate(bytes.NewReader(data), Options{Now: testNow})
	require.NoError(t, err)
	require.True(t, res.Valid())
	lines := strings.SplitAfter(string(data), "\n")
	changed := map[string]string{
		// a valid row with another amount: Rows would publish it
		"other amount": strings.Join(lines[:5], "") + strings.Replace(lines[5], "58 350,75", "58 350,76", 1) + strings.Join(lines[6:], ""),
		"a row more":   string(data) + lines[len(lines)-2],
		"a row less":   strings.Join(lines[:len(lines)-2], "") + lines[len(lines)-1],
		"other header": strings.Replace(string(data), "reference", "Reference", 1),
	}
	for name, file := range changed {
		n := 0
		var last error
		for _, err := range RowsChecked(strings.NewReader(file), Options{Now: testNow}, res.Sums, seal) {
			if err != nil {
				last = err
				break
			}
			n++
		}
		require.ErrorContains(t, last, "changed since it was validated", name)
		switch name {
		case "other amount":
			require.Equal(t, 4, n, "the rows before the changed one")
		case "other header":
			require.Zero(t, n)
		}
	}
}
