package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/testutil"
)

func publicToken(t *testing.T, e *env) string {
	t.Helper()
	r, err := e.client(projTwoStep).IssuePublicToken(ctx, bank131.PublicTokenRequest{TokenizeWidget: &bank131.WidgetAccess{Access: true}})
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f]{64}$`, r.PublicToken)
	return r.PublicToken
}

func get(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

const pageOrigin = "http://127.0.0.1:8080"

func formURL(e *env, token string) string {
	return e.ts.URL + "/sandbox/widget/form?public_token=" + url.QueryEscape(token) + "&parent_origin=" + url.QueryEscape(pageOrigin)
}

// tokenize submits the widget form's request and returns the answer.
func tokenize(t *testing.T, e *env, token, number string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"public_token": token, "number": number, "expiration_month": "12",
		"expiration_year": "30", "cardholder_name": "IVAN IVANOV", "security_code": "123"})
	resp, err := http.Post(e.ts.URL+"/sandbox/widget/tokenize", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func encryptedCard(t *testing.T, out map[string]any) bank131.EncryptedCard {
	t.Helper()
	require.Equal(t, "ok", out["status"], "%v", out)
	b, _ := json.Marshal(out["encrypted_card"])
	var c bank131.EncryptedCard
	require.NoError(t, json.Unmarshal(b, &c))
	for _, h := range []string{c.NumberHash, c.ExpirationDateHash, c.CardholderNameHash, c.SecurityCodeHash} {
		require.Regexp(t, `^[0-9a-f]{64}$`, h, "seed 000's hashes are 64 hex")
	}
	return c
}

// Seed 000 end to end against the stand-in: public token, the widget's
// script and form, the encrypted card, token/info with the card's real last
// four, a payout to it.
func TestWidgetStandIn(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(c *sandbox.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	token := publicToken(t, e)

	status, h, js := get(t, e.ts.URL+sandbox.WidgetScriptPath)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, h.Get("Content-Type"), "javascript")
	require.Contains(t, js, `window["`+sandbox.WidgetConstructor+`"] = Widget`)
	require.Contains(t, js, `document.getElementById("`+sandbox.WidgetContainerID+`")`)
	require.Contains(t, js, `"`+sandbox.WidgetMessageType+`"`)
	require.Contains(t, js, `"/sandbox/widget/form"`)

	status, h, page := get(t, formURL(e, token))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "frame-ancestors "+pageOrigin, h.Get("Content-Security-Policy"))
	require.Contains(t, page, `id="number"`)
	require.Contains(t, page, `window.parent.postMessage(msg, parentOrigin)`)
	status, _, _ = get(t, formURL(e, "nope"))
	require.Equal(t, http.StatusForbidden, status)
	status, _, _ = get(t, e.ts.URL+"/sandbox/widget/form?public_token="+token+"&parent_origin=javascript:alert(1)")
	require.Equal(t, http.StatusBadRequest, status)

	const pan = "5555555555554444"
	status, out := tokenize(t, e, token, "5555 5555 5555 4444")
	require.Equal(t, http.StatusOK, status)
	card := encryptedCard(t, out)

	c := e.client(projTwoStep)
	info, err := c.TokenInfo(ctx, bank131.EncryptedCardInfo(card.NumberHash))
	require.NoError(t, err)
	require.Equal(t, "4444", info.Info.Last4, "the card's own last four, not the hash's")
	require.Equal(t, "mastercard", info.Info.Brand)

	r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.EncryptedCardMethod(card), AmountDetails: rub(6840000), ParticipantDetails: recipient("Новиков Андрей")})
	require.NoError(t, err)
	shown := r.Session.Payout().Method().Card
	require.Equal(t, "4444", shown.Last4)
	require.Equal(t, "mastercard", shown.Brand)
	require.Nil(t, shown.EncryptedCard)
	e.sink.await(r.Session.ID, bank131.HookReadyToConfirm, 1)
	require.Equal(t, "4444", e.payout(r.Session.ID).Last4)

	// The same token again (unlimited by default) and a bad card.
	status, out = tokenize(t, e, token, "4242424242424241")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "error", out["status"])
	status, _ = tokenize(t, e, token, "4242424242424242")
	require.Equal(t, http.StatusOK, status)

	// A token for another widget does not open this one.
	se, err := c.IssuePublicToken(ctx, bank131.PublicTokenRequest{SelfEmployedWidget: &bank131.SelfEmployedWidget{TaxReference: "123456789012"}})
	require.NoError(t, err)
	status, _, _ = get(t, formURL(e, se.PublicToken))
	require.Equal(t, http.StatusForbidden, status)

	require.NotContains(t, logs.String(), pan)
	for _, p := range e.srv.Payouts() {
		b, _ := json.Marshal(p)
		require.NotContains(t, string(b), pan)
	}
}

// A trigger card number typed into the widget behaves as the card would.
func TestWidgetTriggerCard(t *testing.T) {
	e := newEnv(t)
	_, out := tokenize(t, e, publicToken(t, e), sandbox.CardFailLimit)
	card := encryptedCard(t, out)
	require.Equal(t, sandbox.TokenFailLimit, card.NumberHash[56:])
	c := e.client(projSingle)
	r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.EncryptedCardMethod(card), AmountDetails: rub(100)})
	require.NoError(t, err)
	fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.Equal(t, bank131.CodeProviderAmountLimit, fin.Session.Payout().Error.Code)
}

// The sibling API: a public token "is valid for 24 hours. It can only be
// used for a single operation". By default the sandbox's never expire.
func TestPublicTokenModes(t *testing.T) {
	clock := testutil.NewClock(time.Now())
	e := newEnv(t, func(c *sandbox.Config) { c.Modes.PublicToken = "single-use"; c.Now = clock.Now })
	active := func(token string) bool {
		info, err := e.client(projTwoStep).TokenInfo(ctx, bank131.TokenInfoRequest{Type: bank131.TokenInfoPublicToken, PublicToken: &bank131.TokenRef{Token: token}})
		require.NoError(t, err)
		return *info.Info.IsActive
	}
	once := publicToken(t, e)
	require.True(t, active(once))
	status, _ := tokenize(t, e, once, "4242424242424242")
	require.Equal(t, http.StatusOK, status)
	require.False(t, active(once))
	status, _ = tokenize(t, e, once, "4242424242424242")
	require.Equal(t, http.StatusForbidden, status, "single use")

	old := publicToken(t, e)
	clock.Add(24*time.Hour + time.Second)
	require.False(t, active(old))
	status, _, _ = get(t, formURL(e, old))
	require.Equal(t, http.StatusForbidden, status, "expired")

	e = newEnv(t, func(c *sandbox.Config) { c.Now = clock.Now })
	forever := publicToken(t, e)
	clock.Add(1000 * time.Hour)
	for range 2 {
		status, _ = tokenize(t, e, forever, "4242424242424242")
		require.Equal(t, http.StatusOK, status)
	}
}

// X-PARTNER-SUBMERCHANT (DOC-format; the SDK sends it on every request):
// recorded per call and per session, and required in that mode.
func TestSubmerchant(t *testing.T) {
	for _, mode := range []string{"ignore", "required"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.Submerchant = mode })
			with, err := bank131.NewClient(bank131.Config{BaseURL: e.ts.URL, Project: projTwoStep, PrivateKey: e.partner, Submerchant: "SUB-42"})
			require.NoError(t, err)
			s, err := with.CreateSession(ctx, bank131.CreateSessionRequest{})
			require.NoError(t, err)
			_, err = with.StartPayout(ctx, bank131.StartPayoutRequest{SessionID: s.Session.ID, PaymentMethod: bank131.TokenizedCardMethod("ab"), AmountDetails: rub(100), ParticipantDetails: recipient("A B")})
			require.NoError(t, err)
			e.sink.await(s.Session.ID, bank131.HookReadyToConfirm, 1)
			_, err = with.Confirm(ctx, s.Session.ID, nil)
			require.NoError(t, err)
			_, err = with.Status(ctx, s.Session.ID)
			require.NoError(t, err)
			_, err = with.WalletBalance(ctx)
			require.NoError(t, err)
			_, err = with.IssuePublicToken(ctx, bank131.PublicTokenRequest{TokenizeWidget: &bank131.WidgetAccess{Access: true}})
			require.NoError(t, err)
			p := e.payout(s.Session.ID)
			require.Equal(t, "SUB-42", p.Submerchant)
			require.Zero(t, p.CallsWithoutSubmerchant)
			require.Equal(t, map[string]int{"SUB-42": 6}, e.srv.Submerchants())

			_, err = e.client(projTwoStep).Status(ctx, s.Session.ID)
			if mode == "required" {
				require.Equal(t, bank131.CodeAuthorization, bank131.ErrorCode(err))
				require.Equal(t, bank131.ClassOurs, bank131.Diagnose(err))
			} else {
				require.NoError(t, err)
				require.Equal(t, 1, e.payout(s.Session.ID).CallsWithoutSubmerchant)
			}
			status, _, body := get(t, e.ts.URL+"/sandbox/submerchants")
			require.Equal(t, http.StatusOK, status)
			require.JSONEq(t, `{"calls":{"SUB-42":6,"":1}}`, body)
		})
	}
}

func TestRecurrentFinishedAtMode(t *testing.T) {
	for _, mode := range []string{"year", "none"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.RecurrentFinishedAt = mode })
			info, err := e.client(projTwoStep).TokenInfo(ctx, bank131.TokenInfoRequest{Type: bank131.TokenInfoRecurrent, RecurrentToken: &bank131.TokenRef{Token: "rt_1"}})
			require.NoError(t, err)
			require.True(t, *info.Info.IsActive)
			require.Equal(t, mode == "year", !info.Info.FinishedAt.IsZero())
		})
	}
}
