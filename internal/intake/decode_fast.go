package intake

import (
	"unicode/utf8"

	"github.com/payrun/payrun/internal/payout"
)

// decodeCanonical reads a row message of a card or token row written
// exactly as AppendRow writes it (its fields in AppendRow's order, no
// space, no escaped character in any string) into m; ok is false, with m
// in any state, for every other message, which DecodeRow then reads with
// the JSON decoder. Its strings share one copy of data and m.Meta is a
// slice of data.
//
// Decision: the ledger's intake decodes every row of a file on the core
// its single writer leaves, and goccy/go-json's reflection-driven decode
// was half of that parse (0.29 of 0.63 CPU-seconds per 200k rows,
// BenchmarkIntake's profile). FuzzDecodeRow holds it to encoding/json's
// answers on every message it accepts.
func decodeCanonical(data []byte, m *RowMessage) (ok bool) {
	d := canonDecoder{b: data, s: string(data)}
	r := &m.Row
	if !d.lit(`{"batch":`) || !d.str(&r.Batch) ||
		!d.lit(`,"row":`) || !d.int(&r.Index) ||
		!d.lit(`,"line":`) || !d.int(&r.Line) ||
		!d.lit(`,"reference":`) || !d.str(&r.Reference) ||
		!d.lit(`,"method":`) || !d.method(&r.Method) ||
		!d.lit(`,"amount":{"minor":`) || !d.int64(&r.Amount.Minor) ||
		!d.lit(`,"currency":`) || !d.str(&r.Amount.Currency) || !d.lit(`}`) ||
		!d.opt(`,"description":`, &r.Description) || !d.opt(`,"email":`, &r.Email) ||
		!d.opt(`,"phone":`, &r.Phone) || !d.opt(`,"full_name":`, &r.FullName) {
		return false
	}
	if d.has(`,"card":{"sealed":`) {
		c := new(payout.Card)
		if !d.lit(`,"card":{"sealed":`) || !d.str(&c.Sealed) || !d.lit(`,"bin":`) || !d.str(&c.BIN) ||
			!d.lit(`,"last4":`) || !d.str(&c.Last4) || !d.opt(`,"fingerprint":`, &c.Fingerprint) || !d.lit(`}`) {
			return false
		}
		r.Card = c
	}
	if !d.opt(`,"card_token":`, &r.CardToken) {
		return false
	}
	if d.has(`,"meta":{`) {
		d.i += len(`,"meta":`)
		start := d.i
		if !d.metaObject(nil) {
			return false
		}
		m.Meta = data[start:d.i:d.i]
	}
	if !d.opt(`,"digest":`, &r.Digest) || !d.lit(`}`) {
		return false
	}
	return d.i == len(data)
}

// canonDecoder reads AppendRow's bytes b (and s, the same bytes as one
// string) from i.
type canonDecoder struct {
	b []byte
	s string
	i int
}

// has reports whether lit comes next.
func (d *canonDecoder) has(lit string) bool {
	return len(d.s)-d.i >= len(lit) && d.s[d.i:d.i+len(lit)] == lit
}

// lit reads lit.
func (d *canonDecoder) lit(lit string) bool {
	if !d.has(lit) {
		return false
	}
	d.i += len(lit)
	return true
}

// opt reads key and its string value into v if key comes next (AppendRow
// leaves an empty string out).
func (d *canonDecoder) opt(key string, v *string) bool {
	if !d.has(key) {
		return true
	}
	d.i += len(key)
	return d.str(v) && *v != ""
}

// str reads a string without escapes, of valid UTF-8 (encoding/json reads
// invalid UTF-8 as U+FFFD: such a string is not canonical).
func (d *canonDecoder) str(v *string) bool {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(d.b[start:j]) {
				return false
			}
			*v = d.s[start:j]
			d.i = j + 1
			return true
		case c == '\\' || c < 0x20:
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return false
}

// method reads the row's method.
func (d *canonDecoder) method(v *payout.Method) bool {
	var s string
	if !d.str(&s) {
		return false
	}
	*v = payout.Method(s)
	return true
}

// int64 reads a non-negative integer as AppendRow writes it (no sign, no
// leading zero) that fits an int64.
func (d *canonDecoder) int64(v *int64) bool {
	j := d.i
	var n int64
	for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
		if n > (1<<63-1-9)/10 {
			return false // may overflow: the JSON decoder decides
		}
		n = n*10 + int64(d.b[j]-'0')
		j++
	}
	if j == d.i || d.b[d.i] == '0' && j-d.i > 1 {
		return false
	}
	*v, d.i = n, j
	return true
}

// int reads an integer as int64 does into an int.
func (d *canonDecoder) int(v *int) bool {
	var n int64
	if !d.int64(&n) || int64(int(n)) != n {
		return false
	}
	*v = int(n)
	return true
}

// metaObject reads the meta object as AppendRow writes it: string keys
// and string values, at least one pair, keys in increasing order (so no
// key twice); pair, when set, is given each.
func (d *canonDecoder) metaObject(pair func(k, v string)) bool {
	if !d.lit(`{`) {
		return false
	}
	var prev string
	for n := 0; ; n++ {
		if n > 0 && !d.lit(`,`) {
			return false
		}
		var k, v string
		if !d.str(&k) || n > 0 && k <= prev || !d.lit(`:`) || !d.str(&v) {
			return false
		}
		prev = k
		if pair != nil {
			pair(k, v)
		}
		if d.lit(`}`) {
			return true
		}
	}
}

// decodeMetaCanonical reads a meta object written as AppendRow writes it
// (metaObject: what the ledger keeps of every row) into a map whose
// strings share one copy of meta; ok is false for any other text, which
// DecodeMeta reads with the JSON decoder.
//
// Decision: a report decodes every row's meta, and goccy/go-json's
// decode into a map was ~1.1 of the ~22 cpu-s of a 1M-row CSV report
// (BenchmarkReportFile's profile, bench/README.md). FuzzDecodeMeta holds
// it to encoding/json's answers.
func decodeMetaCanonical(meta []byte) (map[string]string, bool) {
	d := canonDecoder{b: meta, s: string(meta)}
	m := map[string]string{}
	if !d.metaObject(func(k, v string) { m[k] = v }) || d.i != len(meta) {
		return nil, false
	}
	return m, true
}
