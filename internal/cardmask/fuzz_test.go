package cardmask

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/payrun/payrun/internal/payout"
)

// testPANs are test card numbers (the bank's and the card schemes'); the
// last one fails the Luhn check.
var testPANs = []string{"4242424242424242", "5555555555554444", "2200000000000004", "4111111111111111",
	"5105105105105100", "4000056655665556", "4242424242424243"}

// FuzzRedact puts a test card number, in groups of four with a
// separator, between arbitrary text: it must be found, and masked.
func FuzzRedact(f *testing.F) {
	f.Add("Ivan.", ".", "", uint8(0))
	f.Add("card ", " ", " 2027", uint8(1))
	f.Add("", "-", "-2026", uint8(3))
	f.Add("40817810099910004312 ", "\u00a0", "", uint8(4))
	f.Add("01.05.2026-", "–", "x", uint8(5))
	f.Fuzz(func(t *testing.T, prefix, sep, suffix string, pick uint8) {
		if !utf8.ValidString(prefix + sep + suffix) {
			return
		}
		if n := utf8.RuneCountInString(sep); n > maxSeparator || strings.ContainsFunc(sep, alphanumeric) {
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
		if _, ok := Find(s); !ok {
			t.Fatalf("no card number found in %q", s)
		}
		red := Redact(s)
		if strings.Contains(red, formatted) || (sep != "" && strings.Contains(strings.ReplaceAll(red, sep, ""), pan)) {
			t.Fatalf("Redact(%q) = %q shows the card number", s, red)
		}
	})
}

// FuzzRedactAny checks Redact on any text: what it returns holds no card
// number Find would see, redacting again changes nothing, and text without
// a card number comes back as it is.
func FuzzRedactAny(f *testing.F) {
	for _, s := range []string{"", "no card", "card 4111.1111.1111.1111 refused", "4242\u00a04242\u00a04242\u00a04242",
		"4111 1111 1111 1111 1111 1111 1111 1111 1111 1111", "12 4111111111111111 34", "01.05.2026-28.05.2026",
		"40817810099910004312-4111-1111-1111-1111", "４１１１１１１１１１１１１１１１", "4111111111111111\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		red := Redact(s)
		if _, found := Find(s); !found {
			if red != s {
				t.Fatalf("Redact(%q) = %q, but Find sees no card number", s, red)
			}
			return
		}
		if masked, found := Find(red); found {
			t.Fatalf("Redact(%q) = %q still holds %s", s, red, masked)
		}
		if again := Redact(red); again != red {
			t.Fatalf("Redact(%q) = %q, but Redact(%q) = %q", s, red, red, again)
		}
	})
}
