package bank131

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/payrun/payrun/internal/cardmask"
)

// Error codes payrun treats specially. Reason describes every code it knows.
const (
	CodeIdentification        = "identification_error"
	CodeAuthentication        = "authentication_error"
	CodeAuthorization         = "authorization_error"
	CodeInvalidRequest        = "invalid_request"
	CodeInternal              = "internal_error"
	CodeIdempotencyConflict   = "idempotency_key_already_exists"
	CodeProviderInternal      = "provider_internal_error"
	CodeIssuerUnavailable     = "provider_issuer_unavailable"
	CodeProviderTimeout       = "provider_timeout"
	CodeProviderAmountLimit   = "provider_exceeds_amount_limit"
	CodeCardNumberNotExist    = "card_number_does_not_exist"
	CodeBankCardExpired       = "bank_card_expired"
	CodeThreeDS               = "3DS_error"
	CodeConfirmTimeout        = "confirm_timeout"
	CodeTooManyRequests       = "too_many_requests" // the sandbox's code for HTTP 429; the bank's is undocumented
	CodeForeignTransferDenied = "provider_foreign_transfer_prohibited"
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
)

// String returns ok, retry, final, unknown or conflict.
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
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// retryCodes are bank codes meaning "the bank did not do it, try later".
var retryCodes = map[string]bool{
	CodeInternal:          true,
	CodeProviderInternal:  true,
	CodeIssuerUnavailable: true,
	CodeProviderTimeout:   true,
	CodeTooManyRequests:   true,
}

// Classify says what to do about an error returned by a Client method.
// Errors that are neither *APIError nor *TransportError (a request that
// could not even be encoded, a cancelled context before sending) are final
// unless they are context errors, which are retry.
func Classify(err error) Class {
	if err == nil {
		return ClassOK
	}
	var api *APIError
	if errors.As(err, &api) {
		switch {
		case api.Code == CodeIdempotencyConflict:
			return ClassConflict
		case retryCodes[api.Code]:
			return ClassRetry
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

// CodeClass classifies a bare error code, such as the error.code of a failed
// payout in payment_finished: ClassRetry for transient bank or provider
// problems (a new attempt may succeed), ClassConflict for the idempotency
// code, ClassFinal for everything else.
func CodeClass(code string) Class {
	switch {
	case code == "":
		return ClassOK
	case code == CodeIdempotencyConflict:
		return ClassConflict
	case retryCodes[code]:
		return ClassRetry
	}
	return ClassFinal
}

// IsIdempotencyConflict reports whether err is the bank's
// idempotency_key_already_exists: the same key was used before and the
// bank has (or is working on) that request. The caller must look the
// result up (session/status, webhooks) instead of retrying.
func IsIdempotencyConflict(err error) bool {
	var api *APIError
	return errors.As(err, &api) && api.Code == CodeIdempotencyConflict
}

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
