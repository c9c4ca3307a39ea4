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

// Parse reads a decimal amount in major units as finance writes it: "1500",
// "1500.50", "1 500,50", "1\u00a0500.5". Either '.' or ',' is the decimal
// separator; spaces and no-break spaces may separate thousands. A leading sign
// is accepted; callers decide whether negatives are allowed.
func Parse(text, currency string) (Amount, error) {
	cur := strings.ToUpper(strings.TrimSpace(currency))
	s := strings.TrimSpace(text)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var intPart, fracPart strings.Builder
	seenSep := false
	digits := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if seenSep {
				fracPart.WriteByte(c)
			} else {
				intPart.WriteByte(c)
			}
			digits++
			i++
		case c == '.' || c == ',':
			if seenSep || intPart.Len() == 0 {
				return Amount{}, ErrSyntax
			}
			seenSep = true
			i++
		case c == ' ' || c == '\'':
			if seenSep || intPart.Len() == 0 {
				return Amount{}, ErrSyntax
			}
			i++
		case c == 0xC2 && i+1 < len(s) && s[i+1] == 0xA0: // U+00A0 no-break space
			if seenSep || intPart.Len() == 0 {
				return Amount{}, ErrSyntax
			}
			i += 2
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2] == 0xAF: // U+202F narrow no-break space
			if seenSep || intPart.Len() == 0 {
				return Amount{}, ErrSyntax
			}
			i += 3
		default:
			return Amount{}, ErrSyntax
		}
	}
	if digits == 0 || (seenSep && fracPart.Len() == 0) {
		return Amount{}, ErrSyntax
	}
	exp := Exponent(cur)
	frac := fracPart.String()
	if len(frac) > exp {
		return Amount{}, ErrPrecision
	}
	frac += strings.Repeat("0", exp-len(frac))
	whole := strings.TrimLeft(intPart.String(), "0")
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
func (a Amount) Decimal() string {
	exp := Exponent(a.Currency)
	v := a.Minor
	sign := ""
	if v < 0 {
		sign = "-"
		if v == math.MinInt64 {
			return "-" + strconv.FormatUint(uint64(math.MaxInt64)+1, 10)
		}
		v = -v
	}
	if exp == 0 {
		return sign + strconv.FormatInt(v, 10)
	}
	p := int64(math.Pow10(exp))
	return fmt.Sprintf("%s%d.%0*d", sign, v/p, exp, v%p)
}

// String formats the amount as "1500.50 RUB".
func (a Amount) String() string {
	return a.Decimal() + " " + a.Currency
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
