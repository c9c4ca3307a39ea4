// Package workbook is the XLSX format, and the only package that imports
// excelize: it reads the sheets of an uploaded workbook as the cells a
// person sees in Excel (for package batch, which owns the payout file
// format), writes the simple workbooks payrun hands out (the payout file
// templates) and the report's styled workbook (Styled: internal/report
// decides the cells), and reads the bank's XLSX report as raw text
// (ReadRaw). See docs/ARCHITECTURE.md.
//
// Reading never touches the disk: excelize extracts a part larger than
// its UnzipXMLSizeLimit (16 MB by default) to the temporary directory in
// plain text, so Open sets that limit to the whole unzipped bound, and
// the workbook, which may hold card numbers, stays in memory.
package workbook

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// MaxUnzipped bounds the unzipped size of every part of a workbook
// together: a 100 000-row payroll is about 30 MB of XML.
const MaxUnzipped = 256 << 20

// ErrTooLarge is the error of a workbook whose parts unzip to more than
// MaxUnzipped.
var ErrTooLarge = errors.New("the workbook unzips to more than 256 MB")

// Book is an open workbook.
type Book struct {
	f        *excelize.File
	sheets   []Sheet
	parts    map[string]string // sheet name → its part in the package
	date1904 bool
}

// Sheet is a sheet of a workbook.
type Sheet struct {
	Name   string
	Hidden bool // hidden or very hidden
	Rows   bool // a worksheet (a chart sheet has no rows)
}

// Open reads the workbook of size bytes held in r. Nothing is written to
// disk. An error says the bytes are no workbook excelize can read.
func Open(r io.ReaderAt, size int64) (b *Book, err error) {
	defer func() {
		if p := recover(); p != nil { // excelize on bytes it did not expect
			b, err = nil, fmt.Errorf("damaged workbook: %v", p)
		}
	}()
	f, err := excelize.OpenReader(io.NewSectionReader(r, 0, size), excelize.Options{
		UnzipSizeLimit:    MaxUnzipped,
		UnzipXMLSizeLimit: MaxUnzipped, // every part in memory, none in a temporary file
	})
	if err != nil {
		if strings.Contains(err.Error(), "unzip size") {
			return nil, ErrTooLarge
		}
		return nil, err
	}
	b = &Book{f: f}
	if err := b.readSheets(); err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

// Close releases the workbook.
func (b *Book) Close() error { return b.f.Close() }

// Sheets lists the sheets in the workbook's order.
func (b *Book) Sheets() []Sheet { return b.sheets }

// readSheets finds every sheet, its state and its part: the workbook's
// relationships name the part of each sheet (as excelize finds them).
func (b *Book) readSheets() error {
	wb := b.f.WorkBook
	if wb == nil {
		b.f.GetSheetList() // reads the workbook part
		wb = b.f.WorkBook
	}
	if wb == nil {
		return errors.New("the workbook has no workbook part")
	}
	if wb.WorkbookPr != nil {
		b.date1904 = wb.WorkbookPr.Date1904
	}
	wbPart := "xl/workbook.xml"
	for _, rel := range readRels(b.part("_rels/.rels")) {
		if strings.HasSuffix(rel.Type, "/officeDocument") {
			wbPart = strings.TrimPrefix(rel.Target, "/")
		}
	}
	rels := readRels(b.part(path.Join(path.Dir(wbPart), "_rels", path.Base(wbPart)+".rels")))
	b.parts = map[string]string{}
	for _, s := range wb.Sheets.Sheet {
		sh := Sheet{Name: s.Name, Hidden: s.State == "hidden" || s.State == "veryHidden"}
		for _, rel := range rels {
			if rel.ID != s.ID || !strings.HasSuffix(rel.Type, "/worksheet") {
				continue
			}
			p := path.Clean(path.Join(path.Dir(wbPart), rel.Target))
			if strings.HasPrefix(rel.Target, "/") {
				p = path.Clean(strings.TrimPrefix(rel.Target, "/"))
			}
			if len(b.part(p)) > 0 {
				b.parts[s.Name] = p
				sh.Rows = true
			}
		}
		b.sheets = append(b.sheets, sh)
	}
	return nil
}

// part is the bytes of a part of the package, nil when there is none.
func (b *Book) part(name string) []byte {
	v, ok := b.f.Pkg.Load(name)
	if !ok {
		return nil
	}
	data, _ := v.([]byte)
	return data
}

type relationship struct {
	ID     string `xml:"Id,attr"`
	Type   string `xml:"Type,attr"`
	Target string `xml:"Target,attr"`
}

func readRels(data []byte) []relationship {
	var rels struct {
		Rels []relationship `xml:"Relationship"`
	}
	if xml.Unmarshal(data, &rels) != nil {
		return nil
	}
	return rels.Rels
}

// Row is a row of a sheet that holds something.
type Row struct {
	Num    int  // 1-based row number in the sheet
	Hidden bool // hidden (or of height 0): a person does not see it
	// Cells by column (0 is A), up to the last one that holds a value or
	// a formula.
	Cells []Cell
}

// Cell is a cell as a person sees it.
type Cell struct {
	// Text is the cell as displayed: a number through its number format
	// (General as Excel shows it in a column of standard width, so a
	// 16-digit number is 4.27638E+15), text as written.
	Text string
	// Number is, for a number cell, its value at the 15 significant
	// digits a spreadsheet keeps, in plain decimal notation
	// ("4276380000000000", "1500.5"); "" for any other cell.
	Number string
	// Date is, for a number cell with a date format or a date cell, the
	// date it shows as YYYY-MM-DD; "" otherwise.
	Date string
	// Formula is the cell's formula with its "=" ("=SUM(D2:D4)", "=" for
	// a cell of a shared formula); "" for a value.
	Formula string
}

// Range is a block of merged cells, 1-based and inclusive.
type Range struct {
	Ref                            string // as the sheet writes it: "B5:C5"
	FromCol, FromRow, ToCol, ToRow int
}

// Rows reads the rows of a sheet one at a time. excelize's row iterator
// (File.Rows) gives each cell's displayed text; a scan of the same sheet
// XML beside it gives what the iterator does not tell: the cell's type,
// number format and formula, and the row's visibility.
type Rows struct {
	b       *Book
	it      *excelize.Rows
	scan    *xml.Decoder
	num     int // the iterator's row number
	scanned int // the scan's last row number
	next    *rowMeta
	done    bool
	row     Row
	err     error
	merged  []Range
	hidden  []bool // by column (0 is A)
}

// rowMeta is what the scan reads of a row element.
type rowMeta struct {
	num    int
	hidden bool
	cells  []cellMeta
}

type cellMeta struct {
	col     int // 0-based
	typ     string
	style   int
	formula bool
	fText   string
	value   string
}

// Rows starts reading the named sheet (a worksheet of Sheets).
func (b *Book) Rows(sheet string) (*Rows, error) {
	part, ok := b.parts[sheet]
	if !ok {
		return nil, fmt.Errorf("sheet %q has no rows", sheet)
	}
	it, err := b.rows(sheet)
	if err != nil {
		return nil, fmt.Errorf("read sheet %q: %w", sheet, err)
	}
	data := b.part(part)
	r := &Rows{b: b, it: it, scan: xml.NewDecoder(bytes.NewReader(data))}
	r.merged = mergedCells(data)
	return r, nil
}

func (b *Book) rows(sheet string) (it *excelize.Rows, err error) {
	defer func() {
		if p := recover(); p != nil {
			it, err = nil, fmt.Errorf("damaged sheet: %v", p)
		}
	}()
	return b.f.Rows(sheet)
}

// Merged lists the sheet's merged cells.
func (r *Rows) Merged() []Range { return r.merged }

// HiddenColumns reports, by column (0 is A), the columns that are hidden
// or of width 0. It is known once the first row was read.
func (r *Rows) HiddenColumns() []bool { return r.hidden }

// Next moves to the next row that holds something.
func (r *Rows) Next() (ok bool) {
	if r.err != nil {
		return false
	}
	defer func() {
		if p := recover(); p != nil { // excelize on bytes it did not expect
			r.err, ok = fmt.Errorf("damaged sheet: %v", p), false
		}
	}()
	for r.it.Next() {
		r.num++
		texts, err := r.it.Columns()
		if err != nil {
			r.err = fmt.Errorf("read row %d: %w", r.num, err)
			return false
		}
		meta, err := r.metaFor(r.num)
		if err != nil {
			r.err = err
			return false
		}
		if len(texts) == 0 && (meta == nil || len(meta.cells) == 0) {
			continue
		}
		r.row = Row{Num: r.num, Cells: make([]Cell, len(texts))}
		for i, t := range texts {
			r.row.Cells[i].Text = t
		}
		if meta != nil {
			r.row.Hidden = meta.hidden
			for _, c := range meta.cells {
				for len(r.row.Cells) <= c.col {
					r.row.Cells = append(r.row.Cells, Cell{})
				}
				r.b.describe(&r.row.Cells[c.col], c)
			}
		}
		for len(r.row.Cells) > 0 {
			last := r.row.Cells[len(r.row.Cells)-1]
			if last.Text != "" || last.Formula != "" {
				break
			}
			r.row.Cells = r.row.Cells[:len(r.row.Cells)-1]
		}
		if len(r.row.Cells) == 0 {
			continue
		}
		return true
	}
	if err := r.it.Error(); err != nil {
		r.err = err
	}
	return false
}

// Row is the current row; its cells are valid until the next call of Next.
func (r *Rows) Row() Row { return r.row }

// Err is the error that stopped the reading, if any.
func (r *Rows) Err() error { return r.err }

// Close ends the reading.
func (r *Rows) Close() error { return r.it.Close() }

// metaFor scans to the row element of row num; nil when the sheet has
// none (the iterator's row is empty).
func (r *Rows) metaFor(num int) (*rowMeta, error) {
	for {
		if r.next == nil && !r.done {
			m, err := r.scanRow()
			if err != nil {
				return nil, err
			}
			if m == nil {
				r.done = true
			}
			r.next = m
		}
		switch {
		case r.next == nil:
			return nil, nil
		case r.next.num == num:
			m := r.next
			r.next = nil
			return m, nil
		case r.next.num > num:
			return nil, nil
		default: // behind the iterator: rows out of order
			return nil, fmt.Errorf("row %d comes after row %d in the sheet; open the workbook in Excel and save it again", r.next.num, num)
		}
	}
}

// scanRow reads the next row element; nil at the end of the sheet data.
func (r *Rows) scanRow() (*rowMeta, error) {
	for {
		tok, err := r.scan.Token()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read sheet XML: %w", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "col":
				r.hideColumns(el)
			case "row":
				return r.readRow(el)
			}
		case xml.EndElement:
			if el.Name.Local == "sheetData" {
				return nil, nil
			}
		}
	}
}

// readRow reads a row element's cells.
func (r *Rows) readRow(start xml.StartElement) (*rowMeta, error) {
	m := &rowMeta{}
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "r":
			m.num, _ = strconv.Atoi(a.Value)
		case "hidden":
			m.hidden = a.Value == "1" || a.Value == "true"
		case "ht":
			if h, err := strconv.ParseFloat(a.Value, 64); err == nil && h == 0 {
				m.hidden = true
			}
		}
	}
	if m.num == 0 {
		m.num = r.scanned + 1 // a row without a number follows the previous one
	}
	r.scanned = m.num
	col := -1
	for {
		tok, err := r.scan.Token()
		if err != nil {
			return nil, fmt.Errorf("read sheet XML row %d: %w", m.num, err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local != "c" {
				continue
			}
			c, err := r.readCell(el, col+1)
			if err != nil {
				return nil, fmt.Errorf("read sheet XML row %d: %w", m.num, err)
			}
			col = c.col
			m.cells = append(m.cells, c)
		case xml.EndElement:
			if el.Name.Local == "row" {
				return m, nil
			}
		}
	}
}

// readCell reads a cell element: its attributes, formula and value.
func (r *Rows) readCell(start xml.StartElement, col int) (cellMeta, error) {
	c := cellMeta{col: col}
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "r":
			if x, _, err := excelize.CellNameToCoordinates(a.Value); err == nil {
				c.col = x - 1
			}
		case "t":
			c.typ = a.Value
		case "s":
			c.style, _ = strconv.Atoi(a.Value)
		}
	}
	depth, in := 0, ""
	for {
		tok, err := r.scan.Token()
		if err != nil {
			return c, err
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				in = el.Name.Local
				if in == "f" {
					c.formula = true
				}
			}
		case xml.CharData:
			switch {
			case depth == 1 && in == "f":
				c.fText += string(el)
			case depth == 1 && in == "v":
				c.value += string(el)
			}
		case xml.EndElement:
			if depth == 0 {
				return c, nil
			}
			depth--
		}
	}
}

// hideColumns records the columns a col element hides.
func (r *Rows) hideColumns(el xml.StartElement) {
	lo, hi, hidden := 0, 0, false
	for _, a := range el.Attr {
		switch a.Name.Local {
		case "min":
			lo, _ = strconv.Atoi(a.Value)
		case "max":
			hi, _ = strconv.Atoi(a.Value)
		case "hidden":
			hidden = hidden || a.Value == "1" || a.Value == "true"
		case "width":
			if w, err := strconv.ParseFloat(a.Value, 64); err == nil && w == 0 {
				hidden = true
			}
		}
	}
	if !hidden || lo < 1 || hi < lo {
		return
	}
	hi = min(hi, 16384)
	for len(r.hidden) < hi {
		r.hidden = append(r.hidden, false)
	}
	for i := lo - 1; i < hi; i++ {
		r.hidden[i] = true
	}
}

// mergedCells reads the mergeCells element, which follows the sheet data.
func mergedCells(data []byte) []Range {
	i := bytes.LastIndex(data, []byte("sheetData>"))
	if i < 0 {
		return nil
	}
	d := xml.NewDecoder(bytes.NewReader(data[i+len("sheetData>"):]))
	var out []Range
	for {
		tok, err := d.Token()
		if err != nil {
			return out
		}
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "mergeCell" {
			continue
		}
		for _, a := range el.Attr {
			if a.Name.Local != "ref" {
				continue
			}
			from, to, _ := strings.Cut(a.Value, ":")
			if to == "" {
				to = from
			}
			c1, r1, err1 := excelize.CellNameToCoordinates(from)
			c2, r2, err2 := excelize.CellNameToCoordinates(to)
			if err1 == nil && err2 == nil {
				out = append(out, Range{Ref: a.Value, FromCol: min(c1, c2), FromRow: min(r1, r2), ToCol: max(c1, c2), ToRow: max(r1, r2)})
			}
		}
	}
}

// CellName names a cell as a spreadsheet does: column 0 of row 5 is A5.
func CellName(col, row int) string {
	name, err := excelize.CoordinatesToCellName(col+1, row)
	if err != nil {
		return fmt.Sprintf("R%dC%d", row, col+1)
	}
	return name
}

// ColumnName names a column as a spreadsheet does: column 0 is A.
func ColumnName(col int) string {
	name, err := excelize.ColumnNumberToName(col + 1)
	if err != nil {
		return strconv.Itoa(col + 1)
	}
	return name
}
