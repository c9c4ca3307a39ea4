package spreadsheet

import (
	"fmt"
	"strings"
)

// Dialect is how payrun writes a CSV file: the errors report of ingest
// and the reports of the ledger take one, so the two agree.
type Dialect string

// The dialects. The zero value is ExcelRU.
const (
	// ExcelRU is what Excel and 1C with Russian settings open as they
	// are: ";" between cells, UTF-8 with a byte-order mark, a decimal
	// comma, CRLF line ends.
	ExcelRU Dialect = "excel-ru"
	// RFC4180 is RFC 4180's CSV: "," between cells, UTF-8 without a
	// byte-order mark, a decimal point, CRLF line ends.
	RFC4180 Dialect = "rfc4180"
)

// ParseDialect reads a dialect name; "" is ExcelRU.
func ParseDialect(s string) (Dialect, error) {
	switch d := Dialect(strings.ToLower(strings.TrimSpace(s))); d {
	case "":
		return ExcelRU, nil
	case ExcelRU, RFC4180:
		return d, nil
	}
	return "", fmt.Errorf("CSV dialect %q: use excel-ru or rfc4180", s)
}

func (d Dialect) orDefault() Dialect {
	if d == "" {
		return ExcelRU
	}
	return d
}

// Comma is the delimiter between cells.
func (d Dialect) Comma() rune {
	if d.orDefault() == RFC4180 {
		return ','
	}
	return ';'
}

// BOM reports whether the file starts with a UTF-8 byte-order mark.
func (d Dialect) BOM() bool { return d.orDefault() == ExcelRU }

// CRLF reports whether lines end with CR LF (both dialects do).
func (d Dialect) CRLF() bool { return true }

// Decimal writes a number in plain decimal notation ("-1500.50") with the
// dialect's decimal separator ("-1500,50" for ExcelRU). Any other text is
// returned as it is.
func (d Dialect) Decimal(v string) string {
	if d.orDefault() != ExcelRU || !plainDecimal(v) {
		return v
	}
	return strings.Replace(v, ".", ",", 1)
}

// plainDecimal: an optional sign, digits, and optionally "." and digits.
func plainDecimal(v string) bool {
	v = strings.TrimPrefix(strings.TrimPrefix(v, "-"), "+")
	whole, frac, dot := strings.Cut(v, ".")
	return whole != "" && digitsOnly(whole) && (!dot || frac != "" && digitsOnly(frac))
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// DialectFor is the dialect of a file written for people in a language
// when none is asked for: excel-ru for Russian ("ru"), rfc4180 for any
// other. The payout file templates and the ledger's reports use it.
func DialectFor(lang string) Dialect {
	if lang == "ru" {
		return ExcelRU
	}
	return RFC4180
}
