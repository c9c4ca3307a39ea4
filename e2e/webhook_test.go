package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

// post sends a webhook to the relay binary, signed with key (nil: unsigned).
func (s *system) post(t *testing.T, body []byte, key *rsa.PrivateKey) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.relayAddr+"/webhooks/bank131", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != nil {
		sig, err := bank131.Sign(key, body)
		require.NoError(t, err)
		req.Header.Set("X-PARTNER-SIGN", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func bankKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := bank131.ReadPrivateKey(repoRoot + "/samples/keys/bank_private.pem")
	require.NoError(t, err)
	return k
}

// hooksStored counts messages in PAYRUN_HOOKS.
func (s *system) hooksStored(t *testing.T) uint64 {
	t.Helper()
	js, err := jetstream.New(s.nc)
	require.NoError(t, err)
	st, err := js.Stream(context.Background(), queue.StreamHooks)
	require.NoError(t, err)
	info, err := st.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

// TestWebhooks drives the hookrelay binary with bad and odd webhooks, then
// replays a paid row's old webhooks (signed anew, so deduplication does not
// hide them) and checks that nothing is paid or changed twice.
func TestWebhooks(t *testing.T) {
	s := startSystem(t, options{})
	file := payoutFile(t, s.dir, "one.csv", []map[string]string{tokenRow("H-1", "700.00", "Hook Person", "tok_hook_0001")})
	batch := s.ingest(file)
	s.waitFinal(batch, 1, 30*time.Second, nil)
	row := s.row(batch, 1)
	require.Equal(t, payout.StateSucceeded, row.State)
	paid := s.bankPayouts()[batch+"/1"]
	require.Len(t, paid, 1)
	require.Equal(t, 1, paid[0].ConfirmsAccepted)

	key := bankKey(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ready := []byte(`{"type":"ready_to_confirm","session":{"id":"` + row.SessionID + `","status":"in_progress","next_action":"confirm",` +
		`"payments":[{"id":"` + row.PayoutID + `","status":"pending","amount_details":{"amount":70000,"currency":"rub"},` +
		`"metadata":{"payrun":"` + batch + `/1","reference":"H-1"}}]}}`)

	before := s.hooksStored(t)
	tests := []struct {
		name   string
		body   []byte
		key    *rsa.PrivateKey
		status int
		stored bool
	}{
		{"unsigned", ready, nil, http.StatusUnauthorized, false},
		{"wrong key", ready, other, http.StatusUnauthorized, false},
		{"empty", []byte{}, key, http.StatusBadRequest, false},
		{"oversized", []byte(`{"type":"x","pad":"` + strings.Repeat("a", 300<<10) + `"}`), key, http.StatusRequestEntityTooLarge, false},
		{"invalid JSON", []byte(`{"type":`), key, http.StatusOK, true},
		{"unknown type", []byte(`{"type":"confirmation_payout","session":{"id":"ps_1"}}`), key, http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := s.hooksStored(t)
			require.Equal(t, tt.status, s.post(t, tt.body, tt.key))
			if tt.stored {
				require.Equal(t, n+1, s.hooksStored(t), "kept as evidence")
			} else {
				require.Equal(t, n, s.hooksStored(t), "nothing published")
			}
		})
	}
	t.Run("tampered body", func(t *testing.T) {
		sig, err := bank131.Sign(key, ready)
		require.NoError(t, err)
		tampered := bytes.Replace(ready, []byte("70000"), []byte("99000"), 1)
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.relayAddr+"/webhooks/bank131", bytes.NewReader(tampered))
		req.Header.Set("X-PARTNER-SIGN", sig)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
	require.Equal(t, before+2, s.hooksStored(t))

	// Replays after the row finished: a ready_to_confirm (the gate refuses
	// a confirm for a finished row), a failed payment_finished (a
	// succeeded row never becomes failed), and the same body twice (dedup).
	var failed map[string]any
	require.NoError(t, json.Unmarshal(bytes.Replace(ready, []byte(`"type":"ready_to_confirm"`), []byte(`"type":"payment_finished"`), 1), &failed))
	sess := failed["session"].(map[string]any)
	sess["status"] = "accepted"
	sess["payments"].([]any)[0].(map[string]any)["status"] = "failed"
	sess["payments"].([]any)[0].(map[string]any)["error"] = map[string]any{"code": "internal_error"}
	failedBody, err := json.Marshal(failed)
	require.NoError(t, err)
	n := s.hooksStored(t)
	require.Equal(t, http.StatusOK, s.post(t, ready, key))
	require.Equal(t, http.StatusOK, s.post(t, ready, key), "a duplicate is acknowledged")
	require.Equal(t, http.StatusOK, s.post(t, failedBody, key))
	require.Equal(t, n+2, s.hooksStored(t), "the duplicate is stored once")

	// Give the processor time to handle them; nothing may change.
	time.Sleep(1500 * time.Millisecond)
	after := s.row(batch, 1)
	require.Equal(t, payout.StateSucceeded, after.State)
	require.Empty(t, after.ErrorCode)
	paid = s.bankPayouts()[batch+"/1"]
	require.Len(t, paid, 1)
	require.Equal(t, 1, paid[0].ConfirmsAccepted, "no second confirm")
	require.Equal(t, "succeeded", paid[0].Status)

	// Metrics are on the operations listener only, never on the bank's.
	resp, err := http.Get("http://" + s.relayAddr + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no /metrics on the webhook listener")
	resp, err = http.Get("http://" + s.relayMetrics + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `payrun_webhooks_total{result="bad_signature",type=""} 3`, "unsigned, wrong key, tampered")
	require.Contains(t, string(body), `payrun_webhooks_total{result="too_large",type=""} 1`)
}
