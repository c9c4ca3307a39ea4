package cardmask

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

func TestFind(t *testing.T) {
	tests := []struct {
		in   string
		want string // masked card number; "" when none
	}{
		// Separators of every kind, up to three characters.
		{"4111111111111111", "411111******1111"},
		{"4111 1111 1111 1111", "411111******1111"},
		{"4111-1111-1111-1111", "411111******1111"},
		{"5105.1051.0510.5100", "510510******5100"},
		{"4000_0566_5566_5556", "400005******5556"},
		{"4111/1111/1111/1111", "411111******1111"},
		{"4242  4242  4242  4242", "424242******4242"},
		{"4242\t4242\t4242\t4242", "424242******4242"},
		{"4242\u00a04242\u00a04242\u00a04242", "424242******4242"},
		{"4242\u202f4242\u202f4242\u202f4242", "424242******4242"},
		{"4242–4242–4242–4242", "424242******4242"},
		{"4242—4242—4242—4242", "424242******4242"},
		{"4242 - 4242 - 4242 - 4242", "424242******4242"},
		{"4242, 4242; 4242: 4242", "424242******4242"},
		{"(4242) 4242 4242 4242", "424242******4242"},
		// Inside text, next to letters, followed or preceded by more digits.
		{"4111111111111111-2026", "411111******1111"},
		{"4111111111111111 2", "411111******1111"},
		{"2026-4111111111111111", "411111******1111"},
		{"card 5555 5555 5555 4444 2027", "555555******4444"},
		{"Ivan.4242.4242.4242.4242", "424242******4242"},
		{"E-4111111111111111/11", "411111******1111"},
		{"1 4111 1111 1111 1111 9", "411111******1111"},
		{"paid 4111 1111 1111 1111 on 01.12.2026", "411111******1111"},
		{"40817810099910004312 4111111111111111", "411111******1111"},
		{"40817810099910004312-4111-1111-1111-1111", "411111******1111"},
		// 13 and 19 digits.
		{"4222222222222", "422222******2222"},
		{"6222 0200 0000 0000 018", "622202******0018"},
		{"41111111111111113", "411111******1113"},
		// Digits of other scripts.
		{"４１１１１１１１１１１１１１１１", "411111******1111"},
		{"４１１１ １１１１ １１１１ １１１１", "411111******1111"},
		{"٤١١١١١١١١١١١١١١١", "411111******1111"},
		{"𝟒𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏", "411111******1111"},
		{"4111 １１１１ 1111 1111", "411111******1111"},

		// Not card numbers.
		{"", ""},
		{"Salary November", ""},
		{"4111111111111112", ""},                     // fails Luhn
		{"411111111111", ""},                         // 12 digits
		{"40817810099910004312", ""},                 // a 20-digit account number
		{"41111111111111112026", ""},                 // one run of 20 digits
		{"4242    4242 4242 4242", ""},               // four spaces break the chain
		{"4242a4242 4242 4242", ""},                  // a letter breaks it
		{"4242 4242 4242 4242x", "424242******4242"}, // but a letter after is fine
		{"0000000000000", ""},                        // all zeros, Luhn-valid
		{"0000 0000 0000 0000", ""},
		{"5555555555555555555", ""},
		{"+7 (916) 555-12-34", ""},
		{"Премия за период 01.05.2026-28.05.2026", ""}, // 05.2026-28.05.2026 passes Luhn
		{"2026-11-20 18:30:45", ""},                    // passes Luhn as well
		{"424242******4242", ""},                       // masked
	}
	for _, tt := range tests {
		got, ok := Find(tt.in)
		require.Equal(t, tt.want != "", ok, "%q", tt.in)
		require.Equal(t, tt.want, got, "%q", tt.in)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no card", "no card"},
		{"card 4242424242424242 failed", "card 424242******4242 failed"},
		{"card 4242 4242 4242 4242.", "card 424242******4242."},
		{"amount 150050 rows 12", "amount 150050 rows 12"},
		{"phone +79376151530", "phone +79376151530"},
		{`{"number":"4111111111111111","expiration_month":"12"}`, `{"number":"411111******1111","expiration_month":"12"}`},
		{"Ivan.4242.4242.4242.4242", "Ivan.424242******4242"},
		{"4111111111111111-2026", "411111******1111-2026"},
		{"a 4111 1111 1111 1111 b 5555-5555-5555-4444 c", "a 411111******1111 b 555555******4444 c"},
		{"4111111111111111 4111111111111111", "411111******1111 411111******1111"},
		{"４１１１１１１１１１１１１１１１!", "411111******1111!"},
		{"01.05.2026-28.05.2026", "01.05.2026-28.05.2026"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Redact(tt.in), "%q", tt.in)
	}
	// Overlapping card numbers are masked as one span that shows no more
	// than the first six and last four digits of either.
	got := Redact("4111 1111 1111 1111 1111 1111 1111 1111 1111 1111")
	require.NotContains(t, strings.ReplaceAll(got, " ", ""), "41111111")
	_, found := Find(got)
	require.False(t, found, got)
}

// TestRedactMeasured holds the two texts issue 10 measured: both passed
// the report's and the log's old maskers (a regular expression over ASCII
// digits with spaces or dashes, and a run of digits, spaces and dashes)
// unchanged.
func TestRedactMeasured(t *testing.T) {
	tests := []struct{ in, want string }{
		{"card 4111.1111.1111.1111 refused", "card 411111******1111 refused"},
		{"card 4242\u00a04242\u00a04242\u00a04242 refused", "card 424242******4242 refused"},
		{"карта 5555\u202f5555\u202f5555\u202f4444: отказ", "карта 555555******4444: отказ"},
		{"４２４２４２４２４２４２４２４２", "424242******4242"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Redact(tt.in), "%q", tt.in)
	}
}

func TestWhole(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"5555555555554444", "555555******4444"},
		{"5555 5555 5555 4444", "555555******4444"},
		{" 5555.5555.5555.4444.", "555555******4444"},
		{"tok_5555555555554444", ""},
		{"5555555555554444-1", ""},
		{"tok_abc", ""},
	}
	for _, tt := range tests {
		got, ok := Whole(tt.in)
		require.Equal(t, tt.want != "", ok, "%q", tt.in)
		require.Equal(t, tt.want, got, "%q", tt.in)
	}
}

func TestLastFour(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"4242", "4242"},
		{" 0042 ", "0042"},
		{"5555555555554444", "4444"},    // a whole card number: its last four only
		{"5555 5555 5555 4444", "4444"}, // written in groups
		{"555555******4444", ""},        // a mask is not the bank's last4
		{"42424", ""},                   // five digits
		{"424", ""},                     // three
		{"42a2", ""},                    // not digits
		{"４２４２", ""},                    // full-width digits are not the bank's ASCII
		{"", ""},
		{"1234567890123456", ""}, // not a card number (Luhn): nothing kept
	} {
		require.Equal(t, tt.want, LastFour(tt.in), "%q", tt.in)
	}
}

// TestDigitValue checks the assumption digitValue rests on: Unicode
// decimal digits come in runs of ten, 0 to 9.
func TestDigitValue(t *testing.T) {
	for _, rg := range unicode.Digit.R16 {
		require.EqualValues(t, 1, rg.Stride)
		require.Zero(t, (rg.Hi-rg.Lo+1)%10, "%U", rg.Lo)
	}
	for _, rg := range unicode.Digit.R32 {
		require.EqualValues(t, 1, rg.Stride)
		require.Zero(t, (rg.Hi-rg.Lo+1)%10, "%U", rg.Lo)
	}
	for r, want := range map[rune]byte{'7': 7, '٤': 4, '۹': 9, '४': 4, '４': 4, '𝟒': 4, '𝟗': 9, '০': 0} {
		got, ok := digitValue(r)
		require.True(t, ok, "%U", r)
		require.Equal(t, want, got, "%U", r)
	}
	for _, r := range []rune{'a', '½', '²', 'Ⅳ', ' '} {
		_, ok := digitValue(r)
		require.False(t, ok, "%U", r)
	}
}
