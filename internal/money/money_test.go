package money

import (
	"errors"
	"testing"
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
	for _, s := range []string{"1500", "1 500,50", "-0.01", "1e5", "١٢"} {
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
	})
}
