package bank131

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseWebhook feeds arbitrary bodies to the webhook parser and its
// accessors: none may panic.
func FuzzParseWebhook(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "seeds", "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"type":"action_required","session":{"acquiring_payments":[{"customer_interaction":{"redirect":{"url":"x"}}}]}}`))
	f.Add([]byte(`{"type":"ready_to_confirm","session":{},"confirm_information":{"exchanges":[{"fx_rate":"1"}]},"details":{"tcn_code_encoded":"!!"}}`))
	f.Add([]byte(`{"type":"x","session":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := ParseWebhook(body)
		if err != nil {
			return
		}
		_ = w.Type.Known()
		_, _ = w.Exchanges()
		_, _ = w.TCN()
		_ = w.RedirectURL()
		for _, p := range w.Session.Payouts() {
			_ = p.Method().Kind()
			_ = p.Status.Final()
		}
		for _, p := range w.Session.AcquiringPayments() {
			_ = p.PaymentDetails.Kind()
		}
		_ = w.Session.Payout()
	})
}
