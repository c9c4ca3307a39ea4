package batch

import (
	"errors"
	"fmt"
	"strings"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// checkRow validates the current record and fills s.row. It reports
// whether the record has no error.
func (s *scanner) checkRow() bool {
	s.bad = [numCols]bool{}
	s.row = payout.Row{Index: s.index, Line: s.line}
	row := &s.row

	if s.sheet != nil && !s.trusted {
		s.reportSheetProblems()
	}
	// Cell-level checks for every filled cell.
	for c := range numCols {
		if s.trusted {
			break
		}
		p := s.lay.pos[c]
		if p < 0 || c == colErrorColumn || c == colErrorMessage || s.bad[c] {
			continue
		}
		if v := strings.TrimSpace(s.rec[p]); v != "" {
			if msg := cellProblem(v, columnKinds[c]); msg != "" {
				s.fail(c, msg)
			}
		}
	}
	for _, p := range s.lay.unnamed {
		if s.trusted {
			break
		}
		if v := strings.TrimSpace(s.rec[p]); v != "" {
			line := s.fieldLine(p)
			s.errs = append(s.errs, Error{Line: line,
				Message: fmt.Sprintf("column %d has no name in the header but holds %s", p+1, quote(v))})
		}
	}

	// reference
	ref := s.cell(colReference)
	if s.checkReference(ref) {
		row.Reference = ref
		if s.pass1 {
			k := s.refKey(ref)
			if first, dup := s.refs[k]; dup {
				s.failf(colReference, "%s already used on line %d", quote(ref), first)
			} else {
				s.refs[k] = int32(s.lineOf(colReference))
			}
		}
	}

	// method: the cell, else the file's (Options.Method), else the one the
	// filled columns tell.
	methodText := s.cell(colMethod)
	var method payout.Method
	methodOK := false
	switch {
	case s.bad[colMethod]:
	case methodText != "":
		if method, methodOK = payout.ParseMethod(methodText); !methodOK {
			s.failf(colMethod, "%s is not a method; use card, token, encrypted_card or transfer", quote(methodText))
		}
	case s.opts.Method != "":
		method, methodOK = s.opts.Method, true
	default:
		method, methodOK = s.inferMethod()
	}
	row.Method = method
	if methodOK {
		for i, m := range payout.Methods {
			if m == method {
				s.byMethod[i]++
			}
		}
	}
	domestic := methodOK && method != payout.MethodTransfer

	// currency and amount
	cur, curOK := s.checkCurrency(method, methodOK)
	s.checkAmount(cur, curOK)

	// common optional columns
	if d := s.cell(colDescription); d != "" && !s.bad[colDescription] && s.checkText(colDescription, d, maxDescription) {
		row.Description = d
	}
	if e := s.cell(colEmail); s.checkEmail(e) {
		row.Email = e
	}
	if p, ok := s.checkPhone(colPhone, s.cell(colPhone)); ok {
		row.Phone = p
	}

	// method columns
	if domestic {
		name := s.cell(colFullName)
		if s.required(colFullName, name, " for method "+string(method)) && s.checkName(colFullName, name, false) {
			row.FullName = name
		}
	}
	switch method {
	case payout.MethodCard:
		s.checkCard()
	case payout.MethodToken:
		if t := s.cell(colCardToken); s.required(colCardToken, t, " for method token") && s.checkToken(colCardToken, t) {
			row.CardToken = t
		}
	case payout.MethodEncryptedCard:
		s.checkEncrypted()
	case payout.MethodTransfer:
		s.checkTransfer(cur, curOK)
	}
	if methodOK && !s.trusted {
		s.warnNotApplicable(method)
	}

	// meta_ columns
	for _, m := range s.lay.meta {
		v := strings.TrimSpace(s.rec[m.pos])
		if v == "" {
			continue
		}
		if s.trusted {
			if row.Meta == nil {
				row.Meta = make(map[string]string, len(s.lay.meta))
			}
			row.Meta[m.name] = v
			continue
		}
		if msg := cellProblem(v, kindText); msg != "" {
			line := s.fieldLine(m.pos)
			s.errs = append(s.errs, Error{Line: line, Column: MetaPrefix + m.name, Message: msg})
			continue
		}
		if n := len([]rune(v)); n > maxText {
			line := s.fieldLine(m.pos)
			s.errs = append(s.errs, Error{Line: line, Column: MetaPrefix + m.name,
				Message: fmt.Sprintf("is %d characters long; at most %d", n, maxText)})
			continue
		}
		if s.pass1 {
			continue // only the rows published need their metadata
		}
		if row.Meta == nil {
			row.Meta = make(map[string]string, len(s.lay.meta))
		}
		row.Meta[m.name] = v
	}
	return len(s.errs) == 0
}

// methodColumns are, per method, the columns whose being filled tells a
// row's method when it names none.
var methodColumns = [...]struct {
	method payout.Method
	cols   []col
}{
	{payout.MethodCard, []col{colCardNumber}},
	{payout.MethodToken, []col{colCardToken}},
	{payout.MethodEncryptedCard, []col{colNumberHash, colExpirationDateHash, colCardholderNameHash, colSecurityCodeHash}},
	{payout.MethodTransfer, applies[payout.MethodTransfer]},
}

// inferMethod tells the method of a row that names none from its filled
// columns: the one method whose columns are filled. None or several is an
// error that names what it found.
func (s *scanner) inferMethod() (payout.Method, bool) {
	var found []string
	var method payout.Method
	for _, mc := range methodColumns {
		for _, c := range mc.cols {
			if s.lay.pos[c] >= 0 && s.cell(c) != "" {
				found = append(found, c.String()+" ("+string(mc.method)+")")
				method = mc.method
				break
			}
		}
	}
	lang := s.opts.Lang
	switch {
	case len(found) == 1:
		return method, true
	case len(found) == 0 && s.lay.pos[colMethod] < 0:
		s.fail(colMethod, tr(lang,
			"the file has no method column and the row has none of card_number, card_token, number_hash or the transfer columns; fill one in, add a method column or give the file's method (ingest --method)",
			"в файле нет колонки method (Способ выплаты), а в строке не заполнены ни card_number, ни card_token, ни number_hash, ни колонки перевода; заполните одну из них, добавьте колонку method или укажите способ для всего файла (ingest --method)"))
	case len(found) == 0:
		s.fail(colMethod, tr(lang,
			"is empty and the row has none of card_number, card_token, number_hash or the transfer columns; fill in the method (card, token, encrypted_card or transfer)",
			"не заполнен, а в строке нет ни card_number, ни card_token, ни number_hash, ни колонок перевода; укажите способ (card, token, encrypted_card или transfer)"))
	default:
		s.fail(colMethod, tr(lang,
			"cannot tell the method: the row fills the columns of "+strings.Join(found, " and ")+"; fill in method or keep the columns of one method only",
			"нельзя определить способ выплаты: в строке заполнены колонки разных способов: "+strings.Join(found, " и ")+"; укажите method или оставьте колонки одного способа"))
	}
	return "", false
}

// checkCurrency reads the currency: default RUB, RUB only for domestic
// methods, RUB or the destination currency for transfers (checked there).
func (s *scanner) checkCurrency(method payout.Method, methodOK bool) (string, bool) {
	v := s.cell(colCurrency)
	if s.bad[colCurrency] {
		return "", false
	}
	if v == "" {
		if method == payout.MethodTransfer {
			s.required(colCurrency, v, " for method transfer (RUB: the amount the sender pays; the destination currency: the amount the recipient gets)")
			return "", false
		}
		return "RUB", true
	}
	cur := strings.ToUpper(v)
	switch {
	case cur == "RUR":
		s.failf(colCurrency, "%s is the old ruble code; use RUB", quote(v))
		return "", false
	case len(cur) != 3 || !money.Known(cur):
		s.failf(colCurrency, "%s is not an ISO 4217 currency code payrun pays in", quote(v))
		return "", false
	case methodOK && method != payout.MethodTransfer && cur != "RUB":
		s.failf(colCurrency, "%s is not allowed for method %s: domestic payouts are in RUB", quote(v), method)
		return "", false
	}
	return cur, true
}

// checkAmount: a positive decimal with at most the currency's fraction
// digits, not above the per-row limit.
func (s *scanner) checkAmount(cur string, curOK bool) {
	v := s.cell(colAmount)
	if !s.required(colAmount, v, "") {
		return
	}
	parseCur := cur
	if !curOK {
		parseCur = "RUB" // still check the amount's syntax
	}
	a, err := parseAmount(v, parseCur)
	var grouping *money.GroupingError
	switch {
	case errors.As(err, &grouping):
		s.failf(colAmount, "%s is not an amount: %s", quote(v), grouping)
		return
	case errors.Is(err, money.ErrPrecision):
		s.failf(colAmount, "%s has more than %d decimal places", quote(v), money.Exponent(parseCur))
		return
	case errors.Is(err, money.ErrRange):
		s.failf(colAmount, "%s is too large", quote(v))
		return
	case err != nil:
		s.failf(colAmount, `%s is not an amount; write digits with "." or "," before the fraction, e.g. 1500.50`, quote(v))
		return
	case a.Minor == 0:
		s.failf(colAmount, "%s is zero", quote(v))
		return
	case a.Minor < 0:
		s.failf(colAmount, "%s is negative", quote(v))
		return
	}
	if !curOK {
		return
	}
	if limit := s.limit(cur); a.Minor > limit {
		s.failf(colAmount, "%s is above the per-row limit of %s", quote(v), money.Amount{Minor: limit, Currency: cur})
		return
	}
	s.row.Amount = a
	if s.pass1 {
		if err := s.res.Totals.Add(a); err != nil {
			s.failf(colAmount, "the file's total in %s is too large", cur)
		}
	}
}

// limit is the per-row limit in minor units of cur.
func (s *scanner) limit(cur string) int64 {
	if l, ok := s.limits[cur]; ok {
		return l
	}
	l := s.opts.maxAmount()
	switch e := money.Exponent(cur); {
	case e < 2:
		for range 2 - e {
			l /= 10
		}
	case e > 2:
		for range e - 2 {
			l *= 10
		}
	}
	s.limits[cur] = l
	return l
}

// checkCard: 13–19 digits after removing spaces and dashes, Luhn-valid,
// not all one digit.
func (s *scanner) checkCard() {
	v := s.cell(colCardNumber)
	if !s.required(colCardNumber, v, " for method card") {
		return
	}
	s.digits = s.digits[:0]
	other := false
	masked := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			s.digits = append(s.digits, c)
		case c == ' ' || c == '-':
		case c == '*' || c == 'X' || c == 'x' || c == 0xE2: // 0xE2 starts • (U+2022)
			masked = true
		default:
			other = true
		}
	}
	d := s.digits
	last4 := ""
	if len(d) >= 4 {
		last4 = " (last4 " + string(d[len(d)-4:]) + ")"
	}
	switch {
	case masked:
		s.fail(colCardNumber, "holds a masked number"+last4+"; enter the full card number")
	case other:
		s.fail(colCardNumber, "may hold only digits, spaces and dashes"+last4)
	case len(d) < 13 || len(d) > 19:
		s.failf(colCardNumber, "has %d digits; a card number has 13–19%s", len(d), last4)
	case cardmask.OneDigit(d):
		s.fail(colCardNumber, "is not a card number: all its digits are the same"+last4+"; enter the recipient's card number")
	case !payout.Luhn(string(d)):
		s.fail(colCardNumber, "fails the Luhn check"+last4)
	default:
		pan := string(d)
		card := &payout.Card{BIN: pan[:6], Last4: pan[len(pan)-4:]}
		if s.seal != nil {
			card.Sealed = s.seal(pan, s.index)
		}
		s.row.Card = card
	}
}

// checkEncrypted: the other hashes optional, number_hash required with
// them. A row with none of them waits for its card: the recipient enters
// it through a recipient link (the bank's tokenization widget), so its
// message carries no encrypted card.
func (s *scanner) checkEncrypted() {
	h := s.cell(colNumberHash)
	if h == "" && s.cell(colExpirationDateHash) == "" && s.cell(colCardholderNameHash) == "" && s.cell(colSecurityCodeHash) == "" {
		return
	}
	ok := s.required(colNumberHash, h, " with the other card hashes (leave all four empty for a recipient link)") && s.checkHash(colNumberHash, h)
	enc := &payout.EncryptedCard{NumberHash: h}
	for _, c := range []col{colExpirationDateHash, colCardholderNameHash, colSecurityCodeHash} {
		v := s.cell(c)
		if v == "" {
			continue
		}
		if !s.checkHash(c, v) {
			ok = false
			continue
		}
		switch c {
		case colExpirationDateHash:
			enc.ExpirationDateHash = v
		case colCardholderNameHash:
			enc.CardholderNameHash = v
		case colSecurityCodeHash:
			enc.SecurityCodeHash = v
		}
	}
	if ok {
		s.row.Encrypted = enc
	}
}

// warnNotApplicable warns about filled columns the row's method does not
// use; they are ignored (never published).
func (s *scanner) warnNotApplicable(method payout.Method) {
	var use [numCols]bool
	for _, c := range commonColumns {
		use[c] = true
	}
	for _, c := range applies[method] {
		use[c] = true
	}
	if method == payout.MethodTransfer {
		switch s.row.Transfer.Type {
		case payout.TransferCash:
			use[colIBAN], use[colRecipientCardToken] = false, false
		case payout.TransferIBAN:
			use[colRecipientCardToken] = false
		case payout.TransferCard:
			use[colIBAN] = false
		}
	}
	for c := range numCols {
		if use[c] || s.lay.pos[c] < 0 || s.cell(c) == "" {
			continue
		}
		if method == payout.MethodTransfer && (c == colIBAN || c == colRecipientCardToken) {
			s.warn(c, "ignored for transfer_type "+string(s.row.Transfer.Type))
			continue
		}
		s.warn(c, "ignored for method "+string(method))
	}
}

// parseAmount is money.Parse with a fast path for the common plain form
// (digits, optionally "." or "," and up to the currency's fraction digits).
func parseAmount(v, cur string) (money.Amount, error) {
	exp := money.Exponent(cur)
	var whole, frac int64
	i, n := 0, len(v)
	for i < n && v[i] >= '0' && v[i] <= '9' && i < 15 {
		whole = whole*10 + int64(v[i]-'0')
		i++
	}
	if i == 0 || i == 15 {
		return money.Parse(v, cur)
	}
	fd := 0
	if i < n && (v[i] == '.' || v[i] == ',') {
		i++
		for i < n && v[i] >= '0' && v[i] <= '9' && fd < exp {
			frac = frac*10 + int64(v[i]-'0')
			i++
			fd++
		}
		if fd == 0 {
			return money.Parse(v, cur)
		}
	}
	if i != n {
		return money.Parse(v, cur) // grouping, signs, too many decimals, junk
	}
	for range exp - fd {
		frac *= 10
	}
	for range exp {
		whole *= 10
	}
	return money.Amount{Minor: whole + frac, Currency: strings.ToUpper(cur)}, nil
}
