package sandbox_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/testutil"
)

func initReq(amount int64) bank131.InitPayoutRequest {
	return bank131.InitPayoutRequest{PaymentMethod: bank131.BankCardMethod("4242424242424242"), AmountDetails: rub(amount), ParticipantDetails: recipient("A B")}
}

func TestFaultServerErrors(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Faults = sandbox.Faults{Seed: 7, ServerErrors: 1} })
	c := e.client(projSingle)
	codes := map[int]int{}
	for range 8 {
		_, err := c.InitPayout(ctx, initReq(100), bank131.WithIdempotencyKey("k1"))
		require.Error(t, err)
		require.Equal(t, bank131.ClassRetry, bank131.Classify(err), "%v", err)
		var api *bank131.APIError
		require.ErrorAs(t, err, &api)
		codes[api.HTTPStatus]++
	}
	require.Len(t, codes, 2, "both 500 envelopes and 502 pages: %v", codes)
	require.Empty(t, e.srv.Payouts(), "5xx answers are not processed")

	e.srv.SetFaults(sandbox.Faults{})
	r, err := c.InitPayout(ctx, initReq(100), bank131.WithIdempotencyKey("k1"))
	require.NoError(t, err, "the key was never used")
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
}

func TestFaultServerErrorsShare(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Faults = sandbox.Faults{Seed: 42, ServerErrors: 0.5} })
	c := e.client(projTwoStep)
	failed := 0
	for range 40 {
		if _, err := c.Status(ctx, "ps_404"); bank131.Classify(err) == bank131.ClassRetry {
			failed++
		}
	}
	require.Greater(t, failed, 5)
	require.Less(t, failed, 35)
}

// A dropped connection after processing: the caller cannot know; the same
// key then tells it the bank has the payout.
func TestFaultDrops(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Faults = sandbox.Faults{Drops: 1} })
	c := e.client(projSingle)
	_, err := c.InitPayout(ctx, initReq(100), bank131.WithIdempotencyKey("b/7/init"))
	require.Error(t, err)
	require.Equal(t, bank131.ClassUnknown, bank131.Classify(err), "%v", err)
	require.Len(t, e.srv.Payouts(), 1, "processed")

	e.srv.SetFaults(sandbox.Faults{})
	_, err = c.InitPayout(ctx, initReq(100), bank131.WithIdempotencyKey("b/7/init"))
	require.True(t, bank131.IsIdempotencyConflict(err), "%v", err)
	require.Len(t, e.srv.Payouts(), 1, "never a second payout")
	p := e.srv.Payouts()[0]
	e.sink.await(p.SessionID, bank131.HookPaymentFinished, 1)
}

// A lost request looks like a drop to the client (outcome unknown), but the
// bank never processed it: the same key later is a first request.
func TestFaultLost(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Faults = sandbox.Faults{Lost: 1} })
	c := e.client(projSingle)
	_, err := c.InitPayout(ctx, initReq(100), bank131.WithIdempotencyKey("b/9/init"))
	require.Error(t, err)
	require.Equal(t, bank131.ClassUnknown, bank131.Classify(err), "%v", err)
	require.Empty(t, e.srv.Payouts(), "not processed")

	e.srv.SetFaults(sandbox.Faults{})
	r, err := c.InitPayout(ctx, initReq(100), bank131.WithIdempotencyKey("b/9/init"))
	require.NoError(t, err, "the key was never used")
	require.Len(t, e.srv.Payouts(), 1)
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
}

// Latency longer than the client's timeout: the request was processed, the
// client's outcome is unknown.
func TestFaultLatency(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) {
		c.Faults = sandbox.Faults{Latency: 300 * time.Millisecond, Jitter: 10 * time.Millisecond}
	})
	impatient, err := bank131.NewClient(bank131.Config{BaseURL: e.ts.URL, Project: projSingle, PrivateKey: e.partner, Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	_, err = impatient.InitPayout(ctx, initReq(100), bank131.WithIdempotencyKey("b/8/init"))
	require.Equal(t, bank131.ClassUnknown, bank131.Classify(err), "%v", err)
	testutil.Eventually(t, wait, 2*time.Millisecond, func() error {
		if n := len(e.srv.Payouts()); n != 1 {
			return fmt.Errorf("the slow request was not processed: %d payouts", n)
		}
		return nil
	})

	r, err := e.client(projSingle).InitPayout(ctx, initReq(100))
	require.NoError(t, err, "a patient client gets the answer")
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
}

func TestFaultRateLimit(t *testing.T) {
	// One request per 1000 s: the first passes, the next is throttled.
	e := newEnv(t, func(c *sandbox.Config) { c.Faults = sandbox.Faults{RateLimit: 0.001} })
	c := e.client(projTwoStep)
	_, err := c.CreateSession(ctx, bank131.CreateSessionRequest{})
	require.NoError(t, err)
	_, err = c.CreateSession(ctx, bank131.CreateSessionRequest{})
	require.Error(t, err)
	require.Equal(t, bank131.ClassRetry, bank131.Classify(err))
	var api *bank131.APIError
	require.ErrorAs(t, err, &api)
	require.Equal(t, http.StatusTooManyRequests, api.HTTPStatus)
	require.Equal(t, time.Second, api.RetryAfter)
	require.Equal(t, bank131.CodeTooManyRequests, api.Code)
}

func TestFaultWebhookDuplicates(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Faults = sandbox.Faults{WebhookDuplicates: 1} })
	r, err := e.client(projSingle).InitPayout(ctx, initReq(100))
	require.NoError(t, err)
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 2)
	require.Len(t, e.srv.Payouts(), 1)
}

func TestFaultWebhookReorder(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Faults = sandbox.Faults{WebhookReorders: 1} })
	r, err := e.client(projSingle).InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: ruAccount(), AmountDetails: rub(sandbox.AmountRefunded)})
	require.NoError(t, err)
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	require.Equal(t, []bank131.WebhookType{bank131.HookPaymentRefunded, bank131.HookPaymentFinished}, e.sink.of(r.Session.ID),
		"payment_finished was held back behind payment_refunded")

	// A held webhook with no successor is released after ReorderHold.
	e.srv.SetFaults(sandbox.Faults{WebhookReorders: 1, ReorderHold: 20 * time.Millisecond})
	r, err = e.client(projSingle).InitPayout(ctx, initReq(100))
	require.NoError(t, err)
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
}

func TestFaultWebhookDrops(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.Faults = sandbox.Faults{WebhookDrops: 1} })
	c := e.client(projSingle)
	r, err := c.InitPayout(ctx, initReq(100))
	require.NoError(t, err)
	testutil.Eventually(t, wait, 2*time.Millisecond, func() error {
		if n := e.srv.WebhookStats().Dropped; n != 1 {
			return fmt.Errorf("%d webhooks dropped, want 1", n)
		}
		return nil
	})
	st, err := c.Status(ctx, r.Session.ID)
	require.NoError(t, err)
	require.Equal(t, bank131.PayoutSucceeded, st.Session.Payout().Status, "session/status is the source of truth")
	require.Empty(t, e.sink.of(r.Session.ID))
}

// Anything but 200 is retried with growing intervals.
func TestWebhookRetry(t *testing.T) {
	e := newEnv(t)
	e.sink.fail = func(n int) int {
		if n <= 3 {
			return []int{http.StatusInternalServerError, http.StatusNotFound, http.StatusAccepted}[n-1]
		}
		return http.StatusOK
	}
	r, err := e.client(projSingle).InitPayout(ctx, initReq(100))
	require.NoError(t, err)
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	testutil.Eventually(t, wait, 2*time.Millisecond, func() error {
		if n := e.srv.WebhookStats().Pending; n != 0 {
			return fmt.Errorf("%d webhooks pending", n)
		}
		return nil
	})
	st := e.srv.WebhookStats()
	require.EqualValues(t, 4, st.Attempts)
	require.EqualValues(t, 3, st.Failed)
	require.EqualValues(t, 1, st.Delivered)
}

// Webhooks wait (and retry) until a URL is set; the URL can change.
func TestSetWebhookURL(t *testing.T) {
	e := newEnv(t)
	e.srv.SetWebhookURL("")
	r, err := e.client(projSingle).InitPayout(ctx, initReq(100))
	require.NoError(t, err)
	testutil.Eventually(t, wait, 2*time.Millisecond, func() error {
		if n := e.srv.WebhookStats().Failed; n < 2 {
			return fmt.Errorf("attempts without a URL do not fail: %d failed", n)
		}
		return nil
	})

	req, err := http.NewRequest(http.MethodPut, e.ts.URL+"/sandbox/webhook-url", stringsReader(e.sink.ts.URL+"/webhooks/bank131"))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
}

// Webhooks a receiver rejects (wrong bank key) are never accepted.
func TestWebhookSignedWithBankKey(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.BankKey = loadPriv(t, "other_private.pem") })
	_, err := e.client(projSingle).InitPayout(ctx, initReq(100))
	require.NoError(t, err)
	testutil.Eventually(t, wait, 2*time.Millisecond, func() error {
		e.sink.mu.Lock()
		defer e.sink.mu.Unlock()
		if e.sink.rejected < 2 {
			return fmt.Errorf("the sink rejected %d webhooks signed with another key; want the sandbox to retry", e.sink.rejected)
		}
		return nil
	})
	require.Empty(t, e.sink.hooks)
}
