package sandbox_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
)

// TestTriggers runs every documented trigger through the two-step flow.
func TestTriggers(t *testing.T) {
	e := newEnv(t)
	c := e.client(projTwoStep)
	card := bank131.BankCardMethod
	token := func(suffix string) *bank131.PaymentMethod {
		return bank131.TokenizedCardMethod("759c9852dde2" + suffix)
	}
	hash := func(suffix string) *bank131.PaymentMethod {
		return bank131.EncryptedCardMethod(bank131.EncryptedCard{NumberHash: "63191fa17cc7" + suffix})
	}
	ok := bank131.TokenizedCardMethod("759c9852dde2211d")
	tests := []struct {
		name   string
		method *bank131.PaymentMethod
		amount int64
		reject string // error code of the call
		fail   string // error code of the failed payout
		stuck  bool
	}{
		{"default succeeds", ok, 10000, "", "", false},
		{"card reject not exist", card(sandbox.CardRejectNotExist), 10000, bank131.CodeCardNumberNotExist, "", false},
		{"card reject expired", card(sandbox.CardRejectExpired), 10000, bank131.CodeBankCardExpired, "", false},
		{"card not Luhn", card("4242424242424241"), 10000, bank131.CodeCardNumberNotExist, "", false},
		{"card too short", card("4242424242"), 10000, bank131.CodeInvalidRequest, "", false},
		{"card fail expired", card(sandbox.CardFailExpired), 10000, "", bank131.CodeBankCardExpired, false},
		{"card fail not exist", card(sandbox.CardFailNotExist), 10000, "", bank131.CodeCardNumberNotExist, false},
		{"card fail limit", card(sandbox.CardFailLimit), 10000, "", bank131.CodeProviderAmountLimit, false},
		{"card fail internal", card(sandbox.CardFailInternal), 10000, "", bank131.CodeInternal, false},
		{"card stuck", card(sandbox.CardStuck), 10000, "", "", true},
		{"token reject", token(sandbox.TokenRejectNotExist), 10000, bank131.CodeCardNumberNotExist, "", false},
		{"token reject expired upper case", token("DEAD0002"), 10000, bank131.CodeBankCardExpired, "", false},
		{"token fail expired", token(sandbox.TokenFailExpired), 10000, "", bank131.CodeBankCardExpired, false},
		{"token fail not exist", token(sandbox.TokenFailNotExist), 10000, "", bank131.CodeCardNumberNotExist, false},
		{"token fail limit", token(sandbox.TokenFailLimit), 10000, "", bank131.CodeProviderAmountLimit, false},
		{"token fail internal", token(sandbox.TokenFailInternal), 10000, "", bank131.CodeInternal, false},
		{"token stuck", token(sandbox.TokenStuck), 10000, "", "", true},
		{"hash fail expired", hash(sandbox.TokenFailExpired), 10000, "", bank131.CodeBankCardExpired, false},
		{"amount reject limit", ok, sandbox.AmountRejectLimit, bank131.CodeProviderAmountLimit, "", false},
		{"amount fail limit", ok, sandbox.AmountFailLimit, "", bank131.CodeProviderAmountLimit, false},
		{"amount fail internal", ok, sandbox.AmountFailInternal, "", bank131.CodeInternal, false},
		{"amount fail expired", ok, sandbox.AmountFailExpired, "", bank131.CodeBankCardExpired, false},
		{"amount fail no account", ok, sandbox.AmountFailNoAccount, "", "account_not_found", false},
		{"amount stuck", ok, sandbox.AmountStuck, "", "", true},
		{"zero amount", ok, 0, bank131.CodeInvalidRequest, "", false},
	}
	var stuck []string
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			meta := json.RawMessage(fmt.Sprintf(`{"case":%d}`, i))
			r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: tt.method, AmountDetails: rub(tt.amount), ParticipantDetails: recipient("A B"), Metadata: meta})
			if tt.reject != "" {
				require.Error(t, err)
				require.Equal(t, tt.reject, bank131.ErrorCode(err))
				require.Equal(t, bank131.ClassFinal, bank131.Classify(err))
				return
			}
			require.NoError(t, err)
			id := r.Session.ID
			if tt.stuck {
				stuck = append(stuck, id)
				return
			}
			e.sink.await(id, bank131.HookReadyToConfirm, 1)
			_, err = c.Confirm(ctx, id, nil)
			require.NoError(t, err)
			fin := e.sink.await(id, bank131.HookPaymentFinished, 1)
			p := fin.Session.Payout()
			if tt.fail == "" {
				require.Equal(t, bank131.PayoutSucceeded, p.Status)
				require.Equal(t, bank131.SessionAccepted, fin.Session.Status)
				return
			}
			require.Equal(t, bank131.PayoutFailed, p.Status)
			require.Equal(t, tt.fail, p.Error.Code)
			require.Equal(t, bank131.SessionCancelled, fin.Session.Status)
			require.Equal(t, tt.fail, e.payout(id).ErrorCode)
		})
	}
	// Every other session has finished by now; the stuck ones never moved.
	for _, id := range stuck {
		st, err := c.Status(ctx, id)
		require.NoError(t, err)
		require.Equal(t, bank131.SessionInProgress, st.Session.Status)
		require.Equal(t, bank131.PayoutInProgress, st.Session.Payout().Status)
		require.Empty(t, e.sink.of(id))
	}
}

// A session in status "error" is not final: it comes back resolved.
func TestTriggerSessionError(t *testing.T) {
	e := newEnv(t)
	for _, m := range []*bank131.PaymentMethod{
		bank131.BankCardMethod(sandbox.CardSessionError),
		bank131.TokenizedCardMethod("ab" + sandbox.TokenSessionError),
	} {
		for _, amount := range []int64{10000, sandbox.AmountSessionError} {
			if amount == sandbox.AmountSessionError {
				m = bank131.TokenizedCardMethod("plain")
			}
			r, err := e.client(projSingle).InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: m, AmountDetails: rub(amount), ParticipantDetails: recipient("A B")})
			require.NoError(t, err)
			first := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
			require.Equal(t, bank131.SessionError, first.Session.Status)
			require.Equal(t, bank131.PayoutFailed, first.Session.Payout().Status)
			require.Equal(t, bank131.CodeInternal, first.Session.Error.Code)
			second := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 2)
			require.Equal(t, bank131.SessionAccepted, second.Session.Status)
			require.Equal(t, bank131.PayoutSucceeded, second.Session.Payout().Status)
			require.Nil(t, second.Session.Payout().Error)
			require.Equal(t, "succeeded", e.payout(r.Session.ID).Status)
		}
	}
}

// The internal-error trigger fails the first attempt only: the retry with
// the same idempotency key succeeds (a failed call does not burn the key).
func TestTriggerInternalErrorOnce(t *testing.T) {
	e := newEnv(t)
	c := e.client(projSingle)
	req := bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("t1"), AmountDetails: rub(sandbox.AmountInternalOnce),
		ParticipantDetails: recipient("A B"), Metadata: json.RawMessage(`{"payrun":"b0123456789abcdef0123/5"}`)}
	_, err := c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b/5/init"))
	require.Error(t, err)
	require.Equal(t, bank131.CodeInternal, bank131.ErrorCode(err))
	require.Equal(t, bank131.ClassRetry, bank131.Classify(err))
	require.Empty(t, e.srv.Payouts(), "nothing was created")
	r, err := c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b/5/init"))
	require.NoError(t, err)
	fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.PayoutSucceeded, fin.Session.Payout().Status)
}

// The bank returns payouts to Russian bank accounts only, never by FPS or
// to cards (DOC-refunds): the refund trigger does nothing elsewhere.
func TestTriggerRefund(t *testing.T) {
	e := newEnv(t)
	c := e.client(projSingle)
	r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: ruAccount(), AmountDetails: rub(sandbox.AmountRefunded)})
	require.NoError(t, err)
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	ref := e.sink.await(r.Session.ID, bank131.HookPaymentRefunded, 1)
	p := ref.Session.Payout()
	require.Equal(t, bank131.PayoutSucceeded, p.Status)
	require.Len(t, p.Refunds, 1)
	require.EqualValues(t, sandbox.AmountRefunded, p.Refunds[0].AmountDetails.Amount)

	fps := &bank131.PaymentMethod{Type: bank131.MethodBankAccount, BankAccount: &bank131.BankAccount{SystemType: bank131.SystemFPS,
		FPS: &bank131.FPS{Phone: "79991234567", BankID: "100000000004", Description: "salary"}}}
	var ids []string
	for _, m := range []*bank131.PaymentMethod{bank131.TokenizedCardMethod("t"), bank131.BankCardMethod("4242424242424242"), fps} {
		r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: m, AmountDetails: rub(sandbox.AmountRefunded), ParticipantDetails: recipient("A B")})
		require.NoError(t, err)
		e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
		ids = append(ids, r.Session.ID)
	}
	// A refund would come one Refund delay after the success; the first
	// payout's came, so these had the time.
	time.Sleep(3 * fastConfig(t).Timing.Refund)
	for _, id := range ids {
		require.Equal(t, []bank131.WebhookType{bank131.HookPaymentFinished}, e.sink.of(id))
		require.False(t, e.payout(id).Refunded)
	}
}

func TestValidation(t *testing.T) {
	e := newEnv(t)
	c := e.client(projTwoStep)
	tests := []struct {
		name string
		req  bank131.InitPayoutRequest
	}{
		{"no method", bank131.InitPayoutRequest{AmountDetails: rub(100)}},
		{"no amount", bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("t"), ParticipantDetails: recipient("A B")}},
		{"negative amount", bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("t"), AmountDetails: rub(-5), ParticipantDetails: recipient("A B")}},
		{"not rub", bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("t"), AmountDetails: &bank131.Amount{Amount: 100, Currency: "usd"}, ParticipantDetails: recipient("A B")}},
		{"no recipient for a card", bank131.InitPayoutRequest{PaymentMethod: bank131.BankCardMethod("4242424242424242"), AmountDetails: rub(100)}},
		{"no token", bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod(""), AmountDetails: rub(100), ParticipantDetails: recipient("A B")}},
		{"iban is a transfer", bank131.InitPayoutRequest{PaymentMethod: bank131.IBANMethod("TR330006100519786457841326", "TUR"), AmountDetails: rub(100)}},
		{"bad ru account", bank131.InitPayoutRequest{PaymentMethod: &bank131.PaymentMethod{Type: "bank_account", BankAccount: &bank131.BankAccount{SystemType: "ru",
			RU: &bank131.BankAccountRU{BIK: "044525974", Account: "30101810145250000974", FullName: "A B", Description: "salary"}}}, AmountDetails: rub(100)}},
		{"unknown type", bank131.InitPayoutRequest{PaymentMethod: &bank131.PaymentMethod{Type: "wallet"}, AmountDetails: rub(100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.InitPayout(ctx, tt.req)
			require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err), "%v", err)
		})
	}
	_, err := c.StartPayout(ctx, bank131.StartPayoutRequest{SessionID: "ps_404"})
	require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err))
	_, err = c.Status(ctx, "ps_404")
	require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err))

	// Russian accounts and FPS are domestic methods the sandbox accepts.
	for _, m := range []*bank131.PaymentMethod{
		{Type: "bank_account", BankAccount: &bank131.BankAccount{SystemType: "ru", RU: &bank131.BankAccountRU{
			BIK: "044525974", Account: "40817810100000000001", FullName: "Ivanov Ivan", Description: "salary", IsFast: true}}},
		{Type: "bank_account", BankAccount: &bank131.BankAccount{SystemType: "faster_payment_system", FPS: &bank131.FPS{
			Phone: "79680000000", BankID: "100000000069", Description: "salary"}}},
	} {
		r, err := e.client(projSingle).InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: m, AmountDetails: rub(100)})
		require.NoError(t, err, m.Kind())
		fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
		require.Equal(t, bank131.PayoutSucceeded, fin.Session.Payout().Status)
	}

	// Sessions belong to their project.
	created, err := c.CreateSession(ctx, bank131.CreateSessionRequest{})
	require.NoError(t, err)
	_, err = e.client(projSingle).Status(ctx, created.Session.ID)
	require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err))
}
