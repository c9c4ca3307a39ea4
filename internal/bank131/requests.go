package bank131

import "encoding/json"

// CreateSessionRequest is the body of session/create. Every field is
// optional; an empty request creates an empty session. Amount and method may
// be given here or in session/start/payout.
type CreateSessionRequest struct {
	PaymentMethod      *PaymentMethod      `json:"payment_method,omitempty"`
	PayoutDetails      *PaymentMethod      `json:"payout_details,omitempty"` // v2 name; leave nil with the v1 API
	AmountDetails      *Amount             `json:"amount_details,omitempty"`
	ParticipantDetails *ParticipantDetails `json:"participant_details,omitempty"`
	Customer           *Customer           `json:"customer,omitempty"`
	Metadata           json.RawMessage     `json:"metadata,omitempty"`
}

// StartPayoutRequest is the body of session/start/payout. The method and
// the amount are required here unless session/create carried them.
type StartPayoutRequest struct {
	SessionID          string              `json:"session_id"`
	PaymentMethod      *PaymentMethod      `json:"payment_method,omitempty"`
	PayoutDetails      *PaymentMethod      `json:"payout_details,omitempty"` // v2 name
	AmountDetails      *Amount             `json:"amount_details,omitempty"`
	ParticipantDetails *ParticipantDetails `json:"participant_details,omitempty"`
	Customer           *Customer           `json:"customer,omitempty"`
	Metadata           json.RawMessage     `json:"metadata,omitempty"`
}

// InitPayoutRequest is the body of session/init/payout (create and start
// in one call; single-request payouts). Method, amount and, for cards, the
// recipient's name are required.
type InitPayoutRequest struct {
	PaymentMethod      *PaymentMethod      `json:"payment_method,omitempty"`
	PayoutDetails      *PaymentMethod      `json:"payout_details,omitempty"` // v2 name
	AmountDetails      *Amount             `json:"amount_details,omitempty"`
	ParticipantDetails *ParticipantDetails `json:"participant_details,omitempty"`
	Customer           *Customer           `json:"customer,omitempty"`
	Metadata           json.RawMessage     `json:"metadata,omitempty"`
}

// SessionRequest is the body of session/cancel and session/status (and of
// session/confirm without confirm_information).
type SessionRequest struct {
	SessionID string `json:"session_id"`
}

// PublicTokenRequest is the body of token: the widgets the public token
// opens. At least one must be set.
type PublicTokenRequest struct {
	TokenizeWidget     *WidgetAccess       `json:"tokenize_widget,omitempty"`
	SelfEmployedWidget *SelfEmployedWidget `json:"self_employed_widget,omitempty"`
	AcquiringWidget    *AcquiringWidget    `json:"acquiring_widget,omitempty"`
}

// WidgetAccess opens the card tokenization widget.
type WidgetAccess struct {
	Access bool `json:"access"`
}

// SelfEmployedWidget opens the self-employed widget for a 12-digit INN.
type SelfEmployedWidget struct {
	TaxReference string `json:"tax_reference"`
}

// AcquiringWidget opens the payment form for a session.
type AcquiringWidget struct {
	SessionID             string `json:"session_id"`
	SuccessReturnURL      string `json:"success_return_url,omitempty"`
	FailureReturnURL      string `json:"failure_return_url,omitempty"`
	ShowRecurrentCheckbox bool   `json:"show_recurrent_checkbox,omitempty"`
}

// PublicTokenResponse carries the public token for a widget.
type PublicTokenResponse struct {
	PublicToken string `json:"public_token"`
}

// Token info kinds.
const (
	TokenInfoCard        = "card"
	TokenInfoPublicToken = "public_token"
	TokenInfoRecurrent   = "recurrent_token"
)

// TokenInfoRequest is the body of token/info: Type names which one of the
// other fields is set.
type TokenInfoRequest struct {
	Type           string    `json:"type"`
	Card           *Card     `json:"card,omitempty"`
	PublicToken    *TokenRef `json:"public_token,omitempty"`
	RecurrentToken *TokenRef `json:"recurrent_token,omitempty"`
}

// TokenRef names a token.
type TokenRef struct {
	Token string `json:"token"`
}

// CardTokenInfo asks about a card token (tokenized_card).
func CardTokenInfo(token string) TokenInfoRequest {
	return TokenInfoRequest{Type: TokenInfoCard, Card: &Card{Type: CardTokenized, TokenizedCard: &TokenizedCard{Token: token}}}
}

// EncryptedCardInfo asks about a card from the tokenization widget.
func EncryptedCardInfo(numberHash string) TokenInfoRequest {
	return TokenInfoRequest{Type: TokenInfoCard, Card: &Card{Type: CardEncrypted, EncryptedCard: &EncryptedCard{NumberHash: numberHash}}}
}

// TokenInfoResponse is the answer of token/info.
type TokenInfoResponse struct {
	Info TokenInfo `json:"info"`
}

// TokenInfo describes a token: for cards the brand and last four digits.
type TokenInfo struct {
	Type        string `json:"type,omitempty"`
	Token       string `json:"token,omitempty"`
	NumberHash  string `json:"number_hash,omitempty"`
	Brand       string `json:"brand,omitempty"`
	Last4       string `json:"last4,omitempty"`
	CountryISO3 string `json:"country_iso3,omitempty"`
	FinishedAt  Time   `json:"finished_at,omitzero"`
	IsActive    *bool  `json:"is_active,omitempty"`
}

// SessionResponse is the answer of every session method. Some answers carry
// confirm_information next to the session; it is kept verbatim.
type SessionResponse struct {
	Status             string          `json:"status"`
	Session            *Session        `json:"session"`
	ConfirmInformation json.RawMessage `json:"confirm_information,omitempty"`
}
