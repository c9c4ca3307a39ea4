package sandbox_test

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/testutil"
)

// Webhook bodies in the other forms the bank's pages allow: the client
// reads each to the same facts.
func TestHookForms(t *testing.T) {
	tests := []struct {
		name    string
		modes   sandbox.Modes
		present []string // regexps the raw body matches
		absent  []string
	}{
		{"default", sandbox.Modes{}, []string{`"amount":150050,`, `"created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"`}, []string{`\.0,`, `sandbox_extra`, `"amounts"`}},
		{"float amounts", sandbox.Modes{HookAmounts: "float"}, []string{`"amount":150050\.0`}, []string{`"amount":150050,`}},
		{"space times", sandbox.Modes{HookTimes: "space"}, []string{`"created_at":"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"`}, []string{`T\d\d:\d\d:\d\d\.\d{6}Z`}},
		{"extra fields", sandbox.Modes{HookExtraFields: "on"}, []string{`"sandbox_extra":\{`, `"sandbox_extra":\[`}, nil},
		{"merchant fee", sandbox.Modes{HookFees: "merchant-fee"}, []string{`"amounts":\{"fee":\{"merchant_fee":\{"amount":1500,"currency":"rub"\}\}\}`}, []string{`"net"`}},
		{"all forms, full fees", sandbox.Modes{HookAmounts: "float", HookTimes: "space", HookExtraFields: "on", HookFees: "full"},
			[]string{`"gross":\{"amount":151550\.0`, `"net":\{"amount":150050\.0`, `"merchant_fee":\{"amount":1500\.0`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testutil.NewClock(time.Date(2026, 11, 25, 12, 30, 45, 123456000, time.UTC))
			e := newEnv(t, func(c *sandbox.Config) { c.Modes = tt.modes; c.Now = clock.Now })
			r, err := e.client(projSingle).InitPayout(ctx, initReq(150050))
			require.NoError(t, err)
			fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
			raw := string(e.sink.raw(r.Session.ID, bank131.HookPaymentFinished, 1))
			for _, re := range tt.present {
				require.Regexp(t, regexp.MustCompile(re), raw)
			}
			for _, re := range tt.absent {
				require.NotRegexp(t, regexp.MustCompile(re), raw)
			}
			p := fin.Session.Payout()
			require.Equal(t, bank131.PayoutSucceeded, p.Status)
			require.Equal(t, bank131.Amount{Amount: 150050, Currency: "rub"}, *p.AmountDetails)
			require.True(t, clock.Now().Truncate(time.Second).Equal(p.CreatedAt.Truncate(time.Second)), "created %s", p.CreatedAt)
			if tt.modes.HookFees != "" {
				require.EqualValues(t, 1500, p.Amounts.Fee.MerchantFee.Amount)
			}
			require.Equal(t, sandbox.DefaultFee.Fee(150050), e.payout(r.Session.ID).Fee)
		})
	}
}

// confirm_information of a transfer in the float form: the confirm must
// send back the same object, which it does byte for byte.
func TestHookFormsTransfer(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Modes.HookAmounts = "float"; c.Modes.HookTimes = "space" })
	c := e.client(projTwoStep)
	r, err := c.MultiInitPayment(ctx, seedTransfer(t))
	require.NoError(t, err)
	rtc := e.sink.await(r.Session.ID, bank131.HookReadyToConfirm, 1)
	require.Contains(t, string(rtc.ConfirmInformation), `"amount":131426.0`)
	ex, err := rtc.Exchanges()
	require.NoError(t, err)
	require.EqualValues(t, 131426, ex[0].Destination.Amount)
	_, err = c.Confirm(ctx, r.Session.ID, rtc.ConfirmInformation)
	require.NoError(t, err)
}

// The session's status after a failed payout is undocumented.
func TestFailedSessionModes(t *testing.T) {
	for _, tt := range []struct {
		mode string
		want bank131.SessionStatus
	}{{"", bank131.SessionCancelled}, {"cancelled", bank131.SessionCancelled}, {"accepted", bank131.SessionAccepted}, {"error", bank131.SessionError}} {
		t.Run("mode "+tt.mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.FailedSession = tt.mode; c.AutoThreeDS = true })
			r, err := e.client(projSingle).InitPayout(ctx, initReq(sandbox.AmountFailLimit))
			require.NoError(t, err)
			fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
			require.Equal(t, tt.want, fin.Session.Status)
			require.Equal(t, bank131.PayoutFailed, fin.Session.Payout().Status)

			// A transfer whose 3-D Secure fails likewise.
			c := e.client(projTwoStep)
			req := seedTransfer(t)
			req.Calculate = calc(bank131.Given(sandbox.AmountFail3DS, "RUB"), bank131.ToCompute("TRY"))
			x, err := c.MultiInitPayment(ctx, req)
			require.NoError(t, err)
			rtc := e.sink.await(x.Session.ID, bank131.HookReadyToConfirm, 1)
			_, err = c.Confirm(ctx, x.Session.ID, rtc.ConfirmInformation)
			require.NoError(t, err)
			fin = e.sink.await(x.Session.ID, bank131.HookPaymentFinished, 1)
			require.Equal(t, tt.want, fin.Session.Status)
			require.Equal(t, bank131.CodeThreeDS, fin.Session.Payout().Error.Code)
		})
	}
}

// The session-error trigger: "The error status of the payment session is
// not final" (DOC-errors); how it ends is not said.
func TestSessionErrorModes(t *testing.T) {
	for _, tt := range []struct {
		mode  string
		final bank131.PayoutStatus // "" = never resolves
	}{{"", bank131.PayoutSucceeded}, {"succeeds", bank131.PayoutSucceeded}, {"fails", bank131.PayoutFailed}, {"stays", ""}} {
		t.Run("mode "+tt.mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.SessionError = tt.mode })
			c := e.client(projSingle)
			r, err := c.InitPayout(ctx, initReq(sandbox.AmountSessionError))
			require.NoError(t, err)
			first := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
			require.Equal(t, bank131.SessionError, first.Session.Status)
			if tt.final == "" {
				time.Sleep(3 * fastConfig(t).Timing.ErrorResolve)
				st, err := c.Status(ctx, r.Session.ID)
				require.NoError(t, err)
				require.Equal(t, bank131.SessionError, st.Session.Status, "still not final")
				require.Len(t, e.sink.of(r.Session.ID), 1)
				return
			}
			second := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 2)
			require.Equal(t, tt.final, second.Session.Payout().Status)
			require.NotEqual(t, bank131.SessionError, second.Session.Status)
		})
	}
}

func TestActionsConfirmMode(t *testing.T) {
	for _, mode := range []string{"always", "bpa"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.ActionsConfirm = mode })
			c := e.client(projTwoStep)
			r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("ab"), AmountDetails: rub(100), ParticipantDetails: recipient("A B")})
			require.NoError(t, err)
			e.sink.await(r.Session.ID, bank131.HookReadyToConfirm, 1)
			conf, err := c.Confirm(ctx, r.Session.ID, nil)
			require.NoError(t, err)
			require.Equal(t, mode == "always", len(conf.Session.Actions) > 0, "domestic: %s", conf.Session.Actions)

			x, err := c.MultiInitPayment(ctx, seedTransfer(t))
			require.NoError(t, err)
			rtc := e.sink.await(x.Session.ID, bank131.HookReadyToConfirm, 1)
			conf, err = c.Confirm(ctx, x.Session.ID, rtc.ConfirmInformation)
			require.NoError(t, err)
			var actions map[string]string
			require.NoError(t, json.Unmarshal(conf.Session.Actions, &actions), "transfers always show it (S3:767-769)")
			require.NotEmpty(t, actions["confirm"])
		})
	}
}

func TestEncryptedCardNameMode(t *testing.T) {
	for _, mode := range []string{"optional", "required"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.EncryptedCardName = mode })
			m := bank131.EncryptedCardMethod(bank131.EncryptedCard{NumberHash: "93c6cdd33a610f6c0c4372d7450a80dc03745b214a704bd257392c1e8b3043f4"})
			_, err := e.client(projTwoStep).InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: m, AmountDetails: rub(100)})
			if mode == "optional" {
				require.NoError(t, err, "seed 000's start example has no name")
			} else {
				require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err))
			}
			_, err = e.client(projTwoStep).InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: m, AmountDetails: rub(100), ParticipantDetails: recipient("A B")})
			require.NoError(t, err)
		})
	}
}
