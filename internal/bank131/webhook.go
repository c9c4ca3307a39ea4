package bank131

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
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

// WebhookClues is what can still be read of a webhook ParseWebhook
// refused: its type, its session's id and the metadata of its payments,
// each read on its own, so one bad field does not hide the others.
type WebhookClues struct {
	Type      string
	SessionID string
	Metadata  []json.RawMessage
}

// clueSession and cluePayrun find a session id and payrun's metadata in a
// body that is not even JSON.
var (
	clueSession = regexp.MustCompile(`"id"\s*:\s*"(ps_[A-Za-z0-9_-]{1,64})"`)
	cluePayrun  = regexp.MustCompile(`\\?"payrun\\?"\s*:\s*\\?"([0-9a-f]{1,64}/[0-9]{1,9})\\?"`)
)

// ScanWebhook reads what it can of a verified webhook body that
// ParseWebhook refused, to name the row it is about.
func ScanWebhook(body []byte) WebhookClues {
	var c WebhookClues
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) == nil {
		_ = json.Unmarshal(top["type"], &c.Type)
		var sess map[string]json.RawMessage
		if json.Unmarshal(top["session"], &sess) == nil {
			_ = json.Unmarshal(sess["id"], &c.SessionID)
			for _, k := range []string{"payments", "payouts", "acquiring_payments"} {
				var list []map[string]json.RawMessage
				if json.Unmarshal(sess[k], &list) != nil {
					continue
				}
				for _, p := range list {
					if m := p["metadata"]; len(m) > 0 && !bytes.Equal(m, []byte("null")) {
						c.Metadata = append(c.Metadata, m)
					}
				}
			}
		}
	}
	if c.SessionID == "" {
		if m := clueSession.FindSubmatch(body); m != nil {
			c.SessionID = string(m[1])
		}
	}
	if len(c.Metadata) == 0 {
		if m := cluePayrun.FindSubmatch(body); m != nil {
			c.Metadata = append(c.Metadata, json.RawMessage(strconv.Quote(string(m[1]))))
		}
	}
	return c
}
