package bank131

import "encoding/json"

// SessionStatus is a payment session's status.
type SessionStatus string

// Session statuses. SessionError is not final: the bank is still working on
// it (ask support); never treat it as a failure to retry.
const (
	SessionCreated    SessionStatus = "created"
	SessionInProgress SessionStatus = "in_progress"
	SessionAccepted   SessionStatus = "accepted"
	SessionCancelled  SessionStatus = "cancelled"
	SessionError      SessionStatus = "error"
)

// PayoutStatus is the status of a payout or of an incoming payment.
type PayoutStatus string

// Payout (and payment) statuses.
const (
	PayoutInProgress PayoutStatus = "in_progress"
	PayoutPending    PayoutStatus = "pending" // waiting for session/confirm or session/cancel
	PayoutSucceeded  PayoutStatus = "succeeded"
	PayoutFailed     PayoutStatus = "failed"
)

// Final reports whether the status is succeeded or failed.
func (s PayoutStatus) Final() bool { return s == PayoutSucceeded || s == PayoutFailed }

// NextActionConfirm is the session's next_action when the bank waits for
// session/confirm or session/cancel.
const NextActionConfirm = "confirm"

// Session is a payment session (PaymentSession). Payouts and incoming
// payments may come under their v1 or v2 names; use Payouts and
// AcquiringPayments to read them.
type Session struct {
	ID         string        `json:"id"`
	Status     SessionStatus `json:"status"`
	CreatedAt  Time          `json:"created_at,omitzero"`
	UpdatedAt  Time          `json:"updated_at,omitzero"`
	FinishedAt Time          `json:"finished_at,omitzero"`
	NextAction string        `json:"next_action,omitempty"`

	AcquiringPaymentsV1 []AcquiringPayment `json:"acquiring_payments,omitempty"` // v1
	PaymentsV1          []Payout           `json:"payments,omitempty"`           // v1
	PaymentList         []AcquiringPayment `json:"payment_list,omitempty"`       // v2
	PayoutList          []Payout           `json:"payout_list,omitempty"`        // v2

	Error   *Error          `json:"error,omitempty"`
	Actions json.RawMessage `json:"actions,omitempty"`
}

// Payouts returns the session's payouts, whether sent as payments (v1) or
// payout_list (v2).
func (s *Session) Payouts() []Payout {
	if s == nil {
		return nil
	}
	if len(s.PayoutList) == 0 {
		return s.PaymentsV1
	}
	if len(s.PaymentsV1) == 0 {
		return s.PayoutList
	}
	return append(append([]Payout(nil), s.PaymentsV1...), s.PayoutList...)
}

// Payout returns the session's first payout, or nil. payrun opens one
// session per payout.
func (s *Session) Payout() *Payout {
	p := s.Payouts()
	if len(p) == 0 {
		return nil
	}
	return &p[0]
}

// AcquiringPayments returns the session's incoming payments, whether sent
// as acquiring_payments (v1) or payment_list (v2).
func (s *Session) AcquiringPayments() []AcquiringPayment {
	if s == nil {
		return nil
	}
	if len(s.PaymentList) == 0 {
		return s.AcquiringPaymentsV1
	}
	if len(s.AcquiringPaymentsV1) == 0 {
		return s.PaymentList
	}
	return append(append([]AcquiringPayment(nil), s.AcquiringPaymentsV1...), s.PaymentList...)
}

// RedirectURL returns the first customer_interaction redirect URL of the
// session's payments or payouts: the 3-D Secure link of an action_required
// webhook. It is empty when there is none.
func (s *Session) RedirectURL() string {
	for _, p := range s.AcquiringPayments() {
		if u := p.CustomerInteraction.RedirectURL(); u != "" {
			return u
		}
	}
	for _, p := range s.Payouts() {
		if u := p.CustomerInteraction.RedirectURL(); u != "" {
			return u
		}
	}
	return ""
}

// Payout is one payout of a session ("Payment" in the bank's docs).
type Payout struct {
	ID                  string               `json:"id"`
	Status              PayoutStatus         `json:"status"`
	CreatedAt           Time                 `json:"created_at,omitzero"`
	FinishedAt          Time                 `json:"finished_at,omitzero"`
	Customer            *Customer            `json:"customer,omitempty"`
	PaymentMethod       *PaymentMethod       `json:"payment_method,omitempty"` // v1
	PayoutDetails       *PaymentMethod       `json:"payout_details,omitempty"` // v2
	AmountDetails       *Amount              `json:"amount_details,omitempty"`
	Amounts             *Amounts             `json:"amounts,omitempty"`
	ParticipantDetails  *ParticipantDetails  `json:"participant_details,omitempty"`
	CustomerInteraction *CustomerInteraction `json:"customer_interaction,omitempty"`
	TransactionInfo     *TransactionInfo     `json:"transaction_info,omitempty"`
	Calculate           *Calculate           `json:"calculate,omitempty"`
	Refunds             []Refund             `json:"refunds,omitempty"`
	Metadata            json.RawMessage      `json:"metadata,omitempty"`
	Error               *Error               `json:"error,omitempty"`
}

// Method returns the payout's method under either name (v1 or v2).
func (p *Payout) Method() *PaymentMethod {
	if p.PaymentMethod != nil {
		return p.PaymentMethod
	}
	return p.PayoutDetails
}

// AcquiringPayment is an incoming payment (the sender's side of a
// cross-border transfer).
type AcquiringPayment struct {
	ID                  string               `json:"id"`
	Status              PayoutStatus         `json:"status"`
	CreatedAt           Time                 `json:"created_at,omitzero"`
	UpdatedAt           Time                 `json:"updated_at,omitzero"`
	FinishedAt          Time                 `json:"finished_at,omitzero"`
	Customer            *Customer            `json:"customer,omitempty"`
	PaymentDetails      *PaymentMethod       `json:"payment_details,omitempty"`
	AmountDetails       *Amount              `json:"amount_details,omitempty"`
	Amounts             *Amounts             `json:"amounts,omitempty"`
	ParticipantDetails  *ParticipantDetails  `json:"participant_details,omitempty"`
	PaymentOptions      *PaymentOptions      `json:"payment_options,omitempty"`
	CustomerInteraction *CustomerInteraction `json:"customer_interaction,omitempty"`
	Calculate           *Calculate           `json:"calculate,omitempty"`
	TransactionInfo     *TransactionInfo     `json:"transaction_info,omitempty"`
	Metadata            json.RawMessage      `json:"metadata,omitempty"`
	Error               *Error               `json:"error,omitempty"`
}

// PaymentOptions are options of an incoming payment.
type PaymentOptions struct {
	ReturnURL string `json:"return_url,omitempty"`
	Recurrent bool   `json:"recurrent,omitempty"`
}

// CustomerInteraction is what the user must do: follow a redirect (3-D
// Secure) or be informed (QR code).
type CustomerInteraction struct {
	Type     string          `json:"type,omitempty"` // redirect | inform
	Redirect *Redirect       `json:"redirect,omitempty"`
	Inform   json.RawMessage `json:"inform,omitempty"`
}

// RedirectURL returns the redirect URL, or "".
func (c *CustomerInteraction) RedirectURL() string {
	if c == nil || c.Redirect == nil {
		return ""
	}
	return c.Redirect.URL
}

// Redirect is a link the user must open.
type Redirect struct {
	URL     string          `json:"url"`
	BaseURL string          `json:"base_url,omitempty"`
	Method  string          `json:"method,omitempty"`
	QS      json.RawMessage `json:"qs,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
}

// TransactionInfo holds network references of a finished payout.
type TransactionInfo struct {
	RRN      string `json:"rrn,omitempty"`
	ARN      string `json:"arn,omitempty"`
	AuthCode string `json:"auth_code,omitempty"`
}

// Refund is a returned payout (payment_refunded).
type Refund struct {
	ID            string          `json:"id"`
	Status        string          `json:"status"`
	CreatedAt     Time            `json:"created_at,omitzero"`
	FinishedAt    Time            `json:"finished_at,omitzero"`
	AmountDetails *Amount         `json:"amount_details,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

// Error is the bank's error object: the top-level error of a failed call,
// session.error, or payout.error of a failed payout.
type Error struct {
	Code          string         `json:"code"`
	Description   string         `json:"description,omitempty"`
	RejectReasons []RejectReason `json:"reject_reasons,omitempty"`
}

// RejectReason is one rule that rejected an operation.
type RejectReason struct {
	RuleAlias      string `json:"rule_alias,omitempty"`
	ListAlias      string `json:"list_alias,omitempty"`
	ExpirationDate string `json:"expiration_date,omitempty"`
}
