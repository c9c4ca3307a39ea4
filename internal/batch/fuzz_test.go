package batch

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/payrun/payrun/internal/payout"
)

// FuzzValidate feeds arbitrary bytes to the parser: it must not panic, and
// every problem must be a proper error: a message, and a line within the
// input (or 0 for the whole file). Messages never hold a test card number.
func FuzzValidate(f *testing.F) {
	files, _ := filepath.Glob("testdata/validate/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("reference;method;amount\n\"a\nb\";card;1\n"))
	f.Add([]byte("\xef\xbb\xbfreference\tmethod\tamount\r\n"))
	f.Add([]byte(cardFile(map[string]string{"full_name": "Ivan.4242.4242.4242.4242", "reference": "4111111111111111-2026"})))
	f.Add([]byte(cardFile(map[string]string{"description": "card 5555 5555 5555 4444 2027", "meta_note": "5105.1051.0510.5100"})))
	f.Add([]byte(cardFile(map[string]string{"phone": "4000_0566_5566_5556", "amount": "4111/1111/1111/1111"})))
	f.Add([]byte(cardFile(map[string]string{"description": "a\u202eb\u200bc\u0085d", "amount": "1 500 0,5"})))
	f.Add(book(f, [][]any{{"Номер", "ФИО", "Номер карты", "Сумма"}, {"E-1", "Иван", "4242424242424242", 100}, {"Итого", "", "", 100}}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := 1 + bytes.Count(data, []byte("\n"))
		if isZIP(data) {
			lines = 1 << 20 // a workbook's lines are its rows
		}
		var seen int
		res, err := Validate(bytes.NewReader(data), Options{Now: testNow, MaxErrors: -1,
			OnError: func(e Error) {
				seen++
				if e.Message == "" {
					t.Fatalf("error without a message: %+v", e)
				}
				if e.Line < 0 || e.Line > lines {
					t.Fatalf("error line %d outside the input's %d lines: %v", e.Line, lines, e)
				}
				if p, ok := showsTestPAN(e.String()); ok {
					t.Fatalf("message shows card number %s: %v", p, e)
				}
			}})
		if err != nil {
			t.Fatalf("Validate of bytes in memory failed: %v", err)
		}
		if seen != res.ErrorCount || len(res.Errors) != res.ErrorCount {
			t.Fatalf("OnError saw %d errors, result has %d (%d kept)", seen, res.ErrorCount, len(res.Errors))
		}
		if res.Valid() {
			// A valid file must read back row by row without an error.
			n := 0
			for _, err := range Rows(bytes.NewReader(data), Options{Now: testNow}, func(pan string, row int) string { return "sealed" }) {
				if err != nil {
					t.Fatalf("Rows of a valid file: %v", err)
				}
				n++
			}
			if n != res.Rows {
				t.Fatalf("Rows yielded %d rows, Validate counted %d", n, res.Rows)
			}
			// Without the checks, against the sums, the same rows.
			var want []payout.Row
			for row := range Rows(bytes.NewReader(data), Options{Now: testNow}, func(pan string, row int) string { return "sealed" }) {
				want = append(want, *row)
			}
			i := 0
			for row, err := range RowsChecked(bytes.NewReader(data), Options{Now: testNow}, res.Sums, func(pan string, row int) string { return "sealed" }) {
				if err != nil {
					t.Fatalf("RowsChecked of a valid file: %v", err)
				}
				if i >= len(want) || !reflect.DeepEqual(want[i], *row) {
					t.Fatalf("RowsChecked row %d differs from Rows", i+1)
				}
				i++
			}
			if i != len(want) {
				t.Fatalf("RowsChecked yielded %d rows, Rows %d", i, len(want))
			}
		}
	})
}

// showsTestPAN reports whether s holds one of the Luhn-valid test card
// numbers in groups of four with a separator the detector knows, not glued
// to more digits.
func showsTestPAN(s string) (string, bool) {
	for _, p := range testPANs[:6] {
		for _, sep := range []string{"", " ", "-", ".", "/", "_", "  ", "\t", "\u00a0", "–", "—"} {
			form := p[0:4] + sep + p[4:8] + sep + p[8:12] + sep + p[12:16]
			for i := 0; ; {
				j := strings.Index(s[i:], form)
				if j < 0 {
					break
				}
				j += i
				before, _ := utf8.DecodeLastRuneInString(s[:j])
				after, _ := utf8.DecodeRuneInString(s[j+len(form):])
				if !unicode.IsDigit(before) && !unicode.IsDigit(after) {
					return p, true
				}
				i = j + 1
			}
		}
	}
	return "", false
}

// FuzzHeader maps arbitrary header cells: folding is idempotent and leaves
// no separator at either end or doubled; a cell that folds to a known name
// maps to that column unless it repeats an earlier one or is no name at
// all; no column is mapped twice; every error is on the header's line.
func FuzzHeader(f *testing.F) {
	f.Add("Табельный номер;ФИО;Номер карты;Сумма")
	f.Add("reference;ФИО;full name;FULL_NAME;meta_x;Ё;__;error_column")
	f.Add("Назначение  платежа;НАЗНАЧЕНИЕ_ПЛАТЕЖА;Счёт IBAN;счет iban;Ф.И.О.;ф и о")
	f.Add("\u00a0Сумма\u00a0;Сума;amout;;card 4111 1111 1111 1111")
	f.Fuzz(func(t *testing.T, header string) {
		rec := strings.Split(header, ";")
		for _, h := range rec {
			k := foldName(h)
			if foldName(k) != k {
				t.Fatalf("foldName(%q) = %q, folded again %q", h, k, foldName(k))
			}
			if strings.HasPrefix(k, "_") || strings.HasSuffix(k, "_") || strings.Contains(k, "__") {
				t.Fatalf("foldName(%q) = %q keeps a separator", h, k)
			}
		}
		l, errs := mapHeader(rec, 1)
		for _, e := range errs {
			if e.Line != 1 || e.Message == "" {
				t.Fatalf("header error %+v", e)
			}
		}
		at := map[int]col{}
		for c := range numCols {
			p := l.pos[c]
			if p < 0 {
				continue
			}
			if prev, dup := at[p]; dup {
				t.Fatalf("cell %d maps to %s and %s", p, prev, c)
			}
			at[p] = c
			if got := columnByName[foldName(normalizeName(rec[p]))]; got != c {
				t.Fatalf("cell %q maps to %s, its name is %s's", rec[p], c, got)
			}
		}
		for i, h := range rec {
			n := normalizeName(h)
			c, known := columnByName[foldName(n)]
			if !known || headerProblem(n) != "" {
				continue
			}
			if l.pos[c] < 0 || l.pos[c] > i {
				t.Fatalf("cell %d %q names %s, mapped at %d", i, h, c, l.pos[c])
			}
		}
	})
}
