package sandbox_test

// This file drives the sandbox the way any partner would, written only from
// shared/bank131-api.md with net/http and crypto/rsa: it does not use
// payrun's bank131 client or its types, so the sandbox is shown to accept
// requests from any correct client.

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/testutil"
)

func rawPEM(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "keys", name))
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	return block.Bytes
}

// rawPartner signs like §1.2: RSA PKCS#1 v1.5, SHA-256 of the exact body,
// standard Base64.
type rawPartner struct {
	t       *testing.T
	base    string
	project string
	key     *rsa.PrivateKey
}

func (p rawPartner) post(path string, body []byte, headers map[string]string) (int, map[string]any) {
	p.t.Helper()
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	require.NoError(p.t, err)
	req, err := http.NewRequest(http.MethodPost, p.base+path, bytes.NewReader(body))
	require.NoError(p.t, err)
	// The PHP SDK writes header names in lower case.
	req.Header["content-type"] = []string{"application/json"}
	req.Header["x-partner-project"] = []string{p.project}
	req.Header["x-partner-sign"] = []string{base64.StdEncoding.EncodeToString(sig)}
	for k, v := range headers {
		req.Header[k] = []string{v}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(p.t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// rawReceiver verifies webhooks with the bank's public key before parsing.
type rawReceiver struct {
	t     *testing.T
	pub   *rsa.PublicKey
	mu    sync.Mutex
	hooks []map[string]any
	raws  [][]byte
}

func (r *rawReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	sig, err := base64.StdEncoding.DecodeString(req.Header.Get("X-Partner-Sign"))
	sum := sha256.Sum256(body)
	if err != nil || rsa.VerifyPKCS1v15(r.pub, crypto.SHA256, sum[:], sig) != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var v map[string]any
	if json.Unmarshal(body, &v) != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.hooks = append(r.hooks, v)
	r.raws = append(r.raws, body)
	r.mu.Unlock()
}

func (r *rawReceiver) find(session, typ string) (map[string]any, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, h := range r.hooks {
		if h["type"] == typ && dig(h, "session", "id") == session {
			return h, r.raws[i]
		}
	}
	return nil, nil
}

func (r *rawReceiver) await(t *testing.T, session, typ string) (map[string]any, []byte) {
	t.Helper()
	var h map[string]any
	var raw []byte
	testutil.Eventually(t, 10*time.Second, 2*time.Millisecond, func() error {
		if h, raw = r.find(session, typ); h == nil {
			return fmt.Errorf("no webhook %s for %s", typ, session)
		}
		return nil
	})
	return h, raw
}

// dig walks a decoded JSON value by object keys and array indexes ("0").
func dig(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			if len(x) == 0 || p != "0" {
				return nil
			}
			v = x[0]
		default:
			return nil
		}
	}
	return v
}

func conformanceSandbox(t *testing.T) (rawPartner, *rawReceiver, string) {
	partner, err := x509.ParsePKCS1PrivateKey(rawPEM(t, "partner_pkcs1.pem"))
	require.NoError(t, err)
	bankAny, err := x509.ParsePKIXPublicKey(rawPEM(t, "bank_public.pem"))
	require.NoError(t, err)
	bankPriv, err := x509.ParsePKCS1PrivateKey(rawPEM(t, "bank_private.pem"))
	require.NoError(t, err)
	recv := &rawReceiver{t: t, pub: bankAny.(*rsa.PublicKey)}
	hooks := httptest.NewServer(recv)
	t.Cleanup(hooks.Close)
	srv, err := sandbox.New(sandbox.Config{
		Projects:   []sandbox.Project{{Name: "your_project_name", PublicKey: &partner.PublicKey}},
		BankKey:    bankPriv,
		WebhookURL: hooks.URL,
		Timing:     sandbox.Timing{Processing: 5 * time.Millisecond, Settle: 5 * time.Millisecond},
		Logger:     testutil.QuietLogger(),
	})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return rawPartner{t: t, base: ts.URL, project: "your_project_name", key: partner}, recv, ts.URL
}

func seedBytes(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "seeds", name+".json"))
	require.NoError(t, err)
	return b
}

// documentedPhone puts the sender's phone of seed 003's request example in
// the four fields the page's own table requires (S3:238-241); the example
// sends full_number alone (S3:340-344), which the documented checks refuse.
func documentedPhone(t *testing.T, body []byte) []byte {
	t.Helper()
	old := []byte(`"full_number": "+79376151530"`)
	require.True(t, bytes.Contains(body, old))
	return bytes.Replace(body, old, []byte(`"full_number": "+79376151530", "country_iso3": "RUS", "operator_code": "937", "short_number": "6151530"`), 1)
}

// Flow C of page 002 with the page's own bytes (pretty-printed, newlines
// and all), amount added to create since the page leaves it out.
func TestConformancePayoutByToken(t *testing.T) {
	p, recv, _ := conformanceSandbox(t)

	status, out := p.post("/api/v1/session/create", []byte("{\n\"amount_details\": {\"amount\": 10000, \"currency\": \"rub\"}\n}"), nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, "ok", out["status"])
	require.Equal(t, "created", dig(out, "session", "status"))
	id := dig(out, "session", "id").(string)

	start := bytes.Replace(seedBytes(t, "s2_start_payout_request"), []byte(`"ps_3230"`), []byte(`"`+id+`"`), 1)
	status, out = p.post("/api/v1/session/start/payout", start, map[string]string{"x-partner-idempotency-key": "flow-c-1"})
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, "in_progress", dig(out, "session", "payments", "0", "status"))
	require.Equal(t, "good", dig(out, "session", "payments", "0", "metadata"))

	status, out = p.post("/api/v1/session/start/payout", start, map[string]string{"x-partner-idempotency-key": "flow-c-1"})
	require.Equal(t, "idempotency_key_already_exists", dig(out, "error", "code"), "status %d", status)

	rtc, _ := recv.await(t, id, "ready_to_confirm")
	require.Equal(t, "confirm", dig(rtc, "session", "next_action"))
	require.Equal(t, "pending", dig(rtc, "session", "payments", "0", "status"))
	require.Equal(t, float64(10000), dig(rtc, "session", "payments", "0", "amount_details", "amount"))

	status, out = p.post("/api/v1/session/confirm", []byte(`{"session_id":"`+id+`"}`), nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	fin, _ := recv.await(t, id, "payment_finished")
	require.Equal(t, "accepted", dig(fin, "session", "status"))
	require.Equal(t, "succeeded", dig(fin, "session", "payments", "0", "status"))

	status, out = p.post("/api/v1/session/status", []byte(`{"session_id":"`+id+`"}`), nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "accepted", dig(out, "session", "status"))
}

// Page 001's single-request body, sent to a v2 path: answers and webhooks
// use the v2 names.
func TestConformanceV2Names(t *testing.T) {
	p, recv, _ := conformanceSandbox(t)
	// v2 request names: payout_details instead of payment_method.
	body := bytes.Replace(seedBytes(t, "s1_init_payout_request"), []byte(`"payment_method"`), []byte(`"payout_details"`), 1)
	status, out := p.post("/api/v2/session/init/payout", body, nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	id := dig(out, "session", "id").(string)
	require.Nil(t, dig(out, "session", "payments"))
	require.Equal(t, "4242", dig(out, "session", "payout_list", "0", "payout_details", "card", "last4"))

	rtc, _ := recv.await(t, id, "ready_to_confirm")
	require.Equal(t, "pending", dig(rtc, "session", "payout_list", "0", "status"))
	status, _ = p.post("/api/v2/session/confirm", []byte(`{"session_id":"`+id+`"}`), nil)
	require.Equal(t, http.StatusOK, status)
	fin, _ := recv.await(t, id, "payment_finished")
	require.Equal(t, "succeeded", dig(fin, "session", "payout_list", "0", "status"))
}

// Page 000: the widget flow's exact bodies, including the PHP SDK's [] for
// an empty body and its \/ escaping.
func TestConformanceWidgetFlow(t *testing.T) {
	p, recv, _ := conformanceSandbox(t)
	status, out := p.post("/api/v1/token", seedBytes(t, "s0_token_request"), nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.NotEmpty(t, out["public_token"])

	status, out = p.post("/api/v1/session/create", []byte(`[]`), nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	status, out = p.post("/api/v1/session/create", seedBytes(t, "s0_create_session_request"), nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	id := dig(out, "session", "id").(string)

	start := bytes.Replace(seedBytes(t, "s0_start_payout_request"), []byte(`"3230"`), []byte(`"`+id+`"`), 1)
	start = bytes.Replace(start, []byte(`"good"`), []byte(`"a\/b \u041e"`), 1)
	status, out = p.post("/api/v1/session/start/payout", start, nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, "a/b О", dig(out, "session", "payments", "0", "metadata"))

	recv.await(t, id, "ready_to_confirm")
	status, _ = p.post("/api/v1/session/cancel", []byte(`{"session_id":"`+id+`"}`), nil)
	require.Equal(t, http.StatusOK, status)
	fin, _ := recv.await(t, id, "payment_finished")
	require.Equal(t, "cancelled", dig(fin, "session", "status"))
	require.Equal(t, "failed", dig(fin, "session", "payments", "0", "status"))
}

// Page 003: calculate, init with the page's body, confirm with the
// webhook's confirm_information copied out of the raw body, 3-D Secure.
func TestConformanceTransfer(t *testing.T) {
	p, recv, _ := conformanceSandbox(t)
	status, out := p.post("/api/v1/bpa/calculate", seedBytes(t, "s3_calculate_request"), nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, float64(357913), dig(out, "amounts", "source", "amount"))
	require.Equal(t, float64(131426), dig(out, "amounts", "destination", "amount"))
	require.Equal(t, 2.7233, dig(out, "exchanges", "rate", "fx_rate"))

	status, out = p.post("/api/v1.1/bpa/session/multi/init/payment", documentedPhone(t, seedBytes(t, "s3_multi_init_request")), nil)
	require.Equal(t, http.StatusOK, status, "%v", out)
	id := dig(out, "session", "id").(string)
	require.Equal(t, "in_progress", dig(out, "session", "acquiring_payments", "0", "status"))

	rtc, raw := recv.await(t, id, "ready_to_confirm")
	tcn, err := base64.StdEncoding.DecodeString(dig(rtc, "details", "tcn_code_encoded").(string))
	require.NoError(t, err)
	require.Regexp(t, `^\d{6}-\d{8}$`, string(tcn))
	var parts map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &parts))
	ci := parts["confirm_information"]
	require.Contains(t, string(ci), `"fx_rate":"`)

	status, out = p.post("/api/v1/session/confirm", []byte(`{"session_id":"`+id+`","confirm_information":`+string(ci)+`}`), nil)
	require.Equal(t, http.StatusOK, status, "%v", out)

	ar, _ := recv.await(t, id, "action_required")
	link := dig(ar, "session", "acquiring_payments", "0", "customer_interaction", "redirect", "url").(string)
	require.True(t, strings.HasPrefix(link, p.base+"/sandbox/3ds/"), link)
	resp, err := http.Get(link)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	fin, _ := recv.await(t, id, "payment_finished")
	require.Equal(t, "accepted", dig(fin, "session", "status"))
	require.Equal(t, "succeeded", dig(fin, "session", "payments", "0", "status"))
}

func TestConformanceRejections(t *testing.T) {
	p, _, base := conformanceSandbox(t)
	tests := []struct {
		name   string
		mutate func(r *http.Request)
		code   string
	}{
		{"missing signature", func(r *http.Request) { r.Header.Del("X-Partner-Sign") }, "authentication_error"},
		{"hex signature", func(r *http.Request) { r.Header.Set("X-Partner-Sign", strings.Repeat("ab", 32)) }, "authentication_error"},
		{"missing project", func(r *http.Request) { r.Header.Del("X-Partner-Project") }, "identification_error"},
		{"body changed after signing", func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"amount_details":{"amount":99999,"currency":"rub"}}`))
			r.ContentLength = -1
		}, "authentication_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`{"amount_details":{"amount":10000,"currency":"rub"}}`)
			sum := sha256.Sum256(body)
			sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
			require.NoError(t, err)
			req, err := http.NewRequest(http.MethodPost, base+"/api/v1/session/create", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("X-Partner-Project", p.project)
			req.Header.Set("X-Partner-Sign", base64.StdEncoding.EncodeToString(sig))
			tt.mutate(req)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var out map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			require.Equal(t, "error", out["status"])
			require.Equal(t, tt.code, dig(out, "error", "code"))
		})
	}
	resp, err := http.Get(base + "/api/v1/session/create")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	status, _ := p.post("/api/v3/session/create", []byte(`{}`), nil)
	require.Equal(t, http.StatusNotFound, status)
}
