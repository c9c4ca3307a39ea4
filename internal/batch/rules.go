package batch

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/payout"
)

// Limits of the format.
const (
	maxReference   = 64
	maxDescription = 210
	maxName        = 100
	maxText        = 255 // free-text columns without a rule of their own, meta_ columns
	maxToken       = 512
)

// columnKind groups columns by the cell-level checks they get.
type columnKind int

const (
	kindText   columnKind = iota // free text: formulas and card numbers inside are rejected
	kindNumber                   // amount: a leading + or - is not a formula
	kindPhone                    // phones: a leading + is not a formula
	kindID                       // ids: scientific notation gets its own message
	kindCard                     // card_number
	kindToken                    // card numbers inside are rejected
	kindHash                     // 64 hex characters
)

var columnKinds = func() [numCols]columnKind {
	var k [numCols]columnKind
	k[colAmount] = kindNumber
	for _, c := range []col{colPhone, colRecipientPhone, colSenderPhone} {
		k[c] = kindPhone
	}
	for _, c := range []col{colReference, colIBAN, colSenderDocNumber, colSenderForeignDocNumber, colSenderPostalCode} {
		k[c] = kindID
	}
	k[colCardNumber] = kindCard
	for _, c := range []col{colCardToken, colRecipientCardToken, colSenderCardToken} {
		k[c] = kindToken
	}
	for _, c := range []col{colNumberHash, colExpirationDateHash, colCardholderNameHash, colSecurityCodeHash} {
		k[c] = kindHash
	}
	return k
}()

// applies lists, per method, the columns a row of that method uses besides
// the common ones; a filled column outside the list is ignored with a warning.
var applies = map[payout.Method][]col{
	payout.MethodCard:          {colFullName, colCardNumber},
	payout.MethodToken:         {colFullName, colCardToken},
	payout.MethodEncryptedCard: {colFullName, colNumberHash, colExpirationDateHash, colCardholderNameHash, colSecurityCodeHash},
	payout.MethodTransfer: {colCountry, colTransferType, colIBAN, colRecipientCardToken, colSenderCardToken,
		colRecipientFirstName, colRecipientLastName, colRecipientCitizenship, colRecipientPhone,
		colSenderFirstName, colSenderLastName, colSenderMiddleName, colSenderBirthDate, colSenderCitizenship,
		colSenderDocNumber, colSenderDocIssueDate, colSenderDocIssuedBy, colSenderDocDivision,
		colSenderForeignDocNumber, colSenderForeignDocValidFrom, colSenderForeignDocValidTo, colSenderForeignDocType,
		colSenderForeignDocIssuedBy, colSenderPhone,
		colSenderCountry, colSenderCity, colSenderBuilding, colSenderPostalCode, colSenderState, colSenderStreet,
		colSenderFlat, colSourceOfMoney},
}

var commonColumns = []col{colReference, colMethod, colAmount, colCurrency, colDescription, colEmail, colPhone,
	colErrorColumn, colErrorMessage}

// fail records an error in column c of the current record.
func (s *scanner) fail(c col, msg string) {
	s.bad[c] = true
	if c == colAmount {
		s.amountErrors++
	}
	s.errs = append(s.errs, Error{Line: s.lineOf(c), Column: c.String(), Message: msg})
}

func (s *scanner) failf(c col, format string, args ...any) { s.fail(c, fmt.Sprintf(format, args...)) }

func (s *scanner) warn(c col, msg string) {
	s.warns = append(s.warns, Error{Line: s.lineOf(c), Column: c.String(), Message: msg})
}

// lineOf is the physical line where column c of the current record starts.
func (s *scanner) lineOf(c col) int {
	if p := s.lay.pos[c]; p >= 0 && p < len(s.rec) {
		line := s.fieldLine(p)
		return line
	}
	return s.line
}

// cell is the trimmed value of column c in the current record.
func (s *scanner) cell(c col) string {
	if p := s.lay.pos[c]; p >= 0 && p < len(s.rec) {
		return strings.TrimSpace(s.rec[p])
	}
	return ""
}

// required reports whether column c has a value, recording an error if not.
func (s *scanner) required(c col, v, why string) bool {
	if s.bad[c] {
		return false
	}
	if v == "" {
		if s.lay.pos[c] < 0 {
			s.fail(c, "is required"+why+", and the file has no such column")
		} else {
			s.fail(c, "is required"+why)
		}
		return false
	}
	return true
}

// quote shows a cell in a message, shortened and with any card number
// masked.
func quote(v string) string {
	v = cardmask.Redact(v) // before shortening: a card number cut in two is no longer found
	if utf8.RuneCountInString(v) > 40 {
		r := []rune(v)
		v = string(r[:37]) + "…"
	}
	return strconv.Quote(v)
}

// cellProblem runs the checks every cell gets: encoding, control
// characters, formulas, card numbers in the wrong place, scientific
// notation. It returns "" when the cell passes.
func cellProblem(v string, kind columnKind) string {
	if msg := textProblem(v); msg != "" {
		return msg
	}
	switch v[0] {
	case '=', '@':
		if len(v) == 1 && v[0] == '@' {
			break
		}
		return quote(v) + " starts with " + v[:1] + " and a spreadsheet would run it as a formula; formulas are not accepted"
	case '+', '-':
		if len(v) > 1 && kind != kindNumber && kind != kindPhone { // a lone "-" is a dash
			return quote(v) + " starts with " + v[:1] + " and a spreadsheet would run it as a formula; formulas are not accepted"
		}
	case '\t', '\r':
		return "starts with a control character, as a spreadsheet formula may"
	}
	switch kind {
	case kindID, kindToken, kindPhone:
		if scientific(v) {
			return quote(v) + " is in scientific notation: a spreadsheet turned the number into a float and lost digits; format the column as text and export again"
		}
	case kindCard:
		if scientific(v) {
			return quote(v) + " is in scientific notation: a spreadsheet turned the card number into a float and lost digits; format the column as text and export again"
		}
	}
	switch kind {
	case kindToken:
		if masked, ok := cardmask.Whole(v); ok {
			return "looks like a card number (" + masked + "), not a token; card numbers go into card_number with method card"
		}
		if masked, ok := cardmask.Find(v); ok {
			return "contains what looks like a card number (" + masked + "); card numbers go only into card_number"
		}
	case kindText, kindID:
		if masked, ok := cardmask.Find(v); ok {
			return "contains what looks like a card number (" + masked + "); card numbers go only into card_number"
		}
	}
	return ""
}

// textProblem checks text of any kind (a cell, a column name, the batch
// name): valid UTF-8, no control characters (C0 but tab and line breaks,
// DEL, C1), no invisible formatting characters (Unicode Cf: zero-width
// and bidirectional controls, soft hyphen, BOM) and no line or paragraph
// separators (Zl, Zp). It returns "" when the text passes.
func textProblem(v string) string {
	i := 0
	for i < len(v) && v[i] >= 0x20 && v[i] < 0x7F {
		i++
	}
	if i == len(v) {
		return "" // printable ASCII
	}
	if !utf8.ValidString(v) {
		return "is not valid UTF-8 text; save the whole file as CSV UTF-8 and upload again"
	}
	pos := 0
	for _, r := range v {
		pos++
		switch {
		case r < 0x80:
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7F {
				return fmt.Sprintf("contains a control character (U+%04X) at character %d", r, pos)
			}
		case r <= 0x9F:
			return fmt.Sprintf("contains a control character (U+%04X) at character %d", r, pos)
		case r == utf8.RuneError:
			return fmt.Sprintf("contains the replacement character (U+FFFD) at character %d: the text was damaged by a conversion; export the file again", pos)
		case r == 0xAD || r >= 0x600 && invisible(r):
			return fmt.Sprintf("contains an invisible character, %s, at character %d; delete it (it often comes with text pasted from a web page or a document)", invisibleName(r), pos)
		}
	}
	return ""
}

// invisible reports whether r is a format character (Cf) or a line or
// paragraph separator. Below U+0600 the only one is U+00AD.
func invisible(r rune) bool {
	return r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Cf, r)
}

// invisibleName says which invisible character r is.
func invisibleName(r rune) string {
	name, ok := invisibleNames[r]
	switch {
	case ok:
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x061C:
		name = "bidirectional text control"
	default:
		name = "formatting character"
	}
	return fmt.Sprintf("U+%04X (%s)", r, name)
}

// invisibleNames names the invisible characters met most often.
var invisibleNames = map[rune]string{
	0xAD: "soft hyphen", 0x200B: "zero-width space", 0x200C: "zero-width non-joiner", 0x200D: "zero-width joiner",
	0x200E: "left-to-right mark", 0x200F: "right-to-left mark", 0x2028: "line separator", 0x2029: "paragraph separator",
	0x2060: "word joiner", 0xFEFF: "byte order mark",
}

// scientific reports whether v looks like a number a spreadsheet wrote in
// scientific notation: 4.27638E+15, 4,27638e15, 1E+19.
func scientific(v string) bool {
	i, n := 0, len(v)
	digits := func() int {
		start := i
		for i < n && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		return i - start
	}
	if digits() == 0 {
		return false
	}
	if i < n && (v[i] == '.' || v[i] == ',') {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i >= n || (v[i] != 'E' && v[i] != 'e') {
		return false
	}
	i++
	if i < n && (v[i] == '+' || v[i] == '-') {
		i++
	}
	return digits() > 0 && i == n
}

// checkReference: 1–64 of A–Z a–z 0–9 _ . : / -.
func (s *scanner) checkReference(v string) bool {
	if s.trusted {
		return v != ""
	}
	if !s.required(colReference, v, "") {
		return false
	}
	if n := utf8.RuneCountInString(v); n > maxReference {
		s.failf(colReference, "is %d characters long; at most %d", n, maxReference)
		return false
	}
	for _, r := range v {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:/-", r)) {
			s.failf(colReference, "%s may hold only letters A–Z, digits and _ . : / - (found %q)", quote(v), r)
			return false
		}
	}
	if len(v) >= len(ExamplePrefix) && strings.EqualFold(v[:len(ExamplePrefix)], ExamplePrefix) {
		s.fail(colReference, tr(s.opts.Lang,
			quote(v)+" is the template's example row; replace it with a payout of yours or delete the row",
			quote(v)+" — строка-пример из шаблона; замените её своей выплатой или удалите строку"))
		return false
	}
	return true
}

// checkPhone: "+" and 10–15 digits; spaces, dashes and parentheses between
// them are dropped.
func (s *scanner) checkPhone(c col, v string) (string, bool) {
	if v == "" || s.bad[c] {
		return "", v == ""
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		switch ch := v[i]; {
		case ch >= '0' && ch <= '9', ch == '+' && i == 0:
			b.WriteByte(ch)
		case ch == ' ' || ch == '-' || ch == '(' || ch == ')':
		default:
			s.failf(c, `%s must be "+" and 10–15 digits, e.g. +79991234567`, quote(v))
			return "", false
		}
	}
	p := b.String()
	if len(p) < 11 || len(p) > 16 || p[0] != '+' {
		s.failf(c, `%s must be "+" and 10–15 digits, e.g. +79991234567`, quote(v))
		return "", false
	}
	return p, true
}

// checkEmail accepts a plain address: local@domain.tld, no display name.
func (s *scanner) checkEmail(v string) bool {
	if s.trusted {
		return true
	}
	if v == "" || s.bad[colEmail] {
		return v == ""
	}
	local, domain, ok := strings.Cut(v, "@")
	valid := ok && local != "" && len(local) <= 64 && len(v) <= 254 &&
		!strings.ContainsAny(v, " \t\r\n<>()[],;:\\\"") && !strings.Contains(domain, "@") &&
		strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") &&
		!strings.Contains(domain, "..") && !strings.HasPrefix(local, ".") && !strings.HasSuffix(local, ".")
	if !valid {
		s.failf(colEmail, "%s is not a valid email address", quote(v))
	}
	return valid
}

// checkName: 1–100 letters, spaces, - ' . (latin: Latin letters only).
func (s *scanner) checkName(c col, v string, latin bool) bool {
	if v == "" || s.bad[c] {
		return false
	}
	if s.trusted {
		return true
	}
	if n := utf8.RuneCountInString(v); n > maxName {
		s.failf(c, "is %d characters long; at most %d", n, maxName)
		return false
	}
	letters := 0
	for _, r := range v {
		switch {
		case unicode.IsLetter(r):
			if latin && !unicode.Is(unicode.Latin, r) {
				s.failf(c, "%s must be written in Latin letters, as in the passport", quote(v))
				return false
			}
			letters++
		case r == ' ' || r == '-' || r == '\'' || r == '’' || r == '.':
		default:
			s.failf(c, "%s may hold only letters, spaces and - ' .", quote(v))
			return false
		}
	}
	if letters == 0 {
		s.failf(c, "%s has no letters", quote(v))
		return false
	}
	return true
}

// checkText limits a free-text cell's length.
func (s *scanner) checkText(c col, v string, max int) bool {
	if s.trusted {
		return true
	}
	if n := utf8.RuneCountInString(v); n > max {
		s.failf(c, "is %d characters long; at most %d", n, max)
		return false
	}
	return true
}

// checkToken: a bank token, no spaces, printable ASCII.
func (s *scanner) checkToken(c col, v string) bool {
	if s.trusted {
		return true
	}
	if s.bad[c] {
		return false
	}
	if len(v) > maxToken {
		s.failf(c, "is %d characters long; at most %d", len(v), maxToken)
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7F {
			s.failf(c, "%s is not a token: it may hold only letters, digits and punctuation, no spaces", quote(v))
			return false
		}
	}
	return true
}

// checkHash: 64 hexadecimal characters.
func (s *scanner) checkHash(c col, v string) bool {
	if s.trusted {
		return true
	}
	if s.bad[c] {
		return false
	}
	if len(v) != 64 {
		s.failf(c, "must be 64 hexadecimal characters (has %d)", utf8.RuneCountInString(v))
		return false
	}
	for i := 0; i < len(v); i++ {
		if ch := v[i]; !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F') {
			s.failf(c, "must be 64 hexadecimal characters (found %q)", rune(ch))
			return false
		}
	}
	return true
}

// checkCountry: an ISO 3166-1 alpha-3 code, returned in upper case.
func (s *scanner) checkCountry(c col, v string) (string, bool) {
	if s.bad[c] {
		return "", false
	}
	u := strings.ToUpper(v)
	if _, ok := countries[u]; ok {
		return u, true
	}
	if len(u) == 2 {
		if r, err := language.ParseRegion(u); err == nil && r.IsCountry() {
			if _, ok := countries[r.ISO3()]; ok {
				s.failf(c, "%s is a two-letter code; use the three-letter ISO 3166-1 code %s", quote(v), r.ISO3())
				return "", false
			}
		}
	}
	s.failf(c, "%s is not an ISO 3166-1 alpha-3 country code (e.g. RUS, TUR, KGZ)", quote(v))
	return "", false
}

// checkDate: YYYY-MM-DD, not in the future.
func (s *scanner) checkDate(c col, v string, today time.Time) (time.Time, bool) {
	if s.bad[c] {
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		s.failf(c, "%s is not a date in the form YYYY-MM-DD", quote(v))
		return time.Time{}, false
	}
	if d.After(today) {
		s.failf(c, "%s is in the future", quote(v))
		return time.Time{}, false
	}
	return d, true
}

// checkIBAN: a Turkish IBAN (TR, 26 characters, mod-97), spaces ignored.
// It returns the IBAN without spaces, in upper case.
func (s *scanner) checkIBAN(v string) (string, bool) {
	if s.bad[colIBAN] {
		return "", false
	}
	iban := strings.ToUpper(strings.ReplaceAll(v, " ", ""))
	for _, r := range iban {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			s.failf(colIBAN, "%s may hold only letters, digits and spaces", quote(v))
			return "", false
		}
	}
	switch {
	case !strings.HasPrefix(iban, "TR"):
		s.failf(colIBAN, "%s is not a Turkish IBAN: it must start with TR", quote(v))
		return "", false
	case len(iban) != 26:
		s.failf(colIBAN, "%s must have 26 characters without spaces (has %d)", quote(v), len(iban))
		return "", false
	case !ibanMod97(iban):
		s.failf(colIBAN, "%s fails the IBAN check digits (mod 97); check for a typo", quote(v))
		return "", false
	}
	return iban, true
}

// ibanMod97 is the ISO 13616 check: the rearranged IBAN as a number mod 97 is 1.
func ibanMod97(iban string) bool {
	rem := 0
	for _, r := range iban[4:] + iban[:4] {
		if r >= 'A' && r <= 'Z' {
			rem = (rem*100 + int(r-'A') + 10) % 97
		} else {
			rem = (rem*10 + int(r-'0')) % 97
		}
	}
	return rem == 1
}
