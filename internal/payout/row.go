package payout

import (
	"time"

	"github.com/payrun/payrun/internal/money"
)

// Row is one validated line of a payout file, as it travels through the
// intake stream. It never carries a card number in plaintext: Card.Sealed is
// the number sealed to the processors' public key (see package secret).
type Row struct {
	Batch       string            `json:"batch"`
	Index       int               `json:"row"`  // 1-based data row number within the file
	Line        int               `json:"line"` // physical line of the file where the row starts
	Reference   string            `json:"reference"`
	Method      Method            `json:"method"`
	Amount      money.Amount      `json:"amount"`
	Description string            `json:"description,omitempty"`
	Email       string            `json:"email,omitempty"`
	Phone       string            `json:"phone,omitempty"`
	FullName    string            `json:"full_name,omitempty"`
	Card        *Card             `json:"card,omitempty"`           // method card
	CardToken   string            `json:"card_token,omitempty"`     // method token
	Encrypted   *EncryptedCard    `json:"encrypted_card,omitempty"` // method encrypted_card
	Transfer    *Transfer         `json:"transfer,omitempty"`       // method transfer
	Meta        map[string]string `json:"meta,omitempty"`           // meta_<name> columns, without the prefix
	// Digest is the keyed digest of the row's plaintext fields (hex
	// HMAC-SHA256 under the upload side's row digest key, card number
	// included: secret.Sealer.RowDigest), by which a row seen again is
	// compared. Empty in rows ingested before public-key sealing.
	Digest string `json:"digest,omitempty"`
}

// Card is a card number as payrun keeps it: sealed, with the parts that may
// be shown (first six and last four digits).
type Card struct {
	Sealed string `json:"sealed"` // the digits sealed by secret.Envelope (older rows: with the shared data key)
	BIN    string `json:"bin"`
	Last4  string `json:"last4"`
	// Fingerprint is the keyed fingerprint of the number
	// (secret.Sealer.Fingerprint): the same card has the same one in every
	// batch, and it reveals nothing without the key. Empty in older rows.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// EncryptedCard is card data collected by the Bank 131 tokenization widget.
type EncryptedCard struct {
	NumberHash         string `json:"number_hash"`
	ExpirationDateHash string `json:"expiration_date_hash,omitempty"`
	CardholderNameHash string `json:"cardholder_name_hash,omitempty"`
	SecurityCodeHash   string `json:"security_code_hash,omitempty"`
}

// TransferType is how a cross-border transfer reaches the recipient.
type TransferType string

// Transfer types and the currency each pays out in.
const (
	TransferCash TransferType = "cash" // TUR, USD, moneysend
	TransferIBAN TransferType = "iban" // TUR, TRY, bank_account/iban
	TransferCard TransferType = "card" // KGZ, KGS, MBANK cards
)

// DestinationCurrency is the currency a transfer type pays the recipient in.
func (t TransferType) DestinationCurrency() string {
	switch t {
	case TransferCash:
		return "USD"
	case TransferIBAN:
		return "TRY"
	case TransferCard:
		return "KGS"
	}
	return ""
}

// Country is the only destination country a transfer type serves.
func (t TransferType) Country() string {
	switch t {
	case TransferCash, TransferIBAN:
		return "TUR"
	case TransferCard:
		return "KGZ"
	}
	return ""
}

// Transfer holds the columns of a cross-border transfer row.
//
// Amount semantics: when the row's currency is RUB, the amount is what the
// sender pays (forward rate); when it is the destination currency, it is what
// the recipient gets (reverse rate).
type Transfer struct {
	Country              string       `json:"country"`
	Type                 TransferType `json:"transfer_type"`
	IBAN                 string       `json:"iban,omitempty"`
	RecipientCardToken   string       `json:"recipient_card_token,omitempty"`
	SenderCardToken      string       `json:"sender_card_token"`
	RecipientFirstName   string       `json:"recipient_first_name,omitempty"`
	RecipientLastName    string       `json:"recipient_last_name,omitempty"`
	RecipientCitizenship string       `json:"recipient_citizenship"`
	RecipientPhone       string       `json:"recipient_phone,omitempty"`
	SenderFirstName      string       `json:"sender_first_name"`
	SenderLastName       string       `json:"sender_last_name"`
	SenderMiddleName     string       `json:"sender_middle_name,omitempty"`
	SenderBirthDate      string       `json:"sender_birth_date"` // YYYY-MM-DD
	SenderCitizenship    string       `json:"sender_citizenship"`
	SenderDocNumber      string       `json:"sender_document_number"`
	SenderDocIssueDate   string       `json:"sender_document_issue_date"`
	SenderDocIssuedBy    string       `json:"sender_document_issued_by,omitempty"`
	SenderDocDivision    string       `json:"sender_document_division_code,omitempty"`
	// A foreign citizen's own document (documents_foreigner, seed 003):
	// required when SenderCitizenship is not RUS; the SenderDoc… fields
	// above are then a Russian passport only if the sender also has one.
	SenderForeignDocNumber    string `json:"sender_foreign_document_number,omitempty"`
	SenderForeignDocValidFrom string `json:"sender_foreign_document_valid_from,omitempty"` // YYYY-MM-DD
	SenderForeignDocValidTo   string `json:"sender_foreign_document_valid_to,omitempty"`   // YYYY-MM-DD
	SenderForeignDocType      string `json:"sender_foreign_document_type,omitempty"`
	SenderForeignDocIssuedBy  string `json:"sender_foreign_document_issued_by,omitempty"`
	SenderPhone               string `json:"sender_phone"`
	SenderCountry             string `json:"sender_country"`
	SenderCity                string `json:"sender_city"`
	SenderBuilding            string `json:"sender_building"`
	SenderPostalCode          string `json:"sender_postal_code,omitempty"`
	SenderState               string `json:"sender_state,omitempty"`
	SenderStreet              string `json:"sender_street,omitempty"`
	SenderFlat                string `json:"sender_flat,omitempty"`
	SourceOfMoney             string `json:"source_of_money,omitempty"`
}

// Destination describes where a row's money goes, masked so it may be shown
// in logs and reports: "card 424242******4242", "token …ad44",
// "IBAN TR33…1326", "cash TUR".
func (r *Row) Destination() string {
	switch r.Method {
	case MethodCard:
		if r.Card != nil {
			return "card " + MaskPAN(r.Card.BIN, r.Card.Last4)
		}
	case MethodToken:
		return "token " + tail(r.CardToken, 4)
	case MethodEncryptedCard:
		if r.Encrypted != nil {
			return "encrypted card " + tail(r.Encrypted.NumberHash, 6)
		}
	case MethodTransfer:
		if t := r.Transfer; t != nil {
			switch t.Type {
			case TransferIBAN:
				return "IBAN " + MaskIBAN(t.IBAN)
			case TransferCard:
				return "card token " + tail(t.RecipientCardToken, 4) + " " + t.Country
			case TransferCash:
				return "cash " + t.Country
			}
		}
	}
	return string(r.Method)
}

// Recipient is the name of the person paid.
func (r *Row) Recipient() string {
	if r.Transfer != nil && r.FullName == "" {
		return joinNonEmpty(r.Transfer.RecipientFirstName, r.Transfer.RecipientLastName)
	}
	return r.FullName
}

// Manifest seals a batch in the intake stream: it is published after every
// row was acknowledged, and the ledger accepts the batch only if the rows it
// recorded match it.
type Manifest struct {
	Batch      string       `json:"batch"`
	Name       string       `json:"name,omitempty"`
	FileName   string       `json:"file_name"`
	FileSHA256 string       `json:"file_sha256"`
	Rows       int          `json:"rows"`
	Totals     money.Totals `json:"totals"` // minor units per currency
	// RowDigestsSHA256 is DigestRows over each row's Digest in row order
	// (the SHA-256 of its message for a row without one): a re-ingest
	// sealed anew has the same. Manifests written before public-key
	// sealing have RowsSHA256 instead: DigestRows over the SHA-256 of the
	// row messages in order.
	RowDigestsSHA256 string     `json:"row_digests_sha256,omitempty"`
	RowsSHA256       string     `json:"rows_sha256,omitempty"`
	ScheduleAt       *time.Time `json:"schedule_at,omitempty"`
	RequireApproval  bool       `json:"require_approval,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	// UploadedBy and UploaderID name the person whose upload this is, as
	// the API that authenticated them says (empty for a component's own
	// publish): the ledger never lets them approve the batch.
	UploadedBy string `json:"uploaded_by,omitempty"`
	UploaderID int64  `json:"uploader_id,omitempty"`
}
