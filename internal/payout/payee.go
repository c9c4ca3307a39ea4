package payout

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// PayeeKind names what identifies the person a row pays.
type PayeeKind byte

// Payee kinds. A cash transfer names no payee the bank identifies (a
// name is not an identifier), so it has no payee key.
const (
	PayeeCard           PayeeKind = 'c' // card number: the keyed fingerprint ingest computes (Row.Card.Fingerprint)
	PayeeToken          PayeeKind = 't' // card token (method token)
	PayeeWidget         PayeeKind = 'w' // the widget's number_hash (method encrypted_card)
	PayeeIBAN           PayeeKind = 'i' // transfer to an IBAN
	PayeeRecipientToken PayeeKind = 'r' // transfer to a recipient card token
)

// PayeeKey identifies a payee for the duplicate guard: its kind and a
// 32-byte digest. Tokens, widget hashes and IBANs are digested with
// SHA-256 under a label naming the kind (as the ledger keeps destination
// identifiers, never the text itself); a card is its keyed fingerprint,
// the only form in which a card number reaches the ledger.
type PayeeKey struct {
	Kind   PayeeKind
	Digest [32]byte
}

// payeeLabel separates the digests of the kinds: the same text as a
// token and as an IBAN gives two different keys.
const payeeLabel = "payrun payee "

// PayeeKeyOf returns the key of a payee of kind identified by id (a token,
// a number_hash, an IBAN; for PayeeCard the fingerprint in hex). The id
// is normalised first: IBANs without spaces in upper case, widget hashes
// in lower case. An empty id has no key.
func PayeeKeyOf(kind PayeeKind, id string) (PayeeKey, bool) {
	switch kind {
	case PayeeIBAN:
		id = strings.ToUpper(strings.Join(strings.Fields(id), ""))
	case PayeeWidget, PayeeCard:
		id = strings.ToLower(strings.TrimSpace(id))
	}
	if id == "" {
		return PayeeKey{}, false
	}
	k := PayeeKey{Kind: kind}
	if kind == PayeeCard {
		// The fingerprint is already a keyed digest; one of another size
		// is digested to 32 bytes.
		if b, err := hex.DecodeString(id); err == nil && len(b) == len(k.Digest) {
			copy(k.Digest[:], b)
			return k, true
		}
	}
	h := sha256.New()
	h.Write([]byte(payeeLabel))
	h.Write([]byte{byte(kind), 0})
	h.Write([]byte(id))
	h.Sum(k.Digest[:0])
	return k, true
}

// PayeeKey returns the row's payee key: the card fingerprint, the card
// token, the widget's number_hash, the IBAN or the recipient card token.
// A row without one (a cash transfer, a card row whose message carries no
// fingerprint) has none.
func (r *Row) PayeeKey() (PayeeKey, bool) {
	switch r.Method {
	case MethodCard:
		if r.Card != nil {
			return PayeeKeyOf(PayeeCard, r.Card.Fingerprint)
		}
	case MethodToken:
		return PayeeKeyOf(PayeeToken, r.CardToken)
	case MethodEncryptedCard:
		if r.Encrypted != nil {
			return PayeeKeyOf(PayeeWidget, r.Encrypted.NumberHash)
		}
	case MethodTransfer:
		if t := r.Transfer; t != nil {
			switch t.Type {
			case TransferIBAN:
				return PayeeKeyOf(PayeeIBAN, t.IBAN)
			case TransferCard:
				return PayeeKeyOf(PayeeRecipientToken, t.RecipientCardToken)
			}
		}
	}
	return PayeeKey{}, false
}

// Bytes is the key as the ledger stores it: the kind, then the digest.
func (k PayeeKey) Bytes() []byte {
	b := make([]byte, 0, 1+len(k.Digest))
	b = append(b, byte(k.Kind))
	return append(b, k.Digest[:]...)
}

// String is the key as the ledger's protocol carries it: "t:" and the
// digest in hex.
func (k PayeeKey) String() string {
	return string(rune(k.Kind)) + ":" + hex.EncodeToString(k.Digest[:])
}

// ErrPayeeKey is returned for text or bytes that are not a payee key.
var ErrPayeeKey = errors.New("not a payee key")

// ParsePayeeKey reads String's form.
func ParsePayeeKey(s string) (PayeeKey, error) {
	var k PayeeKey
	if len(s) != 2+2*len(k.Digest) || s[1] != ':' || !k.setKind(s[0]) {
		return PayeeKey{}, ErrPayeeKey
	}
	if _, err := hex.Decode(k.Digest[:], []byte(s[2:])); err != nil {
		return PayeeKey{}, ErrPayeeKey
	}
	return k, nil
}

// PayeeKeyFromBytes reads Bytes' form.
func PayeeKeyFromBytes(b []byte) (PayeeKey, error) {
	var k PayeeKey
	if len(b) != 1+len(k.Digest) || !k.setKind(b[0]) {
		return PayeeKey{}, ErrPayeeKey
	}
	copy(k.Digest[:], b[1:])
	return k, nil
}

func (k *PayeeKey) setKind(c byte) bool {
	switch PayeeKind(c) {
	case PayeeCard, PayeeToken, PayeeWidget, PayeeIBAN, PayeeRecipientToken:
		k.Kind = PayeeKind(c)
		return true
	}
	return false
}

// Noun says in words what the kind is: "card", "card token", …
func (k PayeeKind) Noun() string {
	switch k {
	case PayeeCard:
		return "card"
	case PayeeToken:
		return "card token"
	case PayeeWidget:
		return "widget card"
	case PayeeIBAN:
		return "IBAN"
	case PayeeRecipientToken:
		return "recipient card token"
	}
	return "payee"
}
