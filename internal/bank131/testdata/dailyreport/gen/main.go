// Command gen writes the daily-report fixtures of this folder: one day of
// three operations in every form the reader must take. Run from the
// repository root: go run ./internal/bank131/testdata/dailyreport/gen
//
// It lives in testdata, outside ./..., so excelize stays imported by
// internal/report alone in payrun itself; want.json, the lines each form
// must read as, is written by hand.
package main

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

const dir = "internal/bank131/testdata/dailyreport"

var header = []string{"operationId", "transactionDate", "finishedAt", "typeOfPayment", "paymentFast", "paymentSessionId",
	"contract", "paymentSessionMerchantMetadata", "paymentMethodIdentity", "product",
	"grossLocalAmount", "paymentLocalAmount", "feesLocalAmount", "currency"}

var lines = [][]string{
	{"po_1001", "2026-11-25 09:15:02", "2026-11-25 09:15:07", "Advice", "0", "ps_2001", "100-C-000000",
		`{"payrun":"b0123456789abcdef0123/1","reference":"E-00001"}`, "424242******4242", "payrun_payouts",
		"1515.00", "1500.00", "15.00", "RUB"},
	{"po_1002", "2026-11-25 23:59:58", "2026-11-25 23:59:59", "Advice", "1", "ps_2002", "100-C-000000",
		`{"payrun":"b0123456789abcdef0123/2","reference":"Премия-2"}`, "40817810099910004312", "payrun_payouts",
		"2515.50", "2500.50", "15.00", "RUB"},
	{"po_0999", "2026-11-20 10:00:00", "2026-11-25 12:00:00", "Refund", "0", "ps_1999", "100-C-000000",
		`{"payrun":"b0123456789abcdef0123/3","reference":"E-00003"}`, "40817810099910004313", "payrun_payouts",
		"700.00", "700.00", "0.00", "RUB"},
}

func main() {
	write("payrun_2026-11-25_2026-11-25.csv", csvBytes(',', header, lines...))
	// Excel's "CSV UTF-8" on a Russian system: BOM, ';', decimal commas.
	write(filepath.Join("bom-semicolon", "payrun_2026-11-25_2026-11-25.csv"),
		append([]byte("\ufeff"), csvBytes(';', header, commas(lines)...)...))
	cp, err := charmap.Windows1251.NewEncoder().Bytes(csvBytes(';', header, commas(lines)...))
	if err != nil {
		log.Fatal(err)
	}
	write(filepath.Join("windows-1251", "payrun_2026-11-25_2026-11-25.csv"), cp)
	write(filepath.Join("xlsx", "payrun_2026-11-25_2026-11-25.xlsx"), xlsxBytes())
	part1, part2 := csvBytes(',', header, lines[:2]...), csvBytes(',', header, lines[2:]...)
	write(filepath.Join("parts", "payrun_2026-11-25_2026-11-25_1.csv"), part1)
	write(filepath.Join("parts", "payrun_2026-11-25_2026-11-25_2.csv"), part2)
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for i, b := range [][]byte{part1, part2} {
		name := []string{"payrun_2026-11-25_2026-11-25_1.csv", "payrun_2026-11-25_2026-11-25_2.csv"}[i]
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)})
		if err != nil {
			log.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	write(filepath.Join("zip", "payrun_2026-11-25_2026-11-25.zip"), zb.Bytes())
}

func commas(in [][]string) [][]string {
	out := make([][]string, len(in))
	for i, l := range in {
		out[i] = append([]string(nil), l...)
		for j := 10; j <= 12; j++ {
			out[i][j] = strings.Replace(out[i][j], ".", ",", 1)
		}
	}
	return out
}

func csvBytes(comma rune, head []string, recs ...[]string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = comma
	w.UseCRLF = true
	w.Write(head)
	for _, l := range recs {
		w.Write(l)
	}
	w.Flush()
	return b.Bytes()
}

// xlsxBytes writes the day as a spreadsheet would: text cells for ids
// and names, date cells (Excel serial numbers) for the times, number cells
// for the amounts, one of them with float noise (2515.4999999999995).
func xlsxBytes() []byte {
	f := excelize.NewFile()
	sheet := "Sheet1"
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 22})
	if err != nil {
		log.Fatal(err)
	}
	for j, h := range header {
		cell, _ := excelize.CoordinatesToCellName(j+1, 1)
		f.SetCellStr(sheet, cell, h)
	}
	gross := []float64{1515, 2515.4999999999995, 700}
	payment := []float64{1500, 2500.5, 700}
	fee := []float64{15, 15, 0}
	for i, l := range lines {
		row := i + 2
		for j, v := range l {
			cell, _ := excelize.CoordinatesToCellName(j+1, row)
			switch j {
			case 1, 2:
				t, err := time.Parse(time.DateTime, v)
				if err != nil {
					log.Fatal(err)
				}
				f.SetCellValue(sheet, cell, t)
				f.SetCellStyle(sheet, cell, cell, dateStyle)
			case 4:
				f.SetCellInt(sheet, cell, int64(v[0]-'0'))
			case 10:
				f.SetCellFloat(sheet, cell, gross[i], -1, 64)
			case 11:
				f.SetCellFloat(sheet, cell, payment[i], -1, 64)
			case 12:
				f.SetCellFloat(sheet, cell, fee[i], -1, 64)
			default:
				f.SetCellStr(sheet, cell, v)
			}
		}
	}
	f.SetDocProps(&excelize.DocProperties{Created: "2026-11-26T03:00:00Z", Modified: "2026-11-26T03:00:00Z"})
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

func write(name string, b []byte) {
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
