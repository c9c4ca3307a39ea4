package payout

import "strings"

// Luhn reports whether a string of digits passes the Luhn check.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// MaskPAN shows a card number as BIN, stars and last four: 424242******4242.
// Only the BIN and last four are ever passed in, never the whole number.
func MaskPAN(bin, last4 string) string {
	if bin == "" {
		return "**** " + last4
	}
	return bin + "******" + last4
}

// MaskIBAN keeps the country, check digits and last four characters.
func MaskIBAN(iban string) string {
	s := strings.ReplaceAll(iban, " ", "")
	if len(s) <= 8 {
		return s
	}
	return s[:4] + "…" + s[len(s)-4:]
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}
