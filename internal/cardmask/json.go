package cardmask

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/payrun/payrun/internal/payout"
)

// RedactJSON masks the card numbers in the string values (and names) of a
// JSON document, as Redact masks text (payrun's own references of rows,
// "<batch id>/<row>", are kept: redactText), and leaves every other byte
// as it is: a document without a card number in its strings is returned as it
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
		masked := redactText(s)
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
		if masked := redactText(string(out)); masked != string(out) {
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

// redactText is Redact, but for payrun's own references of rows in s,
// "<batch id>/<row>" (payout.BankRef: the metadata every payout carries
// and the bank echoes in its webhooks), which are kept: a batch id is a
// hash, never a card number, and the ledger finds the row by it. Read as
// text, the id's last hex digits, the slash and the row number are one
// chain of digit groups, which passes the Luhn check for about a tenth of
// the rows of a batch whose id ends in enough digits (rev8:
// be81c16bdc85757367707/398 was masked, and the webhook named no row).
// The text around a reference, and the reference's batch id and row
// number each on their own, are masked as Redact masks them.
func redactText(s string) string {
	if strings.IndexByte(s, '/') < 0 {
		return Redact(s)
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		end, ok := bankRefAt(s, i)
		if !ok {
			continue
		}
		start := i - 21
		b.WriteString(Redact(s[last:start]))
		b.WriteString(Redact(s[start:i]))
		b.WriteByte('/')
		b.WriteString(Redact(s[i+1 : end]))
		last, i = end, end-1
	}
	if last == 0 {
		return Redact(s)
	}
	b.WriteString(Redact(s[last:]))
	return b.String()
}

// bankRefAt reports whether s holds a row reference whose slash is s[i],
// not inside a longer word, and where it ends.
func bankRefAt(s string, i int) (end int, ok bool) {
	if s[i] != '/' || i < 21 || !payout.ValidBatchID(s[i-21:i]) {
		return 0, false
	}
	if r, _ := utf8.DecodeLastRuneInString(s[:i-21]); i > 21 && alphanumeric(r) {
		return 0, false
	}
	end = i + 1
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == i+1 || end-i-1 > 10 || s[i+1] == '0' {
		return 0, false
	}
	if r, _ := utf8.DecodeRuneInString(s[end:]); end < len(s) && alphanumeric(r) {
		return 0, false
	}
	return end, true
}
