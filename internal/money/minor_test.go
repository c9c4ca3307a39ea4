package money

import (
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseMinor(t *testing.T) {
	tests := []struct {
		text string
		want int64
		err  error
	}{
		{"10000", 10000, nil},
		{"10000.0", 10000, nil},
		{"10000.000000", 10000, nil},
		{"1e4", 10000, nil},
		{"1E+4", 10000, nil},
		{"1.5e3", 1500, nil},
		{"150000e-2", 1500, nil},
		{"0", 0, nil},
		{"0.0", 0, nil},
		{"0e9999", 0, nil},
		{"-5", -5, nil},
		{"-5.0", -5, nil},
		{"9223372036854775807", 9223372036854775807, nil},
		{"-9223372036854775808", -9223372036854775808, nil},
		{"10000.5", 0, ErrPrecision},
		{"1e-1", 0, ErrPrecision},
		{"15e-1", 0, ErrPrecision},
		{"9223372036854775808", 0, ErrRange},
		{"1e19", 0, ErrRange},
		{"1e99999", 0, ErrRange},
		{"", 0, ErrSyntax},
		{"-", 0, ErrSyntax},
		{"01", 0, ErrSyntax},
		{"1.", 0, ErrSyntax},
		{".5", 0, ErrSyntax},
		{"1e", 0, ErrSyntax},
		{"+1", 0, ErrSyntax},
		{"1 000", 0, ErrSyntax},
		{`"100"`, 0, ErrSyntax},
		{"0x10", 0, ErrSyntax},
		{"NaN", 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := ParseMinor(tt.text)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// FuzzParseMinor checks ParseMinor against exact rational arithmetic: it
// accepts exactly the JSON numbers whose value is a whole int64.
func FuzzParseMinor(f *testing.F) {
	for _, s := range []string{"10000", "10000.0", "1e4", "1.5e3", "10000.5", "-0", "9223372036854775807", "1e19", "01", "1.", "0e-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseMinor(s)
		isNumber := json.Valid([]byte(s)) && strings.TrimSpace(s) == s && len(s) > 0 && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))
		if !isNumber {
			if err == nil {
				t.Fatalf("ParseMinor(%q) = %d, want an error", s, got)
			}
			return
		}
		if errors.Is(err, ErrRange) {
			return // large exponents are refused before any arithmetic
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat cannot read the JSON number %q", s)
		}
		whole := r.IsInt() && r.Num().IsInt64()
		if whole != (err == nil) {
			t.Fatalf("ParseMinor(%q) = %d, %v; exact value %s", s, got, err, r.RatString())
		}
		if err == nil && r.Num().Int64() != got {
			t.Fatalf("ParseMinor(%q) = %d, want %s", s, got, r.RatString())
		}
	})
}
