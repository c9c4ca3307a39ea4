package sandbox

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
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

// ReportHeader is the header of the daily report CSV.
var ReportHeader = []string{
	"operationId", "paymentSessionId", "paymentSessionMerchantMetadata", "typeOfPayment",
	"transactionDate", "finishedAt", "amount", "currency", "fee", "feeCurrency",
	"paymentFast", "paymentMethod", "contract",
}

// WriteReport writes the bank's report of successful operations finished
// on date (UTC) as CSV: a succeeded payout is an Advice line on the day it
// finished, a returned payout adds a Refund line on the day it was returned.
// project "" means every project.
func (s *Server) WriteReport(w io.Writer, date time.Time, project string) error {
	day := date.UTC().Format(time.DateOnly)
	type line struct {
		at  time.Time
		rec []string
	}
	var lines []line
	s.mu.Lock()
	for _, sess := range s.order {
		p := sess.payout
		if p == nil || (project != "" && sess.project.Name != project) {
			continue
		}
		row := func(id, typ string, at time.Time, fee int64) []string {
			amount := money.New(p.amount.Amount, p.amount.Currency)
			return []string{
				id, sess.id, string(p.metadata), typ,
				at.Format(time.DateOnly), at.Format("2006-01-02T15:04:05.000000Z07:00"),
				amount.Decimal(), amount.Currency, money.New(fee, "RUB").Decimal(), "RUB",
				boolDigit(p.fast), p.kind, sess.project.Name,
			}
		}
		if p.status == "succeeded" && p.finished.UTC().Format(time.DateOnly) == day {
			lines = append(lines, line{p.finished, row(p.id, "Advice", p.finished.UTC(), p.fee)})
		}
		for _, r := range p.refunds {
			if r.CreatedAt.UTC().Format(time.DateOnly) == day {
				lines = append(lines, line{r.CreatedAt.Time, row(r.ID, "Refund", r.CreatedAt.UTC(), 0)})
			}
		}
	}
	s.mu.Unlock()
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	cw := csv.NewWriter(w)
	if err := cw.Write(ReportHeader); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	for _, l := range lines {
		if err := cw.Write(l.rec); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	cw.Flush()
	return cw.Error()
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// serveReport answers GET /sandbox/report?date=YYYY-MM-DD[&project=NAME].
func (s *Server) serveReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	date, err := time.Parse(time.DateOnly, q.Get("date"))
	if err != nil {
		http.Error(w, "date=YYYY-MM-DD is required", http.StatusBadRequest)
		return
	}
	project := q.Get("project")
	name := project
	if name == "" {
		name = "all"
	}
	day := date.Format(time.DateOnly)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s_%s_%s.csv"`, name, day, day))
	if err := s.WriteReport(w, date, project); err != nil {
		s.log.Error("report", logkey.Error, err)
	}
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
