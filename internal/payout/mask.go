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

// RedactDigits replaces every run of 12 or more digits (spaces and dashes
// inside allowed) with a masked form, so text that may hold a card number
// can be logged. It is the last line of defence, not the first.
func RedactDigits(s string) string {
	var out strings.Builder
	i := 0
	for i < len(s) {
		if s[i] < '0' || s[i] > '9' {
			out.WriteByte(s[i])
			i++
			continue
		}
		j := i
		var digits []byte
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ' ' || s[j] == '-') {
			if s[j] >= '0' && s[j] <= '9' {
				digits = append(digits, s[j])
			}
			j++
		}
		// Do not swallow trailing separators.
		for j > i && (s[j-1] == ' ' || s[j-1] == '-') {
			j--
		}
		if len(digits) >= 12 {
			out.WriteString("****" + string(digits[len(digits)-4:]))
		} else {
			out.WriteString(s[i:j])
		}
		i = j
	}
	return out.String()
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
