package bank131

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/payrun/payrun/internal/cardmask"
)

// Error codes of the bank's error page (developer.131.ru/en/reference/errors,
// both versions; shared/bank131-api.md §4.1). Reason explains each one and
// DiagnoseCode classifies it.
const (
	CodeIdentification        = "identification_error"
	CodeAuthentication        = "authentication_error"
	CodeAuthorization         = "authorization_error"
	CodeInvalidRequest        = "invalid_request"
	CodeInternal              = "internal_error"
	CodeIdempotencyConflict   = "idempotency_key_already_exists"
	CodeTaxpayerUnknown       = "taxpayer_unknown"
	CodeTaxpayerNotBound      = "taxpayer_not_bound"
	CodeTaxpayerAlreadyBound  = "taxpayer_already_bound"
	CodeTaxpayerIncomeLimit   = "taxpayer_income_exceeds_amount_limit"
	CodeProviderInternal      = "provider_internal_error"
	CodeIssuerUnavailable     = "provider_issuer_unavailable"
	CodeForeignTransferDenied = "provider_foreign_transfer_prohibited"
	CodeProviderAmountLimit   = "provider_exceeds_amount_limit"
	CodeProviderTimeout       = "provider_timeout"
	CodeSessionCancelled      = "session_cancelled"
	CodeOperationRejected     = "operation_rejected"
	CodeNPDInternal           = "npd_service_internal_error"
	CodeWalletInternal        = "wallet_internal_error"
	CodeRoutingInternal       = "routing_internal_error"
	CodeBankCardExpired       = "bank_card_expired"
	CodeDeclinedByIssuer      = "declined_by_issuer_bank"
	CodeNotPermittedByIssuer  = "not_permitted_by_issuer_bank"
	CodeWalletShort           = "insufficient_wallet_balance"
	CodeRefundTooLarge        = "refund_amount_too_large"
	CodeInsufficientFunds     = "insufficient_funds"
	CodeSessionWrongState     = "session_wrong_state"
	CodeCaptureTimeout        = "capture_timeout"
	CodeCancelledByPartner    = "session_cancelled_by_partner"
	CodeCardNumberNotExist    = "card_number_does_not_exist"
	CodeConfirmTimeout        = "confirm_timeout"
	CodeThreeDS               = "3DS_error"
	CodeAccountNotFound       = "account_not_found"
	CodeActivityCountExceeded = "activity_count_exceeded"
	CodeAmountBelowProvider   = "amount_less_allowed_provider"
	CodeBindingDeactivated    = "binding_is_deactivated"

	// CodeAPIException is not a bank code: the PHP SDK's name for an error
	// answer whose body is not the bank's envelope.
	CodeAPIException = "api_exception"
	// CodeTooManyRequests is the sandbox's code for HTTP 429; the bank
	// documents no rate limit and no code for it.
	CodeTooManyRequests = "too_many_requests"
)

// APIError is an error answer of the bank: an HTTP status of 400 or more, or
// {"status":"error"}. Code and Description come from the body's error object
// and are empty when the body was not the bank's envelope (a proxy's HTML
// page, for example).
type APIError struct {
	HTTPStatus    int
	Code          string
	Description   string
	RejectReasons []RejectReason
	// RetryAfter is the server's Retry-After, if it sent one (HTTP 429/503).
	RetryAfter time.Duration
	// Method is the API method called, e.g. "session/start/payout".
	Method string
}

// Error implements error. The bank's code and description are its text:
// they pass cardmask.Redact, so wherever the error is shown (a log line,
// a transition's evidence, a report) a card number the bank echoed is
// masked.
func (e *APIError) Error() string {
	code := e.Code
	if code == "" {
		code = "no error code"
	}
	msg := fmt.Sprintf("bank131 %s: HTTP %d: %s", e.Method, e.HTTPStatus, code)
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return cardmask.Redact(msg)
}

// TransportError is a call that did not get an answer from the bank. Sent
// tells whether the whole request had been written to the connection: if so
// the bank may have acted on it and the outcome is unknown; if not (no
// connection, DNS, TLS, or the context ended before the request was out) it
// certainly did not reach the bank.
type TransportError struct {
	Method string
	Sent   bool
	Err    error
}

// Error implements error.
func (e *TransportError) Error() string {
	if e.Sent {
		return fmt.Sprintf("bank131 %s: no answer after the request was sent: %v", e.Method, e.Err)
	}
	return fmt.Sprintf("bank131 %s: request not sent: %v", e.Method, e.Err)
}

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Class is what a caller should do about an error.
//
// Classify answers with the five coarse classes ClassOK … ClassConflict, the
// ones payrun's processor has always switched on. Diagnose answers with a
// finer class for the bank's codes that need their own handling
// (ClassWalletShort, ClassReadStatus, ClassRecipient, ClassOurs,
// ClassNotPaid); Class.Coarse folds each of them into the coarse class
// Classify gives, so a caller that does not know a fine class keeps its
// behaviour. errors.Is with the Err… sentinels below tests the same thing.
type Class int

// Error classes. The String values are the result labels of payrun's bank
// call metric.
const (
	// ClassOK: no error.
	ClassOK Class = iota
	// ClassRetry: the bank did not act on the request (5xx, 429, a
	// transient bank or provider code, or the request never left); send it
	// again later with the same idempotency key.
	ClassRetry
	// ClassFinal: the bank refused the request for good (invalid request,
	// card errors, authentication, authorization, any other code). Do not
	// send the same request again.
	ClassFinal
	// ClassUnknown: the request may have reached the bank and nobody knows
	// what happened (timeout or dropped connection after the request was
	// written, or an unreadable success answer). Only the same idempotency
	// key, session/status or a webhook can settle it.
	ClassUnknown
	// ClassConflict: idempotency_key_already_exists. A request with this
	// key is already in progress or done at the bank; look the result up,
	// never retry with a new key.
	ClassConflict

	// ClassWalletShort: insufficient_wallet_balance. Our wallet (the
	// collateral account) does not cover the payout and its fee: the bank
	// did not pay, the recipient is not at fault, and the same request may
	// be sent again once the wallet is topped up. Coarse: ClassRetry.
	ClassWalletShort
	// ClassReadStatus: session_wrong_state. The call does not fit the
	// session's state at the bank ("Cannot perform a transaction in this
	// status"): read session/status and act on the state it shows.
	// Coarse: ClassFinal (the request itself will not succeed).
	ClassReadStatus
	// ClassRecipient: refused for the recipient's (or, for transfers, the
	// sender's card's) reasons: card, account, issuer, limits, 3-D Secure,
	// self-employed status. Final for this recipient's details. Coarse:
	// ClassFinal.
	ClassRecipient
	// ClassOurs: our configuration is wrong (project, signature,
	// privileges): nothing about the row, every call will fail the same
	// way until it is fixed. Coarse: ClassFinal.
	ClassOurs
	// ClassNotPaid: the bank cancelled the session (by us, by a timeout):
	// not paid; a new attempt may be made. Coarse: ClassFinal.
	ClassNotPaid
)

// String returns ok, retry, final, unknown, conflict, wallet_short,
// read_status, recipient, ours or not_paid.
func (c Class) String() string {
	switch c {
	case ClassOK:
		return "ok"
	case ClassRetry:
		return "retry"
	case ClassFinal:
		return "final"
	case ClassUnknown:
		return "unknown"
	case ClassConflict:
		return "conflict"
	case ClassWalletShort:
		return "wallet_short"
	case ClassReadStatus:
		return "read_status"
	case ClassRecipient:
		return "recipient"
	case ClassOurs:
		return "ours"
	case ClassNotPaid:
		return "not_paid"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Coarse folds a fine class into the one of ClassOK … ClassConflict that
// Classify returns for it.
func (c Class) Coarse() Class {
	switch c {
	case ClassWalletShort:
		return ClassRetry
	case ClassReadStatus, ClassRecipient, ClassOurs, ClassNotPaid:
		return ClassFinal
	}
	return c
}

// codeClasses classifies every code of the bank's error page (both
// versions; shared/bank131-api.md §4.1, with the page's "what you can do"
// column) and the two codes that are not the bank's. A code not listed
// goes by its HTTP status (see Diagnose).
var codeClasses = map[string]Class{
	CodeIdentification:        ClassOurs, // "Check that the data is correct"
	CodeAuthentication:        ClassOurs, // "Check the X-PARTNER-SIGN signature"
	CodeAuthorization:         ClassOurs, // "Check your projects (X-PARTNER-PROJECT)"
	CodeInvalidRequest:        ClassFinal,
	CodeInternal:              ClassRetry, // "Retry the operation later"
	CodeIdempotencyConflict:   ClassConflict,
	CodeTaxpayerUnknown:       ClassRecipient,
	CodeTaxpayerNotBound:      ClassRecipient,
	CodeTaxpayerAlreadyBound:  ClassFinal, // informational: the binding exists
	CodeTaxpayerIncomeLimit:   ClassRecipient,
	CodeProviderInternal:      ClassRetry, // "Retry the operation later"
	CodeIssuerUnavailable:     ClassRetry, // "Retry the operation later"
	CodeForeignTransferDenied: ClassRecipient,
	CodeProviderAmountLimit:   ClassRecipient,
	CodeProviderTimeout:       ClassRetry, // the page's text is cut off; payrun has always retried it
	CodeSessionCancelled:      ClassNotPaid,
	CodeOperationRejected:     ClassRecipient, // "rejected for security reasons"
	CodeNPDInternal:           ClassRetry,     // bank-side fault
	CodeWalletInternal:        ClassRetry,     // bank-side fault
	CodeRoutingInternal:       ClassRetry,     // bank-side fault
	CodeBankCardExpired:       ClassRecipient,
	CodeDeclinedByIssuer:      ClassRecipient,
	CodeNotPermittedByIssuer:  ClassRecipient,
	CodeWalletShort:           ClassWalletShort,
	CodeRefundTooLarge:        ClassFinal, // acquiring refunds; never a payout's
	CodeInsufficientFunds:     ClassRecipient,
	CodeSessionWrongState:     ClassReadStatus,
	CodeCaptureTimeout:        ClassNotPaid, // "check the statuses … retry the operation"
	CodeCancelledByPartner:    ClassNotPaid,
	CodeCardNumberNotExist:    ClassRecipient,
	CodeConfirmTimeout:        ClassNotPaid, // "Retry the transaction"
	CodeThreeDS:               ClassRecipient,
	CodeAccountNotFound:       ClassRecipient,
	CodeActivityCountExceeded: ClassRecipient,
	CodeAmountBelowProvider:   ClassRecipient,
	CodeBindingDeactivated:    ClassRecipient,
	CodeTooManyRequests:       ClassRetry,
	// CodeAPIException is absent on purpose: it goes by its HTTP status.
}

// DiagnoseCode classifies a bare error code, such as the error.code of a
// failed payout in payment_finished, into a fine class. An unknown code is
// ClassFinal; "" is ClassOK.
func DiagnoseCode(code string) Class {
	if code == "" {
		return ClassOK
	}
	if c, ok := codeClasses[code]; ok {
		return c
	}
	return ClassFinal
}

// Diagnose says what to do about an error returned by a Client method, in
// the fine classes. Errors that are neither *APIError nor *TransportError
// (a request that could not even be encoded, a cancelled context before
// sending) are final unless they are context errors, which are retry.
func Diagnose(err error) Class {
	if err == nil {
		return ClassOK
	}
	var api *APIError
	if errors.As(err, &api) {
		if c, ok := codeClasses[api.Code]; ok {
			return c
		}
		switch {
		case api.HTTPStatus == http.StatusTooManyRequests,
			api.HTTPStatus == http.StatusRequestTimeout,
			api.HTTPStatus >= 500:
			return ClassRetry
		}
		return ClassFinal
	}
	var tr *TransportError
	if errors.As(err, &tr) {
		if tr.Sent {
			return ClassUnknown
		}
		return ClassRetry
	}
	var unread *UnreadableError
	if errors.As(err, &unread) {
		return ClassUnknown
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ClassRetry
	}
	return ClassFinal
}

// Classify says what to do about an error returned by a Client method, in
// the coarse classes ClassOK … ClassConflict: Diagnose(err).Coarse().
func Classify(err error) Class { return Diagnose(err).Coarse() }

// CodeClass classifies a bare error code in the coarse classes:
// DiagnoseCode(code).Coarse(). ClassRetry means a new attempt may succeed.
func CodeClass(code string) Class { return DiagnoseCode(code).Coarse() }

// Sentinels for errors.Is: an *APIError matches the one of its fine class
// (Diagnose). They describe the bank's answers only: a transport error
// matches none of them.
var (
	// ErrBankFault: a bank-side fault the bank asks to retry later
	// (internal_error, provider_*, wallet_/routing_/npd_service_internal_error,
	// HTTP 5xx or 429). ClassRetry.
	ErrBankFault = errors.New("bank131: bank-side fault, retry later")
	// ErrWalletShort: insufficient_wallet_balance, our wallet is short.
	ErrWalletShort = errors.New("bank131: our wallet is short; top it up")
	// ErrWrongState: session_wrong_state; read session/status.
	ErrWrongState = errors.New("bank131: the session is in another state; read session/status")
	// ErrRecipient: refused for the recipient's details.
	ErrRecipient = errors.New("bank131: refused for the recipient")
	// ErrOurs: our configuration (project, signature, privileges).
	ErrOurs = errors.New("bank131: our configuration was refused")
	// ErrNotPaid: the bank cancelled the session; not paid.
	ErrNotPaid = errors.New("bank131: the session was cancelled, not paid")
	// ErrIdempotencyKeyExists: idempotency_key_already_exists.
	ErrIdempotencyKeyExists = errors.New("bank131: idempotency key already exists")
)

// Is makes errors.Is(err, ErrWalletShort) (and the other sentinels) true
// for an API error of that class.
func (e *APIError) Is(target error) bool {
	switch Diagnose(e) {
	case ClassRetry:
		return target == ErrBankFault
	case ClassWalletShort:
		return target == ErrWalletShort
	case ClassReadStatus:
		return target == ErrWrongState
	case ClassRecipient:
		return target == ErrRecipient
	case ClassOurs:
		return target == ErrOurs
	case ClassNotPaid:
		return target == ErrNotPaid
	case ClassConflict:
		return target == ErrIdempotencyKeyExists
	}
	return false
}

// IsIdempotencyConflict reports whether err is the bank's
// idempotency_key_already_exists: the same key was used before and the
// bank has (or is working on) that request. The caller must look the
// result up (session/status, webhooks) instead of retrying.
func IsIdempotencyConflict(err error) bool {
	var api *APIError
	return errors.As(err, &api) && api.Code == CodeIdempotencyConflict
}

// IsWalletShort reports whether err is insufficient_wallet_balance: our
// wallet does not cover the payout; top it up and send the same request.
func IsWalletShort(err error) bool { return errors.Is(err, ErrWalletShort) }

// IsWrongState reports whether err is session_wrong_state: read
// session/status and act on the state it shows.
func IsWrongState(err error) bool { return errors.Is(err, ErrWrongState) }

// ErrorCode returns the bank's error code carried by err, or "".
func ErrorCode(err error) string {
	var api *APIError
	if errors.As(err, &api) {
		return api.Code
	}
	return ""
}

// UnreadableError is a success answer (HTTP 2xx) whose body could not be
// read or parsed: the bank acted, but payrun does not know the result.
type UnreadableError struct {
	Method     string
	HTTPStatus int
	Err        error
}

// Error implements error.
func (e *UnreadableError) Error() string {
	return fmt.Sprintf("bank131 %s: HTTP %d with an unreadable answer: %v", e.Method, e.HTTPStatus, e.Err)
}

// Unwrap returns the cause.
func (e *UnreadableError) Unwrap() error { return e.Err }
