package bank131

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// WebhookType is the type of a Bank 131 webhook.
type WebhookType string

// Webhook types payrun handles. Others (ready_to_capture, confirmation_payout,
// transaction_registration, ...) parse fine and are reported by Known as
// unknown.
const (
	HookReadyToConfirm  WebhookType = "ready_to_confirm"
	HookActionRequired  WebhookType = "action_required"
	HookPaymentFinished WebhookType = "payment_finished"
	HookPaymentRefunded WebhookType = "payment_refunded"
)

// Known reports whether payrun acts on this webhook type.
func (t WebhookType) Known() bool {
	switch t {
	case HookReadyToConfirm, HookActionRequired, HookPaymentFinished, HookPaymentRefunded:
		return true
	}
	return false
}

// Webhook is a parsed webhook. Parse only what Verifier.Verify accepted.
type Webhook struct {
	Type    WebhookType `json:"type"`
	Session *Session    `json:"session"`
	// ConfirmInformation is the confirm_information object exactly as it
	// appeared in the body; pass it to Client.Confirm unchanged.
	ConfirmInformation json.RawMessage `json:"confirm_information,omitempty"`
	Details            *WebhookDetails `json:"details,omitempty"`
}

// ParseWebhook reads a verified webhook body. Unknown types and unknown
// fields are accepted; the body must be a JSON object with a type, and the
// known types must carry a session.
func ParseWebhook(body []byte) (*Webhook, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("parse webhook: not a JSON object")
	}
	var w Webhook
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return nil, fmt.Errorf("parse webhook: %w", err)
	}
	if w.Type == "" {
		return nil, errors.New("parse webhook: no type")
	}
	if w.Type.Known() && w.Session == nil {
		return nil, fmt.Errorf("parse webhook: %s without a session", w.Type)
	}
	if bytes.Equal(w.ConfirmInformation, []byte("null")) {
		w.ConfirmInformation = nil
	}
	return &w, nil
}

// ConfirmInfo returns the typed view of confirm_information, or nil when the
// webhook has none.
func (w *Webhook) ConfirmInfo() (*ConfirmInformation, error) {
	if len(w.ConfirmInformation) == 0 {
		return nil, nil
	}
	return ParseConfirmInformation(w.ConfirmInformation)
}

// Exchanges returns confirm_information.exchanges (cross-border transfers):
// the amounts, rate and commission the sender agrees to by confirming.
func (w *Webhook) Exchanges() ([]Exchange, error) {
	ci, err := w.ConfirmInfo()
	if err != nil || ci == nil {
		return nil, err
	}
	return ci.Exchanges, nil
}

// TCN returns the decoded transfer control number of a cross-border
// ready_to_confirm (details.tcn_code_encoded).
func (w *Webhook) TCN() (string, error) { return w.Details.TCN() }

// RedirectURL returns the 3-D Secure link of an action_required webhook
// (customer_interaction.redirect.url of the payment or payout), or "".
func (w *Webhook) RedirectURL() string { return w.Session.RedirectURL() }
