package batch

import (
	"io"
	"strings"

	"github.com/gocarina/gocsv"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// ErrorsCSV writes the errors report finance fixes and uploads again: the
// original header and rows in file order, plus error_column (the columns
// with a problem, "; "-separated) and error_message (one "column: message"
// per problem, "; "-separated; warnings start with "warning:"). One report
// line per file record, so the corrected report is a valid upload: the
// reader ignores error_column and error_message. Header problems follow the
// header and file-level problems come last, on lines with empty cells.
//
// The report never carries a full card number: card_number cells are masked
// (424242******4242), and so are card numbers inside other cells
// (cardmask.Redact).
// Cells a spreadsheet would run as a formula get a leading apostrophe. It is
// written in UTF-8 with a BOM (so Excel reads Cyrillic) with the input's
// delimiter.
type ErrorsCSV struct {
	w      *gocsv.SafeCSVWriter
	out    io.Writer
	header bool
	width  int          // original columns
	skip   []bool       // columns of an earlier report, dropped
	kinds  []columnKind // per original column
	card   []bool
	buf    []string
	err    error
}

// NewErrorsCSV returns a report writer; pass its Record method as
// Options.OnRecord and call Close when Validate returns.
func NewErrorsCSV(w io.Writer) *ErrorsCSV {
	return &ErrorsCSV{out: w}
}

// Record writes one record of the report.
func (e *ErrorsCSV) Record(r *Record) {
	if e.err != nil {
		return
	}
	if !e.header {
		e.start(r)
	}
	switch r.Kind {
	case RecordHeader:
		if len(r.Errors) > 0 {
			e.write(nil, r.Errors, nil)
		}
	case RecordRow:
		e.write(r.Cells, r.Errors, r.Warnings)
	case RecordFile:
		e.write(nil, r.Errors, nil)
	}
}

func (e *ErrorsCSV) start(r *Record) {
	e.header = true
	delim := ','
	if r.Delimiter != 0 {
		delim = r.Delimiter
	}
	if _, err := io.WriteString(e.out, "\uFEFF"); err != nil {
		e.err = err
		return
	}
	cw := gocsv.DefaultCSVWriter(e.out)
	cw.Comma = delim
	e.w = cw
	e.width = len(r.Header)
	e.skip = make([]bool, e.width)
	e.kinds = make([]columnKind, e.width)
	e.card = make([]bool, e.width)
	var head []string
	for i, h := range r.Header {
		n := normalizeName(h)
		if n == ErrorColumnName || n == ErrorMessageName {
			e.skip[i] = true
			continue
		}
		if c, ok := columnByName[foldName(n)]; ok {
			e.kinds[i] = columnKinds[c]
			e.card[i] = c == colCardNumber
		}
		head = append(head, safeCell(h, kindText))
	}
	head = append(head, ErrorColumnName, ErrorMessageName)
	e.put(head)
}

func (e *ErrorsCSV) write(cells []string, errs, warns []Error) {
	e.buf = e.buf[:0]
	for i := range e.width {
		if e.skip[i] {
			continue
		}
		v := ""
		if i < len(cells) {
			v = cells[i]
			if e.card[i] {
				v = maskCard(v)
			} else {
				v = safeCell(v, e.kinds[i])
			}
		}
		e.buf = append(e.buf, v)
	}
	// Cells beyond the header (a record with too many fields) are kept too,
	// so nothing the user wrote is lost.
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
// run as a formula (spreadsheet.SafeCell); amounts and phone numbers keep
// their sign when the rest is a plain number (spreadsheet.SafeNumber), so
// the report stays an upload.
func safeCell(v string, kind columnKind) string {
	v = cardmask.Redact(v)
	if kind == kindNumber || kind == kindPhone {
		return spreadsheet.SafeNumber(v)
	}
	return spreadsheet.SafeCell(v)
}
