package bank131

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScanWebhook(t *testing.T) {
	for _, c := range []struct {
		name, body, typ, session, meta string
	}{
		{"amount not whole", `{"type":"payment_finished","session":{"id":"ps_1","payments":[{"amount_details":{"amount":10000.5},"metadata":{"payrun":"b1/2"}}]}}`,
			"payment_finished", "ps_1", `{"payrun":"b1/2"}`},
		{"v2 payouts", `{"type":"payment_finished","session":{"id":"ps_2","payouts":[{"metadata":"b1/3"}]}}`, "payment_finished", "ps_2", `"b1/3"`},
		{"no type (transaction_registration)", `{"session_payment_id":"x","session":{"id":"ps_3","status":"in_progress"}}`, "", "ps_3", ""},
		{"not JSON at all", `{"type":"payment_finished","session":{"id":"ps_4","payments":[{"metadata":{"payrun":"ab12/7"}}]`, "", "ps_4", `"ab12/7"`},
		{"metadata as a string of JSON", `{"session":{"id":"ps_5","payments":[{"metadata":"{\"payrun\":\"ab12/8\"}","amount_details":{"amount":"x"}}]},"type":7}`,
			"", "ps_5", `"{\"payrun\":\"ab12/8\"}"`},
		{"nothing to find", `[1,2]`, "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ScanWebhook([]byte(c.body))
			require.Equal(t, c.typ, got.Type)
			require.Equal(t, c.session, got.SessionID)
			if c.meta == "" {
				require.Empty(t, got.Metadata)
			} else {
				require.NotEmpty(t, got.Metadata)
				require.Equal(t, c.meta, string(got.Metadata[0]))
			}
		})
	}
}

func FuzzScanWebhook(f *testing.F) {
	f.Add([]byte(`{"type":"payment_finished","session":{"id":"ps_1","payments":[{"metadata":{"payrun":"b1/2"}}]}}`))
	f.Add([]byte(`{"session":{"id":"ps_1"`))
	f.Fuzz(func(t *testing.T, body []byte) { _ = ScanWebhook(body) })
}
