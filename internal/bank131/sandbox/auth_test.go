package sandbox_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
)

// tamper changes the request body after the client signed it.
type tamper struct{ next http.RoundTripper }

func (t tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	body = bytes.Replace(body, []byte("10000"), []byte("90000"), 1)
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	return t.next.RoundTrip(r2)
}

func TestRequestAuthentication(t *testing.T) {
	e := newEnv(t)
	other := loadPriv(t, "other_private.pem")
	tests := []struct {
		name    string
		project string
		key     func() *bank131.Config
		code    string
	}{
		{"tampered body", projTwoStep, func() *bank131.Config {
			return &bank131.Config{PrivateKey: e.partner, HTTPClient: &http.Client{Transport: tamper{http.DefaultTransport}}}
		}, bank131.CodeAuthentication},
		{"wrong key", projTwoStep, func() *bank131.Config { return &bank131.Config{PrivateKey: other} }, bank131.CodeAuthentication},
		{"unknown project", "someone-else", func() *bank131.Config { return &bank131.Config{PrivateKey: e.partner} }, bank131.CodeIdentification},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.key()
			cfg.BaseURL, cfg.Project, cfg.Timeout = e.ts.URL, tt.project, 5*time.Second
			c, err := bank131.NewClient(*cfg)
			require.NoError(t, err)
			_, err = c.CreateSession(ctx, bank131.CreateSessionRequest{AmountDetails: rub(10000)})
			require.Error(t, err)
			require.Equal(t, tt.code, bank131.ErrorCode(err))
			require.Equal(t, bank131.ClassFinal, bank131.Classify(err))
			var api *bank131.APIError
			require.ErrorAs(t, err, &api)
			require.Equal(t, http.StatusBadRequest, api.HTTPStatus)
		})
	}
	// Nothing was created by the rejected requests.
	c := e.client(projTwoStep)
	r, err := c.CreateSession(ctx, bank131.CreateSessionRequest{})
	require.NoError(t, err)
	require.Equal(t, "ps_1000", r.Session.ID, "the first session the sandbox made")
}

func TestUnknownProjectCodeConfigurable(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.UnknownProjectCode = bank131.CodeAuthorization })
	c, err := bank131.NewClient(bank131.Config{BaseURL: e.ts.URL, Project: "nobody", PrivateKey: e.partner})
	require.NoError(t, err)
	_, err = c.Status(ctx, "ps_1")
	require.Equal(t, bank131.CodeAuthorization, bank131.ErrorCode(err))
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t)
	c := e.client(projSingle)
	req := bank131.InitPayoutRequest{PaymentMethod: bank131.BankCardMethod("4242424242424242"), AmountDetails: rub(10000), ParticipantDetails: recipient("A B")}
	first, err := c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b/1/init"))
	require.NoError(t, err)
	_, err = c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b/1/init"))
	require.Error(t, err)
	require.True(t, bank131.IsIdempotencyConflict(err))
	require.Equal(t, bank131.ClassConflict, bank131.Classify(err))
	var api *bank131.APIError
	require.ErrorAs(t, err, &api)
	require.Equal(t, http.StatusConflict, api.HTTPStatus)

	// Keys are per project; another key is another payout.
	_, err = e.client(projAuto).InitPayout(ctx, req, bank131.WithIdempotencyKey("b/1/init"))
	require.NoError(t, err)
	_, err = c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b/2/init"))
	require.NoError(t, err)
	require.Len(t, e.srv.Payouts(), 3)
	e.sink.await(first.Session.ID, bank131.HookPaymentFinished, 1)
	require.Len(t, e.sink.of(first.Session.ID), 1)

	// The same key on start/payout of a two-step session.
	tc := e.client(projTwoStep)
	s, err := tc.CreateSession(ctx, bank131.CreateSessionRequest{}, bank131.WithIdempotencyKey("b/3/a1/create"))
	require.NoError(t, err)
	start := bank131.StartPayoutRequest{SessionID: s.Session.ID, PaymentMethod: bank131.TokenizedCardMethod("t"), AmountDetails: rub(100), ParticipantDetails: recipient("A B")}
	_, err = tc.StartPayout(ctx, start, bank131.WithIdempotencyKey("b/3/a1/start"))
	require.NoError(t, err)
	_, err = tc.StartPayout(ctx, start, bank131.WithIdempotencyKey("b/3/a1/start"))
	require.True(t, bank131.IsIdempotencyConflict(err))
	// Without a key the state machine still refuses a second start.
	_, err = tc.StartPayout(ctx, start)
	require.Equal(t, bank131.CodeSessionWrongState, bank131.ErrorCode(err))
}

func TestIdempotencyReplay(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.IdempotencyReplay = true })
	c := e.client(projSingle)
	req := bank131.InitPayoutRequest{PaymentMethod: bank131.BankCardMethod("4242424242424242"), AmountDetails: rub(10000), ParticipantDetails: recipient("A B")}
	first, err := c.InitPayout(ctx, req, bank131.WithIdempotencyKey("k"))
	require.NoError(t, err)
	again, err := c.InitPayout(ctx, req, bank131.WithIdempotencyKey("k"))
	require.NoError(t, err)
	require.Equal(t, first.Session.ID, again.Session.ID)
	require.Equal(t, first.Session.Payout().ID, again.Session.Payout().ID)
	require.Len(t, e.srv.Payouts(), 1)
}
