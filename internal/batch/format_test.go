package batch

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// zipOf builds a ZIP archive of the named members.
func zipOf(t testing.TB, members ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(members); i += 2 {
		w, err := zw.Create(members[i])
		require.NoError(t, err)
		_, err = w.Write([]byte(members[i+1]))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestOtherFormats: files that are not CSV text or an XLSX workbook get
// a message that names what they are and says to save them as CSV UTF-8
// or XLSX, in the language asked for.
func TestOtherFormats(t *testing.T) {
	ole2 := append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 504)...)
	xlsxZip := zipOf(t, "[Content_Types].xml", "<Types/>", "xl/workbook.xml", "<workbook/>")
	tests := []struct {
		name string
		data []byte
		lang string
		want string
	}{
		{"xls", ole2, "", "the file is an Excel 97–2003 workbook (.xls) or a password-protected Office file, which payrun does not read; open it in Excel and save it as CSV UTF-8 or XLSX (without a password), then upload that"},
		{"xls in Russian", ole2, "ru", "файл — книга Excel 97–2003 (.xls) или защищённый паролем файл Office, такие файлы payrun не читает; откройте его в Excel и сохраните как CSV UTF-8 или XLSX (без пароля), затем загрузите"},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), "", "the file is a PDF document, not a table; export the payroll from 1C or Excel as CSV UTF-8 or XLSX and upload that"},
		{"pdf in Russian", []byte("%PDF-1.4\n"), "ru", "файл — документ PDF, а не таблица; выгрузите ведомость из 1С или Excel в CSV UTF-8 или XLSX и загрузите её"},
		{"html saved as xls", []byte("\ufeff  <!DOCTYPE HTML PUBLIC>\n<html><table><tr><td>reference</td></tr></table></html>"), "",
			"the file is a web page (HTML), not CSV (1C and banks often save HTML under an .xls name); open it in Excel and save it as CSV UTF-8 or XLSX, then upload that"},
		{"xml spreadsheet 2003", []byte(`<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>`), "",
			"the file is an XML Spreadsheet 2003, which payrun does not read; open it in Excel and save it as CSV UTF-8 or XLSX, then upload that"},
		{"xml", []byte(`<?xml version="1.0"?><payroll/>`), "", "the file is an XML document, not a table; save the payroll as CSV UTF-8 or XLSX and upload that"},
		{"zip of a csv", zipOf(t, "payroll.csv", "reference,method,amount\n"), "",
			"the file is a ZIP archive, not a payout file; unpack it and upload the CSV UTF-8 or XLSX file inside"},
		{"zip of a csv in Russian", zipOf(t, "payroll.csv", "reference,method,amount\n"), "ru",
			"файл — архив ZIP, а не файл выплат; распакуйте его и загрузите файл CSV UTF-8 или XLSX из архива"},
		{"xlsb", zipOf(t, "[Content_Types].xml", "<Types/>", "xl/workbook.bin", "\x00"), "",
			"the file is an Excel binary workbook (.xlsb), which payrun does not read; save it as CSV UTF-8 or XLSX (Excel workbook) and upload that"},
		{"ods", zipOf(t, "mimetype", "application/vnd.oasis.opendocument.spreadsheet", "content.xml", "<x/>"), "",
			"the file is an OpenDocument spreadsheet (.ods), which payrun does not read; save it as CSV UTF-8 or XLSX (in LibreOffice: File → Save As → Excel 2007–365) and upload that"},
		{"docx", zipOf(t, "[Content_Types].xml", "<Types/>", "word/document.xml", "<w:document/>"), "",
			"the file is a text document (Word or OpenDocument), not a table; save the payroll as CSV UTF-8 or XLSX and upload that"},
		{"a zip cut short", zipOf(t, "payroll.csv", "reference")[:30], "",
			"the file starts as a ZIP archive (an XLSX workbook is one) but is damaged or cut short; save it again as CSV UTF-8 or XLSX and upload that"},
		{"a broken xlsx", xlsxZip, "", "the workbook cannot be read (EOF); open it in Excel and save it again as XLSX or CSV UTF-8"},
		{"too large", append(bytes.Clone(zipMagic), make([]byte, MaxWorkbookSize)...), "",
			"the workbook is larger than 32 MB; save the payroll as CSV UTF-8, which has no such bound, and upload that"},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "", "the file holds binary data (a NUL byte on line 3), not CSV text in UTF-8 or Windows-1251"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, got := validateBytes(t, tt.data, Options{Lang: tt.lang})
			require.Equal(t, []string{tt.want}, got)
			require.False(t, res.Valid())
			require.Equal(t, int64(len(tt.data)), res.Size, "the whole file is read for its digest")
			for _, err := range Rows(bytes.NewReader(tt.data), Options{Lang: tt.lang}, nil) {
				require.ErrorContains(t, err, "changed since it was validated: "+tt.want)
			}
		})
	}
}
