package batch

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := 1 + bytes.Count(data, []byte("\n"))
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
				for _, p := range testPANs[:3] {
					if strings.Contains(e.String(), p) {
						t.Fatalf("message shows a card number: %v", e)
					}
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
		}
	})
}
