// Package money holds the amount type every part of payrun uses for money:
// integer minor units with an ISO 4217 currency, never a float.
package money

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Amount is a sum of money in minor units (kopecks, cents, kuruş) of Currency.
// Currency is an upper-case ISO 4217 code.
type Amount struct {
	Minor    int64  `json:"minor"`
	Currency string `json:"currency"`
}

// New returns an Amount of minor units in currency (normalised to upper case).
func New(minor int64, currency string) Amount {
	return Amount{Minor: minor, Currency: strings.ToUpper(strings.TrimSpace(currency))}
}

// Exponent reports how many fraction digits a currency has. Every currency
// payrun pays in has two; unknown currencies are assumed to have two as well.
func Exponent(currency string) int {
	switch strings.ToUpper(currency) {
	case "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	default:
		return 2
	}
}

// Known reports whether currency is an ISO 4217 code payrun knows about.
func Known(currency string) bool {
	_, ok := knownCurrencies[strings.ToUpper(currency)]
	return ok
}

var knownCurrencies = map[string]struct{}{
	"RUB": {}, "USD": {}, "EUR": {}, "TRY": {}, "KGS": {}, "UZS": {}, "KZT": {}, "AMD": {},
	"GEL": {}, "AZN": {}, "BYN": {}, "TJS": {}, "CNY": {}, "GBP": {}, "CHF": {}, "AED": {},
	"JPY": {}, "KRW": {}, "INR": {}, "THB": {}, "VND": {}, "MDL": {}, "UAH": {}, "PLN": {},
	"CZK": {}, "HUF": {}, "SEK": {}, "NOK": {}, "DKK": {}, "CAD": {}, "AUD": {}, "HKD": {},
	"SGD": {}, "ILS": {}, "EGP": {}, "MNT": {}, "BHD": {}, "KWD": {}, "OMR": {}, "JOD": {},
}

// ErrSyntax is returned by Parse for text that is not a decimal amount.
var ErrSyntax = errors.New("not a decimal amount")

// ErrPrecision is returned by Parse when the text has more fraction digits
// than the currency allows.
var ErrPrecision = errors.New("too many decimal places")

// ErrRange is returned by Parse when the amount does not fit in int64 minor units.
var ErrRange = errors.New("amount out of range")

// ErrGrouping is matched (errors.Is) by the *GroupingError Parse returns
// for a space that does not separate thousands. Such an error matches
// ErrSyntax as well.
var ErrGrouping = errors.New("spaces may only separate thousands")

// GroupingError says which space of an amount does not separate thousands
// and why: "15 00", "1 5", "1 500 0,5", "1500 000", "1  500", "1,5 0".
type GroupingError struct {
	Pos    int    // 1-based position (in characters) of the space in the trimmed text
	Reason string // what is wrong with it: "is followed by 2 digits (\"00\"), not 3"
}

func (e *GroupingError) Error() string {
	return fmt.Sprintf("the space at character %d %s; spaces may only separate thousands, as in 1 500 000,50", e.Pos, e.Reason)
}

// Is makes a GroupingError match ErrGrouping and ErrSyntax.
func (e *GroupingError) Is(target error) bool { return target == ErrGrouping || target == ErrSyntax }

// spaceAt returns the length of the thousands separator at s[i] (a space,
// a no-break space U+00A0 or a narrow no-break space U+202F), or 0.
func spaceAt(s string, i int) int {
	switch {
	case s[i] == ' ':
		return 1
	case s[i] == 0xC2 && i+1 < len(s) && s[i+1] == 0xA0:
		return 2
	case s[i] == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2] == 0xAF:
		return 3
	}
	return 0
}

// Parse reads a decimal amount in major units as finance writes it: "1500",
// "1500.50", "1 500,50", "1\u00a0500.5". Either '.' or ',' is the decimal
// separator. Spaces and no-break spaces may separate thousands, and only
// thousands: one between groups of the integer part, the first group of 1–3
// digits, every other of exactly 3 ("1 500 000"); any other space is a
// *GroupingError ("15 00" is not 1500). A leading sign is accepted; callers
// decide whether negatives are allowed.
func Parse(text, currency string) (Amount, error) {
	cur := strings.ToUpper(strings.TrimSpace(currency))
	s := strings.TrimSpace(text)
	i := 0
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		i = 1
	}
	pos := func(i int) int { return utf8.RuneCountInString(s[:i]) + 1 }
	var intPart []byte
	group := 0      // digits in the current group
	lastSpace := -1 // byte offset of the last separator
	groupStart := i // byte offset of the current group
	for i < len(s) {
		c := s[i]
		if c >= '0' && c <= '9' {
			intPart = append(intPart, c)
			group++
			i++
			continue
		}
		n := spaceAt(s, i)
		if n == 0 {
			break
		}
		switch {
		case len(intPart) == 0:
			return Amount{}, &GroupingError{Pos: pos(i), Reason: "comes before any digit"}
		case group == 0:
			return Amount{}, &GroupingError{Pos: pos(lastSpace), Reason: "is followed by another space"}
		case lastSpace < 0 && group > 3:
			return Amount{}, &GroupingError{Pos: pos(i), Reason: fmt.Sprintf("follows %s; before the first space there may be 1–3", digitsShown(s[groupStart:i]))}
		case lastSpace >= 0 && group != 3:
			return Amount{}, &GroupingError{Pos: pos(lastSpace), Reason: "is followed by " + digitsShown(s[groupStart:i]) + ", not 3"}
		}
		lastSpace = i
		group = 0
		i += n
		groupStart = i
	}
	if lastSpace >= 0 && group != 3 {
		if group == 0 {
			if i < len(s) && (s[i] == '.' || s[i] == ',') {
				return Amount{}, &GroupingError{Pos: pos(lastSpace), Reason: "comes right before the decimal separator"}
			}
			return Amount{}, ErrSyntax
		}
		return Amount{}, &GroupingError{Pos: pos(lastSpace), Reason: "is followed by " + digitsShown(s[groupStart:i]) + ", not 3"}
	}
	var fracPart []byte
	seenSep := false
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		if len(intPart) == 0 {
			return Amount{}, ErrSyntax
		}
		seenSep = true
		i++
		for i < len(s) {
			c := s[i]
			if c >= '0' && c <= '9' {
				fracPart = append(fracPart, c)
				i++
				continue
			}
			if spaceAt(s, i) > 0 {
				return Amount{}, &GroupingError{Pos: pos(i), Reason: "is in the fraction, after the decimal separator"}
			}
			break
		}
	}
	if i != len(s) || len(intPart) == 0 || (seenSep && len(fracPart) == 0) {
		return Amount{}, ErrSyntax
	}
	exp := Exponent(cur)
	if len(fracPart) > exp {
		return Amount{}, ErrPrecision
	}
	frac := string(fracPart) + strings.Repeat("0", exp-len(fracPart))
	whole := strings.TrimLeft(string(intPart), "0")
	if whole == "" {
		whole = "0"
	}
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return Amount{}, ErrRange
	}
	if neg {
		v = -v
	}
	return Amount{Minor: v, Currency: cur}, nil
}

// digitsShown describes a group of digits: `2 digits ("00")`; a long group
// is not echoed (it might be a card number pasted into the wrong cell).
func digitsShown(g string) string {
	switch {
	case len(g) == 1:
		return `1 digit ("` + g + `")`
	case len(g) <= 6:
		return strconv.Itoa(len(g)) + ` digits ("` + g + `")`
	}
	return strconv.Itoa(len(g)) + " digits"
}

// MustParse is Parse for constants in tests and examples; it panics on error.
func MustParse(text, currency string) Amount {
	a, err := Parse(text, currency)
	if err != nil {
		panic(fmt.Sprintf("money.MustParse(%q, %q): %v", text, currency, err))
	}
	return a
}

// Decimal formats the amount in major units with '.' as separator and no
// grouping, as finance and spreadsheets read it: "1500.50", "-3.07", "12".
// It allocates only the string it returns (a report formats a few hundred
// thousand amounts).
func (a Amount) Decimal() string {
	var buf [24]byte // a sign, 19 digits and the separator
	return string(a.AppendDecimal(buf[:0]))
}

// AppendDecimal appends the amount as Decimal formats it to b and returns
// the extended buffer; it allocates only when b has no room.
func (a Amount) AppendDecimal(b []byte) []byte {
	v := a.Minor
	if v < 0 {
		b = append(b, '-')
		if v == math.MinInt64 { // -v does not fit; written as it always was, without a separator
			return strconv.AppendUint(b, uint64(math.MaxInt64)+1, 10)
		}
		v = -v
	}
	exp := Exponent(a.Currency)
	if exp == 0 {
		return strconv.AppendInt(b, v, 10)
	}
	p := pow10[exp]
	b = strconv.AppendInt(b, v/p, 10)
	b = append(b, '.')
	frac := v % p
	for d := p / 10; d > 1 && frac < d; d /= 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, frac, 10)
}

// pow10 are the divisors of the exponents Exponent returns.
var pow10 = [...]int64{1, 10, 100, 1000}

// String formats the amount as "1500.50 RUB".
func (a Amount) String() string {
	var buf [32]byte
	b := append(a.AppendDecimal(buf[:0]), ' ')
	return string(append(b, a.Currency...))
}

// IsZero reports whether the amount is zero.
func (a Amount) IsZero() bool { return a.Minor == 0 }

// Add returns a+b. Adding different currencies or overflowing is an error.
func (a Amount) Add(b Amount) (Amount, error) {
	if a.Currency != b.Currency {
		return Amount{}, fmt.Errorf("add %s to %s: currency mismatch", b, a)
	}
	s := a.Minor + b.Minor
	if (b.Minor > 0 && s < a.Minor) || (b.Minor < 0 && s > a.Minor) {
		return Amount{}, fmt.Errorf("add %s to %s: %w", b, a, ErrRange)
	}
	return Amount{Minor: s, Currency: a.Currency}, nil
}

// Totals sums amounts per currency.
type Totals map[string]int64

// Add adds a to the totals; it reports overflow as an error.
func (t Totals) Add(a Amount) error {
	cur := t[a.Currency]
	s := cur + a.Minor
	if (a.Minor > 0 && s < cur) || (a.Minor < 0 && s > cur) {
		return fmt.Errorf("total in %s: %w", a.Currency, ErrRange)
	}
	t[a.Currency] = s
	return nil
}

// Amounts returns the totals as amounts sorted by currency code.
func (t Totals) Amounts() []Amount {
	out := make([]Amount, 0, len(t))
	for c, v := range t {
		out = append(out, Amount{Minor: v, Currency: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// String formats the totals as "1500.50 RUB, 12.00 USD".
func (t Totals) String() string {
	parts := make([]string, 0, len(t))
	for _, a := range t.Amounts() {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ", ")
}

// Equal reports whether two totals hold the same sums (zero sums count as absent).
func (t Totals) Equal(o Totals) bool {
	for c, v := range t {
		if v != o[c] {
			return false
		}
	}
	for c, v := range o {
		if v != t[c] {
			return false
		}
	}
	return true
}

// MarshalJSON keeps the JSON form stable: an object keyed by currency.
func (t Totals) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]int64(t))
}
