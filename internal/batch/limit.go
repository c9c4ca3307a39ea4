package batch

import (
	"bytes"
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
	limit int // MaxRecordBytes; smaller in tests
	state int
	n     int // bytes of the current record so far
	line  int // current physical line
	start int // first line of the current record
	err   error
}

func newRecordLimiter(r io.Reader, delim rune) *recordLimiter {
	return &recordLimiter{r: r, delim: byte(delim), limit: MaxRecordBytes, line: 1, start: 1}
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	if k := l.scan(p[:n]); k >= 0 {
		return k, l.err
	}
	return n, err
}

// scan follows the bytes of p. If the current record passes the limit, it
// sets l.err and returns how many bytes of p are within it; else -1. Runs
// of bytes that change nothing are skipped with IndexByte.
func (l *recordLimiter) scan(p []byte) int {
	for i := 0; i < len(p); {
		// j: the next byte that may change the state.
		j := len(p)
		switch l.state {
		case lsQuoted:
			if k := bytes.IndexByte(p[i:], '"'); k >= 0 {
				j = i + k
			}
		case lsQuoteInQuoted:
			j = i
		default: // field start, unquoted, rest of a bad line
			if k := bytes.IndexByte(p[i:], '\n'); k >= 0 {
				j = i + k
			}
			if l.state != lsSkipLine {
				if k := bytes.IndexByte(p[i:j], '"'); k >= 0 {
					j = i + k
				}
			}
		}
		if run := p[i:j]; len(run) > 0 {
			if l.n+len(run) > l.limit {
				k := l.limit - l.n // bytes of the run within the limit
				if l.state == lsQuoted {
					l.line += bytes.Count(run[:k], []byte{'\n'})
				}
				l.err = &recordTooLong{start: l.start, line: l.line}
				return i + k
			}
			l.n += len(run)
			switch l.state {
			case lsQuoted:
				l.line += bytes.Count(run, []byte{'\n'})
			case lsFieldStart, lsUnquoted:
				if run[len(run)-1] == l.delim {
					l.state = lsFieldStart
				} else {
					l.state = lsUnquoted
				}
			}
		}
		if j == len(p) {
			break
		}
		if !l.step(p[j]) {
			return j
		}
		i = j + 1
	}
	return -1
}

// step follows one byte; it reports false (and sets l.err) when the
// record passes the limit with it.
func (l *recordLimiter) step(c byte) bool {
	l.n++
	if l.n > l.limit {
		l.err = &recordTooLong{start: l.start, line: l.line}
		return false
	}
	if c == '\n' {
		l.line++
		if l.state != lsQuoted {
			l.state, l.n, l.start = lsFieldStart, 0, l.line
		}
		return true
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
	return true
}
