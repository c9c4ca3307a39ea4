package bank131

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recorded is what the test server saw of one request.
type recorded struct {
	path    string
	body    []byte
	project string
	sig     string
	idem    string
	ctype   string
}

// bankStub answers every request with the handler's answer after checking
// the signature the documented way (stdlib only, not our Verify).
type bankStub struct {
	t      *testing.T
	pub    *rsa.PublicKey
	mu     sync.Mutex
	seen   []recorded
	answer func(w http.ResponseWriter, r *http.Request, body []byte)
}

func (s *bankStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	require.NoError(s.t, err)
	rec := recorded{
		path: r.URL.Path, body: body,
		project: r.Header.Get("X-PARTNER-PROJECT"),
		sig:     r.Header.Get("X-PARTNER-SIGN"),
		idem:    r.Header.Get("X-PARTNER-IDEMPOTENCY-KEY"),
		ctype:   r.Header.Get("Content-Type"),
	}
	raw, err := base64.StdEncoding.DecodeString(rec.sig)
	require.NoError(s.t, err)
	sum := sha256.Sum256(body)
	require.NoError(s.t, rsa.VerifyPKCS1v15(s.pub, crypto.SHA256, sum[:], raw), "signature over the exact body")
	s.mu.Lock()
	s.seen = append(s.seen, rec)
	s.mu.Unlock()
	s.answer(w, r, body)
}

func (s *bankStub) last() recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[len(s.seen)-1]
}

func partnerKey(t testing.TB) *rsa.PrivateKey {
	k, err := LoadPrivateKey(readFile(t, "keys/partner_pkcs1.pem"))
	require.NoError(t, err)
	return k
}

func newStubClient(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body []byte)) (*Client, *bankStub) {
	t.Helper()
	key := partnerKey(t)
	stub := &bankStub{t: t, pub: &key.PublicKey, answer: answer}
	srv := httptest.NewServer(stub)
	t.Cleanup(srv.Close)
	c, err := NewClient(Config{BaseURL: srv.URL + "/", Project: "payrun-test", PrivateKey: key, Timeout: 5 * time.Second})
	require.NoError(t, err)
	return c, stub
}

func okSession(w http.ResponseWriter, _ *http.Request, _ []byte) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ok","session":{"id":"ps_1","status":"created","created_at":"2018-05-27T02:03:00.000000Z"}}`)
}

func TestClientCallsPathsHeadersAndBodies(t *testing.T) {
	c, stub := newStubClient(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch r.URL.Path {
		case PathToken:
			io.WriteString(w, `{"status":"ok","public_token":"pt_1"}`)
		case PathTokenInfo:
			io.WriteString(w, `{"status":"ok","info":{"brand":"visa","last4":"4242","type":"card"}}`)
		case PathCalculate:
			w.Write(readFile(t, "seeds/s3_calculate_response.json"))
		default:
			okSession(w, r, body)
		}
	})
	ctx := context.Background()
	meta := json.RawMessage(`{"payrun":"b0123456789abcdef0123/7","reference":"E-7"}`)
	amount := &Amount{Amount: 10000, Currency: "rub"}
	recipient := &ParticipantDetails{Recipient: &Participant{FullName: "Ivanov Ivan"}}
	tests := []struct {
		name string
		call func() error
		path string
		body string
		idem string
	}{
		{"create", func() error {
			_, err := c.CreateSession(ctx, CreateSessionRequest{AmountDetails: amount, Metadata: json.RawMessage(`"order123"`)}, WithIdempotencyKey("k1"))
			return err
		}, PathSessionCreate, `{"amount_details":{"amount":10000,"currency":"rub"},"metadata":"order123"}`, "k1"},
		{"create empty", func() error {
			_, err := c.CreateSession(ctx, CreateSessionRequest{})
			return err
		}, PathSessionCreate, `{}`, ""},
		{"start encrypted", func() error {
			_, err := c.StartPayout(ctx, StartPayoutRequest{SessionID: "3230", PaymentMethod: EncryptedCardMethod(EncryptedCard{NumberHash: "63191f"}), Metadata: json.RawMessage(`"good"`)})
			return err
		}, PathStartPayout, `{"session_id":"3230","payment_method":{"type":"card","card":{"type":"encrypted_card","encrypted_card":{"number_hash":"63191f"}}},"metadata":"good"}`, ""},
		{"start token", func() error {
			_, err := c.StartPayout(ctx, StartPayoutRequest{SessionID: "ps_1", PaymentMethod: TokenizedCardMethod("759c"), ParticipantDetails: recipient, AmountDetails: amount, Metadata: meta}, WithIdempotencyKey("k2"))
			return err
		}, PathStartPayout, `{"session_id":"ps_1","payment_method":{"type":"card","card":{"type":"tokenized_card","tokenized_card":{"token":"759c"}}},"amount_details":{"amount":10000,"currency":"rub"},"participant_details":{"recipient":{"full_name":"Ivanov Ivan"}},"metadata":{"payrun":"b0123456789abcdef0123/7","reference":"E-7"}}`, "k2"},
		{"init bank card", func() error {
			_, err := c.InitPayout(ctx, InitPayoutRequest{PaymentMethod: BankCardMethod("4242424242424242"), ParticipantDetails: recipient, AmountDetails: amount, Metadata: json.RawMessage(`"good"`)}, WithIdempotencyKey("k3"))
			return err
		}, PathInitPayout, string(readFile(t, "seeds/s1_init_payout_request.json")), "k3"},
		{"confirm without information", func() error {
			_, err := c.Confirm(ctx, "ps_3230", nil)
			return err
		}, PathConfirm, `{"session_id":"ps_3230"}`, ""},
		{"cancel", func() error {
			_, err := c.Cancel(ctx, "ps_3230", WithIdempotencyKey("k4"))
			return err
		}, PathCancel, `{"session_id":"ps_3230"}`, "k4"},
		{"status", func() error {
			_, err := c.Status(ctx, "ps_1")
			return err
		}, PathStatus, `{"session_id":"ps_1"}`, ""},
		{"token", func() error {
			r, err := c.IssuePublicToken(ctx, PublicTokenRequest{TokenizeWidget: &WidgetAccess{Access: true}})
			require.Equal(t, "pt_1", r.PublicToken)
			return err
		}, PathToken, `{"tokenize_widget":{"access":true}}`, ""},
		{"token info", func() error {
			r, err := c.TokenInfo(ctx, CardTokenInfo("759c"))
			require.Equal(t, "4242", r.Info.Last4)
			return err
		}, PathTokenInfo, `{"type":"card","card":{"type":"tokenized_card","tokenized_card":{"token":"759c"}}}`, ""},
		{"calculate", func() error {
			r, err := c.Calculate(ctx, CalculateRequest{Amounts: CalcSides{Source: Given(357912, "RUB"), Destination: ToCompute("TRY")}})
			require.EqualValues(t, 131426, r.Amounts.Destination.Amount)
			return err
		}, PathCalculate, string(readFile(t, "seeds/s3_calculate_request.json")), ""},
		{"multi init", func() error {
			var req MultiInitPaymentRequest
			require.NoError(t, json.Unmarshal(readFile(t, "seeds/s3_multi_init_request.json"), &req))
			_, err := c.MultiInitPayment(ctx, req, WithIdempotencyKey("k5"))
			return err
		}, PathMultiInitPayment, string(readFile(t, "seeds/s3_multi_init_request.json")), "k5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.call())
			got := stub.last()
			require.Equal(t, tt.path, got.path)
			require.Equal(t, "payrun-test", got.project)
			require.Equal(t, "application/json", got.ctype)
			require.Equal(t, tt.idem, got.idem)
			require.Equal(t, jsonValue(t, []byte(tt.body)), jsonValue(t, got.body), "sent %s", got.body)
			want, err := Sign(partnerKey(t), got.body)
			require.NoError(t, err)
			require.Equal(t, want, got.sig)
		})
	}
}

func TestConfirmEmbedsConfirmInformationVerbatim(t *testing.T) {
	c, stub := newStubClient(t, okSession)
	// Odd but valid JSON: spacing, key order, escaped slash and Cyrillic,
	// a number with a trailing zero. It must travel unchanged.
	ci := json.RawMessage("{ \"exchanges\": [ {\"id\":\"pm_1\", \"fx_rate\": \"0.3000\", \"note\": \"a\\/b <&> Ольга\",\n \"source\": {\"amount\": 1000, \"currency\":\"RUB\"}, \"x\": 1.50 } ] }")
	_, err := c.Confirm(context.Background(), "ps_1", ci, WithIdempotencyKey("b/1/ps_1/confirm"))
	require.NoError(t, err)
	got := stub.last()
	want := append(append([]byte(`{"session_id":"ps_1","confirm_information":`), ci...), '}')
	require.Equal(t, string(want), string(got.body))
	require.Equal(t, "b/1/ps_1/confirm", got.idem)

	_, err = c.Confirm(context.Background(), "ps_1", json.RawMessage(`{"broken"`))
	require.Error(t, err)
}

func TestClientErrors(t *testing.T) {
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		class  Class
		code   string
		status int
		retry  time.Duration
	}{
		{"invalid request", func(w http.ResponseWriter) {
			w.WriteHeader(400)
			io.WriteString(w, `{"status":"error","error":{"code":"invalid_request","description":"amount is required"}}`)
		}, ClassFinal, "invalid_request", 400, 0},
		{"card error", func(w http.ResponseWriter) {
			w.WriteHeader(400)
			io.WriteString(w, `{"status":"error","error":{"code":"card_number_does_not_exist","description":"x"}}`)
		}, ClassFinal, "card_number_does_not_exist", 400, 0},
		{"authentication", func(w http.ResponseWriter) {
			w.WriteHeader(401)
			io.WriteString(w, `{"status":"error","error":{"code":"authentication_error","description":"bad sign"}}`)
		}, ClassFinal, "authentication_error", 401, 0},
		{"idempotency", func(w http.ResponseWriter) {
			w.WriteHeader(409)
			io.WriteString(w, `{"status":"error","error":{"code":"idempotency_key_already_exists","description":"already in progress or processed"}}`)
		}, ClassConflict, "idempotency_key_already_exists", 409, 0},
		{"internal error", func(w http.ResponseWriter) {
			w.WriteHeader(500)
			io.WriteString(w, `{"status":"error","error":{"code":"internal_error","description":"oops"}}`)
		}, ClassRetry, "internal_error", 500, 0},
		{"provider timeout in a 400", func(w http.ResponseWriter) {
			w.WriteHeader(400)
			io.WriteString(w, `{"status":"error","error":{"code":"provider_timeout"}}`)
		}, ClassRetry, "provider_timeout", 400, 0},
		{"proxy html 502", func(w http.ResponseWriter) {
			w.WriteHeader(502)
			io.WriteString(w, `<html>Bad Gateway</html>`)
		}, ClassRetry, "", 502, 0},
		{"429 with retry-after", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(429)
			io.WriteString(w, `{"status":"error","error":{"code":"too_many_requests"}}`)
		}, ClassRetry, "too_many_requests", 429, 3 * time.Second},
		{"error status in a 200", func(w http.ResponseWriter) {
			io.WriteString(w, `{"status":"error","error":{"code":"bank_card_expired"}}`)
		}, ClassFinal, "bank_card_expired", 200, 0},
		{"unreadable 200", func(w http.ResponseWriter) {
			io.WriteString(w, `<html>ok</html>`)
		}, ClassUnknown, "", 0, 0},
		{"200 without a session", func(w http.ResponseWriter) {
			io.WriteString(w, `{"status":"ok"}`)
		}, ClassUnknown, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newStubClient(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { tt.answer(w) })
			_, err := c.StartPayout(context.Background(), StartPayoutRequest{SessionID: "ps_1"})
			require.Error(t, err)
			require.Equal(t, tt.class, Classify(err), "%v", err)
			require.Equal(t, tt.code, ErrorCode(err))
			require.Equal(t, tt.class == ClassConflict, IsIdempotencyConflict(err))
			if tt.status != 0 {
				var api *APIError
				require.ErrorAs(t, err, &api)
				require.Equal(t, tt.status, api.HTTPStatus)
				require.Equal(t, tt.retry, api.RetryAfter)
				require.Equal(t, "session/start/payout", api.Method)
			}
		})
	}
}

// TestClientTransportErrors separates "never reached the bank" (retry) from
// "the request was sent and the answer was lost" (outcome unknown).
func TestClientTransportErrors(t *testing.T) {
	key := partnerKey(t)
	newClient := func(url string, timeout time.Duration) *Client {
		c, err := NewClient(Config{BaseURL: url, Project: "p", PrivateKey: key, Timeout: timeout})
		require.NoError(t, err)
		return c
	}

	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		ln.Close()
		_, err = newClient("http://"+addr, time.Second).Status(context.Background(), "ps_1")
		require.Error(t, err)
		require.Equal(t, ClassRetry, Classify(err), "%v", err)
		require.True(t, IsConnectError(err))
	})

	t.Run("context already over", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := newClient("http://127.0.0.1:1", time.Second).Status(ctx, "ps_1")
		require.Equal(t, ClassRetry, Classify(err), "%v", err)
	})

	t.Run("connection dropped after the request", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			conn.Close()
		}))
		defer srv.Close()
		_, err := newClient(srv.URL, time.Second).InitPayout(context.Background(), InitPayoutRequest{})
		require.Error(t, err)
		require.Equal(t, ClassUnknown, Classify(err), "%v", err)
		require.False(t, IsConnectError(err))
	})

	t.Run("timeout after the request", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			<-release
		}))
		defer srv.Close()
		defer close(release)
		_, err := newClient(srv.URL, 100*time.Millisecond).InitPayout(context.Background(), InitPayoutRequest{})
		require.Error(t, err)
		require.Equal(t, ClassUnknown, Classify(err), "%v", err)
	})

	t.Run("answer cut in the middle", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(200)
			io.WriteString(w, `{"status":"ok","session":{"id":`)
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}))
		defer srv.Close()
		_, err := newClient(srv.URL, time.Second).InitPayout(context.Background(), InitPayoutRequest{})
		require.Error(t, err)
		require.Equal(t, ClassUnknown, Classify(err), "%v", err)
	})
}

func TestNewClientValidates(t *testing.T) {
	key := partnerKey(t)
	for name, cfg := range map[string]Config{
		"no url":     {Project: "p", PrivateKey: key},
		"no project": {BaseURL: "http://x", PrivateKey: key},
		"no key":     {BaseURL: "http://x", Project: "p"},
	} {
		_, err := NewClient(cfg)
		require.Error(t, err, name)
	}
}

// TestCardNumberNeverLogged: debug logging of a bank_card call shows only
// the last four digits, and so does printing the request.
func TestCardNumberNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	key := partnerKey(t)
	stub := &bankStub{t: t, pub: &key.PublicKey, answer: okSession}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	c, err := NewClient(Config{BaseURL: srv.URL, Project: "p", PrivateKey: key,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	req := InitPayoutRequest{PaymentMethod: BankCardMethod("4000000000000028"), AmountDetails: &Amount{100, "rub"}}
	_, err = c.InitPayout(context.Background(), req)
	require.NoError(t, err)
	require.Contains(t, string(stub.last().body), "4000000000000028", "the bank gets the number")
	require.Contains(t, logs.String(), "****0028")
	require.NotContains(t, logs.String(), "4000000000000028")

	slog.New(slog.NewTextHandler(&logs, nil)).Info("card", "card", *req.PaymentMethod.Card.BankCard)
	for _, s := range []string{
		logs.String(),
		strings.Join([]string{
			fmtAll(req), fmtAll(req.PaymentMethod), fmtAll(*req.PaymentMethod.Card.BankCard),
		}, "\n"),
	} {
		require.NotContains(t, s, "4000000000000028")
	}
}

func fmtAll(v any) string {
	return fmt.Sprintf("%v %+v %#v %s", v, v, v, v)
}

// TestWithPaceWaitsBeforeSending: a call made with WithPace asks the pacer
// once, just before it is sent; a pacer that refuses leaves it unsent, as
// a retry (nothing reached the bank).
func TestWithPaceWaitsBeforeSending(t *testing.T) {
	c, stub := newStubClient(t, okSession)
	paced := 0
	ctx := WithPace(context.Background(), func(context.Context) error { paced++; return nil })
	_, err := c.Status(ctx, "ps_1")
	require.NoError(t, err)
	require.Equal(t, 1, paced)
	require.Len(t, stub.seen, 1)

	ctx = WithPace(context.Background(), func(context.Context) error { return context.DeadlineExceeded })
	_, err = c.Status(ctx, "ps_1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, ClassRetry, Classify(err))
	require.Len(t, stub.seen, 1, "nothing sent")
}
