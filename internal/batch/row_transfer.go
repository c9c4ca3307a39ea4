// The checks of a cross-border transfer row (seed 003): the direction and
// its currency, the recipient, the sender's documents and phone.

package batch

import (
	"fmt"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/payout"
)

// checkTransfer validates the columns of a cross-border transfer.
func (s *scanner) checkTransfer(cur string, curOK bool) {
	t := &payout.Transfer{}
	now := s.opts.now()
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)

	country := strings.ToUpper(s.cell(colCountry))
	countryOK := false
	if s.required(colCountry, country, " for method transfer") && !s.bad[colCountry] {
		if country != "TUR" && country != "KGZ" {
			s.failf(colCountry, "%s is not a transfer destination; transfers go to TUR or KGZ", quote(s.cell(colCountry)))
		} else {
			countryOK = true
			t.Country = country
		}
	}

	typText := s.cell(colTransferType)
	typ := payout.TransferType(strings.ToLower(typText))
	typOK := false
	if s.required(colTransferType, typText, " for method transfer") && !s.bad[colTransferType] {
		switch typ {
		case payout.TransferCash, payout.TransferIBAN, payout.TransferCard:
			typOK = true
			t.Type = typ
			if countryOK && typ.Country() != country {
				s.failf(colTransferType, "%s transfers go to %s, not %s", typ, typ.Country(), country)
				typOK = false
			}
		default:
			s.failf(colTransferType, "%s is not a transfer type; use cash (TUR, USD), iban (TUR, TRY) or card (KGZ, KGS)", quote(typText))
		}
	}
	if typOK && curOK && cur != "RUB" && cur != typ.DestinationCurrency() {
		s.failf(colCurrency, "%s is not allowed for a %s transfer: use RUB (the amount the sender pays) or %s (the amount the recipient gets)",
			quote(s.cell(colCurrency)), typ, typ.DestinationCurrency())
	}

	if typOK {
		switch typ {
		case payout.TransferIBAN:
			if v := s.cell(colIBAN); s.required(colIBAN, v, " for transfer_type iban") {
				t.IBAN, _ = s.checkIBAN(v)
			}
		case payout.TransferCard:
			if v := s.cell(colRecipientCardToken); s.required(colRecipientCardToken, v, " for transfer_type card") && s.checkToken(colRecipientCardToken, v) {
				t.RecipientCardToken = v
			}
		}
		needNames := typ == payout.TransferIBAN || typ == payout.TransferCash
		for _, c := range []col{colRecipientFirstName, colRecipientLastName} {
			v := s.cell(c)
			if v == "" {
				if needNames {
					s.required(c, v, " for transfer_type "+string(typ))
				}
				continue
			}
			if s.checkName(c, v, true) {
				if c == colRecipientFirstName {
					t.RecipientFirstName = v
				} else {
					t.RecipientLastName = v
				}
			}
		}
	}

	if v := s.cell(colSenderCardToken); s.required(colSenderCardToken, v, " for method transfer") && s.checkToken(colSenderCardToken, v) {
		t.SenderCardToken = v
	}
	if v := s.cell(colRecipientCitizenship); s.required(colRecipientCitizenship, v, " for method transfer") {
		t.RecipientCitizenship, _ = s.checkCountry(colRecipientCitizenship, v)
	}
	if p, ok := s.checkPhone(colRecipientPhone, s.cell(colRecipientPhone)); ok && (p == "" || s.splitPhone(colRecipientPhone, p)) {
		t.RecipientPhone = p
	}

	// The sender.
	for _, c := range []col{colSenderFirstName, colSenderLastName, colSenderMiddleName} {
		v := s.cell(c)
		if c != colSenderMiddleName && !s.required(c, v, " for method transfer") {
			continue
		}
		if v == "" || !s.checkName(c, v, false) {
			continue
		}
		switch c {
		case colSenderFirstName:
			t.SenderFirstName = v
		case colSenderLastName:
			t.SenderLastName = v
		default:
			t.SenderMiddleName = v
		}
	}
	var birth time.Time
	if v := s.cell(colSenderBirthDate); s.required(colSenderBirthDate, v, " for method transfer") {
		if b, ok := s.checkDate(colSenderBirthDate, v, today); ok {
			if b.AddDate(18, 0, 0).After(today) {
				s.failf(colSenderBirthDate, "the sender must be 18 or older (born %s)", v)
			} else {
				birth = b
				t.SenderBirthDate = v
			}
		}
	}
	if v := s.cell(colSenderCitizenship); s.required(colSenderCitizenship, v, " for method transfer") {
		t.SenderCitizenship, _ = s.checkCountry(colSenderCitizenship, v)
	}
	// The sender's documents (seed 003): a Russian citizen's passport in
	// identity_document; a foreign citizen's own document in
	// documents_foreigner, and a Russian passport too only if given.
	foreign := t.SenderCitizenship != "" && t.SenderCitizenship != "RUS"
	docNumber, docDate := s.cell(colSenderDocNumber), s.cell(colSenderDocIssueDate)
	if !foreign || docNumber != "" || docDate != "" {
		why := " for method transfer"
		if v := docNumber; s.required(colSenderDocNumber, v, why) && !s.bad[colSenderDocNumber] && s.checkText(colSenderDocNumber, v, 64) {
			t.SenderDocNumber = v
		}
		if v := docDate; s.required(colSenderDocIssueDate, v, why) {
			if d, ok := s.checkDate(colSenderDocIssueDate, v, today); ok {
				if !birth.IsZero() && d.Before(birth) {
					s.failf(colSenderDocIssueDate, "%s is before the sender's birth date", quote(v))
				} else {
					t.SenderDocIssueDate = v
				}
			}
		}
	}
	s.foreignDocument(t, foreign, today)
	if p, ok := s.checkPhone(colSenderPhone, s.cell(colSenderPhone)); ok && s.required(colSenderPhone, p, " for method transfer") && s.splitPhone(colSenderPhone, p) {
		t.SenderPhone = p
	}
	if v := s.cell(colSenderCountry); s.required(colSenderCountry, v, " for method transfer") {
		t.SenderCountry, _ = s.checkCountry(colSenderCountry, v)
	}
	texts := []struct {
		c        col
		required bool
		dst      *string
	}{
		{colSenderCity, true, &t.SenderCity},
		{colSenderBuilding, true, &t.SenderBuilding},
		{colSenderDocIssuedBy, false, &t.SenderDocIssuedBy},
		{colSenderDocDivision, false, &t.SenderDocDivision},
		{colSenderPostalCode, false, &t.SenderPostalCode},
		{colSenderState, false, &t.SenderState},
		{colSenderStreet, false, &t.SenderStreet},
		{colSenderFlat, false, &t.SenderFlat},
		{colSourceOfMoney, false, &t.SourceOfMoney},
	}
	for _, x := range texts {
		v := s.cell(x.c)
		if x.required && !s.required(x.c, v, " for method transfer") {
			continue
		}
		if v != "" && !s.bad[x.c] && s.checkText(x.c, v, maxText) {
			*x.dst = v
		}
	}
	s.row.Transfer = t
}

// foreignDocument reads the sender's own document when the sender is not a
// Russian citizen (documents_foreigner: "required if the sender is a foreign
// citizen", S3:248): its number and the start of its validity are required,
// its end, type and issuer optional. A Russian citizen's row must leave
// these columns empty.
func (s *scanner) foreignDocument(t *payout.Transfer, foreign bool, today time.Time) {
	cols := []col{colSenderForeignDocNumber, colSenderForeignDocValidFrom, colSenderForeignDocValidTo, colSenderForeignDocType, colSenderForeignDocIssuedBy}
	if !foreign {
		for _, c := range cols {
			if v := s.cell(c); v != "" && !s.bad[c] {
				s.failf(c, "%s is for a sender who is not a Russian citizen; this sender's citizenship is RUS (use the sender_document_* columns)", quote(v))
			}
		}
		return
	}
	why := " for a sender who is not a Russian citizen (documents_foreigner)"
	if v := s.cell(colSenderForeignDocNumber); s.required(colSenderForeignDocNumber, v, why) && s.checkText(colSenderForeignDocNumber, v, 64) {
		t.SenderForeignDocNumber = v
	}
	var from time.Time
	if v := s.cell(colSenderForeignDocValidFrom); s.required(colSenderForeignDocValidFrom, v, why) {
		if d, ok := s.checkDate(colSenderForeignDocValidFrom, v, today); ok {
			from, t.SenderForeignDocValidFrom = d, v
		}
	}
	if v := s.cell(colSenderForeignDocValidTo); v != "" && !s.bad[colSenderForeignDocValidTo] {
		d, err := time.Parse(time.DateOnly, v)
		switch {
		case err != nil:
			s.failf(colSenderForeignDocValidTo, "%s is not a date in the form YYYY-MM-DD", quote(v))
		case d.Before(today):
			s.failf(colSenderForeignDocValidTo, "the document expired on %s", v)
		case !from.IsZero() && d.Before(from):
			s.failf(colSenderForeignDocValidTo, "%s is before the document's start of validity", quote(v))
		default:
			t.SenderForeignDocValidTo = v
		}
	}
	for _, x := range []struct {
		c   col
		dst *string
	}{{colSenderForeignDocType, &t.SenderForeignDocType}, {colSenderForeignDocIssuedBy, &t.SenderForeignDocIssuedBy}} {
		if v := s.cell(x.c); v != "" && !s.bad[x.c] && s.checkText(x.c, v, maxText) {
			*x.dst = v
		}
	}
}

// splitPhone checks that a transfer's phone splits into the four fields
// the bank requires (full_number, country_iso3, operator_code,
// short_number; S3:238-241), which the processor derives from it.
func (s *scanner) splitPhone(c col, p string) bool {
	if _, err := bank131.PhoneFromE164(p); err != nil {
		s.failf(c, "%s cannot be split into the bank's phone fields: %s", quote(p), strings.TrimPrefix(err.Error(), fmt.Sprintf("phone %q: ", p)))
		return false
	}
	return true
}
