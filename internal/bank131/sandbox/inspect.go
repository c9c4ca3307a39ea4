package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// PayoutInfo is what GET /sandbox/payouts and Server.Payouts show of one
// payout.
type PayoutInfo struct {
	Project       string          `json:"project"`
	SessionID     string          `json:"session_id"`
	PayoutID      string          `json:"payout_id"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	Amount        int64           `json:"amount"`   // minor units
	Currency      string          `json:"currency"` // upper case
	Status        string          `json:"status"`   // payout status
	SessionStatus string          `json:"session_status"`
	Method        string          `json:"method"` // e.g. card/bank_card, card/tokenized_card, bank_account/iban, moneysend
	Last4         string          `json:"last4,omitempty"`
	// ConfirmCount is how many session/confirm requests the sandbox
	// processed for the session (accepted or refused; a repeat stopped by
	// its idempotency key is not counted). ConfirmsAccepted is how many it
	// acted on: never more than one.
	ConfirmCount     int    `json:"confirm_count"`
	ConfirmsAccepted int    `json:"confirms_accepted"`
	ErrorCode        string `json:"error_code,omitempty"`
	Fee              int64  `json:"fee"` // RUB minor units, once succeeded
	Refunded         bool   `json:"refunded"`
	// Submerchant is the X-PARTNER-SUBMERCHANT of the calls about the
	// session (the last one sent); CallsWithoutSubmerchant counts those
	// that had none.
	Submerchant             string    `json:"submerchant,omitempty"`
	CallsWithoutSubmerchant int       `json:"calls_without_submerchant"`
	CreatedAt               time.Time `json:"created_at"`
	FinishedAt              time.Time `json:"finished_at,omitzero"`
}

// Payouts lists every payout, oldest first.
func (s *Server) Payouts() []PayoutInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PayoutInfo, 0, len(s.order))
	for _, sess := range s.order {
		p := sess.payout
		if p == nil {
			continue
		}
		info := PayoutInfo{
			Project: sess.project.Name, SessionID: sess.id, PayoutID: p.id,
			Metadata: p.metadata, Amount: p.amount.Amount, Currency: strings.ToUpper(p.amount.Currency),
			Status: string(p.status), SessionStatus: string(sess.status), Method: p.kind, Last4: p.last4,
			ConfirmCount: sess.confirmCalls, ConfirmsAccepted: sess.confirmsAccepted,
			Fee: p.fee, Refunded: len(p.refunds) > 0, CreatedAt: p.createdAt, FinishedAt: p.finished,
			Submerchant: sess.submerchant, CallsWithoutSubmerchant: sess.noSubmerchant,
		}
		if p.err != nil {
			info.ErrorCode = p.err.Code
		}
		out = append(out, info)
	}
	return out
}

func (s *Server) servePayouts(w http.ResponseWriter, _ *http.Request) {
	b, err := marshal(struct {
		Payouts []PayoutInfo `json:"payouts"`
	}{s.Payouts()})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) serveSetWebhookURL(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	u := strings.TrimSpace(string(b))
	if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		http.Error(w, "want an http(s) URL", http.StatusBadRequest)
		return
	}
	s.SetWebhookURL(u)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serveWebhookStats(w http.ResponseWriter, _ *http.Request) {
	b, _ := marshal(s.WebhookStats())
	writeJSON(w, http.StatusOK, b)
}
