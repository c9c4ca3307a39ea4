package processor

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/secret"
)

// Idempotency keys (docs/ARCHITECTURE.md). They name the row, the attempt
// and the call, so a repeat of the same call after a crash carries the same
// key and a new attempt never collides with an old one.
func createKey(batch string, row, attempt int) string {
	return rowKey(batch, row) + "/a" + strconv.Itoa(attempt) + "/create"
}
func startKey(batch string, row, attempt int) string {
	return rowKey(batch, row) + "/a" + strconv.Itoa(attempt) + "/start"
}
func transferKey(batch string, row, attempt int) string {
	return rowKey(batch, row) + "/a" + strconv.Itoa(attempt) + "/init"
}

// singleKey is the key of a single-request payout. It never changes within
// an attempt: a lost answer is recovered only through it, never by a new
// payout. Only the bank's own insufficient_wallet_balance (a definite "not
// paid") gives the row a new attempt, and with it a new key
// (<batch>/<row>/a<attempt>/init); the first attempt's key keeps its
// original form.
func singleKey(batch string, row, attempt int) string {
	if attempt == 0 {
		return rowKey(batch, row) + "/init"
	}
	return rowKey(batch, row) + "/a" + strconv.Itoa(attempt) + "/init"
}
func confirmKey(batch string, row int, session string) string {
	return rowKey(batch, row) + "/" + session + "/confirm"
}
func cancelKey(batch string, row int, session string) string {
	return rowKey(batch, row) + "/" + session + "/cancel"
}
func rowKey(batch string, row int) string { return batch + "/" + strconv.Itoa(row) }

// metadata is what the bank echoes in webhooks, session/status and its
// daily report, leading back to the row.
func metadata(r *payout.Row) json.RawMessage {
	return payout.BankRef{Batch: r.Batch, Row: r.Index, Reference: r.Reference}.Metadata()
}

func recipient(r *payout.Row) *bank131.ParticipantDetails {
	if r.FullName == "" {
		return nil
	}
	return &bank131.ParticipantDetails{Recipient: &bank131.Participant{FullName: r.FullName}}
}

// domesticMethod is the payout method of a card, token or widget row. A
// card number is opened from its sealed form here, in memory, and nowhere
// else.
func domesticMethod(r *payout.Row, opener *secret.Opener) (*bank131.PaymentMethod, error) {
	switch r.Method {
	case payout.MethodCard:
		if r.Card == nil {
			return nil, fmt.Errorf("row %d: card row without a card", r.Index)
		}
		if opener == nil {
			return nil, fmt.Errorf("row %d: this processor has no card key to open the card number (started with --no-card-rows)", r.Index)
		}
		pan, err := opener.Open(r.Card.Sealed, r.Batch+"/"+strconv.Itoa(r.Index))
		if err != nil {
			return nil, fmt.Errorf("row %d: open card number: %w", r.Index, err)
		}
		return bank131.BankCardMethod(pan), nil
	case payout.MethodToken:
		return bank131.TokenizedCardMethod(r.CardToken), nil
	case payout.MethodEncryptedCard:
		if r.Encrypted == nil {
			return nil, fmt.Errorf("row %d: encrypted_card row without card data", r.Index)
		}
		e := r.Encrypted
		return bank131.EncryptedCardMethod(bank131.EncryptedCard{
			NumberHash:         e.NumberHash,
			ExpirationDateHash: e.ExpirationDateHash,
			CardholderNameHash: e.CardholderNameHash,
			SecurityCodeHash:   e.SecurityCodeHash,
		}), nil
	}
	return nil, fmt.Errorf("row %d: method %s is not a domestic payout", r.Index, r.Method)
}

// calculation is the bpa/calculate request of a transfer row: a RUB amount
// is what the sender pays (forward), a foreign amount what the recipient
// gets (reverse).
func calculation(r *payout.Row) (bank131.Calculate, error) {
	t := r.Transfer
	if t == nil {
		return bank131.Calculate{}, fmt.Errorf("row %d: transfer row without transfer details", r.Index)
	}
	dst := t.Type.DestinationCurrency()
	switch strings.ToUpper(r.Amount.Currency) {
	case "RUB":
		return bank131.Calculate{Amounts: bank131.CalcSides{Source: bank131.Given(r.Amount.Minor, "RUB"), Destination: bank131.ToCompute(dst)}}, nil
	case dst:
		return bank131.Calculate{Amounts: bank131.CalcSides{Source: bank131.ToCompute("RUB"), Destination: bank131.Given(r.Amount.Minor, dst)}}, nil
	}
	return bank131.Calculate{}, fmt.Errorf("row %d: transfer in %s cannot pay out %s", r.Index, r.Amount.Currency, dst)
}

// quoteOf turns the bank's answer into the ledger's quote.
func quoteOf(q *bank131.CalculateResponse) *ledgerapi.Quote {
	a := q.Amounts
	return &ledgerapi.Quote{
		Source:      a.Source.Money(),
		Destination: a.Destination.Money(),
		TransferFee: a.TransferFee.Money(),
		SMSFee:      a.SMSFee.Money(),
		Payment:     a.Payment.Money(),
		FXRate:      string(q.Exchanges.Rate.FXRate),
		Quantity:    q.Exchanges.Rate.Quantity,
	}
}

// transferRequest is the multi/init/payment request of a transfer row
// (seed 003): the sender's card token is debited after 3-D Secure, the
// recipient is paid in the transfer type's currency.
func transferRequest(r *payout.Row) (bank131.MultiInitPaymentRequest, error) {
	t := r.Transfer
	calc, err := calculation(r)
	if err != nil {
		return bank131.MultiInitPaymentRequest{}, err
	}
	var po *bank131.PaymentMethod
	switch t.Type {
	case payout.TransferCash:
		po = bank131.MoneysendMethod(t.Country)
	case payout.TransferIBAN:
		po = bank131.IBANMethod(t.IBAN, t.Country)
	case payout.TransferCard:
		po = bank131.TransferCardMethod(t.RecipientCardToken, t.Country)
	default:
		return bank131.MultiInitPaymentRequest{}, fmt.Errorf("row %d: unknown transfer type %q", r.Index, t.Type)
	}
	sender := &bank131.Participant{
		FirstName:              t.SenderFirstName,
		LastName:               t.SenderLastName,
		MiddleName:             t.SenderMiddleName,
		CitizenshipCountryISO3: t.SenderCitizenship,
		DateOfBirth:            t.SenderBirthDate,
		Address: &bank131.Address{StructuredAddress: &bank131.StructuredAddress{
			CountryISO3: t.SenderCountry,
			PostalCode:  t.SenderPostalCode,
			State:       t.SenderState,
			City:        t.SenderCity,
			Street:      t.SenderStreet,
			Building:    t.SenderBuilding,
			Flat:        t.SenderFlat,
		}},
	}
	// A Russian passport (identity_document: the one id_type seed 003
	// documents, the number without spaces, S3:243-244); a foreign
	// citizen's own document in documents_foreigner (S3:248-251), with a
	// Russian passport too only when the file gives one.
	if t.SenderDocNumber != "" {
		sender.IdentityDocument = &bank131.IdentityDocument{
			IDType:       bank131.IDTypeRussianPassport,
			IDNumber:     bank131.CompactIDNumber(t.SenderDocNumber),
			IssueDate:    t.SenderDocIssueDate,
			IssuedBy:     t.SenderDocIssuedBy,
			DivisionCode: t.SenderDocDivision,
		}
	}
	if t.SenderForeignDocNumber != "" {
		sender.DocumentsForeigner = &bank131.IdentityDocument{
			IDType:           t.SenderForeignDocType,
			IDNumber:         bank131.CompactIDNumber(t.SenderForeignDocNumber),
			IssueDate:        t.SenderForeignDocValidFrom,
			IDExpirationDate: t.SenderForeignDocValidTo,
			IssuedBy:         t.SenderForeignDocIssuedBy,
		}
	}
	if sender.IdentityDocument == nil && sender.DocumentsForeigner == nil {
		return bank131.MultiInitPaymentRequest{}, fmt.Errorf("row %d: the sender has no identity document", r.Index)
	}
	// All four phone fields (S3:238-241), derived from the number.
	phone, err := bank131.PhoneFromE164(t.SenderPhone)
	if err != nil {
		return bank131.MultiInitPaymentRequest{}, fmt.Errorf("row %d: sender_phone: %w", r.Index, err)
	}
	sender.Contacts = &bank131.Contacts{Phone: &phone}
	rcpt := &bank131.Participant{
		FirstName:              t.RecipientFirstName,
		LastName:               t.RecipientLastName,
		CitizenshipCountryISO3: t.RecipientCitizenship,
	}
	if t.RecipientPhone != "" {
		phone, err := bank131.PhoneFromE164(t.RecipientPhone)
		if err != nil {
			return bank131.MultiInitPaymentRequest{}, fmt.Errorf("row %d: recipient_phone: %w", r.Index, err)
		}
		rcpt.Contacts = &bank131.Contacts{Phone: &phone}
	}
	req := bank131.MultiInitPaymentRequest{
		PaymentDetailsMulti: []bank131.PaymentMethod{*bank131.TokenizedCardMethod(t.SenderCardToken)},
		PayoutDetailsMulti:  []bank131.PaymentMethod{*po},
		ParticipantDetails:  bank131.ParticipantDetails{Sender: sender, Recipient: rcpt},
		Calculate:           calc,
		Metadata:            metadata(r),
	}
	if t.SourceOfMoney != "" {
		req.SourceOfMoney = &bank131.SourceOfMoney{Source: t.SourceOfMoney}
	}
	return req, nil
}
