package report

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// csvTimeLayout is how excel-ru CSV writes a time: the day first, as
// Excel and LibreOffice with Russian settings read a date and time (and
// 1C's import does), in the layout's zone.
const csvTimeLayout = "02.01.2006 15:04:05"

// csvWriter writes records in a dialect: its delimiter, byte-order mark
// and line ends, numbers with its decimal separator, times as its people
// read them. No text cell is a formula (spreadsheet.SafeCSVCell).
type csvWriter struct {
	w    *csv.Writer
	l    Layout
	rec  []string
	num  []byte
	zone string // the zone, named in the summary
}

func newCSVWriter(w io.Writer, l Layout) (*csvWriter, error) {
	if l.Dialect.BOM() {
		if _, err := io.WriteString(w, "\uFEFF"); err != nil {
			return nil, err
		}
	}
	cw := csv.NewWriter(w)
	cw.Comma = l.Dialect.Comma()
	cw.UseCRLF = l.Dialect.CRLF()
	zone := zoneName(l.Zone)
	if l.Dialect == spreadsheet.RFC4180 {
		zone = "UTC (RFC 3339)"
	}
	return &csvWriter{w: cw, l: l, zone: zone}, nil
}

// zoneName names a time zone for people.
func zoneName(zone *time.Location) string {
	switch {
	case zone == bank131.ReportZone():
		return bank131.DefaultReportZone + " (UTC+03:00)"
	}
	return zone.String()
}

// text is a cell as the dialect writes it.
func (c *csvWriter) text(v cell) string {
	switch v.kind {
	case kindInt:
		c.num = strconv.AppendInt(c.num[:0], v.n, 10)
		return string(c.num)
	case kindMoney, kindRate:
		return c.l.Dialect.Decimal(v.text)
	case kindTime:
		if c.l.Dialect == spreadsheet.RFC4180 {
			return v.text
		}
		t, err := time.Parse(time.RFC3339, v.text)
		if err != nil {
			return spreadsheet.SafeCSVCell(v.text)
		}
		return t.In(c.l.Zone).Format(csvTimeLayout)
	}
	return spreadsheet.SafeCSVCell(v.text)
}

func (c *csvWriter) write(cells []cell) error {
	c.rec = c.rec[:0]
	for _, v := range cells {
		c.rec = append(c.rec, c.text(v))
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) heading(names []string) error {
	c.rec = c.rec[:0]
	for _, n := range names {
		c.rec = append(c.rec, spreadsheet.SafeCSVCell(n))
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// writeCSV writes the rows: a header in the report's language, then one
// line per row and nothing else (the summary is a file of its own,
// writeSummaryCSV), so that filters, pivot tables and 1C's import take
// the file as one table. In excel-ru amounts and rates have a decimal
// comma and times are day-first in the layout's zone; in rfc4180 they are
// as JSON has them (a decimal point, RFC 3339 UTC). Each row is written
// as it is produced.
func (s *Source) writeCSV(w io.Writer, l Layout) error {
	fail := func(err error) error { return fmt.Errorf("write CSV report: %w", err) }
	bw := bufio.NewWriterSize(w, 64<<10)
	var cw *csvWriter
	var keys []string
	var buf []cell
	_, err := s.Rows(func(metaKeys []string) error {
		keys = metaKeys
		var err error
		if cw, err = newCSVWriter(bw, l); err != nil {
			return err
		}
		return cw.heading(header(s.Lang, keys))
	}, func(row *Row) error {
		buf = row.cells(s.Lang, keys, buf)
		return cw.write(buf)
	})
	if err != nil {
		return fail(err)
	}
	if err := cw.flush(); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	return nil
}

// writeSummaryCSV writes the summary lines under their header, in the
// same dialect and language as the rows' file.
func (s *Source) writeSummaryCSV(w io.Writer, l Layout) error {
	fail := func(err error) error { return fmt.Errorf("write CSV summary: %w", err) }
	rep, err := s.summary()
	if err != nil {
		return fail(err)
	}
	cw, err := newCSVWriter(w, l)
	if err != nil {
		return fail(err)
	}
	if err := cw.heading(summaryHeader(rep.Lang)); err != nil {
		return fail(err)
	}
	for _, line := range rep.summaryLines(cw.zone) {
		if err := cw.write(line); err != nil {
			return fail(err)
		}
	}
	if err := cw.flush(); err != nil {
		return fail(err)
	}
	return nil
}
