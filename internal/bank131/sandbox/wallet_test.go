package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/testutil"
)

func balance(t *testing.T, c *bank131.Client) int64 {
	t.Helper()
	b, err := c.WalletBalance(ctx)
	require.NoError(t, err)
	w, err := b.Wallet("rub", "")
	require.NoError(t, err)
	return w.AmountDetails.Amount
}

func topUp(t *testing.T, e *env, project string, minor int64) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"project": project, "amount": minor})
	resp, err := http.Post(e.ts.URL+"/sandbox/wallet", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// The wallet pays amount + fee (DOC-payouts-intro); a payout it does not
// cover is answered insufficient_wallet_balance, and the same request goes
// through after a top-up.
func TestWalletShortAtTheCall(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.WalletBalance = 101500 }) // 1 015.00 RUB
	c := e.client(projSingle)
	require.EqualValues(t, 101500, balance(t, c))

	r, err := c.InitPayout(ctx, initReq(100000), bank131.WithIdempotencyKey("b/1/init")) // 1 000 + 15 fee
	require.NoError(t, err)
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.EqualValues(t, 0, balance(t, c))

	req := initReq(1)
	_, err = c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b/2/init"))
	require.Equal(t, bank131.CodeWalletShort, bank131.ErrorCode(err))
	require.True(t, bank131.IsWalletShort(err))
	require.Equal(t, bank131.ClassWalletShort, bank131.Diagnose(err))
	require.Equal(t, bank131.ClassRetry, bank131.Classify(err))
	require.Len(t, e.srv.Payouts(), 1, "nothing started")

	topUp(t, e, projSingle, 1501)
	r, err = c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b/2/init"))
	require.NoError(t, err, "the same key goes through after the top-up (the failed request released it)")
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.EqualValues(t, 0, balance(t, c))
	for _, w := range e.srv.Wallets() {
		require.Zero(t, w.Reserved, "nothing is held once the payouts ended (%s)", w.Project)
	}

	// Projects have wallets of their own.
	require.EqualValues(t, 101500, balance(t, e.client(projTwoStep)))
}

func TestWalletShortInTheWebhook(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.WalletBalance = -1; c.Modes.WalletShortAt = "webhook" })
	c := e.client(projSingle)
	r, err := c.InitPayout(ctx, initReq(100))
	require.NoError(t, err)
	fin := e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	p := fin.Session.Payout()
	require.Equal(t, bank131.PayoutFailed, p.Status)
	require.Equal(t, bank131.CodeWalletShort, p.Error.Code)
	require.EqualValues(t, 0, balance(t, c))
}

// Two-step payouts hold their amount from the start; the hold shows in
// wallet/balance only in the hold mode, and a cancel releases it.
func TestWalletDebitModes(t *testing.T) {
	for _, mode := range []string{"success", "hold"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.WalletBalance = 1_000_000; c.Modes.WalletDebit = mode })
			c := e.client(projTwoStep)
			r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("ab"), AmountDetails: rub(500_000), ParticipantDetails: recipient("A B")})
			require.NoError(t, err)
			e.sink.await(r.Session.ID, bank131.HookReadyToConfirm, 1)
			want := int64(1_000_000)
			if mode == "hold" {
				want -= 500_000 + 2500
			}
			require.EqualValues(t, want, balance(t, c))
			// The hold counts against the next payout in both modes.
			_, err = c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.TokenizedCardMethod("cd"), AmountDetails: rub(500_000), ParticipantDetails: recipient("A B")})
			require.True(t, bank131.IsWalletShort(err), "%v", err)

			_, err = c.Cancel(ctx, r.Session.ID)
			require.NoError(t, err)
			e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
			require.EqualValues(t, 1_000_000, balance(t, c), "the cancel released the hold")
		})
	}
}

func TestWalletRequestDatetime(t *testing.T) {
	for _, mode := range []string{"required", "optional"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.RequestDatetime = mode })
			p := rawPartner{t: t, base: e.ts.URL, project: projTwoStep, key: e.partner}
			status, out := p.post("/api/v1/wallet/balance", []byte(`{}`), nil)
			if mode == "required" {
				require.Equal(t, http.StatusBadRequest, status)
				require.Equal(t, "invalid_request", out["error"].(map[string]any)["code"])
			} else {
				require.Equal(t, http.StatusOK, status)
			}
			status, out = p.post("/api/v1/wallet/balance", []byte(`{"request_datetime":"2024-04-10T19:53:00+03:00"}`), nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "ok", out["status"])
			w := out["wallets"].([]any)[0].(map[string]any)
			require.Equal(t, "131", w["id"])
			require.Equal(t, map[string]any{"amount": float64(sandbox.DefaultWalletBalance), "currency": "rub"}, w["amount_details"])
			status, _ = p.post("/api/v1/wallet/balance", []byte(`{"request_datetime":"yesterday"}`), nil)
			require.Equal(t, http.StatusBadRequest, status)
		})
	}
}

func TestWalletControl(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.WalletBalance = 100 })
	for _, bad := range []string{`{"project":"nobody","amount":1}`, `{"project":"payrun","amount":-101}`, `nonsense`} {
		resp, err := http.Post(e.ts.URL+"/sandbox/wallet", "application/json", bytes.NewReader([]byte(bad)))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
	topUp(t, e, projTwoStep, -100)
	resp, err := http.Get(e.ts.URL + "/sandbox/wallet")
	require.NoError(t, err)
	var list struct {
		Wallets []sandbox.WalletInfo `json:"wallets"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	require.Len(t, list.Wallets, 3)
	got := map[string]int64{}
	for _, w := range list.Wallets {
		got[w.Project] = w.Balance
	}
	require.Equal(t, map[string]int64{projTwoStep: 0, projSingle: 100, projAuto: 100}, got)
}

// Many payouts at once never overdraw the wallet: exactly as many as it
// covers succeed.
func TestWalletConcurrentPayouts(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.WalletBalance = 10 * (100_000 + 1500) })
	c := e.client(projSingle)
	errs := make(chan error, 25)
	for i := range 25 {
		go func() {
			req := initReq(100_000)
			req.Metadata = []byte(fmt.Sprintf(`"%d"`, i))
			_, err := c.InitPayout(ctx, req)
			errs <- err
		}()
	}
	short := 0
	for range 25 {
		if err := <-errs; err != nil {
			require.True(t, bank131.IsWalletShort(err), "%v", err)
			short++
		}
	}
	require.Equal(t, 15, short)
	testutil.Eventually(t, wait, 5*time.Millisecond, func() error {
		if b := balance(t, c); b != 0 {
			return fmt.Errorf("balance %d", b)
		}
		return nil
	})
}
