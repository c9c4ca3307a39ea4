package batch

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/workbook"
)

// runWorkbook reads an XLSX workbook (a file that starts as a ZIP archive)
// with the same rules as a CSV file: the sheet (Options.Sheet, else the
// first), its first row that holds something as the header, every row
// after it as a record of the cells as displayed.
func (s *scanner) runWorkbook(br *bufio.Reader, emit func(*payout.Row) bool) error {
	lang := s.opts.Lang
	data, err := io.ReadAll(io.LimitReader(br, MaxWorkbookSize+1))
	if err != nil {
		return err
	}
	reject := func(msg string) error {
		s.fileError(Error{Message: msg})
		s.finishFile()
		return nil
	}
	if len(data) > MaxWorkbookSize {
		return reject(tr(lang,
			fmt.Sprintf("the workbook is larger than %d MB; save the payroll as CSV UTF-8, which has no such bound, and upload that", MaxWorkbookSize>>20),
			fmt.Sprintf("книга больше %d МБ; сохраните ведомость как CSV UTF-8 (у него нет такого ограничения) и загрузите", MaxWorkbookSize>>20)))
	}
	if msg := zipFormat(data, lang); msg != "" {
		return reject(msg)
	}
	s.res.Format = FormatXLSX
	book, err := workbook.Open(bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, workbook.ErrTooLarge) {
		return reject(tr(lang,
			fmt.Sprintf("the workbook unzips to more than %d MB; save the payroll as CSV UTF-8 and upload that", workbook.MaxUnzipped>>20),
			fmt.Sprintf("книга после распаковки больше %d МБ; сохраните ведомость как CSV UTF-8 и загрузите", workbook.MaxUnzipped>>20)))
	}
	if err != nil {
		return reject(workbookUnreadable(lang, err))
	}
	defer book.Close()
	name, ok := s.pickSheet(book)
	if !ok {
		s.finishFile()
		return nil
	}
	rows, err := book.Rows(name)
	if err != nil {
		return reject(workbookUnreadable(lang, err))
	}
	defer rows.Close()
	s.sheet = &sheetRecords{rows: rows, lang: lang}
	s.cr = s.sheet
	if s.pass1 {
		s.digest = sha256.New()
		s.digestCSV = csv.NewWriter(s.digest)
	}
	return s.readRecords(emit)
}

func workbookUnreadable(lang string, err error) string {
	return tr(lang,
		fmt.Sprintf("the workbook cannot be read (%v); open it in Excel and save it again as XLSX or CSV UTF-8", err),
		fmt.Sprintf("книгу не удаётся прочитать (%v); откройте её в Excel и сохраните заново как XLSX или CSV UTF-8", err))
}

// pickSheet chooses the sheet to read: the one Options.Sheet names, else
// the first worksheet. It must be visible (what is paid is what finance
// sees); other hidden sheets are reported as warnings.
func (s *scanner) pickSheet(book *workbook.Book) (string, bool) {
	lang := s.opts.Lang
	var names []string
	chosen := -1
	for i, sh := range book.Sheets() {
		names = append(names, sh.Name)
		if chosen >= 0 || !sh.Rows {
			continue
		}
		if s.opts.Sheet == "" || strings.EqualFold(strings.TrimSpace(s.opts.Sheet), sh.Name) {
			chosen = i
		}
	}
	switch {
	case chosen < 0 && s.opts.Sheet != "":
		s.fileError(Error{Column: "sheet", Message: tr(lang,
			fmt.Sprintf("the workbook has no sheet %s; its sheets are %s", quote(s.opts.Sheet), quoteAll(names)),
			fmt.Sprintf("в книге нет листа %s; её листы: %s", quote(s.opts.Sheet), quoteAll(names)))})
		return "", false
	case chosen < 0:
		s.fileError(Error{Message: tr(lang, "the workbook has no worksheet", "в книге нет ни одного листа с ячейками")})
		return "", false
	}
	sheets := book.Sheets()
	sh := sheets[chosen]
	s.res.Sheet = sh.Name
	if sh.Hidden {
		s.fileError(Error{Column: "sheet", Message: tr(lang,
			fmt.Sprintf("sheet %s is hidden; show it (Format → Hide & Unhide) or name a visible sheet (--sheet), so that what is paid is what you see", quote(sh.Name)),
			fmt.Sprintf("лист %s скрыт; покажите его (Формат → Скрыть или отобразить) или укажите видимый лист (--sheet), чтобы платилось только то, что видно", quote(sh.Name)))})
		return "", false
	}
	for i, other := range sheets {
		if i != chosen && other.Hidden && s.pass1 {
			s.warns = append(s.warns, Error{Column: "sheet", Message: tr(lang,
				fmt.Sprintf("sheet %s is hidden and was not read", quote(other.Name)),
				fmt.Sprintf("лист %s скрыт и не прочитан", quote(other.Name)))})
		}
	}
	return sh.Name, true
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}

// hashRecord adds a record of a workbook to its content digest (pass 1).
func (s *scanner) hashRecord(rec []string) {
	if s.digestCSV != nil {
		s.digestCSV.Write(rec)
	}
}

// sheetRecords reads the rows of a sheet as records: the header's width
// of cells, each as the validator reads it (sheetRecords.text), and the
// problems a CSV file cannot have (formulas, hidden rows and columns,
// merged cells, numbers that lost digits) for the scanner to report.
type sheetRecords struct {
	rows   *workbook.Rows
	lang   string
	num    int // the row number of the last record
	width  int // the header's, 0 until it is read
	rec    []string
	probs  []sheetProblem
	cols   []col    // per field: the known column, or -1
	meta   []string // per field: the meta_ column's name
	kinds  []columnKind
	dates  []bool
	header []sheetProblem
}

// sheetProblem is a problem of a field of the last record (field -1: of
// the row).
type sheetProblem struct {
	field int
	msg   string
}

// Read returns the next row that holds something as a record.
func (x *sheetRecords) Read() ([]string, error) {
	if !x.rows.Next() {
		if err := x.rows.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	row := x.rows.Row()
	x.num = row.Num
	x.probs = x.probs[:0]
	if x.width == 0 {
		x.width = len(row.Cells)
	}
	x.rec = x.rec[:0]
	for i := range max(x.width, len(row.Cells)) {
		var c workbook.Cell
		if i < len(row.Cells) {
			c = row.Cells[i]
		}
		if i >= x.width {
			if c.Text != "" || c.Formula != "" {
				v := c.Text
				if c.Formula != "" {
					v = c.Formula
				}
				x.problem(-1, tr(x.lang,
					fmt.Sprintf("cell %s holds %s, but its column has no name in the header", workbook.CellName(i, row.Num), quote(v)),
					fmt.Sprintf("в ячейке %s есть значение %s, но у её колонки нет названия в заголовке", workbook.CellName(i, row.Num), quote(v))))
			}
			continue
		}
		x.rec = append(x.rec, x.text(i, c, row.Num))
	}
	if row.Hidden {
		x.problem(-1, tr(x.lang,
			fmt.Sprintf("row %d is hidden; show it (or delete it), so that what is paid is what you see", row.Num),
			fmt.Sprintf("строка %d скрыта; покажите её (или удалите), чтобы платилось только то, что видно", row.Num)))
	}
	for _, m := range x.rows.Merged() {
		if m.FromRow != row.Num {
			continue
		}
		f := m.FromCol - 1
		if f >= x.width {
			f = -1
		}
		x.problem(f, tr(x.lang,
			fmt.Sprintf("cells %s are merged; unmerge them: every value needs a cell of its own", m.Ref),
			fmt.Sprintf("ячейки %s объединены; разъедините их: у каждого значения должна быть своя ячейка", m.Ref)))
	}
	return x.rec, nil
}

// text is the text of a cell of the record: what the cell displays, but
// for an amount the number it holds (its display may round it or group
// its thousands as the viewer's locale does) and for a date column the
// date it shows. A formula is a problem, and its cell is empty.
func (x *sheetRecords) text(i int, c workbook.Cell, row int) string {
	if c.Formula != "" {
		x.problem(i, tr(x.lang,
			fmt.Sprintf("cell %s holds a formula (%s); payout files take values only: copy the cells and paste them as values", workbook.CellName(i, row), quote(c.Formula)),
			fmt.Sprintf("в ячейке %s формула (%s); в файле выплат нужны значения: скопируйте ячейки и вставьте их как значения", workbook.CellName(i, row), quote(c.Formula))))
		return ""
	}
	if c.Number == "" || i >= len(x.kinds) {
		return c.Text
	}
	switch kind := x.kinds[i]; {
	case kind == kindNumber:
		return c.Number
	case x.dates[i] && c.Date != "":
		return c.Date
	case (kind == kindID || kind == kindCard || kind == kindToken || kind == kindPhone) && !scientific(c.Text):
		digits := strings.TrimPrefix(c.Number, "-")
		digits, _, _ = strings.Cut(digits, ".")
		if len(digits) > 15 {
			x.problem(i, tr(x.lang,
				fmt.Sprintf("cell %s is a number of %d digits (%s), and a spreadsheet keeps only 15: the last digits are lost; format the column as text and enter the numbers again",
					workbook.CellName(i, row), len(digits), c.Text),
				fmt.Sprintf("в ячейке %s число из %d цифр (%s), а таблица хранит только 15: последние цифры потеряны; задайте колонке текстовый формат и введите номера заново",
					workbook.CellName(i, row), len(digits), c.Text)))
		}
	}
	return c.Text
}

func (x *sheetRecords) problem(field int, msg string) {
	x.probs = append(x.probs, sheetProblem{field: field, msg: msg})
}

// FieldPos is the row of the last record and the field's column.
func (x *sheetRecords) FieldPos(field int) (int, int) { return x.num, field + 1 }

// headerErrors are the problems of the header row, with hidden columns
// that have a name.
func (x *sheetRecords) headerErrors(line int) []Error {
	var errs []Error
	for _, p := range x.probs {
		errs = append(errs, Error{Line: line, Message: p.msg})
	}
	for i, h := range x.rows.HiddenColumns() {
		if h && i < len(x.rec) && strings.TrimSpace(x.rec[i]) != "" {
			errs = append(errs, Error{Line: line, Column: quote(strings.TrimSpace(x.rec[i])), Message: tr(x.lang,
				fmt.Sprintf("column %s is hidden; show it (or delete it), so that what is paid is what you see", workbook.ColumnName(i)),
				fmt.Sprintf("колонка %s скрыта; покажите её (или удалите), чтобы платилось только то, что видно", workbook.ColumnName(i)))})
		}
	}
	return errs
}

// setLayout tells the reader which column each field is, for the cells'
// text and the problems' columns.
func (x *sheetRecords) setLayout(lay *layout) {
	x.cols = make([]col, x.width)
	x.meta = make([]string, x.width)
	x.kinds = make([]columnKind, x.width)
	x.dates = make([]bool, x.width)
	for i := range x.cols {
		x.cols[i] = -1
	}
	for c := range numCols {
		if p := lay.pos[c]; p >= 0 && p < x.width {
			x.cols[p] = c
			x.kinds[p] = columnKinds[c]
			x.dates[p] = c == colSenderBirthDate || c == colSenderDocIssueDate || c == colSenderForeignDocValidFrom || c == colSenderForeignDocValidTo
		}
	}
	for _, m := range lay.meta {
		if m.pos < x.width {
			x.meta[m.pos] = MetaPrefix + m.name
		}
	}
}

// readError explains an error that stopped the reading of the sheet.
func (x *sheetRecords) readError(err error) string { return workbookUnreadable(x.lang, err) }

// report adds the last record's problems to the scanner's errors: a
// problem of a known column marks the column bad, so the rules do not
// report it again.
func (s *scanner) reportSheetProblems() {
	x := s.sheet
	for _, p := range s.probs {
		switch {
		case p.field >= 0 && p.field < len(x.cols) && x.cols[p.field] >= 0:
			s.fail(x.cols[p.field], p.msg)
		case p.field >= 0 && p.field < len(x.meta) && x.meta[p.field] != "":
			s.errs = append(s.errs, Error{Line: s.line, Column: x.meta[p.field], Message: p.msg})
		default:
			s.errs = append(s.errs, Error{Line: s.line, Message: p.msg})
		}
	}
}
