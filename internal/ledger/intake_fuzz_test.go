package ledger

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// FuzzParseRow holds the intake's row decoder (goccy/go-json) to the
// answers encoding/json gives: the same rows accepted, read the same way.
func FuzzParseRow(f *testing.F) {
	const batch = "b-0123456789abcdef0123456789abcdef"
	rows := []*payout.Row{
		{Batch: batch, Index: 1, Line: 2, Reference: "E-1", Method: payout.MethodCard, Amount: money.New(150000, "RUB"),
			FullName: "Иван Петров", Card: &payout.Card{Sealed: "c2VhbGVk", BIN: "424242", Last4: "4242"},
			Meta: map[string]string{"employee": "17", "dept": "ops \"north\""}},
		{Batch: batch, Index: 2, Line: 3, Reference: "E-2", Method: payout.MethodToken, Amount: money.New(1, "RUB"),
			CardToken: "tok_3f9a", Email: "a@example.com"},
		{Batch: batch, Index: 3, Line: 5, Reference: "E-3", Method: payout.MethodEncryptedCard, Amount: money.New(99, "RUB"),
			Encrypted: &payout.EncryptedCard{NumberHash: "hash-of-number"}},
		{Batch: batch, Index: 4, Line: 6, Reference: "E-4", Method: payout.MethodTransfer, Amount: money.New(500000, "RUB"),
			Transfer: &payout.Transfer{Country: "TUR", Type: payout.TransferIBAN, IBAN: "TR33 0006 1005 1978 6457 8413 26",
				RecipientFirstName: "Ayşe", RecipientLastName: "Yılmaz"}},
	}
	for _, r := range rows {
		data, err := ingest.EncodeRow(r)
		require.NoError(f, err)
		f.Add(data)
	}
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"batch":"` + batch + `","row":1,"amount":{"minor":5,"currency":"RUB"},"meta":null}`,
		`{"batch":"` + batch + `","row":1,"amount":{"minor":5,"currency":"RUB"},"meta":[1]}`,
		`{"batch":"` + batch + `","row":1,"amount":{"minor":5,"currency":"RUB"},"meta":{"a":"b"},"x":1}`,
		`{"batch":"` + batch + `","row":"1"}`, `{"batch":"` + batch + `","row":1e3}`, `{"batch":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseRow(data)
		want, wantErr := parseRowWith(json.Unmarshal, data)
		if wantErr != nil {
			if err == nil {
				t.Fatalf("goccy accepted %q, encoding/json said %v", data, wantErr)
			}
			return
		}
		require.NoError(t, err, "encoding/json accepted %q", data)
		require.Equal(t, want, got)
	})
}
