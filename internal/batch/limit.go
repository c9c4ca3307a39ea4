package batch

import (
	"fmt"
	"io"
)

// MaxRecordBytes caps one record of a payout file (a row, with every line
// of its quoted fields), in bytes of UTF-8 text. A row is a few hundred
// bytes; the cap is checked while the file is read, so one endless field
// (a 100 MB description, a quote that is never closed) costs no memory
// beyond it.
const MaxRecordBytes = 64 << 10

// recordTooLong is the error recordLimiter returns.
type recordTooLong struct {
	start, line int // the record's first line; the line where it passed the cap
}

func (e *recordTooLong) Error() string {
	return fmt.Sprintf("record starting on line %d is longer than %d bytes", e.start, MaxRecordBytes)
}

// message is the file-level error the scanner reports.
func (e *recordTooLong) message() string {
	if e.line == e.start {
		return fmt.Sprintf("the line is longer than %d KiB; a row of a payout file is a few hundred bytes, so this is not a payout file or a cell holds far too much text. The rest of the file was not read", MaxRecordBytes>>10)
	}
	return fmt.Sprintf("the row starting on this line is still not finished on line %d and is longer than %d KiB: a quoted field is probably not closed (a missing \"). The rest of the file was not read", e.line, MaxRecordBytes>>10)
}

// Quote states of recordLimiter, as encoding/csv reads a record
// (LazyQuotes off).
const (
	lsFieldStart = iota
	lsUnquoted
	lsQuoted
	lsQuoteInQuoted // a quote inside a quoted field: "" or its end
	lsSkipLine      // a quote error: csv drops the rest of the line
)

// recordLimiter passes text through and fails once a record is longer
// than MaxRecordBytes. It follows quotes as encoding/csv does, so a line
// break inside a quoted field does not end the record.
type recordLimiter struct {
	r     io.Reader
	delim byte
	state int
	n     int // bytes of the current record so far
	line  int // current physical line
	start int // first line of the current record
	err   error
}

func newRecordLimiter(r io.Reader, delim rune) *recordLimiter {
	return &recordLimiter{r: r, delim: byte(delim), line: 1, start: 1}
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		c := p[i]
		l.n++
		if l.n > MaxRecordBytes {
			l.err = &recordTooLong{start: l.start, line: l.line}
			return i, l.err
		}
		if c == '\n' {
			l.line++
			if l.state == lsQuoted {
				continue // a line break inside the field
			}
			l.state, l.n, l.start = lsFieldStart, 0, l.line
			continue
		}
		switch l.state {
		case lsFieldStart:
			switch c {
			case '"':
				l.state = lsQuoted
			case l.delim:
			default:
				l.state = lsUnquoted
			}
		case lsUnquoted:
			switch c {
			case l.delim:
				l.state = lsFieldStart
			case '"':
				l.state = lsSkipLine
			}
		case lsQuoted:
			if c == '"' {
				l.state = lsQuoteInQuoted
			}
		case lsQuoteInQuoted:
			switch c {
			case '"':
				l.state = lsQuoted
			case l.delim:
				l.state = lsFieldStart
			case '\r':
			default:
				l.state = lsSkipLine
			}
		}
	}
	return n, err
}
