package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, cur string
		want    int64
		err     error
	}{
		{"1500", "RUB", 150000, nil},
		{"1500.50", "rub", 150050, nil},
		{"1500,5", "RUB", 150050, nil},
		{"1 500,50", "RUB", 150050, nil},
		{"1\u00a0500.50", "RUB", 150050, nil},
		{"1\u202f500.50", "RUB", 150050, nil},
		{"0.01", "RUB", 1, nil},
		{"-3.07", "RUB", -307, nil},
		{" 12 ", "USD", 1200, nil},
		{"007", "RUB", 700, nil},
		{"1500.555", "RUB", 0, ErrPrecision},
		{"1500.", "RUB", 0, ErrSyntax},
		{".5", "RUB", 0, ErrSyntax},
		{"1.2.3", "RUB", 0, ErrSyntax},
		{"1,500.50", "RUB", 0, ErrSyntax},
		{"abc", "RUB", 0, ErrSyntax},
		{"", "RUB", 0, ErrSyntax},
		{"1e5", "RUB", 0, ErrSyntax},
		{"99999999999999999999", "RUB", 0, ErrRange},
		{"15", "JPY", 15, nil},
		{"15.5", "JPY", 0, ErrPrecision},
		// Thousands separators.
		{"1 500 000,50", "RUB", 150000050, nil},
		{"12 500", "RUB", 1250000, nil},
		{"123 456 789", "RUB", 12345678900, nil},
		{"-1 500", "RUB", -150000, nil},
		{"1\u00a0500\u202f000", "RUB", 150000000, nil},
		{"15 00", "RUB", 0, ErrGrouping},
		{"1 5", "RUB", 0, ErrGrouping},
		{"1 500 0,5", "RUB", 0, ErrGrouping},
		{"1 0 0", "RUB", 0, ErrGrouping},
		{"1500 000", "RUB", 0, ErrGrouping},
		{"1 5000", "RUB", 0, ErrGrouping},
		{"1  500", "RUB", 0, ErrGrouping},
		{"1 ,50", "RUB", 0, ErrGrouping},
		{"1,5 0", "RUB", 0, ErrSyntax},
		{"- 5", "RUB", 0, ErrSyntax},
		{"1'500", "RUB", 0, ErrSyntax},
		{"1 500.5 0", "RUB", 0, ErrGrouping},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.cur)
		if !errors.Is(err, tt.err) {
			t.Errorf("Parse(%q) error = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && got.Minor != tt.want {
			t.Errorf("Parse(%q) = %d, want %d", tt.in, got.Minor, tt.want)
		}
	}
}

// TestParseGrouping: a space that does not separate thousands is an error
// that says which space and why.
func TestParseGrouping(t *testing.T) {
	tests := []struct{ in, want string }{
		{"15 00", `the space at character 3 is followed by 2 digits ("00"), not 3`},
		{"1 5", `the space at character 2 is followed by 1 digit ("5"), not 3`},
		{"1 500 0,5", `the space at character 6 is followed by 1 digit ("0"), not 3`},
		{"1 0 0", `the space at character 2 is followed by 1 digit ("0"), not 3`},
		{"1 5000", `the space at character 2 is followed by 4 digits ("5000"), not 3`},
		{"1500 000", `the space at character 5 follows 4 digits ("1500"); before the first space there may be 1–3`},
		{"1  500", "the space at character 2 is followed by another space"},
		{"1 ,50", "the space at character 2 comes right before the decimal separator"},
		{"1,5 0", "the space at character 4 is in the fraction, after the decimal separator"},
		{"- 5", "the space at character 2 comes before any digit"},
		{"1\u00a05", `the space at character 2 is followed by 1 digit ("5"), not 3`},
		{"1 4111111111111111", "the space at character 2 is followed by 16 digits, not 3"},
		{"Ж1 5", ""}, // not an amount at all
	}
	for _, tt := range tests {
		_, err := Parse(tt.in, "RUB")
		require.Error(t, err, tt.in)
		require.ErrorIs(t, err, ErrSyntax, tt.in)
		var ge *GroupingError
		if tt.want == "" {
			require.False(t, errors.As(err, &ge), tt.in)
			continue
		}
		require.ErrorAs(t, err, &ge, tt.in)
		require.ErrorIs(t, err, ErrGrouping, tt.in)
		require.Equal(t, tt.want+"; spaces may only separate thousands, as in 1 500 000,50", ge.Error(), tt.in)
	}
}

func TestDecimal(t *testing.T) {
	tests := []struct {
		a    Amount
		want string
	}{
		{New(150050, "RUB"), "1500.50"},
		{New(5, "RUB"), "0.05"},
		{New(-307, "rub"), "-3.07"},
		{New(15, "JPY"), "15"},
		{New(1234, "KWD"), "1.234"},
	}
	for _, tt := range tests {
		if got := tt.a.Decimal(); got != tt.want {
			t.Errorf("%v.Decimal() = %q, want %q", tt.a, got, tt.want)
		}
	}
}

// decimalFmt is how Decimal formatted amounts before it appended digits
// itself: the reference AppendDecimal is held to.
func decimalFmt(a Amount) string {
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

func TestDecimalAgrees(t *testing.T) {
	for _, cur := range []string{"RUB", "USD", "JPY", "KWD", "xyz", ""} {
		for _, minor := range []int64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 1001, 150050, -1, -99, -100, -150050,
			1<<53 + 1, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
			a := New(minor, cur)
			want := decimalFmt(a)
			require.Equal(t, want, a.Decimal(), "%d %s", minor, cur)
			require.Equal(t, "x"+want, string(a.AppendDecimal([]byte("x"))), "%d %s", minor, cur)
			require.Equal(t, want+" "+a.Currency, a.String(), "%d %s", minor, cur)
		}
	}
}

// TestDecimalAllocs: Decimal allocates its result only, AppendDecimal
// nothing when the buffer has room.
func TestDecimalAllocs(t *testing.T) {
	a := New(-150050, "RUB")
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { sink = a.Decimal() }))
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { sink = a.String() }))
	buf := make([]byte, 0, 32)
	require.Zero(t, testing.AllocsPerRun(100, func() { buf = a.AppendDecimal(buf[:0]) }))
}

// sink keeps results on the heap, as a caller's would be.
var sink string

func BenchmarkDecimal(b *testing.B) {
	a := New(123456789, "RUB")
	b.ReportAllocs()
	for b.Loop() {
		sink = a.Decimal()
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []string{"0.01", "1500.50", "9999999.99", "-1.00"} {
		a := MustParse(s, "RUB")
		if a.Decimal() != s {
			t.Errorf("round trip %q got %q", s, a.Decimal())
		}
	}
}

func TestTotals(t *testing.T) {
	tot := Totals{}
	for _, a := range []Amount{New(100, "RUB"), New(250, "RUB"), New(7, "USD")} {
		if err := tot.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := tot.String(), "3.50 RUB, 0.07 USD"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !tot.Equal(Totals{"RUB": 350, "USD": 7}) || tot.Equal(Totals{"RUB": 350}) {
		t.Error("Equal disagrees")
	}
	if err := tot.Add(New(1<<62, "RUB")); err != nil {
		t.Fatal(err)
	}
	if err := tot.Add(New(1<<62, "RUB")); err == nil {
		t.Error("overflow not reported")
	}
	if _, err := New(1, "RUB").Add(New(1, "USD")); err == nil {
		t.Error("currency mismatch not reported")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1500", "1 500,50", "-0.01", "1e5", "١٢", "15 00", "1 5", "1 500 0,5", "1 0 0",
		"1\u00a0500\u202f000.5", "1  500", "12 345 678,9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s, "RUB")
		if err != nil {
			return
		}
		b, err := Parse(a.Decimal(), "RUB")
		if err != nil || b != a {
			t.Fatalf("Parse(%q)=%v; reparse of %q = %v, %v", s, a, a.Decimal(), b, err)
		}
		// Every space separates thousands: the integer part split at
		// spaces is a group of 1–3 digits, then groups of exactly 3.
		t2 := strings.TrimLeft(strings.TrimSpace(s), "+-")
		t2 = strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(t2)
		intPart, frac, _ := strings.Cut(strings.ReplaceAll(t2, ",", "."), ".")
		if strings.Contains(frac, " ") {
			t.Fatalf("Parse(%q) accepted a space in the fraction", s)
		}
		groups := strings.Split(intPart, " ")
		if n := len(groups[0]); n == 0 || len(groups) > 1 && n > 3 {
			t.Fatalf("Parse(%q) accepted a first group of %d digits", s, n)
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				t.Fatalf("Parse(%q) accepted a group of %d digits after a space", s, len(g))
			}
		}
		// The same amount with its thousands grouped reads the same.
		c, err := Parse(group(a.Decimal()), "RUB")
		if err != nil || c != a {
			t.Fatalf("Parse(%q) = %v, %v; want %v", group(a.Decimal()), c, err, a)
		}
	})
}

// group writes a decimal with a no-break space between thousands.
func group(dec string) string {
	sign := ""
	if strings.HasPrefix(dec, "-") {
		sign, dec = "-", dec[1:]
	}
	intPart, frac, hasFrac := strings.Cut(dec, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteString("\u00a0")
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("," + frac)
	}
	return sign + b.String()
}
