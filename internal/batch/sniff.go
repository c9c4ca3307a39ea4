// What a file's first bytes tell before it is read as CSV: its encoding
// (UTF-8, with or without a BOM, or refused) and its delimiter.

package batch

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// sniffEncoding tells the file's encoding from its start, or why it is
// not accepted.
func sniffEncoding(head []byte) (enc, reject string) {
	switch {
	case len(head) == 0:
		return "", "the file is empty; a header row is required"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE, 0, 0}), bytes.HasPrefix(head, []byte{0, 0, 0xFE, 0xFF}):
		return "", "the file is UTF-32 text; save it as CSV UTF-8 (or Windows-1251) and upload again"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return "", "the file is UTF-16 text (\"Unicode text\" in Excel); save it as CSV UTF-8 (or Windows-1251) and upload again"
	}
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return "", fmt.Sprintf("the file holds binary data (a NUL byte on line %d), not CSV text in UTF-8 or Windows-1251", 1+bytes.Count(head[:i], []byte("\n")))
	}
	if bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}) {
		return EncodingUTF8BOM, ""
	}
	if validUTF8Prefix(head) {
		return EncodingUTF8, ""
	}
	if looksCP1251(head) {
		return EncodingCP1251, ""
	}
	i := firstInvalidUTF8(head)
	return "", fmt.Sprintf("the file is neither UTF-8 nor Windows-1251 text (byte 0x%02X on line %d); save it as CSV UTF-8 and upload again",
		head[i], 1+bytes.Count(head[:i], []byte("\n")))
}

// validUTF8Prefix is utf8.Valid that forgives a sequence cut at the end.
func validUTF8Prefix(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	for cut := 1; cut < utf8.UTFMax && cut <= len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) && !utf8.FullRune(b[len(b)-cut:]) {
			return true
		}
	}
	return false
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return 0
}

// looksCP1251 reports whether non-ASCII bytes are mostly Cyrillic letters
// and the punctuation Russian spreadsheets write in Windows-1251.
func looksCP1251(b []byte) bool {
	high, good := 0, 0
	for _, c := range b {
		switch {
		case c < 0x80:
			if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
				return false
			}
		case c == 0x98: // unassigned in Windows-1251
			return false
		default:
			high++
			// А-я, Ёё, №, «», no-break space, dashes, quotes, ellipsis.
			if c >= 0xC0 || c == 0xA8 || c == 0xB8 || c == 0xB9 || c == 0xAB || c == 0xBB ||
				c == 0xA0 || c == 0x96 || c == 0x97 || c == 0x93 || c == 0x94 || c == 0x85 {
				good++
			}
		}
	}
	return high > 0 && good*10 >= high*9
}

// sniffDelimiter picks ',', ';' or tab, whichever the header line (outside
// quotes) has most of; ',' when it has none.
func sniffDelimiter(head []byte) rune {
	counts := map[byte]int{}
	inQuote := false
	for _, c := range head {
		if c == '"' {
			inQuote = !inQuote
			continue
		}
		if inQuote {
			continue
		}
		if c == '\n' {
			break
		}
		if c == ',' || c == ';' || c == '\t' {
			counts[c]++
		}
	}
	best := byte(',')
	for _, c := range []byte{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return rune(best)
}
