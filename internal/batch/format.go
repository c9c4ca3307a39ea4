package batch

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
)

// File formats a payout file may have (Result.Format).
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// MaxWorkbookSize bounds an XLSX upload: a workbook is read into memory
// to be unzipped (a 100 000-row payroll is about 5 MB). Larger payrolls
// go as CSV, which is streamed.
const MaxWorkbookSize = 32 << 20

var (
	zipMagic  = []byte("PK\x03\x04")
	zipEmpty  = []byte("PK\x05\x06")
	ole2Magic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	pdfMagic  = []byte("%PDF-")
)

// isZIP reports whether a file starts as a ZIP archive (an XLSX workbook
// is one).
func isZIP(head []byte) bool {
	return bytes.HasPrefix(head, zipMagic) || bytes.HasPrefix(head, zipEmpty)
}

// otherFormat names, from its first bytes, a file that is neither CSV
// text nor a ZIP archive but a document a finance user may upload by
// mistake (an old .xls, a PDF, a web page saved as .xls, an XML
// spreadsheet), with what to do; "" when the bytes may be CSV text.
func otherFormat(head []byte, lang string) string {
	switch {
	case bytes.HasPrefix(head, ole2Magic):
		return tr(lang,
			"the file is an Excel 97–2003 workbook (.xls) or a password-protected Office file, which payrun does not read; open it in Excel and save it as CSV UTF-8 or XLSX (without a password), then upload that",
			"файл — книга Excel 97–2003 (.xls) или защищённый паролем файл Office, такие файлы payrun не читает; откройте его в Excel и сохраните как CSV UTF-8 или XLSX (без пароля), затем загрузите")
	case bytes.HasPrefix(head, pdfMagic):
		return tr(lang,
			"the file is a PDF document, not a table; export the payroll from 1C or Excel as CSV UTF-8 or XLSX and upload that",
			"файл — документ PDF, а не таблица; выгрузите ведомость из 1С или Excel в CSV UTF-8 или XLSX и загрузите её")
	}
	text := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	start := strings.ToLower(string(text[:min(len(text), 512)]))
	switch {
	case strings.HasPrefix(start, "<!doctype html"), strings.HasPrefix(start, "<html"), strings.HasPrefix(start, "<table"):
		return tr(lang,
			"the file is a web page (HTML), not CSV (1C and banks often save HTML under an .xls name); open it in Excel and save it as CSV UTF-8 or XLSX, then upload that",
			"файл — веб-страница (HTML), а не CSV (1С и банки часто сохраняют HTML с расширением .xls); откройте его в Excel и сохраните как CSV UTF-8 или XLSX, затем загрузите")
	case strings.HasPrefix(start, "<?xml") && bytes.Contains(head, []byte("urn:schemas-microsoft-com:office:spreadsheet")):
		return tr(lang,
			"the file is an XML Spreadsheet 2003, which payrun does not read; open it in Excel and save it as CSV UTF-8 or XLSX, then upload that",
			"файл — таблица XML 2003, такие файлы payrun не читает; откройте его в Excel и сохраните как CSV UTF-8 или XLSX, затем загрузите")
	case strings.HasPrefix(start, "<?xml"):
		return tr(lang,
			"the file is an XML document, not a table; save the payroll as CSV UTF-8 or XLSX and upload that",
			"файл — документ XML, а не таблица; сохраните ведомость как CSV UTF-8 или XLSX и загрузите её")
	}
	return ""
}

// zipFormat tells what a ZIP archive is: "" for an XLSX workbook, else
// why it is not a payout file and what to do.
func zipFormat(data []byte, lang string) string {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return tr(lang,
			"the file starts as a ZIP archive (an XLSX workbook is one) but is damaged or cut short; save it again as CSV UTF-8 or XLSX and upload that",
			"файл начинается как архив ZIP (книга XLSX — такой архив), но повреждён или обрезан; сохраните его заново как CSV UTF-8 или XLSX и загрузите")
	}
	names := map[string]*zip.File{}
	for _, f := range zr.File {
		names[strings.ToLower(f.Name)] = f
	}
	switch {
	case names["xl/workbook.xml"] != nil:
		return ""
	case names["xl/workbook.bin"] != nil:
		return tr(lang,
			"the file is an Excel binary workbook (.xlsb), which payrun does not read; save it as CSV UTF-8 or XLSX (Excel workbook) and upload that",
			"файл — двоичная книга Excel (.xlsb), такие файлы payrun не читает; сохраните её как CSV UTF-8 или XLSX (книга Excel) и загрузите")
	case names["mimetype"] != nil && strings.Contains(readSmall(names["mimetype"]), "opendocument.spreadsheet"):
		return tr(lang,
			"the file is an OpenDocument spreadsheet (.ods), which payrun does not read; save it as CSV UTF-8 or XLSX (in LibreOffice: File → Save As → Excel 2007–365) and upload that",
			"файл — таблица OpenDocument (.ods), такие файлы payrun не читает; сохраните её как CSV UTF-8 или XLSX (в LibreOffice: Файл → Сохранить как → Excel 2007–365) и загрузите")
	case names["word/document.xml"] != nil || names["mimetype"] != nil:
		return tr(lang,
			"the file is a text document (Word or OpenDocument), not a table; save the payroll as CSV UTF-8 or XLSX and upload that",
			"файл — текстовый документ (Word или OpenDocument), а не таблица; сохраните ведомость как CSV UTF-8 или XLSX и загрузите её")
	}
	return tr(lang,
		"the file is a ZIP archive, not a payout file; unpack it and upload the CSV UTF-8 or XLSX file inside",
		"файл — архив ZIP, а не файл выплат; распакуйте его и загрузите файл CSV UTF-8 или XLSX из архива")
}

// readSmall reads the start of a small archive member ("" on an error).
func readSmall(f *zip.File) string {
	rc, err := f.Open()
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 256))
	return string(b)
}
