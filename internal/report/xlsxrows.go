package report

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// Column widths of the Rows sheet, in characters: each column (but those
// of a known width, column.width) is as wide as its longest value (its
// header counts up to headerFit characters, a header wraps), at least
// minWidth, at most maxWidth, or wrapWidth for long text, which wraps.
const (
	minWidth  = 6
	maxWidth  = 40
	wrapWidth = 60
	headerFit = 16
	// lineHeight is a line's height in points; a row is at most maxLines
	// lines high.
	lineHeight = 15
	maxLines   = 12
)

// rowsSheet is what the Rows sheet needs before its XML is written:
// columns, widths, the filter's range and the totals per currency, found
// in one pass over the rows (measure, as they are produced, then done).
type rowsSheet struct {
	lang      string
	zone      *time.Location
	keys      []string // meta names
	head      []string
	wrap      []bool
	cols      []string  // letter names
	widths    []float64 // in characters
	filterRef string
	totals    []currencyTotal
	rows      int // rows measured

	longest []int // the longest value of each column so far, in characters
	byCur   map[string]*currencyTotal
}

// currencyTotal sums a currency's money columns over the rows.
type currencyTotal struct {
	currency string
	rows     int           // rows in this currency
	sums     map[int]int64 // column → minor units
}

// newRowsSheet starts measuring the rows of a report in lang, in zone,
// whose rows have the meta names keys.
func newRowsSheet(lang string, zone *time.Location, keys []string) *rowsSheet {
	s := &rowsSheet{lang: lang, zone: zone, keys: keys, byCur: map[string]*currencyTotal{}}
	s.head = header(lang, s.keys)
	s.wrap = wrapped(s.keys)
	n := len(s.head)
	s.cols = make([]string, n)
	s.longest = make([]int, n)
	for i := range s.cols {
		s.cols[i] = columnName(i + 1)
		s.longest[i] = min(utf8.RuneCountInString(s.head[i]), headerFit)
	}
	return s
}

func (s *rowsSheet) total(cur string) *currencyTotal {
	t := s.byCur[cur]
	if t == nil {
		t = &currencyTotal{currency: cur, sums: map[int]int64{}}
		s.byCur[cur] = t
	}
	return t
}

// measure measures a row, whose cells (Row.cells) are cells: the width
// each column needs and each currency's totals.
func (s *rowsSheet) measure(row *Row, cells []cell) {
	s.rows++
	if row.Currency != "" {
		s.total(row.Currency).rows++
	}
	longest := s.longest
	for j := range cells {
		if j < len(rowColumns) && rowColumns[j].width != 0 {
			continue
		}
		c := &cells[j]
		w := 0
		switch c.kind {
		case kindText:
			if len(c.text) <= longest[j] {
				continue // no more characters than bytes
			}
			w = utf8.RuneCountInString(c.text)
		case kindInt:
			w = len(strconv.FormatInt(c.n, 10))
		case kindMoney:
			whole, _, _ := strings.Cut(c.text, ".")
			w = len(c.text) + (len(whole)-1)/3 // with the thousands' separators
			if minor, ok := decimalMinor(c.text, c.exp); ok {
				s.total(c.cur).sums[j] += minor
			}
		case kindRate:
			w = len(c.text)
		case kindTime:
			w = len(dateFormatRU)
		}
		longest[j] = max(longest[j], w)
	}
}

// done sets the widths, the totals and the filter's range once every row
// was measured.
func (s *rowsSheet) done() {
	n := len(s.head)
	s.widths = make([]float64, n)
	for j := range s.widths {
		if j < len(rowColumns) && rowColumns[j].width > 0 {
			s.widths[j] = float64(rowColumns[j].width)
			continue
		}
		limit := float64(maxWidth)
		if s.wrap[j] {
			limit = wrapWidth
		}
		// A character of the default font is a little wider than a
		// width unit (the width of "0"), Cyrillic more so.
		s.widths[j] = math.Round(min(max(float64(s.longest[j])*1.1+2, minWidth), limit)*10) / 10
	}
	for _, cur := range slices.Sorted(maps.Keys(s.byCur)) {
		s.totals = append(s.totals, *s.byCur[cur])
	}
	s.filterRef = fmt.Sprintf("A1:%s%d", s.cols[n-1], s.rows+1)
}

// writeCells writes a row's cells to the spool the Rows sheet is written
// from once its widths are known.
func writeCells(w *bufio.Writer, cells []cell) error {
	var tmp [binary.MaxVarintLen64]byte
	w.Write(tmp[:binary.PutUvarint(tmp[:], uint64(len(cells)))])
	for i := range cells {
		c := &cells[i]
		w.WriteByte(byte(c.kind))
		w.WriteByte(byte(c.exp))
		w.Write(tmp[:binary.PutVarint(tmp[:], c.n)])
		w.Write(tmp[:binary.PutUvarint(tmp[:], uint64(len(c.text)))])
		w.WriteString(c.text)
		w.Write(tmp[:binary.PutUvarint(tmp[:], uint64(len(c.cur)))])
		if _, err := w.WriteString(c.cur); err != nil {
			return err
		}
	}
	return nil
}

// readCells reads back a row's cells writeCells wrote, into buf; text is
// the row's text, reused (its strings are one string per row: one
// allocation, not one per cell).
func readCells(r *bufio.Reader, buf []cell, text *[]byte) ([]cell, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	// The cells with the offsets of their text in *text, then the strings.
	type span struct{ text, cur [2]int }
	var spans [64]span
	sp := spans[:0]
	*text = (*text)[:0]
	str := func() ([2]int, error) {
		l, err := binary.ReadUvarint(r)
		if err != nil || l == 0 {
			return [2]int{}, err
		}
		at := len(*text)
		*text = append(*text, make([]byte, l)...)
		_, err = io.ReadFull(r, (*text)[at:])
		return [2]int{at, at + int(l)}, err
	}
	buf = buf[:0]
	for range n {
		var c cell
		var s span
		k, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		e, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		c.kind, c.exp = cellKind(k), int8(e)
		if c.n, err = binary.ReadVarint(r); err != nil {
			return nil, err
		}
		if s.text, err = str(); err != nil {
			return nil, err
		}
		if s.cur, err = str(); err != nil {
			return nil, err
		}
		buf, sp = append(buf, c), append(sp, s)
	}
	all := string(*text)
	for i := range buf {
		buf[i].text, buf[i].cur = all[sp[i].text[0]:sp[i].text[1]], all[sp[i].cur[0]:sp[i].cur[1]]
	}
	return buf, nil
}

// decimalMinor reads decimal text as Decimal writes it ("-1500.50") in
// minor units of a currency with exp decimals.
func decimalMinor(text string, exp int8) (int64, bool) {
	neg := strings.HasPrefix(text, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(text, "-"), ".")
	if whole == "" || !digitsOnly(whole) || !digitsOnly(frac) || len(frac) > int(exp) || len(whole) > 15 {
		return 0, false
	}
	v, _ := strconv.ParseInt(whole, 10, 64)
	for range exp {
		v *= 10
	}
	if frac != "" {
		f, _ := strconv.ParseInt(frac, 10, 64)
		for i := len(frac); i < int(exp); i++ {
			f *= 10
		}
		v += f
	}
	if neg {
		v = -v
	}
	return v, true
}

// lines is how many lines text takes wrapped in a column width wide.
func lines(text string, width float64) int {
	per := max(int((width-1)/1.1), 1)
	if len(text) <= per && !strings.Contains(text, "\n") {
		return 1
	}
	n := 0
	for part := range strings.SplitSeq(text, "\n") {
		n += max((utf8.RuneCountInString(part)+per-1)/per, 1)
	}
	return n
}

// writeRowsSheet writes the Rows worksheet: the header (frozen, with the
// autofilter), one line per row, an empty line and a totals line per
// currency, then the print settings. Numbers are written as their decimal
// text (an XML number is text; no float is made of money here).
func (rep *Report) writeRowsSheet(w io.Writer, s *rowsSheet, st *xlsxStyles, rows *bufio.Reader) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	last := s.cols[len(s.cols)-1]
	lastRow := s.rows + 1
	if len(s.totals) > 0 {
		lastRow += 1 + len(s.totals)
	}
	bw.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ` +
		`xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
		`<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>`)
	fmt.Fprintf(bw, `<dimension ref="A1:%s%d"/>`, last, lastRow)
	bw.WriteString(`<sheetViews><sheetView tabSelected="1" workbookViewId="0">` +
		`<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>` +
		`<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>` +
		`<sheetFormatPr defaultRowHeight="15"/><cols>`)
	for j, width := range s.widths {
		fmt.Fprintf(bw, `<col min="%d" max="%d" width="%s" customWidth="1"/>`, j+1, j+1, strconv.FormatFloat(width, 'f', -1, 64))
	}
	bw.WriteString(`</cols><sheetData>`)
	var num []byte
	put := func(row int, col int, c cell, style int) {
		bw.WriteString(`<c r="`)
		bw.WriteString(s.cols[col])
		num = strconv.AppendInt(num[:0], int64(row), 10)
		bw.Write(num)
		bw.WriteByte('"')
		if style > 0 {
			num = strconv.AppendInt(num[:0], int64(style), 10)
			bw.WriteString(` s="`)
			bw.Write(num)
			bw.WriteByte('"')
		}
		switch c.kind {
		case kindInt:
			num = strconv.AppendInt(num[:0], c.n, 10)
			bw.WriteString("><v>")
			bw.Write(num)
			bw.WriteString("</v></c>")
		case kindMoney, kindRate:
			bw.WriteString("><v>")
			bw.WriteString(c.text)
			bw.WriteString("</v></c>")
		case kindTime:
			// c.n holds the serial's bits (set by the caller).
			num = strconv.AppendFloat(num[:0], math.Float64frombits(uint64(c.n)), 'f', -1, 64)
			bw.WriteString("><v>")
			bw.Write(num)
			bw.WriteString("</v></c>")
		default:
			text := xlsxText(spreadsheet.SafeCell(c.text))
			bw.WriteString(` t="inlineStr"><is><t`)
			if text != strings.TrimSpace(text) {
				bw.WriteString(` xml:space="preserve"`)
			}
			bw.WriteByte('>')
			writeXMLText(bw, text)
			bw.WriteString("</t></is></c>")
		}
	}
	rowStart := func(r, height int) {
		num = strconv.AppendInt(num[:0], int64(r), 10)
		bw.WriteString(`<row r="`)
		bw.Write(num)
		if height > 1 {
			num = strconv.AppendInt(num[:0], int64(min(height, maxLines)*lineHeight), 10)
			bw.WriteString(`" ht="`)
			bw.Write(num)
			bw.WriteString(`" customHeight="1`)
		}
		bw.WriteString(`">`)
	}
	headLines := 1
	for j, name := range s.head {
		headLines = max(headLines, lines(name, s.widths[j]))
	}
	rowStart(1, headLines)
	for j, name := range s.head {
		put(1, j, textCell(name), st.header)
	}
	bw.WriteString(`</row>`)
	var buf []cell
	var text []byte
	for i := range s.rows {
		r := i + 2
		var err error
		if buf, err = readCells(rows, buf, &text); err != nil {
			return fmt.Errorf("read the rows back: %w", err)
		}
		height := 1
		for j := range buf {
			if s.wrap[j] && buf[j].text != "" {
				height = max(height, lines(buf[j].text, s.widths[j]))
			}
		}
		rowStart(r, height)
		for j := range buf {
			c := buf[j]
			switch {
			case c.kind == kindMoney:
				put(r, j, c, st.moneyStyle(c.exp, false))
			case c.kind == kindRate:
				put(r, j, c, st.rate)
			case c.kind == kindTime:
				if v, ok := excelSerial(c.text, s.zone); ok {
					c.n = int64(math.Float64bits(v))
					put(r, j, c, st.date)
				} else {
					put(r, j, textCell(c.text), 0)
				}
			case s.wrap[j] && c.text != "":
				put(r, j, c, st.wrap)
			case !c.empty():
				put(r, j, c, 0)
			}
		}
		bw.WriteString(`</row>`)
	}
	// The totals, under an empty line: outside the filter's range, so
	// filtering and sorting leave them alone.
	r := s.rows + 2
	for _, t := range s.totals {
		r++
		rowStart(r, 1)
		put(r, 1, textCell(totalLabel(s.lang, t)), st.bold)
		for j := range s.head {
			sum, ok := t.sums[j]
			if !ok {
				continue
			}
			a := money.New(sum, t.currency)
			put(r, j, moneyCell(a.Decimal(), t.currency), st.moneyStyle(int8(money.Exponent(t.currency)), true))
			if j+1 < len(rowColumns) && strings.HasSuffix(rowColumns[j+1].name, "currency") {
				put(r, j+1, textCell(t.currency), st.bold)
			}
		}
		bw.WriteString(`</row>`)
	}
	bw.WriteString(`</sheetData>`)
	fmt.Fprintf(bw, `<autoFilter ref="%s"/>`, s.filterRef)
	bw.WriteString(`<pageMargins left="0.4" right="0.4" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>` +
		`<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/><headerFooter><oddHeader>`)
	writeXMLText(bw, "&L"+headerFooterText(rep.Batch.Name)+"&R"+headerFooterText(rep.Batch.ID))
	bw.WriteString(`</oddHeader><oddFooter>&amp;R&amp;P / &amp;N</oddFooter></headerFooter></worksheet>`)
	return bw.Flush()
}

// totalLabel names a totals line: its currency and how many rows are in
// it (none when the currency is only another column's: a destination).
func totalLabel(lang string, t currencyTotal) string {
	ru := reason.Lang(lang) == reason.Russian
	switch {
	case ru && t.rows > 0:
		return fmt.Sprintf("Итого %s, строк: %d", t.currency, t.rows)
	case ru:
		return "Итого " + t.currency
	case t.rows == 1:
		return fmt.Sprintf("Total %s, 1 row", t.currency)
	case t.rows > 1:
		return fmt.Sprintf("Total %s, %d rows", t.currency, t.rows)
	}
	return "Total " + t.currency
}

// headerFooterText is text for a printed header or footer, where & starts
// a code: a literal & is written &&.
func headerFooterText(s string) string { return strings.ReplaceAll(spreadsheet.SafeCell(s), "&", "&&") }

// maxCellChars is the most UTF-16 units a spreadsheet cell holds.
const maxCellChars = 32767

// xlsxText prepares a string for a cell as excelize does: cut to what a
// cell holds, and a literal "_xHHHH_" (which a spreadsheet would read as
// an escaped character) escaped as "_x005F_xHHHH_".
func xlsxText(s string) string {
	if len(s) > maxCellChars {
		units := 0
		for i, r := range s {
			units += utf16.RuneLen(r)
			if units > maxCellChars {
				s = s[:i]
				break
			}
		}
	}
	if !strings.Contains(s, "_x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && isEscapeAt(s, i) {
			b.WriteString("_x005F")
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isEscapeAt reports whether s[i:] starts with _xHHHH_.
func isEscapeAt(s string, i int) bool {
	if i+7 > len(s) || s[i+1] != 'x' || s[i+6] != '_' {
		return false
	}
	for _, c := range []byte(s[i+2 : i+6]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// writeXMLText writes s as XML character data: markup characters escaped,
// characters XML does not allow replaced by U+FFFD.
func writeXMLText(w *bufio.Writer, s string) {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '&' && c != '<' && c != '>' {
			i++
			continue
		}
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError && r != 0xFFFE && r != 0xFFFF {
				i += size
				continue
			}
		}
		w.WriteString(s[start:i])
		switch r {
		case '&':
			w.WriteString("&amp;")
		case '<':
			w.WriteString("&lt;")
		case '>':
			w.WriteString("&gt;")
		case '\t':
			w.WriteString("&#x9;")
		case '\n':
			w.WriteString("\n")
		case '\r':
			w.WriteString("&#xD;")
		default:
			w.WriteString("\uFFFD")
		}
		i += size
		start = i
	}
	w.WriteString(s[start:])
}
