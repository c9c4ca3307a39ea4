package batch

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// A totals line is the last record of a file when it totals the rows
// above instead of paying: its reference is empty (or holds the label or
// the number of rows), and a cell says Итого, Всего, Итог, Total or
// Totals, or it has an amount and nothing else but a currency. It is
// checked as a control total: its amount must be the sum of the rows
// above, its number of rows (a cell of digits only, or the number after
// the label: "Итого: 23") their count. It is not a payout.

// totalsWords start a totals label, folded (lower case, ё as е).
var totalsWords = []string{"итого", "итог", "всего", "totals", "total"}

// maxCountDigits bounds the digits of a number of rows in a totals line,
// so a card number or an account number is never read as one.
const maxCountDigits = 7

// heldRecord is a record held back because it may be the totals line.
type heldRecord struct {
	cells []string
	line  int
	pos   []int
	probs []sheetProblem
}

// hold keeps a copy of the current record.
func (s *scanner) hold(rec []string, line int, probs []sheetProblem) {
	h := &heldRecord{cells: slices.Clone(rec), line: line, probs: slices.Clone(probs), pos: make([]int, len(rec))}
	for i := range rec {
		h.pos[i], _ = s.cr.FieldPos(i)
	}
	s.held = h
}

// releaseHeld checks a held record as a row: another record came after
// it. False when emit stopped the run.
func (s *scanner) releaseHeld(emit func(*payout.Row) bool) bool {
	h := s.held
	if h == nil {
		return true
	}
	s.held = nil
	return s.processRow(h.cells, h.line, h.pos, h.probs, emit)
}

// totalsLabel reports whether a cell starts with a totals word followed
// by nothing, a space or punctuation ("Итого:", "ВСЕГО по ведомости"),
// and returns the rest.
func totalsLabel(v string) (rest string, ok bool) {
	f := strings.ToLower(strings.TrimSpace(v))
	f = strings.ReplaceAll(f, "ё", "е")
	for _, w := range totalsWords {
		r, found := strings.CutPrefix(f, w)
		if !found {
			continue
		}
		if next, _ := firstRune(r); r == "" || !unicode.IsLetter(next) && !unicode.IsDigit(next) {
			return r, true
		}
	}
	return "", false
}

func firstRune(s string) (rune, bool) {
	for _, r := range s {
		return r, true
	}
	return 0, false
}

// rowCount reads a number of rows: 1–7 digits and nothing else.
func rowCount(v string) (int, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > maxCountDigits {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// labelCount reads a number of rows at the start of text: after a label
// ("Итого: 23", "Всего 23 строки", "Total (23 rows)") or in a cell of a
// labelled line ("23 сотрудника").
func labelCount(rest string) (int, bool) {
	rest = strings.TrimLeft(rest, " \t:.-–—(№#")
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, false
	}
	if end < len(rest) {
		if r, _ := firstRune(rest[end:]); !unicode.IsSpace(r) && r != ')' && r != ',' && r != ';' && r != '.' {
			return 0, false // "23abc" is no count
		}
	}
	return rowCount(rest[:end])
}

// totals is what a totals line says.
type totals struct {
	label     string // the label as written, "" when it has none
	amount    string // the amount cell, trimmed
	currency  string
	count     int
	hasCount  bool
	countCell string
}

// readTotals reads a record as a totals line; false when it is not one.
func (s *scanner) readTotals(rec []string) (totals, bool) {
	var t totals
	ref, amt, cur := s.lay.pos[colReference], s.lay.pos[colAmount], s.lay.pos[colCurrency]
	cell := func(p int) string {
		if p >= 0 && p < len(rec) {
			return strings.TrimSpace(rec[p])
		}
		return ""
	}
	t.amount, t.currency = cell(amt), cell(cur)
	for _, c := range []col{colMethod, colCardNumber, colCardToken, colNumberHash, colIBAN, colRecipientCardToken, colSenderCardToken} {
		if cell(s.lay.pos[c]) != "" {
			return t, false // what a payout row is paid to
		}
	}
	labelled, others := false, false
	for _, v := range rec {
		if rest, ok := totalsLabel(v); ok && strings.TrimSpace(v) != "" {
			labelled, t.label = true, strings.TrimSpace(v)
			if n, ok := labelCount(rest); ok {
				t.count, t.hasCount, t.countCell = n, true, t.label
			}
			break
		}
	}
	for i, v := range rec {
		v = strings.TrimSpace(v)
		if v == "" || i == amt || i == cur || labelled && v == t.label {
			continue
		}
		n, ok := rowCount(v) // "23"; in a labelled line also "23 сотрудника"
		if !ok && labelled {
			n, ok = labelCount(v)
		}
		if ok && !t.hasCount {
			t.count, t.hasCount, t.countCell = n, true, v
			continue
		}
		if i == ref && !ok {
			return t, false // a reference: a payout row
		}
		others = true
	}
	if labelled {
		return t, true
	}
	// "An empty reference with an amount": nothing else but a currency.
	return t, !others && !t.hasCount && t.amount != "" && cell(ref) == ""
}

// totalsCandidate reports whether a record may be the totals line (it is
// if it is the last).
func (s *scanner) totalsCandidate(rec []string) bool {
	if s.index == 0 {
		return false // a totals line totals rows above it
	}
	_, ok := s.readTotals(rec)
	return ok
}

// checkTotalsLine checks the totals line against the rows above it.
func (s *scanner) checkTotalsLine(h *heldRecord) {
	t, _ := s.readTotals(h.cells)
	s.line, s.rec, s.pos, s.probs = h.line, h.cells, h.pos, h.probs
	defer func() { s.pos, s.probs = nil, nil }()
	s.bad = [numCols]bool{}
	s.res.TotalsLine = &TotalsLine{Line: h.line, Label: t.label}
	lang := s.opts.Lang
	var errs []Error
	at := func(c col) int {
		if p := s.lay.pos[c]; p >= 0 {
			return s.fieldLine(p)
		}
		return h.line
	}
	if s.sheet != nil && len(h.probs) > 0 {
		s.reportSheetProblems() // a formula for the total: paste it as a value
		errs = append(errs, s.errs...)
		s.errs = s.errs[:0]
	}
	if t.hasCount {
		s.res.TotalsLine.Rows = t.count
		if t.count != s.index {
			errs = append(errs, Error{Line: h.line, Message: tr(lang,
				fmt.Sprintf("the totals line says %d rows, the file has %d rows above it", t.count, s.index),
				fmt.Sprintf("в строке итогов число строк %d, а в файле над ней строк: %d", t.count, s.index))})
		}
	}
	if t.amount != "" {
		if a, ok := s.totalsAmount(t, h.line, &errs); ok {
			s.res.TotalsLine.Amount = a.String()
			if got := s.res.Totals[a.Currency]; s.amountErrors == 0 && got != a.Minor {
				errs = append(errs, Error{Line: at(colAmount), Column: colAmount.String(), Message: tr(lang,
					fmt.Sprintf("the totals line says %s, the rows above add up to %s", a, money.Amount{Minor: got, Currency: a.Currency}),
					fmt.Sprintf("в строке итогов %s, а сумма строк над ней %s", a, money.Amount{Minor: got, Currency: a.Currency}))})
			}
		}
	}
	if !t.hasCount && t.amount == "" && len(h.probs) == 0 {
		errs = append(errs, Error{Line: h.line, Message: tr(lang,
			"the totals line has neither an amount nor a number of rows to check; fill in the total or delete the line",
			"в строке итогов нет ни суммы, ни числа строк для проверки; заполните итог или удалите строку")})
	}
	s.errs = append(s.errs, errs...)
	s.maskErrors()
	if s.opts.OnRecord != nil && len(s.errs) > 0 {
		s.opts.OnRecord(&Record{Kind: RecordTotals, Delimiter: s.delim, Line: h.line, Header: s.header, Cells: h.cells, Errors: s.errs})
	}
	s.flush()
}

// totalsAmount reads the amount of the totals line in its currency: the
// line's currency cell, else the file's one currency.
func (s *scanner) totalsAmount(t totals, line int, errs *[]Error) (money.Amount, bool) {
	lang := s.opts.Lang
	cur := strings.ToUpper(t.currency)
	if cur == "" {
		amounts := s.res.Totals.Amounts()
		switch len(amounts) {
		case 0:
			cur = "RUB"
		case 1:
			cur = amounts[0].Currency
		default:
			var curs []string
			for _, a := range amounts {
				curs = append(curs, a.Currency)
			}
			*errs = append(*errs, Error{Line: line, Column: colAmount.String(), Message: tr(lang,
				"the totals line has no currency and the file has several ("+strings.Join(curs, ", ")+"); fill in its currency",
				"в строке итогов не указана валюта, а в файле их несколько ("+strings.Join(curs, ", ")+"); укажите валюту")})
			return money.Amount{}, false
		}
	}
	a, err := money.Parse(t.amount, cur)
	if err != nil || !money.Known(cur) {
		*errs = append(*errs, Error{Line: line, Column: colAmount.String(), Message: tr(lang,
			fmt.Sprintf("the totals line's amount %s is not an amount in %s", quote(t.amount), cur),
			fmt.Sprintf("сумма в строке итогов %s — не сумма в %s", quote(t.amount), cur))})
		return money.Amount{}, false
	}
	return a, true
}
