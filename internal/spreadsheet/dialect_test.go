package spreadsheet

import "testing"

func TestDialect(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Dialect
		comma   rune
		bom     bool
		decimal string
	}{
		{"", ExcelRU, ';', true, "1500,50"},
		{"Excel-RU", ExcelRU, ';', true, "1500,50"},
		{"rfc4180", RFC4180, ',', false, "1500.50"},
	} {
		d, err := ParseDialect(tt.in)
		if err != nil || d != tt.want || d.Comma() != tt.comma || d.BOM() != tt.bom || d.Decimal("1500.50") != tt.decimal || !d.CRLF() {
			t.Errorf("ParseDialect(%q) = %q, %v: comma %q, BOM %v, decimal %q", tt.in, d, err, d.Comma(), d.BOM(), d.Decimal("1500.50"))
		}
	}
	if _, err := ParseDialect("excel"); err == nil {
		t.Error("ParseDialect(excel): no error")
	}
	for in, want := range map[string]string{"100": "100", "-5.5": "-5,5", "1 500.50": "1 500.50", "1.500.5": "1.500.5", "12a": "12a", ".5": ".5", "5.": "5.", "": ""} {
		if got := ExcelRU.Decimal(in); got != want {
			t.Errorf("ExcelRU.Decimal(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDialectFor(t *testing.T) {
	for lang, want := range map[string]Dialect{"ru": ExcelRU, "en": RFC4180, "": RFC4180} {
		if got := DialectFor(lang); got != want {
			t.Errorf("DialectFor(%q) = %q, want %q", lang, got, want)
		}
	}
}
