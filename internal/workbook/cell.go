package workbook

import (
	"math"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// describe completes a cell from what the scan read: a number's value,
// its display in General, a date, a formula.
func (b *Book) describe(cell *Cell, c cellMeta) {
	if c.formula {
		cell.Formula = "=" + strings.TrimPrefix(c.fText, "=")
	}
	switch c.typ {
	case "", "n":
		v := strings.TrimSpace(c.value)
		f, err := strconv.ParseFloat(v, 64)
		if v == "" || err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return
		}
		cell.Number = plain(f)
		code, general := b.numFmt(c.style)
		switch {
		case general:
			cell.Text = General(f)
		case isDateFormat(code):
			if t, err := excelize.ExcelDateToTime(f, b.date1904); err == nil {
				cell.Date = t.Format("2006-01-02")
			}
		}
	case "d":
		if len(c.value) >= 10 {
			cell.Date = c.value[:10]
		}
	}
}

// numFmt is the number format code of a style, and whether it is General.
func (b *Book) numFmt(style int) (string, bool) {
	st := b.f.Styles
	if style <= 0 || st == nil || st.CellXfs == nil || style >= len(st.CellXfs.Xf) || st.CellXfs.Xf[style].NumFmtID == nil {
		return "General", true
	}
	id := *st.CellXfs.Xf[style].NumFmtID
	if st.NumFmts != nil {
		for _, nf := range st.NumFmts.NumFmt {
			if nf.NumFmtID == id {
				code := nf.FormatCode
				if nf.FormatCode16 != "" {
					code = nf.FormatCode16
				}
				return code, strings.EqualFold(code, "General")
			}
		}
	}
	if id == 0 {
		return "General", true
	}
	if builtinDate(id) {
		return "yyyy-mm-dd", false
	}
	return "", false
}

// builtinDate reports whether a built-in number format is a date or time.
func builtinDate(id int) bool {
	return id >= 14 && id <= 22 || id >= 27 && id <= 36 || id >= 45 && id <= 47 || id >= 50 && id <= 58
}

// isDateFormat reports whether a number format code shows a date: it has
// a day or a year outside quoted text, escapes and [..] sections.
func isDateFormat(code string) bool {
	inQuote, inBracket := false, false
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case inQuote:
			inQuote = c != '"'
		case inBracket:
			inBracket = c != ']'
		case c == '"':
			inQuote = true
		case c == '[':
			inBracket = true
		case c == '\\' || c == '_' || c == '*':
			i++
		case c == 'd' || c == 'D' || c == 'y' || c == 'Y':
			return true
		}
	}
	return false
}

// plain writes f at 15 significant digits in plain decimal notation.
func plain(f float64) string {
	g := strconv.FormatFloat(f, 'g', 15, 64)
	v, _ := strconv.ParseFloat(g, 64)
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// General writes a number as Excel's General format shows it in a column
// of standard width: at most 11 characters, so an integer of more than 11
// digits, or a number too small for its digits to show, is in scientific
// notation with up to 6 significant digits (4.27638E+15), and other
// numbers are rounded to fit.
func General(f float64) string {
	if f == 0 {
		return "0"
	}
	a := math.Abs(f)
	if a >= 1e11 || a < 1e-9 {
		s := strconv.FormatFloat(f, 'E', 5, 64) // -4.27638E+15
		mant, exp, _ := strings.Cut(s, "E")
		if strings.Contains(mant, ".") {
			mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
		}
		return mant + "E" + exp
	}
	intDigits := 1
	if a >= 1 {
		intDigits = int(math.Floor(math.Log10(a))) + 1
	}
	width := 11
	if f < 0 {
		width--
	}
	decimals := width - intDigits - 1
	if decimals < 0 {
		decimals = 0
	}
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
