// Package cardmask finds card numbers in text and masks them. It is the one
// card-number detector and masker of payrun: ingest refuses a file that
// holds a card number outside card_number (Find, Whole), and every piece of
// text that came from outside and is written anywhere (a report's cells,
// log attributes, error messages, HTTP answers: the bank's descriptions,
// a row's free text, names, form values) passes Redact first.
//
// Text is split into digit groups: maximal runs of decimal digits of any
// script (ASCII, full-width, Arabic-Indic, …). Groups separated by at most
// maxSeparator characters that are neither letters nor digits (spaces,
// tabs, no-break spaces, . / _ - – —, …) form a chain. Every contiguous
// sequence of groups in a chain whose digits total 13–19 is a candidate; a
// candidate is a card number when it passes the Luhn check and is not all
// one digit. A single group of more than 19 digits (a 20-digit Russian
// account number) is never part of a card number, but groups after it in
// the same chain are checked.
//
// Groups that form calendar dates (01.11.2026, 2026-11-30, 11.2026) or
// clock times (12:30:45) are not card numbers on their own: a candidate
// made only of such groups is skipped, so "01.11.2026-30.11.2026" in a
// description is not taken for a card. No card number is written in groups
// of one or two digits, so this skips no real one.
//
// A found card number is shown as its first six and last four digits
// (424242******4242, payout.MaskPAN), the form the ledger keeps.
package cardmask

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/payrun/payrun/internal/payout"
)

// Length limits of a card number (ISO/IEC 7812).
const (
	minPAN = 13
	maxPAN = 19
)

// maxSeparator is the longest run of separator characters between two
// digit groups of one card number.
const maxSeparator = 3

// panMatch is a card number found in text.
type panMatch struct {
	start, end int    // byte offsets of its first digit and after its last digit
	digits     string // ASCII digits
}

// masked is how a found card number is shown: BIN, stars and last four.
func (m panMatch) masked() string {
	return payout.MaskPAN(m.digits[:6], m.digits[len(m.digits)-4:])
}

// digitGroup is a maximal run of decimal digits.
type digitGroup struct {
	start, end int // byte offsets
	d0, d1     int // the group's digits in panScanner.digits
	sep        string
	date       bool // part of a date or time
}

// panScanner finds card numbers; its buffers are reused.
type panScanner struct {
	groups []digitGroup
	digits []byte
	cand   []byte
}

// Find reports the first card number in v, masked (424242******4242).
func Find(v string) (masked string, ok bool) {
	var ps panScanner
	ps.scan(v, func(m panMatch) bool {
		masked = m.masked()
		return false
	})
	return masked, masked != ""
}

// Redact replaces every card number in v by its masked form
// (424242******4242); overlapping card numbers are masked as one span. Text
// without one is returned as it is, without allocating; text with fewer
// than 13 digits is not scanned at all.
//
// The result holds nothing Find would take for a card number, so text
// redacted twice (the bank's message in an error, then in a report) reads
// the same: a mask's first six digits can form a new candidate with digits
// before it ("7999043 411111******1111"), which is masked in turn. That
// shows no digit that was not shown already.
func Redact(v string) string {
	for {
		out := redactOnce(v)
		if out == v {
			return v
		}
		if _, again := Find(out); !again {
			return out
		}
		v = out
	}
}

// redactOnce masks the card numbers Find sees in v.
func redactOnce(v string) string {
	if !enoughDigits(v) {
		return v
	}
	var ps panScanner
	var spans []panMatch
	ps.scan(v, func(m panMatch) bool {
		if n := len(spans); n > 0 && m.start < spans[n-1].end {
			last := &spans[n-1]
			// Extend the span; the mask shows the span's first six and
			// last four digits, never more of any one card number.
			if m.end > last.end {
				last.digits = digitsOf(v[last.start:m.end])
				last.end = m.end
			}
			return true
		}
		spans = append(spans, m)
		return true
	})
	if len(spans) == 0 {
		return v
	}
	var b strings.Builder
	last := 0
	for _, m := range spans {
		b.WriteString(v[last:m.start])
		b.WriteString(m.masked())
		last = m.end
	}
	b.WriteString(v[last:])
	return b.String()
}

// digitsOf returns the ASCII digits of the decimal digits in s.
func digitsOf(s string) string {
	var d []byte
	for _, r := range s {
		if v, ok := digitValue(r); ok {
			d = append(d, '0'+v)
		}
	}
	return string(d)
}

// enoughDigits is the fast path: fewer than 13 digits hold no card number.
func enoughDigits(v string) bool {
	n := 0
	ascii := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= '0' && c <= '9' {
			n++
		} else if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if n >= minPAN {
		return true
	}
	if ascii {
		return false
	}
	for _, r := range v {
		if r >= firstNonASCIIDigit && unicode.IsDigit(r) {
			n++
		}
	}
	return n >= minPAN
}

// firstNonASCIIDigit is the first decimal digit after 9 (ARABIC-INDIC
// DIGIT ZERO): Latin-1, Greek and Cyrillic text has none.
const firstNonASCIIDigit = 0x0660

// digitValue is the value of a decimal digit of any script. Unicode assigns
// decimal digits (category Nd) only in runs of ten, 0 to 9.
func digitValue(r rune) (byte, bool) {
	if r >= '0' && r <= '9' {
		return byte(r - '0'), true
	}
	if r < firstNonASCIIDigit || !unicode.IsDigit(r) {
		return 0, false
	}
	for _, rg := range unicode.Digit.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10), true
		}
	}
	for _, rg := range unicode.Digit.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10), true
		}
	}
	return 0, false
}

// alphanumeric is what ends a chain of digit groups.
func alphanumeric(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// scan calls fn for every card number in v, in order of their start (and,
// for one start, of their length); fn returns false to stop.
func (ps *panScanner) scan(v string, fn func(panMatch) bool) {
	if !enoughDigits(v) {
		return
	}
	ps.groups, ps.digits = ps.groups[:0], ps.digits[:0]
	chainStart := 0 // first group of the current chain
	sepStart, sepRunes := -1, 0
	broken := true // no group yet, or an alphanumeric since the last one
	for i := 0; i < len(v); {
		r, size := rune(v[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(v[i:])
		}
		if d, ok := digitValue(r); ok {
			n := len(ps.groups)
			if sepStart < 0 && !broken && n > 0 && ps.groups[n-1].end == i {
				// The current group goes on.
				ps.groups[n-1].end = i + size
				ps.digits = append(ps.digits, '0'+d)
				ps.groups[n-1].d1++
				i += size
				continue
			}
			if broken || sepRunes > maxSeparator {
				if !ps.chain(v, chainStart, fn) {
					return
				}
				chainStart = len(ps.groups)
			} else if n > 0 {
				ps.groups[n-1].sep = v[sepStart:i]
			}
			ps.groups = append(ps.groups, digitGroup{start: i, end: i + size, d0: len(ps.digits), d1: len(ps.digits) + 1})
			ps.digits = append(ps.digits, '0'+d)
			sepStart, sepRunes, broken = -1, 0, false
			i += size
			continue
		}
		if alphanumeric(r) {
			broken = true
		} else if !broken {
			if sepStart < 0 {
				sepStart = i
			}
			sepRunes++
		}
		i += size
	}
	ps.chain(v, chainStart, fn)
}

// chain checks the groups from first on, which form one chain.
func (ps *panScanner) chain(v string, first int, fn func(panMatch) bool) bool {
	g := ps.groups[first:]
	total := 0
	for _, x := range g {
		total += x.d1 - x.d0
	}
	if total < minPAN {
		return true
	}
	markDates(g, ps.digits)
	for i := range g {
		n := 0
		allDates := true
		for j := i; j < len(g); j++ {
			n += g[j].d1 - g[j].d0
			allDates = allDates && g[j].date
			if n > maxPAN {
				break
			}
			if n < minPAN || allDates {
				continue
			}
			ps.cand = ps.cand[:0]
			for k := i; k <= j; k++ {
				ps.cand = append(ps.cand, ps.digits[g[k].d0:g[k].d1]...)
			}
			if !OneDigit(ps.cand) && payout.Luhn(string(ps.cand)) {
				if !fn(panMatch{start: g[i].start, end: g[j].end, digits: string(ps.cand)}) {
					return false
				}
			}
		}
	}
	return true
}

// OneDigit reports whether the digits are all the same (0000000000000):
// Luhn-valid or not, no card has such a number.
func OneDigit(d []byte) bool {
	if len(d) == 0 {
		return false
	}
	for _, c := range d[1:] {
		if c != d[0] {
			return false
		}
	}
	return true
}

// markDates marks the groups of a chain that form a date (d.m.yyyy,
// d.m.yy, yyyy-m-d, m.yyyy, yyyy-m) or a time (h:mm, h:mm:ss), with one
// separator of . - / (dates) or : (times) between their groups.
func markDates(g []digitGroup, digits []byte) {
	num := func(k int) (int, int) { // value and length of group k
		v := 0
		for _, c := range digits[g[k].d0:g[k].d1] {
			v = v*10 + int(c-'0')
		}
		return v, g[k].d1 - g[k].d0
	}
	sepIs := func(k int, set string) bool { // between groups k and k+1
		return len(g[k].sep) == 1 && strings.IndexByte(set, g[k].sep[0]) >= 0
	}
	sameSep := func(k int) bool { return g[k].sep == g[k+1].sep }
	year := func(v, n int) bool { return n == 4 && v >= 1900 && v <= 2099 }
	short := func(v, n, lo, hi int) bool { return n <= 2 && v >= lo && v <= hi }
	mark := func(from, to int) {
		for k := from; k <= to; k++ {
			g[k].date = true
		}
	}
	for k := range g {
		if k+2 < len(g) && sepIs(k, ".-/") && sameSep(k) {
			a, an := num(k)
			b, bn := num(k + 1)
			c, cn := num(k + 2)
			if short(a, an, 1, 31) && short(b, bn, 1, 12) && (year(c, cn) || cn == 2) ||
				year(a, an) && short(b, bn, 1, 12) && short(c, cn, 1, 31) {
				mark(k, k+2)
				continue
			}
		}
		if k+1 < len(g) && sepIs(k, ".-/") {
			a, an := num(k)
			b, bn := num(k + 1)
			if short(a, an, 1, 12) && year(b, bn) || year(a, an) && short(b, bn, 1, 12) {
				mark(k, k+1)
				continue
			}
		}
		if k+1 < len(g) && sepIs(k, ":") {
			a, an := num(k)
			b, bn := num(k + 1)
			if short(a, an, 0, 23) && bn == 2 && b <= 59 {
				mark(k, k+1)
				if k+2 < len(g) && sepIs(k+1, ":") {
					if c, cn := num(k + 2); cn == 2 && c <= 59 {
						mark(k+2, k+2)
					}
				}
			}
		}
	}
}

// Whole reports whether the whole of v is one card number (separators
// and surrounding punctuation allowed) and returns it masked.
func Whole(v string) (masked string, ok bool) {
	var ps panScanner
	ps.scan(v, func(m panMatch) bool {
		if strings.TrimFunc(v[:m.start], notAlphanumeric) == "" && strings.TrimFunc(v[m.end:], notAlphanumeric) == "" {
			masked = m.masked()
			return false
		}
		return true
	})
	return masked, masked != ""
}

func notAlphanumeric(r rune) bool { return !alphanumeric(r) }

// LastFour is the last four digits of a card as text from outside states
// them (the bank's token/info "last4"), the only part of a card number
// payrun keeps beside its BIN: four ASCII digits as they are, or, should
// the text be a whole card number, its last four. Anything else (a masked
// or partial number, letters, another count of digits) is "": nothing of
// it is kept.
func LastFour(v string) string {
	v = strings.TrimSpace(v)
	if len(v) == 4 && strings.Trim(v, "0123456789") == "" {
		return v
	}
	if masked, ok := Whole(v); ok {
		return masked[len(masked)-4:]
	}
	return ""
}
