package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
)

// Flow A (page 000): public token, widget card, create, start,
// ready_to_confirm, confirm, payment_finished.
func TestFlowWidgetCard(t *testing.T) {
	e := newEnv(t)
	c := e.client(projTwoStep)

	pt, err := c.IssuePublicToken(ctx, bank131.PublicTokenRequest{TokenizeWidget: &bank131.WidgetAccess{Access: true}})
	require.NoError(t, err)
	require.NotEmpty(t, pt.PublicToken)

	card := bank131.EncryptedCard{
		NumberHash:         "63191fa17cc7edf818ee5d6611a2c2169ab30b705111cffd710af39880deef09",
		ExpirationDateHash: "f4286b9a8e0eb7974f34a996ee732fd861868f2fc7aaa7ed5cca8de2489534ad",
	}
	info, err := c.TokenInfo(ctx, bank131.EncryptedCardInfo(card.NumberHash))
	require.NoError(t, err)
	require.Len(t, info.Info.Last4, 4)

	created, err := c.CreateSession(ctx, bank131.CreateSessionRequest{AmountDetails: rub(10000), Metadata: json.RawMessage(`"order123"`)})
	require.NoError(t, err)
	require.Equal(t, bank131.SessionCreated, created.Session.Status)
	id := created.Session.ID
	require.True(t, strings.HasPrefix(id, "ps_"))

	started, err := c.StartPayout(ctx, bank131.StartPayoutRequest{SessionID: id, PaymentMethod: bank131.EncryptedCardMethod(card), Metadata: json.RawMessage(`"good"`)})
	require.NoError(t, err)
	require.Equal(t, bank131.SessionInProgress, started.Session.Status)
	require.Equal(t, bank131.PayoutInProgress, started.Session.Payout().Status)

	rtc := e.sink.await(id, bank131.HookReadyToConfirm, 1)
	p := rtc.Session.Payout()
	require.Equal(t, bank131.NextActionConfirm, rtc.Session.NextAction)
	require.Equal(t, bank131.PayoutPending, p.Status)
	require.Equal(t, info.Info.Last4, p.Method().Card.Last4, "the widget card is shown masked")
	require.Empty(t, p.Method().Card.EncryptedCard, "hashes are not echoed")
	require.Equal(t, bank131.Amount{Amount: 10000, Currency: "rub"}, *p.AmountDetails, "amount from session/create")
	require.JSONEq(t, `"good"`, string(p.Metadata), "start's metadata wins")
	require.Nil(t, rtc.ConfirmInformation)

	confirmed, err := c.Confirm(ctx, id, rtc.ConfirmInformation, bank131.WithIdempotencyKey("b1/1/"+id+"/confirm"))
	require.NoError(t, err)
	require.Empty(t, confirmed.Session.NextAction)

	fin := e.sink.await(id, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.SessionAccepted, fin.Session.Status)
	require.Equal(t, bank131.PayoutSucceeded, fin.Session.Payout().Status)
	require.False(t, fin.Session.Payout().FinishedAt.IsZero())

	st, err := c.Status(ctx, id)
	require.NoError(t, err)
	require.Equal(t, bank131.SessionAccepted, st.Session.Status)

	got := e.payout(id)
	require.Equal(t, "succeeded", got.Status)
	require.Equal(t, "card/encrypted_card", got.Method)
	require.Equal(t, 1, got.ConfirmCount)
	require.Equal(t, 1, got.ConfirmsAccepted)
	require.Equal(t, sandbox.DefaultFee.Fee(10000), got.Fee)
	require.Equal(t, []bank131.WebhookType{bank131.HookReadyToConfirm, bank131.HookPaymentFinished}, e.sink.of(id))
}

// Flow A, the other decision: cancel at ready_to_confirm.
func TestFlowCancelAtReadyToConfirm(t *testing.T) {
	e := newEnv(t)
	c := e.client(projTwoStep)
	r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("759c9852"), AmountDetails: rub(5000), ParticipantDetails: recipient("Ivanov Ivan")})
	require.NoError(t, err)
	id := r.Session.ID
	e.sink.await(id, bank131.HookReadyToConfirm, 1)

	cancelled, err := c.Cancel(ctx, id)
	require.NoError(t, err)
	require.Equal(t, bank131.PayoutPending, cancelled.Session.Payout().Status, "the answer still shows the state before the cancel")

	_, err = c.Confirm(ctx, id, nil)
	require.Equal(t, bank131.CodeSessionWrongState, bank131.ErrorCode(err), "no confirm after a cancel")

	fin := e.sink.await(id, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.SessionCancelled, fin.Session.Status)
	require.Equal(t, bank131.PayoutFailed, fin.Session.Payout().Status)
	_, err = c.Cancel(ctx, id)
	require.NoError(t, err, "a repeated cancel is harmless")
	got := e.payout(id)
	require.Equal(t, 0, got.ConfirmsAccepted)
	require.Equal(t, int64(0), got.Fee)

	// An empty session can be cancelled at once.
	empty, err := c.CreateSession(ctx, bank131.CreateSessionRequest{})
	require.NoError(t, err)
	gone, err := c.Cancel(ctx, empty.Session.ID)
	require.NoError(t, err)
	require.Equal(t, bank131.SessionCancelled, gone.Session.Status)
	_, err = c.StartPayout(ctx, bank131.StartPayoutRequest{SessionID: empty.Session.ID, PaymentMethod: bank131.TokenizedCardMethod("aa"), AmountDetails: rub(100), ParticipantDetails: recipient("A B")})
	require.Equal(t, bank131.CodeSessionWrongState, bank131.ErrorCode(err))
}

// Flow B (page 001): a single-request project; no ready_to_confirm.
func TestFlowSingleRequest(t *testing.T) {
	e := newEnv(t)
	c := e.client(projSingle)
	var req bank131.InitPayoutRequest
	require.NoError(t, json.Unmarshal(readSeed(t, "s1_init_payout_request"), &req))
	r, err := c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b1/2/init"))
	require.NoError(t, err)
	id := r.Session.ID
	require.Equal(t, bank131.SessionInProgress, r.Session.Status)
	card := r.Session.Payout().Method().Card
	require.Equal(t, "4242", card.Last4)
	require.Equal(t, "visa", card.Brand)
	require.Nil(t, card.BankCard, "the card number never comes back")

	fin := e.sink.await(id, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.SessionAccepted, fin.Session.Status)
	require.Equal(t, bank131.PayoutSucceeded, fin.Session.Payout().Status)
	require.Equal(t, []bank131.WebhookType{bank131.HookPaymentFinished}, e.sink.of(id))

	_, err = c.Confirm(ctx, id, nil)
	require.Equal(t, bank131.CodeSessionWrongState, bank131.ErrorCode(err))
	got := e.payout(id)
	require.Equal(t, 1, got.ConfirmCount)
	require.Equal(t, 0, got.ConfirmsAccepted)
	require.Equal(t, "card/bank_card", got.Method)
}

// Auto-confirm: the bank confirms by itself.
func TestFlowAutoConfirm(t *testing.T) {
	e := newEnv(t)
	c := e.client(projAuto)
	r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.BankCardMethod("2200000000000004"), AmountDetails: rub(7000), ParticipantDetails: recipient("Petrov Petr")})
	require.NoError(t, err)
	fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.PayoutSucceeded, fin.Session.Payout().Status)
	require.Equal(t, "mir", fin.Session.Payout().Method().Card.Brand)
	require.JSONEq(t, `{"confirm":"`+string(mustTime(t, fin.Session.Actions))+`"}`, string(fin.Session.Actions))
	require.Equal(t, []bank131.WebhookType{bank131.HookPaymentFinished}, e.sink.of(r.Session.ID))
}

func mustTime(t *testing.T, actions json.RawMessage) string {
	var a struct {
		Confirm string `json:"confirm"`
	}
	require.NoError(t, json.Unmarshal(actions, &a))
	require.NotEmpty(t, a.Confirm)
	return a.Confirm
}

// Flow C (page 002): payout by token; amount required somewhere.
func TestFlowToken(t *testing.T) {
	e := newEnv(t)
	c := e.client(projTwoStep)
	created, err := c.CreateSession(ctx, bank131.CreateSessionRequest{})
	require.NoError(t, err)
	id := created.Session.ID

	var req bank131.StartPayoutRequest
	require.NoError(t, json.Unmarshal(readSeed(t, "s2_start_payout_request"), &req))
	req.SessionID = id
	_, err = c.StartPayout(ctx, req)
	require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err), "the page's example has no amount anywhere: %v", err)

	req.AmountDetails = rub(10000)
	started, err := c.StartPayout(ctx, req, bank131.WithIdempotencyKey("b1/3/a1/start"))
	require.NoError(t, err)
	p := started.Session.Payout()
	require.True(t, strings.HasPrefix(p.ID, "po_"))
	require.Equal(t, "759c9852dde2211d7531b3d905c1d513fbfb914bee87fb567d99c7b2f2c2ad44", p.Method().Card.TokenizedCard.Token, "tokens are echoed")

	rtc := e.sink.await(id, bank131.HookReadyToConfirm, 1)
	require.Equal(t, bank131.PayoutPending, rtc.Session.Payout().Status)
	_, err = c.Confirm(ctx, id, rtc.ConfirmInformation)
	require.NoError(t, err)
	fin := e.sink.await(id, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.PayoutSucceeded, fin.Session.Payout().Status)
	require.Equal(t, "Ivanov Ivan", fin.Session.Payout().ParticipantDetails.Recipient.FullName)
}

// A second confirm is refused and never pays twice.
func TestConfirmTwice(t *testing.T) {
	e := newEnv(t)
	c := e.client(projTwoStep)
	r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("abc"), AmountDetails: rub(100), ParticipantDetails: recipient("A B")})
	require.NoError(t, err)
	id := r.Session.ID
	e.sink.await(id, bank131.HookReadyToConfirm, 1)
	_, err = c.Confirm(ctx, id, nil)
	require.NoError(t, err)
	_, err = c.Confirm(ctx, id, nil)
	require.Error(t, err)
	require.Equal(t, bank131.CodeSessionWrongState, bank131.ErrorCode(err))
	require.Equal(t, bank131.ClassFinal, bank131.Classify(err))
	require.Equal(t, bank131.ClassReadStatus, bank131.Diagnose(err))
	e.sink.await(id, bank131.HookPaymentFinished, 1)
	_, err = c.Confirm(ctx, id, nil)
	require.Error(t, err)
	got := e.payout(id)
	require.Equal(t, 3, got.ConfirmCount)
	require.Equal(t, 1, got.ConfirmsAccepted)
	require.Equal(t, "succeeded", got.Status)
}

func TestConfirmTimeout(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Timing.ConfirmTimeout = 20 * time.Millisecond })
	c := e.client(projTwoStep)
	r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("abc"), AmountDetails: rub(100), ParticipantDetails: recipient("A B")})
	require.NoError(t, err)
	fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.PayoutFailed, fin.Session.Payout().Status)
	require.Equal(t, bank131.CodeConfirmTimeout, fin.Session.Payout().Error.Code)
	require.Equal(t, bank131.SessionCancelled, fin.Session.Status)
}

func readSeed(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "seeds", name+".json"))
	require.NoError(t, err)
	return b
}

func TestInspectionEndpoints(t *testing.T) {
	e := newEnv(t)
	c := e.client(projSingle)
	meta := json.RawMessage(`{"payrun":"b0123456789abcdef0123/1","reference":"E-1, \"quoted\""}`)
	r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.BankCardMethod("4242424242424242"), AmountDetails: rub(150050), ParticipantDetails: recipient("A B"), Metadata: meta})
	require.NoError(t, err)
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	ref, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: ruAccount(), AmountDetails: rub(sandbox.AmountRefunded)})
	require.NoError(t, err)
	e.sink.await(ref.Session.ID, bank131.HookPaymentRefunded, 1)

	resp, err := http.Get(e.ts.URL + "/sandbox/payouts")
	require.NoError(t, err)
	var list struct {
		Payouts []sandbox.PayoutInfo `json:"payouts"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	require.Len(t, list.Payouts, 2)
	first := list.Payouts[0]
	require.Equal(t, r.Session.ID, first.SessionID)
	require.JSONEq(t, string(meta), string(first.Metadata))
	require.EqualValues(t, 150050, first.Amount)
	require.Equal(t, "RUB", first.Currency)
	require.Equal(t, "succeeded", first.Status)
	require.Equal(t, "card/bank_card", first.Method)
	require.Equal(t, "4242", first.Last4)
	require.True(t, list.Payouts[1].Refunded)

	msk := time.FixedZone("MSK", 3*3600)
	day := first.FinishedAt.In(msk).Format("2006-01-02")
	resp, err = http.Get(e.ts.URL + "/sandbox/report?date=" + day)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "the bank reports per project")
	resp, err = http.Get(e.ts.URL + "/sandbox/report?project=" + projSingle + "&date=" + day)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Disposition"), `filename="`+projSingle+"_"+day+"_"+day+`.csv"`)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	require.Equal(t, "operationId,transactionDate,finishedAt,typeOfPayment,paymentFast,paymentSessionId,contract,"+
		"paymentSessionMerchantMetadata,paymentMethodIdentity,product,grossLocalAmount,paymentLocalAmount,feesLocalAmount,currency", lines[0])
	if len(lines) == 4 { // not across midnight
		require.Equal(t, first.PayoutID+","+first.CreatedAt.In(msk).Format(time.DateTime)+","+first.FinishedAt.In(msk).Format(time.DateTime)+
			",Advice,0,"+r.Session.ID+`,100-C-000000,"{""payrun"":""b0123456789abcdef0123/1"",""reference"":""E-1, \""quoted\""""}",`+
			"424242******4242,payouts,1515.5,1500.5,15,RUB", lines[1])
		require.Contains(t, lines[2], ",Advice,0,")
		require.Contains(t, lines[2], ",40817810000000000001,payouts,146.08,131.08,15,RUB")
		require.True(t, strings.HasPrefix(lines[3], list.Payouts[1].PayoutID+","), "a refund line names the payout (DOC-refunds): %s", lines[3])
		require.Contains(t, lines[3], ",Refund,")
		require.Contains(t, lines[3], ",131.08,131.08,0,RUB")
	}

	resp, err = http.Get(e.ts.URL + "/sandbox/report?date=yesterday")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
