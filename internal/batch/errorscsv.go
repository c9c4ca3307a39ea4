package batch

import (
	"io"
	"strconv"
	"strings"

	"github.com/gocarina/gocsv"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// LineColumnName is the first column of the errors report: the line of
// the file (a workbook's row number) where the failed row starts.
const LineColumnName = "line"

// ErrorsCSV writes the errors report of a rejected file: the rows that
// failed, each with its line in the uploaded file, for finance to find
// and fix in the original file and upload that again. Its columns are
// line, the file's own columns as its header names them, error_column (the
// columns with a problem, "; "-separated) and error_message (one "column:
// message" per problem, "; "-separated; warnings of the row start with
// "warning:"). Problems of the header are on a line of their own with
// the header's line, problems of the whole file come last with an empty
// line. Rows without an error are not in it.
//
// The report is not an upload (the reader refuses a file with its
// error_column and error_message) and it never holds a full card number:
// card_number cells are masked (424242******4242), so are card numbers
// inside other cells (cardmask.Redact), and cells a spreadsheet would run
// as a formula get a leading apostrophe. It is written in a CSV dialect
// (spreadsheet.Dialect, the reports' own): excel-ru (";", a BOM, amounts
// with a decimal comma) or rfc4180 (",").
type ErrorsCSV struct {
	w       *gocsv.SafeCSVWriter
	out     io.Writer
	dialect spreadsheet.Dialect
	header  bool
	width   int          // original columns
	skip    []bool       // columns of an earlier report, dropped
	kinds   []columnKind // per original column
	card    []bool
	buf     []string
	err     error
}

// NewErrorsCSV returns a report writer in a dialect ("" is excel-ru);
// pass its Record method as Options.OnRecord and call Close when
// Validate returns.
func NewErrorsCSV(w io.Writer, dialect spreadsheet.Dialect) *ErrorsCSV {
	if dialect == "" {
		dialect = spreadsheet.ExcelRU
	}
	return &ErrorsCSV{out: w, dialect: dialect}
}

// Record writes one record of the report when it has an error.
func (e *ErrorsCSV) Record(r *Record) {
	if e.err != nil {
		return
	}
	if !e.header {
		e.start(r)
	}
	if len(r.Errors) == 0 {
		return
	}
	switch r.Kind {
	case RecordHeader:
		e.write(r.Line, nil, r.Errors, nil)
	case RecordRow, RecordTotals:
		e.write(r.Line, r.Cells, r.Errors, r.Warnings)
	case RecordFile:
		e.write(0, nil, r.Errors, nil)
	}
}

func (e *ErrorsCSV) start(r *Record) {
	e.header = true
	if e.dialect.BOM() {
		if _, err := io.WriteString(e.out, "\uFEFF"); err != nil {
			e.err = err
			return
		}
	}
	cw := gocsv.DefaultCSVWriter(e.out)
	cw.Comma = e.dialect.Comma()
	cw.UseCRLF = e.dialect.CRLF()
	e.w = cw
	e.width = len(r.Header)
	e.skip = make([]bool, e.width)
	e.kinds = make([]columnKind, e.width)
	e.card = make([]bool, e.width)
	head := []string{LineColumnName}
	for i, h := range r.Header {
		c, ok := columnByName[foldName(normalizeName(h))]
		if ok && (c == colErrorColumn || c == colErrorMessage) {
			e.skip[i] = true
			continue
		}
		if ok {
			e.kinds[i] = columnKinds[c]
			e.card[i] = c == colCardNumber
		}
		head = append(head, safeCell(h, kindText))
	}
	head = append(head, ErrorColumnName, ErrorMessageName)
	e.put(head)
}

func (e *ErrorsCSV) write(line int, cells []string, errs, warns []Error) {
	e.buf = e.buf[:0]
	if line > 0 {
		e.buf = append(e.buf, strconv.Itoa(line))
	} else {
		e.buf = append(e.buf, "")
	}
	for i := range e.width {
		if e.skip[i] {
			continue
		}
		v := ""
		if i < len(cells) {
			v = cells[i]
			switch {
			case e.card[i]:
				v = maskCard(v)
			case e.kinds[i] == kindNumber:
				v = e.dialect.Decimal(safeCell(v, kindNumber))
			default:
				v = safeCell(v, e.kinds[i])
			}
		}
		e.buf = append(e.buf, v)
	}
	// Cells beyond the header (a record with too many fields) are kept too,
	// so finance sees what is there.
	for i := e.width; i < len(cells); i++ {
		e.buf = append(e.buf, safeCell(cells[i], kindText))
	}
	var cols, msgs []string
	for _, x := range errs {
		if x.Column != "" && !containsString(cols, x.Column) {
			cols = append(cols, x.Column)
		}
		msgs = append(msgs, prefixColumn(x, ""))
	}
	for _, x := range warns {
		if !containsString(cols, x.Column) {
			cols = append(cols, x.Column)
		}
		msgs = append(msgs, prefixColumn(x, "warning: "))
	}
	e.buf = append(e.buf, safeCell(strings.Join(cols, "; "), kindText), safeCell(strings.Join(msgs, "; "), kindText))
	e.put(e.buf)
}

func (e *ErrorsCSV) put(rec []string) {
	if e.err == nil {
		e.err = e.w.Write(rec)
	}
}

// Close flushes the report and returns the first write error.
func (e *ErrorsCSV) Close() error {
	if e.w != nil {
		e.w.Flush()
		if e.err == nil {
			e.err = e.w.Error()
		}
	}
	return e.err
}

func prefixColumn(x Error, prefix string) string {
	if x.Column == "" {
		return prefix + x.Message
	}
	return x.Column + ": " + prefix + x.Message
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// maskCard shows a card number cell as BIN******last4 (or ****last4 when it
// is too short to be a card number), never the whole number.
func maskCard(v string) string {
	if scientific(strings.TrimSpace(v)) {
		return v // the digits are lost already
	}
	var d []byte
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			d = append(d, v[i])
		}
	}
	switch {
	case len(d) == 0:
		return safeCell(v, kindText)
	case len(d) >= 13:
		return payout.MaskPAN(string(d[:6]), string(d[len(d)-4:]))
	case len(d) >= 4:
		return "****" + string(d[len(d)-4:])
	default:
		return "****"
	}
}

// safeCell masks card numbers inside a cell and guards it against being
// run as a formula (spreadsheet.SafeCSVCell); amounts and phone numbers keep
// their sign when the rest is a plain number (spreadsheet.SafeNumber).
func safeCell(v string, kind columnKind) string {
	v = cardmask.Redact(v)
	if kind == kindNumber || kind == kindPhone {
		return spreadsheet.SafeNumber(v)
	}
	return spreadsheet.SafeCSVCell(v)
}
