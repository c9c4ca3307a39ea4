package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/payout"
)

// ruAccountPrefixes are the account prefixes the bank pays to (§3.6).
var ruAccountPrefixes = []string{"40817810", "42301810", "42302810", "42303810", "42304810", "42305810",
	"42306810", "42307810", "40802810", "40820810", "40702810"}

// checkAmount validates a domestic payout amount.
func checkAmount(a *bank131.Amount) *apiError {
	if a == nil {
		return invalid("amount_details is required (in session/create or in this call)")
	}
	if a.Amount <= 0 {
		return invalid("amount_details.amount must be greater than zero")
	}
	if !strings.EqualFold(a.Currency, "rub") {
		return invalid("amount_details.currency must be rub for payouts, got %q", a.Currency)
	}
	return nil
}

// checkPayoutMethod validates a domestic payout method. Card payouts by
// number or token need the recipient's name; widget (encrypted) cards
// carry it in cardholder_name_hash (seed 000's start example has no name,
// its text says a Russian card needs one: encName, Modes.EncryptedCardName).
func checkPayoutMethod(m *bank131.PaymentMethod, pd *bank131.ParticipantDetails, encName bool) *apiError {
	if m == nil {
		return invalid("payment_method (payout_details) is required (in session/create or in this call)")
	}
	switch m.Type {
	case bank131.MethodCard:
		c := m.Card
		if c == nil {
			return invalid("payment_method.card is required")
		}
		switch c.Type {
		case bank131.CardBank:
			if c.BankCard == nil {
				return invalid("payment_method.card.bank_card is required")
			}
			n := c.BankCard.Number
			if len(n) < 14 || len(n) > 19 || strings.Trim(n, "0123456789") != "" {
				return invalid("card number must be 14 to 19 digits")
			}
			if !payout.Luhn(n) {
				return newAPIError(bank131.CodeCardNumberNotExist, "card number does not exist")
			}
			return needRecipientName(pd)
		case bank131.CardEncrypted:
			if c.EncryptedCard == nil || c.EncryptedCard.NumberHash == "" {
				return invalid("payment_method.card.encrypted_card.number_hash is required")
			}
			if encName {
				return needRecipientName(pd)
			}
			return nil
		case bank131.CardTokenized:
			if c.TokenizedCard == nil || c.TokenizedCard.Token == "" {
				return invalid("payment_method.card.tokenized_card.token is required")
			}
			return needRecipientName(pd)
		}
		return invalid("card type %q is not supported for payouts", c.Type)
	case bank131.MethodBankAccount:
		ba := m.BankAccount
		if ba == nil {
			return invalid("payment_method.bank_account is required")
		}
		st := ba.SystemType
		if st == "" {
			st = m.SystemType
		}
		switch st {
		case bank131.SystemRU:
			return checkRUAccount(ba.RU)
		case bank131.SystemFPS:
			f := ba.FPS
			if f == nil || f.Phone == "" || f.BankID == "" || f.Description == "" {
				return invalid("faster_payment_system needs phone, bank_id and description")
			}
			if len([]rune(f.Description)) > 140 {
				return invalid("faster_payment_system.description is longer than 140 characters")
			}
			return nil
		case bank131.SystemIBAN:
			return invalid("IBAN payouts are cross-border transfers: use bpa/session/multi/init/payment")
		}
		return invalid("bank_account system_type %q is not supported", st)
	}
	return invalid("payout method %q is not supported by the sandbox", m.Type)
}

func checkRUAccount(ru *bank131.BankAccountRU) *apiError {
	if ru == nil {
		return invalid("bank_account.ru is required")
	}
	if ru.FullName == "" || ru.Description == "" {
		return invalid("bank_account.ru needs full_name and description")
	}
	if len([]rune(ru.Description)) > 210 || strings.ContainsAny(ru.Description, "?!") {
		return invalid("bank_account.ru.description must be at most 210 characters without ? or !")
	}
	if ru.Token != "" {
		return nil
	}
	if len(ru.BIK) != 9 || strings.Trim(ru.BIK, "0123456789") != "" {
		return invalid("bank_account.ru.bik must be 9 digits")
	}
	if len(ru.Account) != 20 || strings.Trim(ru.Account, "0123456789") != "" {
		return invalid("bank_account.ru.account must be 20 digits")
	}
	for _, p := range ruAccountPrefixes {
		if strings.HasPrefix(ru.Account, p) {
			return nil
		}
	}
	return invalid("bank_account.ru.account prefix %s is not allowed for payouts", ru.Account[:8])
}

func needRecipientName(pd *bank131.ParticipantDetails) *apiError {
	if pd == nil || pd.Recipient == nil ||
		(pd.Recipient.FullName == "" && (pd.Recipient.FirstName == "" || pd.Recipient.LastName == "")) {
		return invalid("participant_details.recipient.full_name (or first_name and last_name) is required")
	}
	return nil
}

// shown returns the method as the bank shows it on the payout: card numbers
// and widget cards masked to brand and last four (a card the widget
// stand-in tokenized shows its real last four and brand, others a stable
// made-up one), tokens and accounts as given. It also returns the method
// kind and last four digits. Caller holds s.mu.
func (s *Server) shown(m *bank131.PaymentMethod) (*bank131.PaymentMethod, string, string) {
	kind := m.Kind()
	if m.Card == nil {
		return m, kind, ""
	}
	switch {
	case m.Card.BankCard != nil:
		n := m.Card.BankCard.Number
		return &bank131.PaymentMethod{Type: m.Type, Country: m.Country, Card: &bank131.Card{
			Brand: brand(n), Last4: n[len(n)-4:], BIN: n[:6],
		}}, kind, n[len(n)-4:]
	case m.Card.EncryptedCard != nil:
		card := s.widgetCard(m.Card.EncryptedCard.NumberHash)
		return &bank131.PaymentMethod{Type: m.Type, Country: m.Country, Card: &bank131.Card{
			Brand: card.brand, Last4: card.last4,
		}}, kind, card.last4
	case m.Card.TokenizedCard != nil:
		return m, kind, fakeLast4(m.Card.TokenizedCard.Token)
	}
	return m, kind, ""
}

// brand guesses the card network from the number's prefix.
func brand(n string) string {
	switch {
	case strings.HasPrefix(n, "4"):
		return "visa"
	case n >= "2200" && n < "2205":
		return "mir"
	case n >= "51" && n < "56", n >= "2221" && n < "2721":
		return "mastercard"
	case strings.HasPrefix(n, "62"):
		return "unionpay"
	}
	return "unknown"
}

// fakeLast4 gives a token a stable made-up last four digits.
func fakeLast4(token string) string {
	sum := sha256.Sum256([]byte(token))
	return fmt.Sprintf("%04d", binary.BigEndian.Uint32(sum[:4])%10000)
}

// transferKind says what a cross-border payout method needs.
type transferKind struct {
	country  string
	currency string
	names    bool // recipient first and last name required
}

// checkTransfer validates a multi/init/payment request (page 003) and
// returns the destination currency the payout method implies. The
// participants' checks depend on Modes.TransferChecks.
func checkTransfer(req *bank131.MultiInitPaymentRequest, now time.Time, modes Modes) (transferKind, *apiError) {
	if len(req.PaymentDetailsMulti) == 0 {
		return transferKind{}, invalid("payment_details_multi is required")
	}
	pay := req.PaymentDetailsMulti[0]
	if pay.Type != bank131.MethodCard || pay.Card == nil || !hasCardToken(pay.Card) {
		return transferKind{}, invalid("payment_details_multi[0] must be a card with tokenized_card.token or recurrent.token")
	}
	if len(req.PayoutDetailsMulti) == 0 {
		return transferKind{}, invalid("payout_details_multi is required")
	}
	po := req.PayoutDetailsMulti[0]
	var k transferKind
	switch po.Type {
	case bank131.MethodCard:
		if po.Card == nil || !hasCardToken(po.Card) {
			return k, invalid("payout_details_multi[0].card needs tokenized_card.token or recurrent.token")
		}
		k = transferKind{country: "KGZ", currency: "KGS"}
	case bank131.MethodBankAccount:
		if po.BankAccount == nil || po.BankAccount.IBAN == nil || strings.TrimSpace(po.BankAccount.IBAN.Account) == "" {
			return k, invalid("payout_details_multi[0].bank_account.iban.account is required")
		}
		if po.SystemType != bank131.SystemIBAN && po.BankAccount.SystemType != bank131.SystemIBAN {
			return k, invalid("payout_details_multi[0].system_type must be iban")
		}
		k = transferKind{country: "TUR", currency: "TRY", names: true}
	case bank131.MethodMoneysend:
		if po.Moneysend == nil {
			return k, invalid("payout_details_multi[0].moneysend must be {}")
		}
		k = transferKind{country: "TUR", currency: "USD", names: true}
	default:
		return k, invalid("payout_details_multi[0].type %q is not card, bank_account or moneysend", po.Type)
	}
	if po.Country == "" {
		return k, invalid("payout_details_multi[0].country is required (ISO 3166-1 alpha-3)")
	}
	if po.Country != k.country {
		return k, invalid("%s payouts go to %s, not %s", po.Type, k.country, po.Country)
	}
	if !strings.EqualFold(req.Calculate.Amounts.Destination.Currency, k.currency) {
		return k, invalid("%s payouts to %s are paid in %s, not %q", po.Type, k.country, k.currency,
			req.Calculate.Amounts.Destination.Currency)
	}
	if err := checkSender(req.ParticipantDetails.Sender, now, modes); err != nil {
		return k, err
	}
	r := req.ParticipantDetails.Recipient
	if r == nil || r.CitizenshipCountryISO3 == "" {
		return k, invalid("participant_details.recipient.citizenship_country_iso3 is required")
	}
	if k.names && (r.FirstName == "" || r.LastName == "") {
		return k, invalid("participant_details.recipient.first_name and last_name are required for IBAN and cash transfers")
	}
	if r.Contacts != nil && r.Contacts.Phone != nil {
		ph := r.Contacts.Phone
		if modes.TransferChecks == modeDocumented && modes.RecipientPhone == modeFour {
			if err := checkPhone("recipient", ph); err != nil {
				return k, err
			}
		} else if !strings.HasPrefix(ph.FullNumber, "+") {
			return k, invalid("recipient phone full_number must be +<country code><number>")
		}
	}
	return k, nil
}

func hasCardToken(c *bank131.Card) bool {
	return (c.TokenizedCard != nil && c.TokenizedCard.Token != "") || (c.Recurrent != nil && c.Recurrent.Token != "")
}

func checkSender(s *bank131.Participant, now time.Time, modes Modes) *apiError {
	if s == nil {
		return invalid("participant_details.sender is required")
	}
	for field, v := range map[string]string{
		"citizenship_country_iso3": s.CitizenshipCountryISO3,
		"first_name":               s.FirstName,
		"last_name":                s.LastName,
		"date_of_birth":            s.DateOfBirth,
	} {
		if strings.TrimSpace(v) == "" {
			return invalid("participant_details.sender.%s is required", field)
		}
	}
	a := s.Address
	if a == nil || a.StructuredAddress == nil || a.StructuredAddress.CountryISO3 == "" ||
		a.StructuredAddress.City == "" || a.StructuredAddress.Building == "" {
		return invalid("participant_details.sender.address.structured_address needs country_iso3, city and building")
	}
	born, err := time.Parse(time.DateOnly, s.DateOfBirth)
	if err != nil {
		return invalid("participant_details.sender.date_of_birth must be YYYY-MM-DD")
	}
	if born.AddDate(18, 0, 0).After(now) {
		return invalid("the sender must be 18 or older")
	}
	if modes.TransferChecks == modeDocumented {
		return checkSenderDocumented(s, modes)
	}
	doc, foreign := s.IdentityDocument, s.DocumentsForeigner
	switch {
	case doc != nil:
		if doc.IDType == "" || doc.IDNumber == "" || doc.IssueDate == "" {
			return invalid("participant_details.sender.identity_document needs id_type, id_number and issue_date")
		}
	case foreign != nil:
		if foreign.IDNumber == "" || foreign.IssueDate == "" {
			return invalid("participant_details.sender.documents_foreigner needs id_number and issue_date")
		}
	default:
		return invalid("participant_details.sender.identity_document (or documents_foreigner) is required")
	}
	if s.Contacts != nil && s.Contacts.Phone != nil && !strings.HasPrefix(s.Contacts.Phone.FullNumber, "+") {
		return invalid("sender phone full_number must be +<country code><number>")
	}
	return nil
}

// idTypeRussianPassport is the one id_type value seed 003 documents
// (S3:243). The sandbox keeps its own copy: it follows the page, not
// payrun's client.
const idTypeRussianPassport = "Паспорт гражданина Российской Федерации"

// checkSenderDocumented checks the sender's documents and phone against
// seed 003's parameter table (S3:220-251):
//   - identity_document is required unless documents_foreigner is given
//     (S3:242), and documents_foreigner is required for a foreign citizen
//     (S3:248);
//   - identity_document.id_type is "Паспорт гражданина Российской
//     Федерации" (S3:243), id_number and issue_date (YYYY-MM-DD) are
//     required (S3:244-245);
//   - documents_foreigner needs id_number and issue_date (S3:249-250; the
//     example S3:564-569 has no id_number: Modes.ForeignerDocuments);
//   - id_number "без пробелов" (S3:244, 249), though the examples have a
//     space (Modes.IDNumberSpaces);
//   - a phone has full_number, country_iso3, operator_code and
//     short_number (S3:238-241), consistent with each other;
//   - tax_reference, if given, is 12 digits (S3:233).
func checkSenderDocumented(s *bank131.Participant, modes Modes) *apiError {
	const at = "participant_details.sender."
	doc, foreign := s.IdentityDocument, s.DocumentsForeigner
	if doc == nil && foreign == nil {
		return invalid("%sidentity_document is required unless documents_foreigner is given", at)
	}
	if !strings.EqualFold(s.CitizenshipCountryISO3, "RUS") && foreign == nil {
		return invalid(at+"documents_foreigner is required: the sender is a citizen of %s", s.CitizenshipCountryISO3)
	}
	idNumber := func(field, v string, required bool) *apiError {
		switch {
		case v == "" && required:
			return invalid(at+"%s.id_number is required", field)
		case strings.ContainsAny(v, "  ") && modes.IDNumberSpaces == modeRefuse:
			return invalid(at+"%s.id_number must be written without spaces", field)
		}
		return nil
	}
	date := func(field, v string, required bool) *apiError {
		if v == "" && !required {
			return nil
		}
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return invalid(at+"%s must be YYYY-MM-DD, got %q", field, v)
		}
		return nil
	}
	if doc != nil {
		if doc.IDType != idTypeRussianPassport {
			return invalid(at+"identity_document.id_type must be %q, got %q", idTypeRussianPassport, doc.IDType)
		}
		if err := idNumber("identity_document", doc.IDNumber, true); err != nil {
			return err
		}
		if err := date("identity_document.issue_date", doc.IssueDate, true); err != nil {
			return err
		}
	}
	if foreign != nil {
		if err := idNumber("documents_foreigner", foreign.IDNumber, modes.ForeignerDocuments == modeTable); err != nil {
			return err
		}
		if err := date("documents_foreigner.issue_date", foreign.IssueDate, true); err != nil {
			return err
		}
		if err := date("documents_foreigner.id_expiration_date", foreign.IDExpirationDate, false); err != nil {
			return err
		}
	}
	if t := s.TaxReference; t != "" && (len(t) != 12 || strings.Trim(t, "0123456789") != "") {
		return invalid("%stax_reference must be 12 digits", at)
	}
	if s.Contacts != nil && s.Contacts.Phone != nil {
		return checkPhone("sender", s.Contacts.Phone)
	}
	return nil
}

// callingCodes are the country calling codes (ITU-T E.164 assignments) of
// the countries whose phones the sandbox checks for consistency.
var callingCodes = map[string]string{"RUS": "7", "KAZ": "7", "TUR": "90", "KGZ": "996", "UZB": "998", "TJK": "992", "ARM": "374", "AZE": "994", "GEO": "995", "BLR": "375"}

// checkPhone checks the four phone fields of seed 003 (S3:238-241) and that
// they agree: full_number = "+" + the country's calling code +
// operator_code + short_number.
func checkPhone(who string, p *bank131.Phone) *apiError {
	at := "participant_details." + who + ".contacts.phone."
	for _, f := range []struct{ field, v string }{{"full_number", p.FullNumber}, {"country_iso3", p.CountryISO3},
		{"operator_code", p.OperatorCode}, {"short_number", p.ShortNumber}} { // in the seed's order, not a map's
		if strings.TrimSpace(f.v) == "" {
			return invalid(at+"%s is required", f.field)
		}
	}
	digits := func(v string) bool { return strings.Trim(v, "0123456789") == "" }
	if !strings.HasPrefix(p.FullNumber, "+") || !digits(p.FullNumber[1:]) || !digits(p.OperatorCode) || !digits(p.ShortNumber) {
		return invalid("%sfull_number must be +<country code><number> and the parts digits only", at)
	}
	want := p.OperatorCode + p.ShortNumber
	if cc, ok := callingCodes[strings.ToUpper(p.CountryISO3)]; ok {
		want = "+" + cc + want
	}
	if !strings.HasSuffix(p.FullNumber, want) || (want[0] == '+' && p.FullNumber != want) {
		return invalid(at+"full_number %s does not match country_iso3 %s, operator_code %s and short_number %s",
			p.FullNumber, p.CountryISO3, p.OperatorCode, p.ShortNumber)
	}
	return nil
}
