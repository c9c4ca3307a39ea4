package sandbox

import (
	"fmt"
	"net/http"

	"github.com/payrun/payrun/internal/bank131"
)

// apiError is an error answer: the bank's envelope with an HTTP status.
//
// HTTP statuses (the bank's own mapping is undocumented): 400 for every bank
// error code, except internal_error (500), idempotency_key_already_exists
// (409) and too_many_requests (429).
type apiError struct {
	status int
	code   string
	desc   string
}

func (e *apiError) Error() string { return e.code + ": " + e.desc }

func newAPIError(code, format string, args ...any) *apiError {
	status := http.StatusBadRequest
	switch code {
	case bank131.CodeInternal:
		status = http.StatusInternalServerError
	case bank131.CodeIdempotencyConflict:
		status = http.StatusConflict
	case bank131.CodeTooManyRequests:
		status = http.StatusTooManyRequests
	}
	return &apiError{status: status, code: code, desc: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *apiError {
	return newAPIError(bank131.CodeInvalidRequest, format, args...)
}

type errorEnvelope struct {
	Status string        `json:"status"`
	Error  bank131.Error `json:"error"`
}

func (e *apiError) body() []byte {
	b, _ := marshal(errorEnvelope{Status: "error", Error: bank131.Error{Code: e.code, Description: e.desc}})
	return b
}
