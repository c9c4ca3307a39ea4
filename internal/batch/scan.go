package batch

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"slices"
	"strings"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/payout"
)

// sniffSize is how much of the file decides its encoding and delimiter.
const sniffSize = 64 << 10

// Encodings a file may have.
const (
	EncodingUTF8    = "utf-8"
	EncodingUTF8BOM = "utf-8 with BOM"
	EncodingCP1251  = "windows-1251"
)

// refKey identifies a reference by 128 bits of two seeded hashes: a
// million references cost a fraction of the memory of their strings, and a
// false duplicate is as likely as guessing a 128-bit key.
type refKey [2]uint64

func (s *scanner) refKey(ref string) refKey {
	return refKey{maphash.String(s.seed[0], ref), maphash.String(s.seed[1], ref)}
}

// records is where the scanner reads records from: a CSV reader, or the
// rows of a sheet of a workbook (sheetRecords).
type records interface {
	// Read returns the next record, io.EOF after the last.
	Read() ([]string, error)
	// FieldPos is where a field of the last record starts: line (a sheet's
	// row number) and column.
	FieldPos(field int) (line, column int)
}

// scanner reads one file: the sniffing, the records and the rules.
type scanner struct {
	opts  Options
	res   *Result
	pass1 bool     // validation pass: uniqueness, control totals, hooks
	seal  SealFunc // pass 2: seals card numbers

	// sums are the records' hashes: pass 1 appends them, a pass 2 given
	// them (RowsChecked) compares every record with its sum before
	// reading it and then skips the checks that only find errors
	// (trusted): the record is the one validated.
	sums    *RecordSums
	sumAt   int
	trusted bool

	cr        records
	csv       *csv.Reader   // the CSV reader cr is, nil for a workbook
	sheet     *sheetRecords // the sheet cr is, nil for CSV
	delim     rune          // the CSV file's delimiter, 0 for a workbook
	digest    hash.Hash     // pass 1 of a workbook: the content digest of its records
	digestCSV *csv.Writer   // writes the records into digest
	lay       *layout
	header    []string // as written
	rec       []string // current record
	line      int      // current record's first line
	index     int      // current data row number

	errs  []Error // current record's errors
	warns []Error
	bad   [numCols]bool // the cell already has an error

	refs     map[refKey]int32 // reference → line (pass 1)
	seed     [2]maphash.Seed
	byMethod [4]int           // in payout.Methods order
	limits   map[string]int64 // currency → per-row limit in minor units
	row      payout.Row
	digits   []byte

	truncated bool // a record longer than MaxRecordBytes stopped the reading

	amountErrors int            // rows whose amount has an error: no sum to check a totals line with
	held         *heldRecord    // a record that may be the totals line
	pos          []int          // lines of the current record's fields when it is not the reader's last
	probs        []sheetProblem // the current record's sheet problems
}

func newScanner(opts Options, res *Result, pass1 bool) *scanner {
	s := &scanner{opts: opts, res: res, pass1: pass1, limits: map[string]int64{}}
	if pass1 {
		s.refs = make(map[refKey]int32, 1024)
		s.seed = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
		res.Sums = &RecordSums{seed: maphash.MakeSeed(), sums: make([]uint32, 0, 1024)}
		s.sums = res.Sums
	}
	return s
}

// run reads the file; emit (pass 2) receives every valid row and may stop
// the run by returning false.
func (s *scanner) run(r io.Reader, emit func(*payout.Row) bool) error {
	br := bufio.NewReaderSize(r, sniffSize)
	head, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return err
	}
	if isZIP(head) {
		return s.runWorkbook(br, emit)
	}
	if msg := otherFormat(head, s.opts.Lang); msg != "" {
		s.fileError(Error{Message: msg})
		s.finishFile()
		return nil
	}
	enc, msg := sniffEncoding(head)
	if msg != "" {
		s.fileError(Error{Message: msg})
		s.finishFile()
		return nil
	}
	s.res.Format = FormatCSV
	s.res.Encoding = enc
	var text io.Reader = br
	switch enc {
	case EncodingUTF8BOM:
		br.Discard(3)
		head = head[3:]
	case EncodingCP1251:
		text = bufio.NewReaderSize(transform.NewReader(br, charmap.Windows1251.NewDecoder()), sniffSize)
	}
	delim := sniffDelimiter(head)
	s.res.Delimiter = string(delim)
	s.delim = delim

	s.csv = csv.NewReader(newRecordLimiter(text, delim))
	s.csv.Comma = delim
	s.csv.ReuseRecord = true
	s.csv.LazyQuotes = false
	s.csv.FieldsPerRecord = 0 // the header's count, checked for every record
	s.cr = s.csv
	if s.pass1 {
		// Validation is the ingest's one phase on one core: the CSV is
		// parsed (and hashed, below it) beside the rules.
		pf := newPrefetcher(s.csv)
		defer pf.stop()
		s.cr = pf
	}
	return s.readRecords(emit)
}

// readRecords reads the header and every record. A record that may be a
// totals line (totalsCandidate) is held until the next one: followed by
// another it is a row, at the end it is the file's totals line.
func (s *scanner) readRecords(emit func(*payout.Row) bool) error {
	if err := s.readHeader(); err != nil {
		return err
	}
	if s.lay == nil { // no header at all
		s.finishFile()
		return nil
	}
	for {
		rec, err := s.cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var long *recordTooLong
		if errors.As(err, &long) {
			if !s.releaseHeld(emit) {
				return nil
			}
			s.truncated = true
			s.fileError(Error{Line: long.start, Message: long.message()})
			if !s.pass1 {
				s.flush() // Rows reports it as an error
			}
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				if s.sheet != nil {
					if !s.releaseHeld(emit) {
						return nil
					}
					s.truncated = true
					s.fileError(Error{Message: s.sheet.readError(err)})
					if !s.pass1 {
						s.flush()
					}
					break
				}
				return err
			}
			if errors.Is(pe.Err, csv.ErrFieldCount) && blank(rec) {
				continue
			}
			if !s.releaseHeld(emit) {
				return nil
			}
			s.index++
			s.line = pe.StartLine
			s.syntaxError(pe, len(rec))
			s.endRecord(rec)
		} else {
			var probs []sheetProblem
			if s.sheet != nil {
				probs = s.sheet.probs
			}
			if blank(rec) && len(probs) == 0 {
				continue
			}
			s.hashRecord(rec)
			if !s.sumRecord(rec, line0(s.cr)) {
				return nil
			}
			if !s.releaseHeld(emit) {
				return nil
			}
			line, _ := s.cr.FieldPos(0)
			if s.totalsCandidate(rec) {
				s.hold(rec, line, probs)
				continue
			}
			if !s.processRow(rec, line, nil, probs, emit) {
				return nil
			}
		}
		if !s.pass1 && s.res.ErrorCount > 0 {
			return nil
		}
	}
	if s.trusted && s.sumAt != len(s.sums.sums) {
		s.changed(0)
		return nil
	}
	if h := s.held; h != nil {
		if s.index == 0 || s.truncated { // a totals line totals the rows above it
			if !s.releaseHeld(emit) {
				return nil
			}
		} else {
			s.held = nil
			if s.pass1 { // pass 2 reads a file whose totals line checked out
				s.checkTotalsLine(h)
			}
		}
	}
	s.res.Rows = s.index
	for i, n := range s.byMethod {
		if n > 0 {
			s.res.ByMethod[string(payout.Methods[i])] = n
		}
	}
	if s.pass1 {
		s.finishFile()
	}
	return nil
}

// processRow checks a data record and passes a valid row to emit; false
// when emit stopped the run. pos holds the line of every field of a
// record that is no longer the reader's last (nil: ask the reader).
func (s *scanner) processRow(rec []string, line int, pos []int, probs []sheetProblem, emit func(*payout.Row) bool) bool {
	s.index++
	s.line = line
	s.rec = rec
	s.pos = pos
	s.probs = probs
	ok := s.checkRow()
	s.endRecord(rec)
	s.pos, s.probs = nil, nil
	return !(ok && emit != nil && !emit(&s.row))
}

// fieldLine is the line where field p of the current record starts.
func (s *scanner) fieldLine(p int) int {
	if s.pos != nil {
		if p < len(s.pos) {
			return s.pos[p]
		}
		return s.line
	}
	line, _ := s.cr.FieldPos(p)
	return line
}

// RecordSums are 32-bit seeded hashes of the records Validate read (the
// header first, then every record that is not blank), in order: 4 bytes a
// record, 4 MB for a million rows. RowsChecked given them reads the file
// again without checking its rows a second time, and stops with an error
// at the first record that is not the one validated.
type RecordSums struct {
	seed maphash.Seed
	sums []uint32
}

// Len is the number of records summed.
func (r *RecordSums) Len() int { return len(r.sums) }

// sumRecord hashes a record: pass 1 keeps the sum, a trusted pass 2
// compares it and reports whether the record is the one validated.
func (s *scanner) sumRecord(rec []string, line int) bool {
	if s.sums == nil {
		return true
	}
	var h maphash.Hash
	h.SetSeed(s.sums.seed)
	for _, f := range rec {
		h.WriteString(f)
		h.WriteByte(0)
	}
	v := uint32(h.Sum64())
	if s.pass1 {
		s.sums.sums = append(s.sums.sums, v)
		return true
	}
	if s.sumAt >= len(s.sums.sums) || s.sums.sums[s.sumAt] != v {
		s.changed(line)
		return false
	}
	s.sumAt++
	return true
}

// changed reports (pass 2) that the file is not the one validated.
func (s *scanner) changed(line int) {
	s.fileError(Error{Line: line, Message: "the record is not the one validated"})
	if line == 0 {
		s.errs[len(s.errs)-1].Message = "the file has other records than the one validated"
	}
	s.flush()
}

func line0(r records) int {
	line, _ := r.FieldPos(0)
	return line
}

// readHeader reads the first record and maps its columns.
func (s *scanner) readHeader() error {
	rec, err := s.cr.Read()
	if errors.Is(err, io.EOF) {
		if s.sheet != nil {
			s.fileError(Error{Message: tr(s.opts.Lang, fmt.Sprintf("sheet %s is empty; a header row is required", quote(s.res.Sheet)),
				fmt.Sprintf("лист %s пуст; нужна строка заголовка", quote(s.res.Sheet)))})
			return nil
		}
		s.fileError(Error{Message: "the file is empty; a header row is required"})
		return nil
	}
	var long *recordTooLong
	if errors.As(err, &long) {
		s.fileError(Error{Line: long.start, Message: "header: " + long.message()})
		return nil
	}
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			if s.sheet != nil {
				s.fileError(Error{Message: s.sheet.readError(err)})
				return nil
			}
			return err
		}
		s.fileError(Error{Line: pe.Line, Message: "header: " + syntaxMessage(pe.Err)})
		return nil
	}
	line, _ := s.cr.FieldPos(0)
	s.header = slices.Clone(rec)
	s.hashRecord(rec)
	if !s.sumRecord(rec, line) {
		return nil
	}
	var errs []Error
	if s.sheet != nil {
		errs = s.sheet.headerErrors(line)
	}
	lay, herrs := mapHeader(s.header, line)
	errs = append(errs, herrs...)
	if s.sheet != nil {
		s.sheet.setLayout(lay)
	}
	s.lay = lay
	s.res.Columns = lay.names
	for _, c := range []col{colReference, colAmount} {
		if lay.pos[c] < 0 {
			errs = append(errs, Error{Line: line, Column: c.String(), Message: "required column is missing from the header"})
		}
	}
	s.errs = errs
	s.maskErrors()
	if s.opts.OnRecord != nil {
		s.opts.OnRecord(&Record{Kind: RecordHeader, Delimiter: s.delim, Line: line, Header: s.header, Cells: s.header, Errors: errs})
	}
	s.flush()
	return nil
}

// endRecord reports the current record's errors and warnings.
func (s *scanner) endRecord(rec []string) {
	slices.SortStableFunc(s.errs, func(a, b Error) int { return a.Line - b.Line })
	s.maskErrors()
	if s.opts.OnRecord != nil {
		s.opts.OnRecord(&Record{Kind: RecordRow, Delimiter: s.delim, Line: s.line, Row: s.index, Header: s.header, Cells: rec,
			Errors: s.errs, Warnings: s.warns})
	}
	s.flush()
}

// maskErrors masks any card number left in the current errors and
// warnings. Messages quote values through quote, which masks them already;
// this is the last line of defence for anything that does not.
func (s *scanner) maskErrors() {
	if len(s.errs) == 0 && len(s.warns) == 0 {
		return
	}
	for _, list := range [][]Error{s.errs, s.warns} {
		for i := range list {
			list[i].Column = cardmask.Redact(list[i].Column)
			list[i].Message = cardmask.Redact(list[i].Message)
		}
	}
}

func (s *scanner) flush() {
	s.maskErrors()
	max := s.opts.maxErrors()
	for _, e := range s.errs {
		s.res.ErrorCount++
		if max < 0 || len(s.res.Errors) < max {
			s.res.Errors = append(s.res.Errors, e)
		}
		if s.opts.OnError != nil {
			s.opts.OnError(e)
		}
	}
	for _, w := range s.warns {
		s.res.WarningCount++
		if max < 0 || len(s.res.Warnings) < max {
			s.res.Warnings = append(s.res.Warnings, w)
		}
		if s.opts.OnWarning != nil {
			s.opts.OnWarning(w)
		}
	}
	s.errs, s.warns = s.errs[:0], s.warns[:0]
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// syntaxError reports a record that is not well-formed CSV.
func (s *scanner) syntaxError(pe *csv.ParseError, fields int) {
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		s.errs = append(s.errs, Error{Line: pe.StartLine,
			Message: fmt.Sprintf("has %d fields, the header has %d (check the delimiter %q and quotes)", fields, len(s.header), s.res.Delimiter)})
		return
	}
	s.errs = append(s.errs, Error{Line: pe.Line, Message: syntaxMessage(pe.Err)})
}

func syntaxMessage(err error) string {
	switch {
	case errors.Is(err, csv.ErrBareQuote):
		return `a quote (") inside a field that is not quoted; put the whole field in quotes and double the inner quote ("")`
	case errors.Is(err, csv.ErrQuote):
		return `a quoted field is not closed properly (a missing or extra ")`
	}
	return err.Error()
}
