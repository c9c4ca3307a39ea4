package workbook

import (
	"archive/zip"
	"compress/flate"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Styled is a workbook written cell by cell with styles (the report's
// XLSX: internal/report decides every cell, this package writes them),
// whose first sheet's XML part the caller may stream itself (WriteTo).
// Cells are addressed as CellName does: columns from 0, rows from 1.
type Styled struct {
	f     *excelize.File
	first string
}

// NewStyled starts a workbook whose sheets are named first, then more.
func NewStyled(first string, more ...string) (*Styled, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", first); err != nil {
		f.Close()
		return nil, fmt.Errorf("name sheet %s: %w", first, err)
	}
	for _, name := range more {
		if _, err := f.NewSheet(name); err != nil {
			f.Close()
			return nil, fmt.Errorf("add sheet %s: %w", name, err)
		}
	}
	return &Styled{f: f, first: first}, nil
}

// Close releases the workbook's temporary state.
func (s *Styled) Close() error { return s.f.Close() }

// Style is a cell style. Wrap wraps the text and aligns it to the top.
type Style struct {
	Bold         bool
	Fill         string // a solid fill's colour (DDE5F0), or none
	BottomBorder string // a thin bottom border's colour, or none
	Wrap         bool
	NumFmt       string // a custom number format (#,##0.00), or none
}

// Style registers st and returns the id the Set calls take.
func (s *Styled) Style(st Style) (int, error) {
	x := &excelize.Style{}
	if st.Bold {
		x.Font = &excelize.Font{Bold: true}
	}
	if st.Fill != "" {
		x.Fill = excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{st.Fill}}
	}
	if st.BottomBorder != "" {
		x.Border = []excelize.Border{{Type: "bottom", Color: st.BottomBorder, Style: 1}}
	}
	if st.Wrap {
		x.Alignment = &excelize.Alignment{WrapText: true, Vertical: "top"}
	}
	if st.NumFmt != "" {
		format := st.NumFmt
		x.CustomNumFmt = &format
	}
	return s.f.NewStyle(x)
}

// DocProps are the workbook's document properties.
type DocProps struct {
	Created, Modified, Creator, Title, Description, Language string
}

// SetDocProps sets the document properties; the creator also last
// modified it.
func (s *Styled) SetDocProps(p DocProps) error {
	return s.f.SetDocProps(&excelize.DocProperties{
		Created: p.Created, Modified: p.Modified, Creator: p.Creator, LastModifiedBy: p.Creator,
		Title: p.Title, Description: p.Description, Language: p.Language,
	})
}

// SetText writes a text cell (never a formula).
func (s *Styled) SetText(sheet string, col, row int, v string) error {
	return s.f.SetCellStr(sheet, CellName(col, row), v)
}

// SetInt writes an integer cell.
func (s *Styled) SetInt(sheet string, col, row int, v int64) error {
	return s.f.SetCellInt(sheet, CellName(col, row), v)
}

// SetNumber writes a number cell, as precise as a float64 holds it.
func (s *Styled) SetNumber(sheet string, col, row int, v float64) error {
	return s.f.SetCellFloat(sheet, CellName(col, row), v, -1, 64)
}

// SetStyle styles the cells from one corner to the other (A1 names).
func (s *Styled) SetStyle(sheet, from, to string, style int) error {
	return s.f.SetCellStyle(sheet, from, to, style)
}

// SetColWidth sets a column's width in characters (col: A, B…).
func (s *Styled) SetColWidth(sheet, col string, width float64) error {
	return s.f.SetColWidth(sheet, col, col, width)
}

// FreezeHeader keeps a sheet's first row in view.
func (s *Styled) FreezeHeader(sheet string) error {
	return s.f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
}

// AutoFilter puts a filter on a range (A1:F9) whose first row is the
// header.
func (s *Styled) AutoFilter(sheet, ref string) error { return s.f.AutoFilter(sheet, ref, nil) }

// PrintTitles repeats a sheet's first row on every printed page.
func (s *Styled) PrintTitles(sheet string) error {
	return s.f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", RefersTo: quoteSheet(sheet) + "!$1:$1",
		Scope: sheet})
}

// PrintLandscape sets a sheet to print landscape on A4, one page wide.
func (s *Styled) PrintLandscape(sheet string) error {
	landscape, a4, one, tall := "landscape", 9, 1, 0
	fit := true
	if err := s.f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Orientation: &landscape, Size: &a4,
		FitToWidth: &one, FitToHeight: &tall}); err != nil {
		return err
	}
	return s.f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: &fit})
}

// quoteSheet quotes a sheet name for a reference ('Rows', 'Выплаты').
func quoteSheet(name string) string { return "'" + strings.ReplaceAll(name, "'", "''") + "'" }

// firstSheetPart is the package part of a workbook's first sheet.
const firstSheetPart = "xl/worksheets/sheet1.xml"

// WriteTo writes the workbook to w. When firstSheet is not nil it writes
// the first sheet's worksheet XML itself (whatever cells were set there
// are not written): a report's rows are written that way, straight into
// the zip, because excelize's stream writer spent about a microsecond per
// cell escaping every string through a regular expression (1.3 s for a
// 100k-row batch).
//
// The zip goes straight to w, not to the buffer excelize hands over:
// excelize's WriteTo builds the whole file in a bytes.Buffer before
// copying it (a 1M-row workbook: ~670 MB of peak RSS), and its only use
// of that buffer after writing, marking its own streams of over 4 GB as
// zip64, has nothing to mark here (it has no streams; the streamed part
// is archive/zip's, which writes zip64 itself). So the buffer stays empty
// and WriteTo copies nothing more.
func (s *Styled) WriteTo(w io.Writer, firstSheet func(io.Writer) error) error {
	s.f.SetActiveSheet(0)
	if firstSheet == nil {
		_, err := s.f.WriteTo(w)
		return err
	}
	var partErr error
	s.f.SetZipWriter(func(io.Writer) excelize.ZipWriter {
		zw := zip.NewWriter(w)
		// Deflate at its fastest level: the Rows sheet of a 100k-row
		// batch is ~60 MB of XML; the default level took longer than
		// writing it (the file grows by about a fifth).
		zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(out, flate.BestSpeed)
		})
		return &partZip{Writer: zw, write: func(part io.Writer) error {
			partErr = firstSheet(part)
			return partErr
		}}
	})
	if _, err := s.f.WriteTo(w); err != nil {
		if partErr != nil {
			return partErr
		}
		return err
	}
	return partErr
}

// partZip is the workbook's zip writer: when excelize writes the first
// sheet's part (an empty sheet), the caller's XML is written there
// instead.
type partZip struct {
	*zip.Writer
	write func(io.Writer) error
	done  bool
}

// Create writes the first sheet's XML in a goroutine of its own while this
// one compresses it, chunk by chunk: on two cores the 100k-row sheet took
// 0.88 s with both in one goroutine, about half of it deflate
// (BenchmarkWrite100k/en/xlsx in internal/report).
func (z *partZip) Create(name string) (io.Writer, error) {
	part, err := z.Writer.Create(name)
	if err != nil || name != firstSheetPart {
		return part, err
	}
	z.done = true
	chunks, free := make(chan []byte, 4), make(chan []byte, 6)
	done := make(chan error, 1)
	go func() {
		err := z.write(&chunkWriter{chunks: chunks, free: free})
		close(chunks)
		done <- err
	}()
	var werr error
	for c := range chunks {
		if werr == nil {
			_, werr = part.Write(c)
		}
		select {
		case free <- c[:0]:
		default:
		}
	}
	if err := <-done; err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, werr
	}
	return io.Discard, nil
}

// chunkWriter hands what is written to it on as chunks (copies, in
// buffers the reader gives back).
type chunkWriter struct {
	chunks chan<- []byte
	free   chan []byte
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	var c []byte
	select {
	case c = <-w.free:
	default:
	}
	w.chunks <- append(c, p...)
	return len(p), nil
}

func (z *partZip) Close() error {
	if !z.done {
		return fmt.Errorf("the workbook has no part %s for the first sheet", firstSheetPart)
	}
	return z.Writer.Close()
}
