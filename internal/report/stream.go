package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Source is a report read as it is written: its rows are produced one at
// a time, in row order, while the file is written, so that a report of
// any size costs the memory of a few rows (issue 17: a 100k-row report
// held ~250 MB while it was built whole). The ledger streams a batch's
// rows from its database into one; a Report held in memory is one too
// (Report.Source).
type Source struct {
	Batch string // the batch's id (FileName)
	Lang  string // the language of the report's words (reason.Lang)
	// Rows produces the report's rows in order: it calls start once,
	// before the first row, with the meta names the rows have (sorted,
	// the CSV header's), then fn for every row, and returns the report
	// (batch, as of, summary; no rows) once the last row was produced.
	// fn nil asks for the summary only. Each call reads the rows again.
	// The *Row given to fn is fn's only for the call (the next row may be
	// laid out into it): fn copies what it keeps.
	Rows func(start func(metaKeys []string) error, fn func(*Row) error) (*Report, error)
	// head, when set, is the whole report but its rows, known before them
	// (a report in memory): JSON is then written without a spool.
	head *Report
}

// Source is the report as a Source over its rows in memory.
func (rep *Report) Source() *Source {
	return &Source{Batch: rep.Batch.ID, Lang: rep.Lang, head: rep,
		Rows: func(start func([]string) error, fn func(*Row) error) (*Report, error) {
			if start != nil {
				if err := start(rep.metaKeys()); err != nil {
					return nil, err
				}
			}
			if fn != nil {
				for i := range rep.Rows {
					if err := fn(&rep.Rows[i]); err != nil {
						return nil, err
					}
				}
			}
			return rep, nil
		}}
}

// FileName is the report's download name in format (Report.FileName).
func (s *Source) FileName(format string) string {
	return (&Report{Batch: Batch{ID: s.Batch}, Lang: s.Lang}).FileName(format)
}

// Write writes the report in format in the default layout.
func (s *Source) Write(w io.Writer, format string) error { return s.WriteLayout(w, format, Layout{}) }

// WriteLayout writes the report in format (Formats), in the layout l, as
// its rows are produced: CSV straight to w; JSON and XLSX, whose rows come
// after their summary (and XLSX's after its columns' widths), through a
// spool file that holds the rows until the summary is known. Nothing is
// written to w when producing the rows fails before the first one.
func (s *Source) WriteLayout(w io.Writer, format string, l Layout) error {
	l = l.withLang(s.Lang)
	switch format {
	case FormatCSV:
		return s.writeCSV(w, l)
	case FormatSummaryCSV:
		return s.writeSummaryCSV(w, l)
	case FormatJSON:
		return s.writeJSON(w)
	case FormatXLSX:
		return s.writeXLSX(w, l)
	}
	return fmt.Errorf("%w %q (want %s)", ErrFormat, format, strings.Join(Formats, ", "))
}

// summary is the report without its rows (the rows are produced and
// dropped when it is not known before them).
func (s *Source) summary() (*Report, error) {
	if s.head != nil {
		return s.head, nil
	}
	return s.Rows(nil, nil)
}

// spool is a temporary file that holds what a file writes after its
// summary until the summary is known; it is removed when closed.
type spool struct {
	f *os.File
	*bufio.Writer
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "payrun-report-*")
	if err != nil {
		return nil, fmt.Errorf("report spool: %w", err)
	}
	return &spool{f: f, Writer: bufio.NewWriterSize(f, 256<<10)}, nil
}

// reader flushes what was written and reads it from its start.
func (s *spool) reader() (*bufio.Reader, error) {
	if err := s.Flush(); err != nil {
		return nil, fmt.Errorf("report spool: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("report spool: %w", err)
	}
	return bufio.NewReaderSize(s.f, 256<<10), nil
}

func (s *spool) Close() error {
	err := s.f.Close()
	os.Remove(s.f.Name())
	return err
}
