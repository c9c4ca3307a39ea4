package money

import (
	"strconv"
	"strings"
)

// ParseMinor reads the text of a JSON number that counts minor units, as the
// bank writes amount fields. Besides the integers of every example it takes
// the forms a page that types amounts as "float" allows: "10000.0", "1e4",
// "1.5E+3". The value must be whole: "10000.5" is ErrPrecision, never
// rounded or truncated. No float is involved; the digits are moved, not
// computed. Out of int64 range (or an exponent of more than 4 digits) is
// ErrRange; anything that is not a JSON number is ErrSyntax.
func ParseMinor(text string) (int64, error) {
	s := text
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intEnd := digitsEnd(s, 0)
	if intEnd == 0 || (s[0] == '0' && intEnd > 1) {
		return 0, ErrSyntax // JSON: no empty integer part, no leading zeros
	}
	mant := s[:intEnd]
	i := intEnd
	frac := ""
	if i < len(s) && s[i] == '.' {
		end := digitsEnd(s, i+1)
		if end == i+1 {
			return 0, ErrSyntax
		}
		frac = s[i+1 : end]
		i = end
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		end := digitsEnd(s, i)
		if end == i {
			return 0, ErrSyntax
		}
		if end-i > 4 {
			return 0, ErrRange
		}
		exp, _ = strconv.Atoi(s[i:end])
		if expNeg {
			exp = -exp
		}
		i = end
	}
	if i != len(s) {
		return 0, ErrSyntax
	}
	// value = (mant frac) × 10^(exp − len(frac))
	digits := strings.TrimLeft(mant+frac, "0")
	shift := exp - len(frac)
	if digits == "" {
		return 0, nil
	}
	if shift < 0 {
		if -shift > len(digits) || strings.Trim(digits[len(digits)+shift:], "0") != "" {
			return 0, ErrPrecision
		}
		digits = digits[:len(digits)+shift]
	} else {
		if len(digits)+shift > 19 {
			return 0, ErrRange
		}
		digits += strings.Repeat("0", shift)
	}
	if neg {
		digits = "-" + digits
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, ErrRange
	}
	return v, nil
}

// digitsEnd returns the offset after the ASCII digits of s that start at i.
func digitsEnd(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
