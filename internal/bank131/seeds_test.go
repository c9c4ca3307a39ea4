package bank131

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// jsonValue decodes b into a generic value with exact numbers, so two
// documents can be compared as JSON values.
func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v), "%s", b)
	return dropEmptyStrings(v)
}

// dropEmptyStrings removes object members whose value is "": our types
// leave empty optional strings out, which the bank reads the same way.
func dropEmptyStrings(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && s == "" {
				delete(x, k)
				continue
			}
			x[k] = dropEmptyStrings(e)
		}
	case []any:
		for i := range x {
			x[i] = dropEmptyStrings(x[i])
		}
	}
	return v
}

// TestSeedRoundTrip decodes every example of the bank's pages into our
// types and encodes it again: the result must be the same JSON value, so no
// field the bank uses in its examples is misnamed or dropped by us.
func TestSeedRoundTrip(t *testing.T) {
	tests := []struct {
		file string
		into func() any
	}{
		{"s0_token_request", func() any { return &PublicTokenRequest{} }},
		{"s0_create_session_request", func() any { return &CreateSessionRequest{} }},
		{"s0_start_payout_request", func() any { return &StartPayoutRequest{} }},
		{"s0_confirm_request", func() any { return &SessionRequest{} }},
		{"s0_cancel_request", func() any { return &SessionRequest{} }},
		{"s0_ready_to_confirm", func() any { return &Webhook{} }},
		{"s1_init_payout_request", func() any { return &InitPayoutRequest{} }},
		{"s1_payment_finished", func() any { return &Webhook{} }},
		{"s2_create_session_request", func() any { return &CreateSessionRequest{} }},
		{"s2_create_session_response", func() any { return &SessionResponse{} }},
		{"s2_start_payout_request", func() any { return &StartPayoutRequest{} }},
		{"s2_start_payout_response", func() any { return &SessionResponse{} }},
		{"s2_ready_to_confirm", func() any { return &Webhook{} }},
		{"s2_confirm_request", func() any { return &SessionRequest{} }},
		{"s2_cancel_request", func() any { return &SessionRequest{} }},
		{"s3_calculate_request", func() any { return &CalculateRequest{} }},
		{"s3_calculate_response", func() any { return &CalculateResponse{} }},
		{"s3_multi_init_request", func() any { return &MultiInitPaymentRequest{} }},
		{"s3_multi_init_response", func() any { return &SessionResponse{} }},
		{"s3_ready_to_confirm", func() any { return &Webhook{} }},
		{"s3_confirm_response", func() any { return &SessionResponse{} }},
		{"s3_cancel_request", func() any { return &SessionRequest{} }},
		{"s3_cancel_response", func() any { return &SessionResponse{} }},
		{"s3_status_request", func() any { return &SessionRequest{} }},
		{"s3_status_response", func() any { return &SessionResponse{} }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := readFile(t, "seeds/"+tt.file+".json")
			v := tt.into()
			require.NoError(t, json.Unmarshal(raw, v))
			again, err := encode(v)
			require.NoError(t, err)
			require.Equal(t, jsonValue(t, raw), jsonValue(t, again), "re-encoded:\n%s", again)
		})
	}
}

func TestSeedWebhooks(t *testing.T) {
	tests := []struct {
		file       string
		typ        WebhookType
		session    string
		status     SessionStatus
		nextAction string
		payout     string
		payStatus  PayoutStatus
		method     string
		last4      string
		amount     Amount
		metadata   string
	}{
		{"s0_ready_to_confirm", HookReadyToConfirm, "3230", SessionInProgress, "confirm", "2018", PayoutPending, "card", "4242", Amount{10000, "rub"}, `"good"`},
		{"s1_payment_finished", HookPaymentFinished, "ps_3230", SessionAccepted, "", "po_2018", PayoutSucceeded, "card", "4242", Amount{10000, "rub"}, `"good"`},
		{"s2_ready_to_confirm", HookReadyToConfirm, "ps_3230", SessionInProgress, "confirm", "po_2018", PayoutPending, "card/tokenized_card", "", Amount{10000, "rub"}, `"good"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			w, err := ParseWebhook(readFile(t, "seeds/"+tt.file+".json"))
			require.NoError(t, err)
			require.Equal(t, tt.typ, w.Type)
			require.True(t, w.Type.Known())
			require.Equal(t, tt.session, w.Session.ID)
			require.Equal(t, tt.status, w.Session.Status)
			require.Equal(t, tt.nextAction, w.Session.NextAction)
			p := w.Session.Payout()
			require.NotNil(t, p)
			require.Equal(t, tt.payout, p.ID)
			require.Equal(t, tt.payStatus, p.Status)
			require.Equal(t, tt.method, p.Method().Kind())
			require.Equal(t, tt.last4, p.Method().Card.Last4)
			require.Equal(t, tt.amount, *p.AmountDetails)
			require.JSONEq(t, tt.metadata, string(p.Metadata))
			require.Equal(t, "user123", p.Customer.Reference)
			require.Equal(t, 2018, p.CreatedAt.Year())
			require.Nil(t, w.ConfirmInformation)
		})
	}
}

func TestSeedTransferReadyToConfirm(t *testing.T) {
	raw := readFile(t, "seeds/s3_ready_to_confirm.json")
	w, err := ParseWebhook(raw)
	require.NoError(t, err)
	require.Equal(t, HookReadyToConfirm, w.Type)
	require.Equal(t, "confirm", w.Session.NextAction)
	require.Empty(t, w.Session.Payouts())
	pm := w.Session.AcquiringPayments()
	require.Len(t, pm, 1)
	require.Equal(t, "pm_1", pm[0].ID)
	require.Equal(t, PayoutPending, pm[0].Status)
	require.Equal(t, "moneysend", pm[0].PaymentDetails.Kind())
	require.Equal(t, "Ivan", pm[0].ParticipantDetails.Sender.FirstName)

	ex, err := w.Exchanges()
	require.NoError(t, err)
	require.Equal(t, []Exchange{{
		ID:          "pm_1",
		Source:      Amount{1000, "RUB"},
		Destination: Amount{300, "TRY"},
		FXRate:      "0.3000",
		Commission:  &Amount{100, "RUB"},
	}}, ex)
	tcn, err := w.TCN()
	require.NoError(t, err)
	require.Equal(t, "592174-69412211", tcn)

	// confirm_information is kept byte for byte as it appeared in the body.
	start := bytes.Index(raw, []byte(`"confirm_information": `)) + len(`"confirm_information": `)
	require.True(t, bytes.HasPrefix(raw[start:], w.ConfirmInformation))

	// The page's confirm request is exactly the webhook's object plus the id.
	var req struct {
		SessionID          string          `json:"session_id"`
		ConfirmInformation json.RawMessage `json:"confirm_information"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, "seeds/s3_confirm_request.json"), &req))
	require.JSONEq(t, string(req.ConfirmInformation), string(w.ConfirmInformation))
}

func TestSeedTransferResponses(t *testing.T) {
	var calc CalculateResponse
	require.NoError(t, json.Unmarshal(readFile(t, "seeds/s3_calculate_response.json"), &calc))
	require.Equal(t, Amount{357913, "RUB"}, calc.Amounts.Source)
	require.Equal(t, Amount{131426, "TRY"}, calc.Amounts.Destination)
	require.Equal(t, json.Number("2.7233"), calc.Exchanges.Rate.FXRate)
	rate, err := calc.Exchanges.Rate.Rat()
	require.NoError(t, err)
	require.Equal(t, "27233/10000", rate.String())
	v, ok := calc.Exchanges.Source.Value()
	require.True(t, ok)
	require.EqualValues(t, 357912, v)
	_, ok = calc.Exchanges.Destination.Value()
	require.False(t, ok, "destination was null")

	var init SessionResponse
	require.NoError(t, json.Unmarshal(readFile(t, "seeds/s3_multi_init_response.json"), &init))
	require.Equal(t, "ps_592245", init.Session.ID)
	require.Equal(t, "pm_296251", init.Session.AcquiringPayments()[0].ID)
	po := init.Session.Payout()
	require.Equal(t, "po_2040", po.ID)
	require.Equal(t, "TUR", po.Method().Country)
	require.Equal(t, "card/tokenized_card", po.Method().Kind())
	dst, ok := po.Calculate.Amounts.Destination.Value()
	require.True(t, ok)
	require.EqualValues(t, 46943404, dst)

	var confirm SessionResponse
	require.NoError(t, json.Unmarshal(readFile(t, "seeds/s3_confirm_response.json"), &confirm))
	require.JSONEq(t, `{"confirm":"2023-12-20T10:09:01.904212Z"}`, string(confirm.Session.Actions))

	var status SessionResponse
	require.NoError(t, json.Unmarshal(readFile(t, "seeds/s3_status_response.json"), &status))
	require.Equal(t, SessionInProgress, status.Session.Status)
	require.Equal(t, Amount{1000, "rub"}, *status.Session.AcquiringPayments()[0].AmountDetails)

	var created SessionResponse
	require.NoError(t, json.Unmarshal(readFile(t, "seeds/s2_create_session_response.json"), &created))
	require.Equal(t, SessionCreated, created.Session.Status)
	require.Nil(t, created.Session.Payout())
}

func TestSessionV2Names(t *testing.T) {
	body := []byte(`{"status":"ok","session":{"id":"ps_9","status":"in_progress",
		"payout_list":[{"id":"po_9","status":"pending","payout_details":{"type":"card","card":{"last4":"4242","brand":"visa"}},
		"amount_details":{"amount":500,"currency":"rub"},"metadata":{"payrun":"b1/1"}}],
		"payment_list":[{"id":"pm_9","status":"in_progress"}]}}`)
	var r SessionResponse
	require.NoError(t, json.Unmarshal(body, &r))
	p := r.Session.Payout()
	require.NotNil(t, p)
	require.Equal(t, "po_9", p.ID)
	require.Equal(t, "4242", p.Method().Card.Last4)
	require.JSONEq(t, `{"payrun":"b1/1"}`, string(p.Metadata))
	require.Equal(t, "pm_9", r.Session.AcquiringPayments()[0].ID)

	both := Session{PaymentsV1: []Payout{{ID: "a"}}, PayoutList: []Payout{{ID: "b"}}}
	require.Len(t, both.Payouts(), 2)
}
