package bank131

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Report table formats.
const (
	formatCSV  = "csv"
	formatXLSX = "xlsx"
)

// Limits of what a report's ZIP may unpack to (a zip bomb is refused, not
// read): members in all, and nesting of ZIPs in ZIPs.
const (
	maxZipMembers = 1000
	maxZipDepth   = 3
)

// table is one sheet or CSV file of a report, read row by row: next
// returns a record and its line (the header is line 1), io.EOF at the end.
type table struct {
	name, format, encoding, delimiter string
	next                              func() ([]string, int, error)
}

// unpacker turns report files into tables: ZIPs opened, XLSX read through
// the options' reader, CSV decoded.
type unpacker struct {
	opt      ReportOptions
	tables   []*table
	members  int
	unpacked int64
}

func isZip(data []byte) bool { return bytes.HasPrefix(data, []byte("PK\x03\x04")) }

// unpack reads one file (a ZIP member at depth > 0).
func (u *unpacker) unpack(name string, data []byte, depth int) error {
	if !isZip(data) {
		return u.csv(name, data)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("%s: not a readable ZIP: %w", name, err)
	}
	for _, f := range zr.File {
		if f.Name == "xl/workbook.xml" {
			return u.xlsx(name, data)
		}
	}
	if depth >= maxZipDepth {
		return fmt.Errorf("%s: ZIPs nested deeper than %d", name, maxZipDepth)
	}
	members := slices.Clone(zr.File)
	slices.SortFunc(members, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range members {
		base := path.Base(f.Name)
		if f.FileInfo().IsDir() || strings.HasPrefix(f.Name, "__MACOSX/") || strings.HasPrefix(base, ".") {
			continue
		}
		if u.members++; u.members > maxZipMembers {
			return fmt.Errorf("%s: more than %d files", name, maxZipMembers)
		}
		switch strings.ToLower(path.Ext(base)) {
		case ".csv", ".txt", ".xlsx", ".zip":
		default:
			return fmt.Errorf("%s: %s is not a CSV, XLSX or ZIP file", name, f.Name)
		}
		b, err := u.read(f)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", name, f.Name, err)
		}
		if err := u.unpack(name+"/"+f.Name, b, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// read unpacks a ZIP member within what is left of maxReportSize.
func (u *unpacker) read(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	left := maxReportSize - u.unpacked
	b, err := io.ReadAll(io.LimitReader(rc, left+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > left {
		return nil, fmt.Errorf("the ZIP unpacks to more than %d MB", maxReportSize>>20)
	}
	u.unpacked += int64(len(b))
	return b, nil
}

func (u *unpacker) xlsx(name string, data []byte) error {
	if u.opt.XLSX == nil {
		return fmt.Errorf("%s is an XLSX workbook and this reader was given no XLSX reader (ReportOptions.XLSX)", name)
	}
	sheets, err := u.opt.XLSX(data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for i, rows := range sheets {
		if len(rows) == 0 {
			continue
		}
		t := &table{name: name, format: formatXLSX}
		if len(sheets) > 1 {
			t.name = fmt.Sprintf("%s sheet %d", name, i+1)
		}
		n := 0
		t.next = func() ([]string, int, error) {
			if n == len(rows) {
				return nil, 0, io.EOF
			}
			n++
			return rows[n-1], n, nil
		}
		u.tables = append(u.tables, t)
	}
	return nil
}

// csv decodes a CSV file: the encoding, then the delimiter from the header
// line.
func (u *unpacker) csv(name string, data []byte) error {
	t := &table{name: name, format: formatCSV}
	switch {
	case bytes.HasPrefix(data, []byte("\xef\xbb\xbf")):
		data, t.encoding = data[3:], "utf-8-bom"
		if !utf8.Valid(data) {
			return fmt.Errorf("%s: starts with a UTF-8 byte-order mark but is not UTF-8", name)
		}
	case bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")):
		return fmt.Errorf("%s is UTF-16; save it as UTF-8 or Windows-1251", name)
	case utf8.Valid(data):
		t.encoding = "utf-8"
	default:
		dec, err := charmap.Windows1251.NewDecoder().Bytes(data)
		if err != nil {
			return fmt.Errorf("%s: neither UTF-8 nor Windows-1251: %w", name, err)
		}
		data, t.encoding = dec, "windows-1251"
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return fmt.Errorf("%s holds NUL bytes: not a CSV file", name)
	}
	comma := sniffDelimiter(data)
	t.delimiter = string(comma)
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	t.next = func() ([]string, int, error) {
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, 0, fmt.Errorf("line %d: %w", pe.StartLine, pe.Err)
			}
			return nil, 0, err
		}
		line, _ := cr.FieldPos(0)
		return rec, line, nil
	}
	u.tables = append(u.tables, t)
	return nil
}

// sniffDelimiter picks the delimiter the first non-empty line uses most
// outside quotes: ';', tab, else ','.
func sniffDelimiter(data []byte) rune {
	counts := map[byte]int{}
	quoted, seen := false, false
	for _, c := range data {
		if c == '\n' && !quoted {
			if seen {
				break
			}
			continue
		}
		if c != '\r' && c != '\n' {
			seen = true
		}
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';' || c == '\t'):
			counts[c]++
		}
	}
	switch {
	case counts[';'] > counts[','] && counts[';'] >= counts['\t']:
		return ';'
	case counts['\t'] > counts[','] && counts['\t'] > counts[';']:
		return '\t'
	}
	return ','
}
