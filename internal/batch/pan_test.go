package batch

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
)

func TestFindPAN(t *testing.T) {
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
		got, ok := findPAN(tt.in)
		require.Equal(t, tt.want != "", ok, "%q", tt.in)
		require.Equal(t, tt.want, got, "%q", tt.in)
	}
}

func TestRedactPANs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no card", "no card"},
		{"Ivan.4242.4242.4242.4242", "Ivan.424242******4242"},
		{"4111111111111111-2026", "411111******1111-2026"},
		{"a 4111 1111 1111 1111 b 5555-5555-5555-4444 c", "a 411111******1111 b 555555******4444 c"},
		{"4111111111111111 4111111111111111", "411111******1111 411111******1111"},
		{"４１１１１１１１１１１１１１１１!", "411111******1111!"},
		{"01.05.2026-28.05.2026", "01.05.2026-28.05.2026"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, RedactCards(tt.in), "%q", tt.in)
		require.Equal(t, tt.want, RedactCards(tt.in), "%q", tt.in)
	}
	// Overlapping card numbers are masked as one span that shows no more
	// than the first six and last four digits of either.
	got := RedactCards("4111 1111 1111 1111 1111 1111 1111 1111 1111 1111")
	require.NotContains(t, strings.ReplaceAll(got, " ", ""), "41111111")
	_, found := findPAN(got)
	require.False(t, found, got)
}

func TestWholePAN(t *testing.T) {
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
		got, ok := wholePAN(tt.in)
		require.Equal(t, tt.want != "", ok, "%q", tt.in)
		require.Equal(t, tt.want, got, "%q", tt.in)
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

// FuzzRedactPANs puts a test card number, in groups of four with a
// separator, between arbitrary text: it must be found, and masked.
func FuzzRedactPANs(f *testing.F) {
	f.Add("Ivan.", ".", "", uint8(0))
	f.Add("card ", " ", " 2027", uint8(1))
	f.Add("", "-", "-2026", uint8(3))
	f.Add("40817810099910004312 ", "\u00a0", "", uint8(4))
	f.Add("01.05.2026-", "–", "x", uint8(5))
	f.Fuzz(func(t *testing.T, prefix, sep, suffix string, pick uint8) {
		if !utf8.ValidString(prefix + sep + suffix) {
			return
		}
		if n := utf8.RuneCountInString(sep); n > maxPANSeparator || strings.ContainsFunc(sep, alphanumeric) {
			return
		}
		if r, _ := utf8.DecodeLastRuneInString(prefix); unicode.IsDigit(r) {
			return
		}
		if r, _ := utf8.DecodeRuneInString(suffix); unicode.IsDigit(r) {
			return
		}
		pan := testPANs[int(pick)%len(testPANs)]
		if !payout.Luhn(pan) {
			return
		}
		formatted := pan[0:4] + sep + pan[4:8] + sep + pan[8:12] + sep + pan[12:16]
		s := prefix + formatted + suffix
		if _, ok := findPAN(s); !ok {
			t.Fatalf("no card number found in %q", s)
		}
		red := RedactCards(s)
		if strings.Contains(red, formatted) || (sep != "" && strings.Contains(strings.ReplaceAll(red, sep, ""), pan)) {
			t.Fatalf("RedactCards(%q) = %q shows the card number", s, red)
		}
	})
}
