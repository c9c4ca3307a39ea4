package bank131

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	api := func(status int, code string) error { return &APIError{HTTPStatus: status, Code: code} }
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassOK},
		{"internal_error", api(500, "internal_error"), ClassRetry},
		{"provider_internal_error", api(400, "provider_internal_error"), ClassRetry},
		{"provider_issuer_unavailable", api(400, "provider_issuer_unavailable"), ClassRetry},
		{"provider_timeout", api(400, "provider_timeout"), ClassRetry},
		{"503 without body", api(503, ""), ClassRetry},
		{"429", api(429, ""), ClassRetry},
		{"invalid_request", api(400, "invalid_request"), ClassFinal},
		{"card_number_does_not_exist", api(400, "card_number_does_not_exist"), ClassFinal},
		{"bank_card_expired", api(400, "bank_card_expired"), ClassFinal},
		{"authentication_error", api(400, "authentication_error"), ClassFinal},
		{"identification_error", api(400, "identification_error"), ClassFinal},
		{"authorization_error", api(403, "authorization_error"), ClassFinal},
		{"unknown code", api(400, "something_new"), ClassFinal},
		{"404 page", api(404, ""), ClassFinal},
		{"idempotency conflict", api(409, "idempotency_key_already_exists"), ClassConflict},
		{"idempotency conflict in a 400", api(400, "idempotency_key_already_exists"), ClassConflict},
		{"wrapped", fmt.Errorf("start payout: %w", api(500, "internal_error")), ClassRetry},
		{"not sent", &TransportError{Sent: false, Err: errors.New("dial tcp: refused")}, ClassRetry},
		{"sent, no answer", &TransportError{Sent: true, Err: errors.New("EOF")}, ClassUnknown},
		{"unreadable answer", &UnreadableError{HTTPStatus: 200, Err: errors.New("bad json")}, ClassUnknown},
		{"bare context error", context.DeadlineExceeded, ClassRetry},
		{"other", errors.New("encode request"), ClassFinal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Classify(tt.err))
		})
	}
}

func TestClassStrings(t *testing.T) {
	require.Equal(t, []string{"ok", "retry", "final", "unknown", "conflict"},
		[]string{ClassOK.String(), ClassRetry.String(), ClassFinal.String(), ClassUnknown.String(), ClassConflict.String()})
}

func TestCodeClass(t *testing.T) {
	require.Equal(t, ClassOK, CodeClass(""))
	require.Equal(t, ClassRetry, CodeClass("provider_issuer_unavailable"))
	require.Equal(t, ClassFinal, CodeClass("bank_card_expired"))
	require.Equal(t, ClassConflict, CodeClass("idempotency_key_already_exists"))
}

func TestReason(t *testing.T) {
	for code := range reasons {
		r := Reason(code)
		require.NotEmpty(t, r, code)
		require.Regexp(t, `^[A-Z].*\.$`, r, "a sentence for %s", code)
		require.True(t, KnownCode(code))
	}
	require.Contains(t, Reason(CodeBankCardExpired), "expired")
	require.Equal(t, "The bank reported error brand_new_code.", Reason("brand_new_code"))
	require.False(t, KnownCode("brand_new_code"))
	require.Equal(t, "The bank reported an error without a code.", Reason(""))
}

func TestAPIErrorMessage(t *testing.T) {
	err := &APIError{HTTPStatus: 400, Code: "invalid_request", Description: "no amount", Method: "session/start/payout"}
	require.Equal(t, "bank131 session/start/payout: HTTP 400: invalid_request: no amount", err.Error())
	require.Equal(t, "bank131 status: HTTP 502: no error code", (&APIError{HTTPStatus: 502, Method: "status"}).Error())
}
