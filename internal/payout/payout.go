// Package payout is the payout domain of payrun: the rows finance uploads,
// the batches they form, the states a row moves through and the reference
// that leads a Bank 131 session back to its row. It imports none of the
// packages that wrap infrastructure (bank, queue, ledger).
package payout

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Method is how a row is paid; it selects the Bank 131 flow.
type Method string

// The four methods of the payout file format.
const (
	// MethodCard pays to a card number (PCI DSS partners, bank_card):
	// single-request session/init/payout, or two-step, by configuration.
	MethodCard Method = "card"
	// MethodToken pays to a card token (tokenized_card): session/create,
	// session/start/payout, ready_to_confirm, confirm, payment_finished.
	MethodToken Method = "token"
	// MethodEncryptedCard pays to card data collected by the bank's
	// tokenization widget (encrypted_card), with the same two-step flow.
	MethodEncryptedCard Method = "encrypted_card"
	// MethodTransfer is a cross-border transfer without an account (BPA):
	// bpa/calculate, multi/init/payment, ready_to_confirm with
	// confirm_information, confirm, action_required (3-D Secure),
	// payment_finished.
	MethodTransfer Method = "transfer"
)

// Methods lists every method in the order the file format documents them.
var Methods = []Method{MethodCard, MethodToken, MethodEncryptedCard, MethodTransfer}

// ParseMethod reads a method name case-insensitively.
func ParseMethod(s string) (Method, bool) {
	m := Method(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Methods {
		if m == k {
			return m, true
		}
	}
	return "", false
}

// BatchID derives a batch's id from the SHA-256 of the file's bytes, so the
// same file uploaded twice names the same batch. The id is a safe NATS subject
// token and a safe file name.
func BatchID(fileSHA256 []byte) string {
	return "b" + hex.EncodeToString(fileSHA256[:10])
}

// ValidBatchID reports whether s has the shape BatchID produces. Anything
// that travels into a subject token is checked with this first.
func ValidBatchID(s string) bool {
	if len(s) != 21 || s[0] != 'b' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// DigestRows combines the SHA-256 digests of a batch's row messages, in row
// order, into the digest the sealed manifest carries.
func DigestRows(rowDigests [][]byte) string {
	h := sha256.New()
	for _, d := range rowDigests {
		h.Write(d)
	}
	return hex.EncodeToString(h.Sum(nil))
}
