package sandbox

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/payrun/payrun/internal/bank131"
)

// session is the sandbox's record of a payment session. Every field is
// guarded by Server.mu.
type session struct {
	id        string
	project   *Project
	version   string // "v1" or "v2": the API version that opened it; webhooks use it
	status    bank131.SessionStatus
	createdAt time.Time
	updatedAt time.Time
	finished  time.Time
	next      string
	err       *bank131.Error
	confirmAt time.Time // actions.confirm
	// cancelling: session/cancel was accepted and takes effect after Settle.
	cancelling bool

	// Given at session/create, used by start/payout when it omits them.
	method       *bank131.PaymentMethod
	amount       *bank131.Amount
	participants *bank131.ParticipantDetails
	customer     *bank131.Customer
	metadata     json.RawMessage

	payout *payoutRec
	acq    *acqRec   // cross-border: the sender's payment
	xfer   *transfer // cross-border state

	outcome outcome
	// confirmCalls counts session/confirm requests for this session that
	// passed authentication; confirmsAccepted those the bank acted on.
	confirmCalls     int
	confirmsAccepted int
	// submerchant is the last X-PARTNER-SUBMERCHANT of a call about this
	// session; noSubmerchant counts the calls about it without one.
	submerchant   string
	noSubmerchant int
	// gen increases at every state change; timers scheduled for an older
	// gen do nothing.
	gen int
}

// payoutRec is a payout (po_…).
type payoutRec struct {
	id           string
	status       bank131.PayoutStatus
	createdAt    time.Time
	finished     time.Time
	method       *bank131.PaymentMethod // as shown to the partner (cards masked)
	kind         string                 // method kind for inspection
	last4        string
	amount       bank131.Amount
	participants *bank131.ParticipantDetails
	customer     *bank131.Customer
	calculate    *bank131.Calculate
	metadata     json.RawMessage
	err          *bank131.Error
	fee          int64 // RUB minor units, on success
	reserved     int64 // RUB minor units held in the wallet until the payout ends
	fast         bool
	refunds      []bank131.Refund
}

// acqRec is an incoming payment (pm_…) of a cross-border transfer.
type acqRec struct {
	id           string
	status       bank131.PayoutStatus
	createdAt    time.Time
	updatedAt    time.Time
	finished     time.Time
	details      *bank131.PaymentMethod
	amount       bank131.Amount
	participants *bank131.ParticipantDetails
	customer     *bank131.Customer
	calculate    *bank131.Calculate
	options      *bank131.PaymentOptions
	interaction  *bank131.CustomerInteraction
	metadata     json.RawMessage
	err          *bank131.Error
}

// touch marks a state change.
func (s *session) touch(now time.Time) {
	s.updatedAt = now
	s.gen++
}

// render returns the session as the bank shows it, in the names of version.
func (s *session) render(version string) *bank131.Session {
	out := &bank131.Session{
		ID:         s.id,
		Status:     s.status,
		CreatedAt:  bank131.NewTime(s.createdAt),
		UpdatedAt:  bank131.NewTime(s.updatedAt),
		NextAction: s.next,
		Error:      s.err,
	}
	if !s.finished.IsZero() {
		out.FinishedAt = bank131.NewTime(s.finished)
	}
	if !s.confirmAt.IsZero() {
		out.Actions, _ = json.Marshal(map[string]bank131.Time{"confirm": bank131.NewTime(s.confirmAt)})
	}
	if a := s.acq; a != nil {
		ap := bank131.AcquiringPayment{
			ID: a.id, Status: a.status,
			CreatedAt: bank131.NewTime(a.createdAt), UpdatedAt: bank131.NewTime(a.updatedAt),
			Customer: a.customer, PaymentDetails: a.details, AmountDetails: &a.amount,
			ParticipantDetails: a.participants, PaymentOptions: a.options,
			CustomerInteraction: a.interaction, Calculate: a.calculate,
			Metadata: a.metadata, Error: a.err,
		}
		if !a.finished.IsZero() {
			ap.FinishedAt = bank131.NewTime(a.finished)
		}
		if version == "v2" {
			out.PaymentList = []bank131.AcquiringPayment{ap}
		} else {
			out.AcquiringPaymentsV1 = []bank131.AcquiringPayment{ap}
		}
	}
	if p := s.payout; p != nil {
		po := bank131.Payout{
			ID: p.id, Status: p.status, CreatedAt: bank131.NewTime(p.createdAt),
			Customer: p.customer, AmountDetails: &p.amount,
			ParticipantDetails: p.participants, Calculate: p.calculate,
			Refunds: p.refunds, Metadata: p.metadata, Error: p.err,
		}
		if !p.finished.IsZero() {
			po.FinishedAt = bank131.NewTime(p.finished)
		}
		if version == "v2" {
			po.PayoutDetails = p.method
			out.PayoutList = []bank131.Payout{po}
		} else {
			po.PaymentMethod = p.method
			out.PaymentsV1 = []bank131.Payout{po}
		}
	}
	return out
}

// view renders sess for an API answer or (hook) a webhook, applying the
// modes that change what the bank shows: actions.confirm only on transfers
// (Modes.ActionsConfirm bpa), and a succeeded payout's fee in webhooks
// (Modes.HookFees). Caller holds s.mu.
func (s *Server) view(sess *session, version string, hook bool) *bank131.Session {
	out := sess.render(version)
	if s.cfg.Modes.ActionsConfirm == modeBPA && sess.xfer == nil {
		out.Actions = nil
	}
	p := sess.payout
	if !hook || p == nil || p.status != bank131.PayoutSucceeded || s.cfg.Modes.HookFees == modeNone {
		return out
	}
	fee := &bank131.Amount{Amount: p.fee, Currency: "rub"}
	amounts := &bank131.Amounts{Fee: &bank131.Fee{MerchantFee: fee}}
	if s.cfg.Modes.HookFees == modeFull {
		net := p.amount
		gross := bank131.Amount{Amount: p.amount.Amount + p.fee, Currency: p.amount.Currency}
		if sess.xfer != nil {
			gross = bank131.Amount{Amount: sess.xfer.quote.source + p.fee, Currency: "rub"}
		}
		amounts.Net, amounts.Gross = &net, &gross
	}
	for i := range out.PaymentsV1 {
		out.PaymentsV1[i].Amounts = amounts
	}
	for i := range out.PayoutList {
		out.PayoutList[i].Amounts = amounts
	}
	return out
}

// sessionAnswer is the body of every session method's answer.
type sessionAnswer struct {
	Status  string           `json:"status"`
	Session *bank131.Session `json:"session"`
}

// hookBody is a webhook's body.
type hookBody struct {
	Type               bank131.WebhookType     `json:"type"`
	Session            *bank131.Session        `json:"session"`
	ConfirmInformation json.RawMessage         `json:"confirm_information,omitempty"`
	Details            *bank131.WebhookDetails `json:"details,omitempty"`
}

// marshal encodes v as the bank does: no HTML escaping, no trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
