package cardmask

import (
	"strings"
	"testing"
)

// TestRev3LastFourIsFourDigits: whatever token/info says, LastFour keeps
// four ASCII digits or nothing, never a separator or punctuation of the
// text around a whole card number.
func TestRev3LastFourIsFourDigits(t *testing.T) {
	for _, in := range []string{
		"(5555555555554444)", "5555555555554444.", "5555-5555-5555-4444", "5555.5555.5555.4444",
		"5555 5555 5555 4444 ", "\"5555555555554444\"", "card 5555555555554444", "5555555555554444 exp",
		"4111 1111 1111 1111;", "5555\u00a05555\u00a05555\u00a04444", "2200000000000004", "220000000000000004",
	} {
		got := LastFour(in)
		if got != "" && (len(got) != 4 || strings.Trim(got, "0123456789") != "") {
			t.Errorf("LastFour(%q) = %q: not four digits", in, got)
		}
		if strings.Contains(in, "5555555555554444") && got != "" && got != "4444" {
			t.Errorf("LastFour(%q) = %q", in, got)
		}
	}
}
