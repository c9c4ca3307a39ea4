// Package batch reads and validates payout files (format version 1, see the
// README's "Payout file format"): the header, the encoding and delimiter,
// and every column rule of every row. It streams: memory grows with the
// number of distinct references, never with the file's bytes.
//
// Validate reads a file once and reports every error with its physical line;
// Rows reads a file that Validate accepted a second time and yields its rows
// as payout.Row values for publishing.
package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// DefaultMaxAmount is the per-row limit when Options.MaxAmount is zero:
// 1 000 000.00 in the row's currency.
const DefaultMaxAmount int64 = 1_000_000_00

// DefaultMaxErrors is how many errors (and, separately, warnings) a Result
// keeps when Options.MaxErrors is zero. OnError still sees every error.
const DefaultMaxErrors = 10_000

// Options configure reading a payout file. The zero value is usable.
type Options struct {
	// MaxAmount is the per-row limit in hundredths of a major unit (the same
	// number in every currency); 0 means DefaultMaxAmount.
	MaxAmount int64
	// ExpectCount, when positive, is the number of rows the file must have.
	ExpectCount int
	// ExpectTotal, when set, is the decimal total the file must add up to in
	// its one currency ("1234.56"; a file in several currencies fails).
	ExpectTotal string
	// Now is the clock for age checks; default time.Now.
	Now func() time.Time
	// MaxErrors caps Result.Errors and Result.Warnings; 0 means
	// DefaultMaxErrors, negative keeps everything.
	MaxErrors int
	// OnError, if set, is called for every error in line order (file-level
	// errors come last), including those beyond MaxErrors.
	OnError func(Error)
	// OnWarning, like OnError, is called for every warning.
	OnWarning func(Error)
	// Name is the batch's name given with the upload (ingest --name, the
	// form field name), checked as free text: no card number, no control
	// or invisible characters, at most 255 characters. Its problems are
	// file-level errors in column "name".
	Name string
	// OnRecord, if set, is called by Validate for the header, for every data
	// record and, at the end, once for file-level errors (see Record). The
	// errors report (ErrorsCSV) is such a hook. The record is only valid
	// during the call.
	OnRecord func(*Record)
	// Method, when set, is the method of every row that names none (a file
	// without a method column, or an empty method cell: ingest --method).
	// Without it such a row's method is told by its filled columns
	// (card_number: card, card_token: token, number_hash and the other
	// hashes: encrypted_card, the transfer columns: transfer); a row with
	// the columns of two methods is an error naming them.
	Method payout.Method
	// Sheet names the sheet of an XLSX workbook to read (ingest --sheet,
	// case-insensitive); "" reads the first.
	Sheet string
	// Lang is the language of the messages added since format version 1
	// had only English ones: "ru" for Russian, anything else English.
	// Older messages are English in either.
	Lang string
}

// ParseLang reads a message language: "ru" or "en" (case-insensitive),
// "" for the default (English).
func ParseLang(s string) (string, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "", "en", "ru":
		return l, nil
	}
	return "", fmt.Errorf("language %q: use ru or en", s)
}

// tr picks a message in the language lang: Russian for "ru", else English.
func tr(lang, en, ru string) string {
	if lang == "ru" {
		return ru
	}
	return en
}

// check refuses options no file can be read with.
func (o Options) check() error {
	if o.Method != "" {
		if _, ok := payout.ParseMethod(string(o.Method)); !ok || strings.ToLower(string(o.Method)) != string(o.Method) {
			return fmt.Errorf("method %q: use card, token, encrypted_card or transfer", o.Method)
		}
	}
	return nil
}

func (o Options) maxAmount() int64 {
	if o.MaxAmount > 0 {
		return o.MaxAmount
	}
	return DefaultMaxAmount
}

func (o Options) maxErrors() int {
	if o.MaxErrors == 0 {
		return DefaultMaxErrors
	}
	return o.MaxErrors
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Error is one problem found in a file.
type Error struct {
	// Line is the physical line of the file (a quoted field with line breaks
	// spans several); 0 for problems of the whole file.
	Line int `json:"line,omitempty"`
	// Column is the column's name, or "" for problems of a row or the file.
	Column string `json:"column,omitempty"`
	// Message says what is wrong. It never holds a full card number: every
	// value it quotes is masked (424242******4242).
	Message string `json:"message"`
}

// String formats the error as a compiler would, without the file name:
// "14: amount: "1500.555" has more than 2 decimal places".
func (e Error) String() string {
	s := ""
	if e.Line > 0 {
		s = strconv.Itoa(e.Line) + ": "
	}
	if e.Column != "" {
		s += e.Column + ": "
	}
	return s + e.Message
}

// RecordKind tells what a Record passed to Options.OnRecord is.
type RecordKind int

// Record kinds.
const (
	RecordHeader RecordKind = iota // the header row; Cells are the column names as written
	RecordRow                      // a data record
	RecordFile                     // file-level errors, once at the end (Cells nil)
	RecordTotals                   // the totals line at the end, when it has errors
)

// Record is what Options.OnRecord sees.
type Record struct {
	Kind      RecordKind
	Delimiter rune     // the file's delimiter (0 when the file was rejected before its header)
	Line      int      // physical line where the record starts
	Row       int      // 1-based data row number (RecordRow only)
	Header    []string // the header as written; nil when the file was rejected before its header
	Cells     []string // the record's cells as read, in file order
	Errors    []Error
	Warnings  []Error
}

// Result is what Validate found.
type Result struct {
	Format    string         `json:"format,omitempty"`    // "csv" or "xlsx"
	Sheet     string         `json:"sheet,omitempty"`     // the sheet read, for a workbook
	Encoding  string         `json:"encoding,omitempty"`  // "utf-8", "utf-8 with BOM" or "windows-1251"
	Delimiter string         `json:"delimiter,omitempty"` // ",", ";" or "\t"
	Columns   []string       `json:"columns,omitempty"`   // the header, normalised
	Rows      int            `json:"rows"`                // data rows (blank rows are skipped)
	Totals    money.Totals   `json:"totals"`              // per currency, in minor units, over rows with a valid amount
	ByMethod  map[string]int `json:"by_method,omitempty"`
	SHA256    string         `json:"file_sha256"` // of the file's bytes, hex
	// ContentSHA256 is the SHA-256 (hex) of the file's bytes without a
	// UTF-8 BOM, with CRLF and CR as LF and the final line breaks as one
	// LF: the same payroll saved again with other line endings has the
	// same content digest (and so the same batch id), not the same SHA256.
	// For a workbook it is the SHA-256 of its records as read (each cell
	// as the validator sees it), written as CSV (",", LF): the payroll
	// saved again, which changes the workbook's bytes, names the same
	// batch, and so does the same table uploaded as that CSV.
	ContentSHA256 string `json:"content_sha256"`
	Size          int64  `json:"size"`
	// TotalsLine is the totals line at the end of the file, if it has one
	// (not a payout; checked against the rows above it).
	TotalsLine   *TotalsLine `json:"totals_line,omitempty"`
	Errors       []Error     `json:"errors,omitempty"`   // the first Options.MaxErrors errors
	ErrorCount   int         `json:"error_count"`        // all errors
	Warnings     []Error     `json:"warnings,omitempty"` // the first Options.MaxErrors warnings
	WarningCount int         `json:"warning_count,omitempty"`
	// Sums are the hashes of the records read, for RowsChecked.
	Sums *RecordSums `json:"-"`
}

// TotalsLine is what the totals line at the end of a file says.
type TotalsLine struct {
	Line   int    `json:"line"`
	Label  string `json:"label,omitempty"`  // "Итого", as written
	Rows   int    `json:"rows,omitempty"`   // the number of rows it gives
	Amount string `json:"amount,omitempty"` // the total it gives, "250000.00 RUB"
}

// Valid reports whether the file has no blocking error.
func (r *Result) Valid() bool { return r.ErrorCount == 0 }

// FileSHA256 returns the file digest as bytes.
func (r *Result) FileSHA256() []byte {
	b, _ := hex.DecodeString(r.SHA256)
	return b
}

// ContentDigest returns the content digest as bytes (for payout.BatchID).
func (r *Result) ContentDigest() []byte {
	b, _ := hex.DecodeString(r.ContentSHA256)
	return b
}

// Validate reads the whole file from r and checks every rule of the format.
// A file with problems is not an error: they are in the Result. The error is
// for reading failures only.
func Validate(r io.Reader, opts Options) (*Result, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	h := sha256.New()
	content := newContentHasher()
	cr := &countingReader{r: io.TeeReader(r, io.MultiWriter(h, content))}
	res := &Result{Totals: money.Totals{}, ByMethod: map[string]int{}}
	s := newScanner(opts, res, true)
	err := s.run(cr, nil)
	// Drain what the scanner did not read (it stops at a rejected
	// encoding) so the digest and size cover the whole file.
	if _, derr := io.Copy(io.Discard, cr); err == nil && derr != nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("read payout file: %w", err)
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	res.ContentSHA256 = hex.EncodeToString(content.Sum())
	if s.digest != nil {
		s.digestCSV.Flush()
		res.ContentSHA256 = hex.EncodeToString(s.digest.Sum(nil))
	}
	res.Size = cr.n
	return res, nil
}

// SealFunc seals a card number of a row (1-based row number). ingest binds
// it to the batch: secret.Sealer.Seal(pan, batch+"/"+row).
type SealFunc func(pan string, row int) string

// Rows reads a file that Validate accepted and yields its rows in file order,
// with card numbers sealed by seal. The yielded *payout.Row itself is reused
// (copy it to keep it; what it points to is not reused). Batch is left empty for the caller. If the
// file now has an error (it changed since validation), Rows yields it as
// the error and stops.
func Rows(r io.Reader, opts Options, seal SealFunc) iter.Seq2[*payout.Row, error] {
	return RowsChecked(r, opts, nil, seal)
}

// RowsChecked is Rows of a file Validate accepted with the record sums it
// returned (Result.Sums): every record is compared with its sum before it
// is read, and the rules that only find errors are not applied a second
// time (the rows are built as Rows builds them). A record that is not the
// one validated, or records more or fewer, stop it with an error before
// that record's row is yielded. With nil sums it is Rows.
func RowsChecked(r io.Reader, opts Options, sums *RecordSums, seal SealFunc) iter.Seq2[*payout.Row, error] {
	return func(yield func(*payout.Row, error) bool) {
		if err := opts.check(); err != nil {
			yield(nil, err)
			return
		}
		res := &Result{Totals: money.Totals{}, ByMethod: map[string]int{}}
		opts.OnError, opts.OnWarning, opts.OnRecord = nil, nil, nil
		opts.ExpectCount, opts.ExpectTotal, opts.Name = 0, "", ""
		s := newScanner(opts, res, false)
		s.seal = seal
		if sums != nil {
			s.sums, s.trusted = sums, true
		}
		stopped := false
		err := s.run(r, func(row *payout.Row) bool {
			if !yield(row, nil) {
				stopped = true
				return false
			}
			return true
		})
		if stopped {
			return
		}
		if err != nil {
			yield(nil, fmt.Errorf("read payout file: %w", err))
			return
		}
		if res.ErrorCount > 0 {
			yield(nil, fmt.Errorf("payout file changed since it was validated: %s", res.Errors[0]))
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
