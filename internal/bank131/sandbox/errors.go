package sandbox

import (
	"fmt"
	"net/http"

	"github.com/payrun/payrun/internal/bank131"
)

// apiError is an error answer: the bank's envelope with an HTTP status.
// status is set only where it is fixed (404, 405, an injected 500);
// otherwise Server.statusOf derives it from the code and the modes.
type apiError struct {
	status int
	code   string
	desc   string
}

func (e *apiError) Error() string { return e.code + ": " + e.desc }

func newAPIError(code, format string, args ...any) *apiError {
	return &apiError{code: code, desc: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *apiError {
	return newAPIError(bank131.CodeInvalidRequest, format, args...)
}

// statusOf is the HTTP status of an error answer. The bank's own mapping is
// undocumented; every error test of the SDK uses 400. Modes.ErrorHTTP
// "mapped" (the default) answers internal_error with 500, and
// Modes.IdempotencyHTTP gives idempotency_key_already_exists 409 (default)
// or 400. too_many_requests (the sandbox's own throttle) is always 429.
func (s *Server) statusOf(e *apiError) int {
	switch {
	case e.status != 0:
		return e.status
	case e.code == bank131.CodeTooManyRequests:
		return http.StatusTooManyRequests
	case e.code == bank131.CodeIdempotencyConflict:
		if s.cfg.Modes.IdempotencyHTTP == mode409 {
			return http.StatusConflict
		}
	case e.code == bank131.CodeInternal && s.cfg.Modes.ErrorHTTP == modeMapped:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// wrongState is the answer to a call that does not fit the session's
// state: session_wrong_state ("Cannot perform a transaction in this
// status", DOC-errors), or invalid_request in that mode.
func (s *Server) wrongState(format string, args ...any) *apiError {
	return newAPIError(s.cfg.Modes.WrongStateCode, format, args...)
}

type errorEnvelope struct {
	Status string        `json:"status"`
	Error  bank131.Error `json:"error"`
}

func (e *apiError) body() []byte {
	b, _ := marshal(errorEnvelope{Status: "error", Error: bank131.Error{Code: e.code, Description: e.desc}})
	return b
}
