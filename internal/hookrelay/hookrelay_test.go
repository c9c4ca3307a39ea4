package hookrelay

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/testutil"
)

// rsaVerifier is the bank's documented scheme, written here from the API
// reference so the relay is tested against the protocol, not our client.
type rsaVerifier struct{ pub *rsa.PublicKey }

func (v rsaVerifier) Verify(body []byte, sig string) error {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	return rsa.VerifyPKCS1v15(v.pub, crypto.SHA256, sum[:], raw)
}

func sign(t *testing.T, k *rsa.PrivateKey, body []byte) string {
	t.Helper()
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(sig)
}

type fixture struct {
	srv     *httptest.Server
	js      jetstream.JetStream
	bankKey *rsa.PrivateKey
	logs    *bytes.Buffer
}

func newFixture(t *testing.T, pub Publisher) *fixture {
	t.Helper()
	bankKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	f := &fixture{bankKey: bankKey, logs: &bytes.Buffer{}}
	var nc *nats.Conn
	if pub == nil {
		nc, f.js = testutil.JetStream(t, testutil.NATS(t).URL())
		pub = f.js
	}
	relay := New(Config{
		Verifier: rsaVerifier{&bankKey.PublicKey},
		JS:       pub,
		Conn:     nc,
		MaxBody:  4096,
		Logger:   slog.New(slog.NewTextHandler(f.logs, nil)),
	})
	f.srv = httptest.NewServer(relay)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) post(t *testing.T, body []byte, sig string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+Path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-PARTNER-SIGN", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (f *fixture) hooks(t *testing.T) map[string][]string {
	t.Helper()
	ctx := context.Background()
	s, err := f.js.Stream(ctx, queue.StreamHooks)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	out := map[string][]string{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		out[m.Subject] = append(out[m.Subject], string(m.Data))
	}
	return out
}

const readyToConfirm = `{"type":"ready_to_confirm","session":{"id":"ps_3230","status":"in_progress","next_action":"confirm","payments":[{"id":"po_2018","status":"pending","amount_details":{"amount":10000,"currency":"rub"},"metadata":"good"}]}}`

func TestWebhookRequests(t *testing.T) {
	f := newFixture(t, nil)
	body := []byte(readyToConfirm)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	unknown := []byte(`{"type":"nominal_topup","amount":1}`)
	notJSON := []byte(`this is not json`)

	tests := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"valid", body, sign(t, f.bankKey, body), http.StatusOK},
		{"duplicate delivery", body, sign(t, f.bankKey, body), http.StatusOK},
		{"tampered body", bytes.Replace(body, []byte("10000"), []byte("99999"), 1), sign(t, f.bankKey, body), http.StatusUnauthorized},
		{"wrong key", body, sign(t, otherKey, body), http.StatusUnauthorized},
		{"missing signature", body, "", http.StatusUnauthorized},
		{"garbage signature", body, "%%%not-base64", http.StatusUnauthorized},
		{"empty body", nil, sign(t, f.bankKey, nil), http.StatusBadRequest},
		{"oversized body", bytes.Repeat([]byte("x"), 5000), "x", http.StatusRequestEntityTooLarge},
		{"unknown type", unknown, sign(t, f.bankKey, unknown), http.StatusOK},
		{"signed but not JSON", notJSON, sign(t, f.bankKey, notJSON), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, f.post(t, tt.body, tt.sig))
		})
	}

	got := f.hooks(t)
	require.Equal(t, []string{readyToConfirm}, got[queue.HookSubject("ready_to_confirm")], "one copy of the valid webhook, none of the tampered")
	require.Equal(t, []string{string(unknown)}, got[queue.HookSubject("nominal_topup")])
	require.Equal(t, []string{string(notJSON)}, got[queue.HookSubject(UnparseableType)])
	require.Len(t, got, 3, "nothing else published: %v", got)
	require.Contains(t, f.logs.String(), "security: webhook rejected")
	require.NotContains(t, f.logs.String(), "99999", "the rejected body is not logged")
}

func TestHealthAndReady(t *testing.T) {
	f := newFixture(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(f.srv.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
}

type failingPublisher struct{}

func (failingPublisher) PublishMsg(context.Context, *nats.Msg, ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return nil, errors.New("no responders")
}

func TestPublishFailureIsNot200(t *testing.T) {
	f := newFixture(t, failingPublisher{})
	body := []byte(readyToConfirm)
	require.Equal(t, http.StatusServiceUnavailable, f.post(t, body, sign(t, f.bankKey, body)),
		"the bank must retry what was not stored")
	require.True(t, strings.Contains(f.logs.String(), "publish webhook"))
}

func TestNATSDownIsNot200(t *testing.T) {
	e := testutil.NATS(t)
	nc, js := testutil.JetStream(t, e.URL())
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	relay := New(Config{Verifier: rsaVerifier{&key.PublicKey}, JS: js, Conn: nc, PublishTimeout: 300 * time.Millisecond,
		Logger: testutil.QuietLogger()})
	srv := httptest.NewServer(relay)
	defer srv.Close()
	e.Close()

	body := []byte(readyToConfirm)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+Path, bytes.NewReader(body))
	req.Header.Set("X-PARTNER-SIGN", sign(t, key, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	resp, err = http.Get(srv.URL + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

// A verified webhook whose type is longer than NATS's control line once
// closed the relay's connection for good (nats.go gives up on a protocol
// error) and the relay answered 503 for ever. The type goes into the
// subject capped and hashed: the webhook is stored, the connection stays
// up, /readyz is true and the next webhook is stored too.
func TestLongTypeNeverBreaksTheConnection(t *testing.T) {
	nc, js := testutil.JetStream(t, testutil.NATS(t).URL())
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	srv := httptest.NewServer(New(Config{Verifier: rsaVerifier{&key.PublicKey}, JS: js, Conn: nc, Logger: testutil.QuietLogger()}))
	defer srv.Close()
	f := &fixture{srv: srv, js: js, bankKey: key}

	long := strings.Repeat("x", 8000)
	body := []byte(`{"type":"` + long + `","session":{"id":"ps_1"}}`)
	require.Equal(t, http.StatusOK, f.post(t, body, sign(t, key, body)))
	require.True(t, nc.IsConnected())
	other := []byte(`{"type":"` + long + `y"}`)
	require.Equal(t, http.StatusOK, f.post(t, other, sign(t, key, other)))
	ok := []byte(readyToConfirm)
	require.Equal(t, http.StatusOK, f.post(t, ok, sign(t, key, ok)))

	got := f.hooks(t)
	require.Len(t, got, 3, "two long types stay apart: %v", func() []string {
		var s []string
		for k := range got {
			s = append(s, k)
		}
		return s
	}())
	for subject := range got {
		require.LessOrEqual(t, len(subject), len(queue.HooksPrefix)+50, subject)
	}
	require.Equal(t, []string{string(body)}, got[queue.HookSubject(long)], "the body is kept whole")
	resp, err := http.Get(srv.URL + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestCardNumberInAWebhookIsMasked: a verified webhook whose free text
// holds a card number is stored with it masked (rev7: the bank's text
// reached JetStream and the ledger as received), says so in a header,
// and is named by the kept body's hash; everything else is the bank's
// bytes. The same body delivered again is stored once.
func TestCardNumberInAWebhookIsMasked(t *testing.T) {
	f := newFixture(t, nil)
	body := []byte(`{"type":"payment_finished","session":{"id":"ps_3231","status":"error","error":{"code":"card_declined","description":"card 4111 1111 1111 1111 declined"},"payments":[{"id":"po_2019","status":"failed","amount_details":{"amount":4111111111111111,"currency":"rub"}}]}}`)
	want := bytes.Replace(body, []byte("4111 1111 1111 1111"), []byte("411111******1111"), 1)
	for range 2 {
		require.Equal(t, http.StatusOK, f.post(t, body, sign(t, f.bankKey, body)))
	}
	got := f.hooks(t)
	require.Equal(t, []string{string(want)}, got[queue.HookSubject("payment_finished")], "the amount (a number) is the bank's; the text is masked; one copy")
	s, err := f.js.Stream(context.Background(), queue.StreamHooks)
	require.NoError(t, err)
	m, err := s.GetLastMsgForSubject(context.Background(), queue.HookSubject("payment_finished"))
	require.NoError(t, err)
	require.Equal(t, "1", m.Header.Get(queue.HeaderMasked))
	sum := sha256.Sum256(want)
	require.Equal(t, hex.EncodeToString(sum[:]), m.Header.Get(jetstream.MsgIDHeader))
	require.NotContains(t, f.logs.String(), "4111 1111")
	require.Contains(t, f.logs.String(), "webhook_card_masked")

	// A body without one keeps no such header.
	plain := []byte(readyToConfirm)
	require.Equal(t, http.StatusOK, f.post(t, plain, sign(t, f.bankKey, plain)))
	m, err = s.GetLastMsgForSubject(context.Background(), queue.HookSubject("ready_to_confirm"))
	require.NoError(t, err)
	require.Empty(t, m.Header.Get(queue.HeaderMasked))
	require.Equal(t, readyToConfirm, string(m.Data))
}
