package bank131

import (
	"bytes"
	"fmt"
	"log/slog"
)

// Payment method, card and bank account kinds as the bank names them.
const (
	MethodCard        = "card"
	MethodBankAccount = "bank_account"
	MethodMoneysend   = "moneysend"

	CardBank      = "bank_card"
	CardEncrypted = "encrypted_card"
	CardTokenized = "tokenized_card"

	SystemRU   = "ru"
	SystemIBAN = "iban"
	SystemFPS  = "faster_payment_system"
)

// PaymentMethod is where a payout goes (payment_method in v1, payout_details
// in v2) or where a payment comes from (payment_details). It is the bank's
// tagged union {"type":"<kind>","<kind>":{...}}. For cross-border payouts
// (payout_details_multi) SystemType and Country sit next to the kind.
type PaymentMethod struct {
	Type        string       `json:"type"`
	Card        *Card        `json:"card,omitempty"`
	BankAccount *BankAccount `json:"bank_account,omitempty"`
	Moneysend   *Empty       `json:"moneysend,omitempty"`
	SystemType  string       `json:"system_type,omitempty"`
	Country     string       `json:"country,omitempty"`
}

// Card is a card in a request (one of the three kinds) or, in responses and
// webhooks, the masked card the bank shows (Last4, Brand, BIN).
type Card struct {
	Type          string         `json:"type,omitempty"`
	BankCard      *BankCard      `json:"bank_card,omitempty"`
	EncryptedCard *EncryptedCard `json:"encrypted_card,omitempty"`
	TokenizedCard *TokenizedCard `json:"tokenized_card,omitempty"`
	Recurrent     *Recurrent     `json:"recurrent,omitempty"`

	Last4       string `json:"last4,omitempty"`
	Brand       string `json:"brand,omitempty"`
	BIN         string `json:"bin,omitempty"`
	CountryISO3 string `json:"country_iso3,omitempty"`
	CardID      string `json:"card_id,omitempty"`
}

// BankCard is a card number in the clear (PCI DSS partners only). It masks
// itself when printed or logged; only json.Marshal writes the number.
type BankCard struct {
	Number          string `json:"number"`
	ExpirationMonth string `json:"expiration_month,omitempty"`
	ExpirationYear  string `json:"expiration_year,omitempty"`
	SecurityCode    string `json:"security_code,omitempty"`
	CardholderName  string `json:"cardholder_name,omitempty"`
}

// String shows the card as its last four digits.
func (c BankCard) String() string { return "bank_card ****" + last4(c.Number) }

// GoString masks the card for %#v as well.
func (c BankCard) GoString() string { return c.String() }

// LogValue masks the card for log/slog.
func (c BankCard) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Format masks the card for every fmt verb.
func (c BankCard) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

func last4(s string) string {
	if len(s) <= 4 {
		return s
	}
	return s[len(s)-4:]
}

// EncryptedCard is card data collected by the bank's tokenization widget.
type EncryptedCard struct {
	NumberHash         string `json:"number_hash"`
	ExpirationDateHash string `json:"expiration_date_hash,omitempty"`
	CardholderNameHash string `json:"cardholder_name_hash,omitempty"`
	SecurityCodeHash   string `json:"security_code_hash,omitempty"`
}

// TokenizedCard is a card token.
type TokenizedCard struct {
	Token string `json:"token"`
}

// Recurrent is a saved (recurrent) token.
type Recurrent struct {
	Token     string `json:"token"`
	Initiator string `json:"initiator,omitempty"`
}

// BankAccount is a bank account payout method.
type BankAccount struct {
	SystemType string           `json:"system_type,omitempty"`
	RU         *BankAccountRU   `json:"ru,omitempty"`
	IBAN       *BankAccountIBAN `json:"iban,omitempty"`
	FPS        *FPS             `json:"faster_payment_system,omitempty"`
}

// BankAccountRU is a Russian bank account.
type BankAccountRU struct {
	BIK         string `json:"bik,omitempty"`
	Account     string `json:"account,omitempty"`
	FullName    string `json:"full_name,omitempty"`
	Description string `json:"description,omitempty"`
	IsFast      bool   `json:"is_fast,omitempty"`
	INN         string `json:"inn,omitempty"`
	KPP         string `json:"kpp,omitempty"`
	Token       string `json:"token,omitempty"`
}

// BankAccountIBAN is an IBAN account.
type BankAccountIBAN struct {
	Account string `json:"account"`
}

// FPS is a Faster Payments System (SBP) payout by phone.
type FPS struct {
	Phone       string `json:"phone"`
	BankID      string `json:"bank_id"`
	Description string `json:"description,omitempty"`
}

// Empty is an always-empty object such as moneysend: it writes {} and reads
// {} or [] (the PHP SDK writes empty objects as []), ignoring content.
type Empty struct{}

// MarshalJSON implements json.Marshaler.
func (Empty) MarshalJSON() ([]byte, error) { return []byte("{}"), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (*Empty) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] != '{' && b[0] != '[' && !bytes.Equal(b, []byte("null"))) {
		return fmt.Errorf("empty object expected, got %.20s", b)
	}
	return nil
}

// BankCardMethod pays to a card number (PCI DSS partners only).
func BankCardMethod(number string) *PaymentMethod {
	return &PaymentMethod{Type: MethodCard, Card: &Card{Type: CardBank, BankCard: &BankCard{Number: number}}}
}

// EncryptedCardMethod pays to card data from the tokenization widget.
func EncryptedCardMethod(c EncryptedCard) *PaymentMethod {
	return &PaymentMethod{Type: MethodCard, Card: &Card{Type: CardEncrypted, EncryptedCard: &c}}
}

// TokenizedCardMethod pays to (or, in payment_details, debits) a card token.
func TokenizedCardMethod(token string) *PaymentMethod {
	return &PaymentMethod{Type: MethodCard, Card: &Card{Type: CardTokenized, TokenizedCard: &TokenizedCard{Token: token}}}
}

// TransferCardMethod is a cross-border payout to a card token in country
// (ISO 3166-1 alpha-3, e.g. KGZ).
func TransferCardMethod(token, country string) *PaymentMethod {
	m := TokenizedCardMethod(token)
	m.Country = country
	return m
}

// IBANMethod is a cross-border payout to an IBAN in country (e.g. TUR).
func IBANMethod(iban, country string) *PaymentMethod {
	return &PaymentMethod{
		Type:        MethodBankAccount,
		BankAccount: &BankAccount{IBAN: &BankAccountIBAN{Account: iban}},
		SystemType:  SystemIBAN,
		Country:     country,
	}
}

// MoneysendMethod is a cross-border cash payout in country (e.g. TUR, USD cash).
func MoneysendMethod(country string) *PaymentMethod {
	return &PaymentMethod{Type: MethodMoneysend, Moneysend: &Empty{}, Country: country}
}

// Kind names the method for logs and reports: "card/bank_card",
// "card/tokenized_card", "bank_account/iban", "moneysend", ...
func (m *PaymentMethod) Kind() string {
	if m == nil {
		return ""
	}
	switch {
	case m.Card != nil && m.Card.Type != "":
		return m.Type + "/" + m.Card.Type
	case m.BankAccount != nil:
		st := m.BankAccount.SystemType
		if st == "" {
			st = m.SystemType
		}
		if st == "" && m.BankAccount.IBAN != nil {
			st = SystemIBAN
		}
		if st != "" {
			return m.Type + "/" + st
		}
	}
	return m.Type
}
