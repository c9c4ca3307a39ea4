package bank131

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBankTextMasked: card numbers in the bank's text (an error's
// description) and in what we send (a name) are masked in the error and in
// the debug log, in groupings the old maskers let through (dots, no-break
// spaces).
func TestBankTextMasked(t *testing.T) {
	var logs bytes.Buffer
	key := partnerKey(t)
	stub := &bankStub{t: t, pub: &key.PublicKey, answer: func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.WriteHeader(400)
		io.WriteString(w, `{"status":"error","error":{"code":"invalid_request","description":"card 4111.1111.1111.1111 refused"}}`)
	}}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	c, err := NewClient(Config{BaseURL: srv.URL, Project: "p", PrivateKey: key,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	req := InitPayoutRequest{PaymentMethod: BankCardMethod("4000000000000028"), AmountDetails: &Amount{100, "rub"},
		ParticipantDetails: &ParticipantDetails{Recipient: &Participant{FullName: "card 4242\u00a04242\u00a04242\u00a04242"}}}
	_, err = c.InitPayout(context.Background(), req)
	require.Error(t, err)
	require.Contains(t, string(stub.last().body), "4242\u00a04242\u00a04242\u00a04242", "the bank gets what we send")

	require.Equal(t, "bank131 session/init/payout: HTTP 400: invalid_request: card 411111******1111 refused", err.Error())
	var api *APIError
	require.ErrorAs(t, err, &api)
	require.Equal(t, "card 4111.1111.1111.1111 refused", api.Description, "the error keeps what the bank said")

	log := logs.String()
	require.Contains(t, log, "424242******4242")
	for _, raw := range []string{"4111.1111.1111.1111", "4242\u00a04242\u00a04242\u00a04242", "4000000000000028"} {
		require.NotContains(t, log, raw)
	}
}

// TestReasonMasksUnknownCodes: a code Reason does not know is the bank's
// text and is shown masked.
func TestReasonMasksUnknownCodes(t *testing.T) {
	require.Equal(t, "The bank reported error declined_411111******1111.", Reason("declined_4111.1111.1111.1111"))
	require.Equal(t, "The bank reported error declined.", Reason("declined"))
}
