package cardmask

import (
	"bytes"
	"encoding/json"
)

// RedactJSON masks the card numbers in the string values (and names) of a
// JSON document, as Redact masks text, and leaves every other byte as it
// is: a document without a card number in its strings is returned as it
// is (the same slice), so a verified webhook's body stays byte for byte
// what the bank signed unless it held a card number. It reports how many
// strings it changed.
//
// Only strings are looked at: numbers are the bank's amounts and ids,
// and a 16-digit amount in minor units that passes the Luhn check is
// money, not a card. A string with escapes (\u0034 for "4") is read
// as JSON reads it, so an escaped card number is found too; a changed
// string is written back as encoding/json writes a string, without HTML
// escapes. Input that is not valid JSON is scanned the same way (its
// quoted runs are masked where they read as JSON strings), and then what
// is left is masked as text (Redact), so that no card number stays in it
// (rev8: an unterminated string, or text outside quotes, kept one).
func RedactJSON(doc []byte) ([]byte, int) {
	if !enoughDigits(string(doc)) && bytes.IndexByte(doc, '\\') < 0 {
		return doc, 0
	}
	var out []byte
	changed := 0
	last := 0
	for i := 0; i < len(doc); i++ {
		if doc[i] != '"' {
			continue
		}
		end := stringEnd(doc, i)
		if end < 0 {
			break // an unterminated string: kept as it is
		}
		lit := doc[i : end+1]
		i = end
		if !mayHoldCard(lit) {
			continue
		}
		var s string
		if json.Unmarshal(lit, &s) != nil {
			continue
		}
		masked := Redact(s)
		if masked == s {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(doc))
		}
		out = append(out, doc[last:i-len(lit)+1]...)
		out = appendJSONString(out, masked)
		last = end + 1
		changed++
	}
	if changed > 0 {
		out = append(out, doc[last:]...)
	} else {
		out = doc
	}
	// Text that is not JSON is kept as evidence as it is, so a card number
	// must not survive outside the strings either: in a string the text
	// never ends, or between its quoted runs. It is masked as text.
	if !json.Valid(out) {
		if masked := Redact(string(out)); masked != string(out) {
			return []byte(masked), changed + 1
		}
	}
	return out, changed
}

// stringEnd returns the index of the quote that ends the JSON string
// starting at doc[start], or -1.
func stringEnd(doc []byte, start int) int {
	for j := start + 1; j < len(doc); j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

// mayHoldCard reports whether a string literal can hold a card number:
// 13 digits at least, or an escape or a non-ASCII byte (digits of another
// script, or digits written as escapes).
func mayHoldCard(lit []byte) bool {
	n := 0
	for _, c := range lit {
		switch {
		case c >= '0' && c <= '9':
			n++
		case c == '\\' || c >= 0x80:
			return true
		}
	}
	return n >= minPAN
}

// appendJSONString appends s as a JSON string, as encoding/json writes one
// with SetEscapeHTML(false).
func appendJSONString(dst []byte, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}
