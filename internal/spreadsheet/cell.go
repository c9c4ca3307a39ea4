// Package spreadsheet holds the one rule for text payrun writes into a
// spreadsheet cell, in CSV (the ingest errors report, the ledger's
// reports) or XLSX: a cell a spreadsheet would run as a formula gets a
// leading apostrophe, so that it shows as the text it is; and the CSV
// dialects payrun writes (Dialect), one list for the errors report and the
// reports.
package spreadsheet

import "strings"

// SafeCell returns s as a cell a spreadsheet shows as text and never runs:
// a value whose first character, or first after leading spaces, is = + -
// or @, or that starts with a tab or a carriage return, gets a leading
// apostrophe. Everything else is returned as it is. It is the rule for a
// cell that is a cell whatever the reader's locale (XLSX); a CSV file's
// cells take SafeCSVCell.
func SafeCell(s string) string {
	t := strings.TrimLeft(s, " ")
	if t != "" && strings.IndexByte("=+-@\t\r", t[0]) >= 0 {
		return "'" + s
	}
	return s
}

// SafeCSVCell is SafeCell for a cell of a CSV file. Inside the value, a =
// or @ that follows a list separator (',' or ';', and spaces) gets an
// apostrophe too: a spreadsheet in a locale whose separator is the other
// one (Russian Excel reading ',' files, English Excel reading ';' files)
// cuts the line there and starts a cell with it (rev9). An XLSX cell is
// never cut, and keeps its text (SafeCell).
func SafeCSVCell(s string) string {
	s = SafeCell(s)
	if !strings.ContainsAny(s, ",;") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] != ',' && s[i] != ';' {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j < len(s) && (s[j] == '=' || s[j] == '@') {
			b.WriteString(s[i+1 : j])
			b.WriteByte('\'')
			i = j - 1
		}
	}
	return b.String()
}

// SafeNumber is SafeCSVCell for a cell meant as a number (an amount, a phone
// number): a sign followed by digits, spaces and . , ( ) - only ("+100",
// "-5.00", "+7 (999) 123-45-67") is a number to a spreadsheet, not a
// formula, and is written as it is, so that a report of the payout file
// reads back as the same file; anything else is text and goes through
// SafeCSVCell.
func SafeNumber(s string) string {
	t := strings.TrimLeft(s, " ")
	if t != "" && (t[0] == '+' || t[0] == '-') && plainNumber(t[1:]) {
		return s
	}
	return SafeCSVCell(s)
}

// plainNumber reports whether s is digits with the separators numbers and
// phone numbers are written with, and at least one character.
func plainNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || strings.IndexByte(" .,()-", c) >= 0) {
			return false
		}
	}
	return true
}
