package bank131

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseWebhookTolerance(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr bool
		typ     WebhookType
		known   bool
	}{
		{"unknown type without session", `{"type":"transaction_registration","whatever":{"a":1}}`, false, "transaction_registration", false},
		{"unknown fields", `{"type":"payment_finished","new_field":[1,2],"session":{"id":"ps_1","status":"accepted","surprise":true,
			"payments":[{"id":"po_1","status":"succeeded","brand_new":{"x":"y"}}]}}`, false, HookPaymentFinished, true},
		{"empty method object as []", `{"type":"payment_finished","session":{"id":"ps_1","status":"accepted",
			"payments":[{"id":"po_1","status":"succeeded","payment_method":{"type":"moneysend","moneysend":[]}}]}}`, false, HookPaymentFinished, true},
		{"null confirm_information", `{"type":"ready_to_confirm","confirm_information":null,"session":{"id":"ps_1","status":"in_progress"}}`, false, HookReadyToConfirm, true},
		{"not json", `<xml/>`, true, "", false},
		{"array", `[{"type":"payment_finished"}]`, true, "", false},
		{"no type", `{"session":{"id":"ps_1"}}`, true, "", false},
		{"known type without session", `{"type":"payment_finished"}`, true, "", false},
		{"wrong field type", `{"type":"payment_finished","session":{"id":7}}`, true, "", false},
		{"empty", ``, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ParseWebhook([]byte(tt.body))
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.typ, w.Type)
			require.Equal(t, tt.known, w.Type.Known())
			require.Nil(t, w.ConfirmInformation)
		})
	}
}

func TestActionRequiredRedirect(t *testing.T) {
	body := `{"type":"action_required","session":{"id":"ps_5","status":"in_progress",
		"acquiring_payments":[{"id":"pm_5","status":"in_progress","customer_interaction":{"type":"redirect",
		"redirect":{"url":"http://127.0.0.1:8131/sandbox/3ds/abc","base_url":"http://127.0.0.1:8131/sandbox/3ds/abc","method":"GET","qs":{}}}}],
		"payments":[{"id":"po_5","status":"in_progress"}]}}`
	w, err := ParseWebhook([]byte(body))
	require.NoError(t, err)
	require.Equal(t, HookActionRequired, w.Type)
	require.Equal(t, "http://127.0.0.1:8131/sandbox/3ds/abc", w.RedirectURL())

	onPayout := `{"type":"action_required","session":{"id":"ps_6","status":"in_progress",
		"payout_list":[{"id":"po_6","status":"in_progress","customer_interaction":{"type":"redirect","redirect":{"url":"https://x/3ds"}}}]}}`
	w, err = ParseWebhook([]byte(onPayout))
	require.NoError(t, err)
	require.Equal(t, "https://x/3ds", w.RedirectURL())

	w, err = ParseWebhook(readFile(t, "seeds/s1_payment_finished.json"))
	require.NoError(t, err)
	require.Empty(t, w.RedirectURL())
}

func TestPaymentRefunded(t *testing.T) {
	body := `{"type":"payment_refunded","session":{"id":"ps_7","status":"accepted","payments":[{"id":"po_7","status":"succeeded",
		"amount_details":{"amount":13108,"currency":"rub"},
		"refunds":[{"id":"rf_7","status":"accepted","amount_details":{"amount":13108,"currency":"rub"},"created_at":"2026-11-23T10:00:00.000000Z"}]}]}}`
	w, err := ParseWebhook([]byte(body))
	require.NoError(t, err)
	require.Equal(t, HookPaymentRefunded, w.Type)
	p := w.Session.Payout()
	require.Len(t, p.Refunds, 1)
	require.Equal(t, "rf_7", p.Refunds[0].ID)
	require.EqualValues(t, 13108, p.Refunds[0].AmountDetails.Amount)
}

func TestDecodeTCN(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"NTkyMTc0LTY5NDEyMjEx", "592174-69412211", false},
		{"NTkyMTc0LTY5NDEyMjEx\n", "592174-69412211", false},
		{"MTIz", "123", false},
		{"MTI", "12", false}, // unpadded
		{"!!", "", true},
	}
	for _, tt := range tests {
		got, err := DecodeTCN(tt.in)
		if tt.err {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got)
	}
	var d *WebhookDetails
	_, err := d.TCN()
	require.Error(t, err)
}

func TestParseDecimal(t *testing.T) {
	for in, want := range map[string]string{"2.7233": "27233/10000", "0.3000": "3/10", "92": "92/1"} {
		r, err := ParseDecimal(in)
		require.NoError(t, err)
		require.Equal(t, want, r.String())
	}
	for _, bad := range []string{"", "1e3", "1/3", "abc"} {
		_, err := ParseDecimal(bad)
		require.Error(t, err, bad)
	}
	r, err := Rate{FXRate: json.Number("27.233"), Quantity: 10}.Rat()
	require.NoError(t, err)
	require.Equal(t, "27233/10000", r.String())
}

func TestTimeJSON(t *testing.T) {
	var v struct {
		A Time `json:"a"`
		B Time `json:"b,omitzero"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"a":"2022-11-15T15:38:50.255803Z","b":null}`), &v))
	require.Equal(t, 255803000, v.A.Nanosecond())
	out, err := json.Marshal(v)
	require.NoError(t, err)
	require.Equal(t, `{"a":"2022-11-15T15:38:50.255803Z"}`, string(out))
	require.Error(t, json.Unmarshal([]byte(`{"a":12}`), &v))
}
