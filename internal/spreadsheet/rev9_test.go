package spreadsheet

import (
	"strings"
	"testing"
)

// TestRev9NoFormulaAfterAListSeparator: a spreadsheet opens a CSV file by
// the list separator of its own locale: Russian Excel splits at ';', and
// English Excel at ','. The English report (RFC 4180, ',') opened in
// Russian Excel, or the Russian one (';') in English Excel, is cut at the
// other separator too, and each piece starts a cell. A description a
// maker uploads (the intake checks only a cell's first character), such
// as "Премия;=HYPERLINK(CHAR(104)&…);", was then a formula in the
// checker's spreadsheet: SafeCell guarded the start of the cell only. Now
// a = or @ after a separator gets an apostrophe (+ and - there are left
// alone: "Премия, -13%" is ordinary text).
func TestRev9NoFormulaAfterAListSeparator(t *testing.T) {
	for _, in := range []string{
		"Премия;=HYPERLINK(CHAR(104)&CHAR(116)&CHAR(116)&CHAR(112));",
		"bonus,=1+1,",
		"bonus, =cmd|' /C calc'!A0,",
		"x;@SUM(A1:A9);",
	} {
		out := SafeCSVCell(in)
		for _, sep := range []string{",", ";"} {
			for i, piece := range strings.Split(out, sep) {
				p := strings.TrimLeft(piece, " ")
				if p != "" && strings.IndexByte("=@", p[0]) >= 0 {
					t.Errorf("SafeCell(%q) = %q: cut at %q, piece %d %q is a formula", in, out, sep, i, piece)
				}
			}
		}
	}
}

// An XLSX cell is never cut at a separator: it keeps its text whole, with
// only the leading guard.
func TestSafeCellKeepsTheTextInsideACell(t *testing.T) {
	for in, want := range map[string]string{
		"Премия;=HYPERLINK(1)": "Премия;=HYPERLINK(1)",
		"bonus, @Ivan":         "bonus, @Ivan",
		"=1+1, x":              "'=1+1, x",
	} {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SafeCSVCell("=1;=2"); got != "'=1;'=2" {
		t.Errorf("SafeCSVCell: %q", got)
	}
}
