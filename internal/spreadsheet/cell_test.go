package spreadsheet

import "testing"

func TestSafeCell(t *testing.T) {
	tests := []struct{ in, cell, number string }{
		{"", "", ""},
		{"plain text", "plain text", "plain text"},
		{"100", "100", "100"},
		{"=1+2", "'=1+2", "'=1+2"},
		{"+cmd", "'+cmd", "'+cmd"},
		{"-bonus", "'-bonus", "'-bonus"},
		{"@SUM(A1)", "'@SUM(A1)", "'@SUM(A1)"},
		{"\tHYPERLINK", "'\tHYPERLINK", "'\tHYPERLINK"},
		{"\r=x", "'\r=x", "'\r=x"},
		{"  =1+2", "'  =1+2", "'  =1+2"}, // spaces do not hide a formula
		{" \t=x", "' \t=x", "' \t=x"},
		{"-", "'-", "'-"},
		{"+", "'+", "'+"},
		{"+100", "'+100", "+100"},
		{"-5.00", "'-5.00", "-5.00"},
		{" -1 500,50", "' -1 500,50", " -1 500,50"},
		{"+7 (999) 123-45-67", "'+7 (999) 123-45-67", "+7 (999) 123-45-67"},
		{"+1e5", "'+1e5", "'+1e5"},
		{"-2+3", "'-2+3", "'-2+3"},
		{"a=b", "a=b", "a=b"},
		{"'=quoted", "'=quoted", "'=quoted"},
		{"Зарплата", "Зарплата", "Зарплата"},
	}
	for _, tt := range tests {
		if got := SafeCell(tt.in); got != tt.cell {
			t.Errorf("SafeCell(%q) = %q, want %q", tt.in, got, tt.cell)
		}
		if got := SafeNumber(tt.in); got != tt.number {
			t.Errorf("SafeNumber(%q) = %q, want %q", tt.in, got, tt.number)
		}
	}
}
