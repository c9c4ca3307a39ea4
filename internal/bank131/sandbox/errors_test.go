package sandbox_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
)

func httpStatus(t *testing.T, err error) int {
	t.Helper()
	var api *bank131.APIError
	require.ErrorAs(t, err, &api)
	return api.HTTPStatus
}

// Calls that do not fit the session's state are answered
// session_wrong_state (DOC-errors: "Cannot perform a transaction in this
// status"), or invalid_request in that mode.
func TestWrongStateCalls(t *testing.T) {
	for _, mode := range []string{"", "session_wrong_state", "invalid_request"} {
		t.Run("mode "+mode, func(t *testing.T) {
			want := bank131.CodeSessionWrongState
			if mode == "invalid_request" {
				want = bank131.CodeInvalidRequest
			}
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.WrongStateCode = mode })
			c := e.client(projTwoStep)
			// A payout that stays in progress (trigger 13106).
			stuck, err := c.CreateSession(ctx, bank131.CreateSessionRequest{})
			require.NoError(t, err)
			start := bank131.StartPayoutRequest{SessionID: stuck.Session.ID, PaymentMethod: bank131.TokenizedCardMethod("ab"), AmountDetails: rub(sandbox.AmountStuck), ParticipantDetails: recipient("A B")}
			_, err = c.Confirm(ctx, stuck.Session.ID, nil)
			require.Equal(t, want, bank131.ErrorCode(err), "confirm of a created session")
			_, err = c.StartPayout(ctx, start)
			require.NoError(t, err)
			_, err = c.StartPayout(ctx, start)
			require.Equal(t, want, bank131.ErrorCode(err), "a second start")
			require.Equal(t, http.StatusBadRequest, httpStatus(t, err))
			_, err = c.Cancel(ctx, stuck.Session.ID)
			require.Equal(t, want, bank131.ErrorCode(err), "cancel while in progress")
			_, err = c.Confirm(ctx, stuck.Session.ID, nil)
			require.Equal(t, want, bank131.ErrorCode(err), "confirm while in progress")
			if want == bank131.CodeSessionWrongState {
				require.True(t, bank131.IsWrongState(err))
				require.Equal(t, bank131.ClassReadStatus, bank131.Diagnose(err))
			}

			s, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("ab"), AmountDetails: rub(100), ParticipantDetails: recipient("A B")})
			require.NoError(t, err)
			e.sink.await(s.Session.ID, bank131.HookReadyToConfirm, 1)
			_, err = c.Confirm(ctx, s.Session.ID, nil)
			require.NoError(t, err)
			_, err = c.Confirm(ctx, s.Session.ID, nil)
			require.Equal(t, want, bank131.ErrorCode(err), "a second confirm")
			require.Equal(t, 1, e.payout(s.Session.ID).ConfirmsAccepted)
		})
	}
}

func TestRepeatCancelMode(t *testing.T) {
	for _, mode := range []string{"ok", "session_wrong_state"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.RepeatCancel = mode })
			c := e.client(projTwoStep)
			s, err := c.CreateSession(ctx, bank131.CreateSessionRequest{})
			require.NoError(t, err)
			_, err = c.Cancel(ctx, s.Session.ID)
			require.NoError(t, err)
			again, err := c.Cancel(ctx, s.Session.ID)
			if mode == "ok" {
				require.NoError(t, err)
				require.Equal(t, bank131.SessionCancelled, again.Session.Status)
				return
			}
			require.Equal(t, bank131.CodeSessionWrongState, bank131.ErrorCode(err))
		})
	}
}

func TestUnknownSessionMode(t *testing.T) {
	for _, mode := range []string{"invalid_request", "session_wrong_state"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.UnknownSession = mode })
			_, err := e.client(projTwoStep).Status(ctx, "ps_404")
			require.Equal(t, mode, bank131.ErrorCode(err))
			// Another project's session is unknown too.
			s, err := e.client(projAuto).CreateSession(ctx, bank131.CreateSessionRequest{})
			require.NoError(t, err)
			_, err = e.client(projTwoStep).Status(ctx, s.Session.ID)
			require.Equal(t, mode, bank131.ErrorCode(err))
		})
	}
}

// The bank's HTTP statuses are undocumented; the SDK's tests use 400.
func TestErrorHTTPModes(t *testing.T) {
	tests := []struct {
		errorHTTP, idemHTTP string
		internal, idem      int
	}{
		{"", "", http.StatusInternalServerError, http.StatusConflict},
		{"mapped", "409", http.StatusInternalServerError, http.StatusConflict},
		{"400", "409", http.StatusBadRequest, http.StatusConflict},
		{"mapped", "400", http.StatusInternalServerError, http.StatusBadRequest},
		{"400", "400", http.StatusBadRequest, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.errorHTTP+"/"+tt.idemHTTP, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.ErrorHTTP, c.Modes.IdempotencyHTTP = tt.errorHTTP, tt.idemHTTP })
			c := e.client(projSingle)
			req := initReq(sandbox.AmountInternalOnce)
			_, err := c.InitPayout(ctx, req, bank131.WithIdempotencyKey("k1"))
			require.Equal(t, bank131.CodeInternal, bank131.ErrorCode(err))
			require.Equal(t, tt.internal, httpStatus(t, err))
			require.Equal(t, bank131.ClassRetry, bank131.Classify(err), "internal_error is retried whatever its status")
			_, err = c.InitPayout(ctx, req, bank131.WithIdempotencyKey("k1"))
			require.NoError(t, err, "the failed first request released the key")
			_, err = c.InitPayout(ctx, req, bank131.WithIdempotencyKey("k1"))
			require.True(t, bank131.IsIdempotencyConflict(err))
			require.Equal(t, tt.idem, httpStatus(t, err))
			_, err = c.InitPayout(ctx, initReq(100))
			require.NoError(t, err)
			_, err = c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.BankCardMethod(sandbox.CardRejectExpired), AmountDetails: rub(100), ParticipantDetails: recipient("A B")})
			require.Equal(t, http.StatusBadRequest, httpStatus(t, err))
		})
	}
}

// The documented bank-side faults ("retry later") come from once-triggers:
// the first call per metadata fails, the retry goes through.
func TestBankFaultTriggers(t *testing.T) {
	tests := []struct {
		amount int64
		code   string
		is     error
	}{
		{sandbox.AmountInternalOnce, bank131.CodeInternal, bank131.ErrBankFault},
		{sandbox.AmountWalletInternalOnce, bank131.CodeWalletInternal, bank131.ErrBankFault},
		{sandbox.AmountRoutingInternalOnce, bank131.CodeRoutingInternal, bank131.ErrBankFault},
		{sandbox.AmountNPDInternalOnce, bank131.CodeNPDInternal, bank131.ErrBankFault},
		{sandbox.AmountWalletShortOnce, bank131.CodeWalletShort, bank131.ErrWalletShort},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			for _, project := range []string{projSingle, projTwoStep} {
				c := e.client(project)
				req := initReq(tt.amount)
				req.Metadata = []byte(`"` + project + `"`)
				_, err := c.InitPayout(ctx, req)
				require.Equal(t, tt.code, bank131.ErrorCode(err))
				require.True(t, errors.Is(err, tt.is))
				require.Equal(t, bank131.ClassRetry, bank131.Classify(err))
				r, err := c.InitPayout(ctx, req)
				require.NoError(t, err, "the retry goes through")
				require.Equal(t, bank131.SessionInProgress, r.Session.Status)
			}
		})
	}
	// A payout that fails in payment_finished with insufficient_wallet_balance.
	r, err := e.client(projSingle).InitPayout(ctx, initReq(sandbox.AmountFailWalletShort))
	require.NoError(t, err)
	fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.PayoutFailed, fin.Session.Payout().Status)
	require.Equal(t, bank131.CodeWalletShort, fin.Session.Payout().Error.Code)
	require.Equal(t, bank131.ClassWalletShort, bank131.DiagnoseCode(fin.Session.Payout().Error.Code))
}

func TestUnknownModeValue(t *testing.T) {
	for _, tweak := range []func(*sandbox.Modes){
		func(m *sandbox.Modes) { m.HookAmounts = "double" },
		func(m *sandbox.Modes) { m.IdempotencyFailed = "forget" },
		func(m *sandbox.Modes) { m.BPAVersion = "v2" },
		func(m *sandbox.Modes) { m.IdempotencyTTL = -1 },
	} {
		cfg := fastConfig(t)
		tweak(&cfg.Modes)
		_, err := sandbox.New(cfg)
		require.Error(t, err)
	}
}
