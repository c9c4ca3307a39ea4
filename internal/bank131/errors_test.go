package bank131

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/reason"
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
	require.Equal(t, []string{"ok", "retry", "final", "unknown", "conflict", "wallet_short", "read_status", "recipient", "ours", "not_paid"},
		[]string{ClassOK.String(), ClassRetry.String(), ClassFinal.String(), ClassUnknown.String(), ClassConflict.String(),
			ClassWalletShort.String(), ClassReadStatus.String(), ClassRecipient.String(), ClassOurs.String(), ClassNotPaid.String()})
}

func TestCodeClass(t *testing.T) {
	require.Equal(t, ClassOK, CodeClass(""))
	require.Equal(t, ClassRetry, CodeClass("provider_issuer_unavailable"))
	require.Equal(t, ClassFinal, CodeClass("bank_card_expired"))
	require.Equal(t, ClassConflict, CodeClass("idempotency_key_already_exists"))
	require.Equal(t, ClassRetry, CodeClass("insufficient_wallet_balance"), "the payout may be tried again after a top-up")
	require.Equal(t, ClassFinal, DiagnoseCode("brand_new_code"))
	require.Equal(t, ClassOK, DiagnoseCode(""))
}

// TestEveryBankCode classifies each code of the bank's error page
// (shared/bank131-api.md §4.1), as the answer to a call (HTTP 400, as in
// the SDK's tests) and as a bare code (a failed payout's error.code).
func TestEveryBankCode(t *testing.T) {
	tests := []struct {
		code     string
		fine     Class
		coarse   Class
		sentinel error // nil: matches none
	}{
		{"identification_error", ClassOurs, ClassFinal, ErrOurs},
		{"authentication_error", ClassOurs, ClassFinal, ErrOurs},
		{"authorization_error", ClassOurs, ClassFinal, ErrOurs},
		{"invalid_request", ClassFinal, ClassFinal, nil},
		{"internal_error", ClassRetry, ClassRetry, ErrBankFault},
		{"idempotency_key_already_exists", ClassConflict, ClassConflict, ErrIdempotencyKeyExists},
		{"taxpayer_unknown", ClassRecipient, ClassFinal, ErrRecipient},
		{"taxpayer_not_bound", ClassRecipient, ClassFinal, ErrRecipient},
		{"taxpayer_already_bound", ClassFinal, ClassFinal, nil},
		{"taxpayer_income_exceeds_amount_limit", ClassRecipient, ClassFinal, ErrRecipient},
		{"provider_internal_error", ClassRetry, ClassRetry, ErrBankFault},
		{"provider_issuer_unavailable", ClassRetry, ClassRetry, ErrBankFault},
		{"provider_foreign_transfer_prohibited", ClassRecipient, ClassFinal, ErrRecipient},
		{"provider_exceeds_amount_limit", ClassRecipient, ClassFinal, ErrRecipient},
		{"provider_timeout", ClassRetry, ClassRetry, ErrBankFault},
		{"session_cancelled", ClassNotPaid, ClassFinal, ErrNotPaid},
		{"operation_rejected", ClassRecipient, ClassFinal, ErrRecipient},
		{"npd_service_internal_error", ClassRetry, ClassRetry, ErrBankFault},
		{"wallet_internal_error", ClassRetry, ClassRetry, ErrBankFault},
		{"routing_internal_error", ClassRetry, ClassRetry, ErrBankFault},
		{"bank_card_expired", ClassRecipient, ClassFinal, ErrRecipient},
		{"declined_by_issuer_bank", ClassRecipient, ClassFinal, ErrRecipient},
		{"not_permitted_by_issuer_bank", ClassRecipient, ClassFinal, ErrRecipient},
		{"insufficient_wallet_balance", ClassWalletShort, ClassRetry, ErrWalletShort},
		{"refund_amount_too_large", ClassFinal, ClassFinal, nil},
		{"insufficient_funds", ClassRecipient, ClassFinal, ErrRecipient},
		{"session_wrong_state", ClassReadStatus, ClassFinal, ErrWrongState},
		{"capture_timeout", ClassNotPaid, ClassFinal, ErrNotPaid},
		{"session_cancelled_by_partner", ClassNotPaid, ClassFinal, ErrNotPaid},
		{"card_number_does_not_exist", ClassRecipient, ClassFinal, ErrRecipient},
		{"confirm_timeout", ClassNotPaid, ClassFinal, ErrNotPaid},
		{"3DS_error", ClassRecipient, ClassFinal, ErrRecipient},
		{"account_not_found", ClassRecipient, ClassFinal, ErrRecipient},
		{"activity_count_exceeded", ClassRecipient, ClassFinal, ErrRecipient},
		{"amount_less_allowed_provider", ClassRecipient, ClassFinal, ErrRecipient},
		{"binding_is_deactivated", ClassRecipient, ClassFinal, ErrRecipient},
		// Not the bank's: the SDK's fallback and the sandbox's throttle code.
		{"api_exception", ClassFinal, ClassFinal, nil},
		{"too_many_requests", ClassRetry, ClassRetry, ErrBankFault},
	}
	sentinels := []error{ErrBankFault, ErrWalletShort, ErrWrongState, ErrRecipient, ErrOurs, ErrNotPaid, ErrIdempotencyKeyExists}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			seen[tt.code] = true
			err := fmt.Errorf("start: %w", &APIError{HTTPStatus: 400, Code: tt.code, Method: "session/start/payout"})
			require.Equal(t, tt.fine, Diagnose(err))
			require.Equal(t, tt.coarse, Classify(err))
			require.Equal(t, tt.coarse, tt.fine.Coarse())
			require.Equal(t, tt.fine, DiagnoseCode(tt.code))
			require.Equal(t, tt.coarse, CodeClass(tt.code))
			for _, s := range sentinels {
				require.Equal(t, s == tt.sentinel, errors.Is(err, s), "errors.Is(%s, %v)", tt.code, s)
			}
			require.Equal(t, tt.sentinel == ErrWalletShort, IsWalletShort(err))
			require.Equal(t, tt.sentinel == ErrWrongState, IsWrongState(err))
			require.Equal(t, tt.sentinel == ErrIdempotencyKeyExists, IsIdempotencyConflict(err))
			require.True(t, KnownCode(tt.code), "Reason explains %s", tt.code)
		})
	}
	for _, e := range reason.Entries() {
		if e.Kind == reason.Bank {
			require.True(t, seen[e.Code], "%s has a reason but no classification test", e.Code)
		}
	}
	for code := range codeClasses {
		require.True(t, seen[code], "%s is classified but not tested", code)
	}
	// A code the page does not list goes by its HTTP status.
	require.Equal(t, ClassRetry, Diagnose(&APIError{HTTPStatus: 503, Code: "api_exception"}))
	require.True(t, errors.Is(&APIError{HTTPStatus: 502}, ErrBankFault))
	require.False(t, errors.Is(&TransportError{Sent: false, Err: errors.New("refused")}, ErrBankFault),
		"a request that never left is not the bank's fault")
}

func TestReason(t *testing.T) {
	for _, e := range reason.Entries() {
		if e.Kind != reason.Bank {
			continue
		}
		code := e.Code
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
