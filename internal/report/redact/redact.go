// Package redact masks card numbers in free text the reports and the
// reconciliation write (a bank's error description, a row's meta, a
// report line's ids): the last line of defence for text that came from
// outside. It is one function so that it can follow the program's one
// card masker.
package redact

import (
	"regexp"
	"strings"

	"github.com/payrun/payrun/internal/payout"
)

// Cards masks what looks like a card number in s (13 to 19 digits, spaces
// or dashes between, passing the Luhn check, not part of a word such as a
// hex id) as ****1234. Text with fewer than 13 digits is returned without
// running the expression (a report passes a few hundred thousand short
// values through here).
func Cards(s string) string {
	digits := 0
	for i := 0; i < len(s) && digits < 13; i++ {
		if '0' <= s[i] && s[i] <= '9' {
			digits++
		}
	}
	if digits < 13 {
		return s
	}
	return cardLike.ReplaceAllStringFunc(s, func(m string) string {
		digits := strings.NewReplacer(" ", "", "-", "").Replace(m)
		if len(digits) < 13 || len(digits) > 19 || !payout.Luhn(digits) {
			return m
		}
		return "****" + digits[len(digits)-4:]
	})
}

var cardLike = regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`)
