package ingest

import (
	"testing"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// BenchmarkRowMessage compares what ingest does per card row since
// public-key sealing (seal under the upload's key, fingerprint, keyed
// digest, message) with encoding the message alone.
func BenchmarkRowMessage(b *testing.B) {
	s := testSealer(b)
	env, _ := s.Begin()
	row := &payout.Row{Batch: "b0123456789abcdef0123", Index: 1, Line: 2, Reference: "E-0000001", Method: payout.MethodCard,
		Amount: money.New(150000, "RUB"), FullName: "Иванов Иван", Description: "Зарплата за ноябрь",
		Card: &payout.Card{BIN: "424242", Last4: "4242"}, Meta: map[string]string{"department": "IT"}}
	buf := make([]byte, 0, 2048)
	b.Run("plain encode", func(b *testing.B) {
		for b.Loop() {
			buf = intake.AppendRow(buf[:0], row)
		}
	})
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			row.Card.Sealed = env.Seal("4242424242424242", "b0123456789abcdef0123/1")
		}
	})
	b.Run("rowMessage", func(b *testing.B) {
		for b.Loop() {
			buf, _, _ = rowMessage(buf[:0], env, row, "4242424242424242")
		}
	})
}
