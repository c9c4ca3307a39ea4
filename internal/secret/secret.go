// Package secret keeps card numbers sealed wherever they travel or rest,
// and owns payrun's keys (README "Keys" documents the files).
//
// # Sealing
//
// Card numbers are sealed to the processors' public key with HPKE (RFC 9180,
// crypto/hpke): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, and the secret the
// HPKE context exports (RFC 9180 §5.3) as an AES-256-GCM key. The upload side
// (ingest and the upload API) holds only the public key, so it can seal but
// never open; a processor holds the private keys and opens a number in memory
// to pay it. Each upload is one HPKE encapsulation (Sealer.Begin): every card
// number of the upload is sealed with AES-256-GCM under the key that
// encapsulation exports, a random 96-bit nonce, and the row's
// "<batch>/<row>" as associated data, so a sealed value cannot be moved to
// another row. Decision: one encapsulation per upload, not one per number:
// an HPKE seal of its own (an X25519 key generation and exchange) took
// 140–170 µs per number on this machine's 2 shared cores (BenchmarkSeal),
// 70–85 s of CPU for the 500 k card rows of the 1 M-row benchmark file that
// ingests in 14 s; the AES-GCM seal under the exported key takes 0.4–2 µs,
// as the shared-key sealer it replaces did. A processor's open (one
// decapsulation) takes 60–85 µs, nothing beside a bank call.
//
// A sealed value is text:
//
//	hpke1:<key id>:<base64 encapsulated key>:<base64 nonce ‖ ciphertext>
//
// The key id names the key pair (the first 8 bytes of the SHA-256 of the
// public key, in hex), so keys rotate: uploads seal to the newest public key,
// processors hold the old and the new private keys until every batch sealed
// with the old one is done, and a value names the key that opens it.
//
// Values sealed before public-key sealing (base64 of an AES-256-GCM
// ciphertext under a data key ingest and processors shared, with no prefix)
// are still opened when the processor is given that key (LoadLegacyKey); new
// values are never sealed with it.
//
// # Row digests and card fingerprints
//
// HPKE is randomized, so a file uploaded twice no longer gives byte-identical
// row messages. The upload side therefore also holds two HMAC-SHA256 keys
// (UploadKeys): the row digest key, under which it digests each row's
// plaintext fields (card number included) so the ledger and ingest compare
// a row seen again by that digest, and the fingerprint key, under which it
// fingerprints each card number so the ledger can tell two rows paying the
// same card. Neither is reversible without its key; neither key is given to
// the ledger or the processors (with a key and a row's BIN and last four, a
// card number would be a search of a million candidates).
package secret

import (
	"errors"
)

// DefaultDir is where the commands look for their key files when no flag
// names them: the data folder of `payrun up`, which makes them on its first
// run.
const DefaultDir = "payrun-data/up"

// The key files, by their names in a keys folder (README "Keys").
const (
	// CardKeyFile holds the processors' private keys: one PEM block per
	// key pair, "PAYRUN CARD PRIVATE KEY" with a Key-Id header. Mode 0600.
	CardKeyFile = "card.key"
	// CardPublicFile holds the public keys the upload side seals to: one
	// "PAYRUN CARD PUBLIC KEY" block per key pair, the newest last.
	CardPublicFile = "card.pub"
	// UploadKeyFile holds the upload side's HMAC keys: one "PAYRUN ROW
	// DIGEST KEY" and one "PAYRUN CARD FINGERPRINT KEY" block. Mode 0600.
	UploadKeyFile = "upload.key"
	// LegacyKeyFile is the shared AES data key of payrun before public-key
	// sealing: 64 hex characters on one line. Only processors read it,
	// and only to open values sealed with it.
	LegacyKeyFile = "data.key"
)

// PEM block types and the header that carries a key id.
const (
	pemCardPrivate = "PAYRUN CARD PRIVATE KEY"
	pemCardPublic  = "PAYRUN CARD PUBLIC KEY"
	pemRowDigest   = "PAYRUN ROW DIGEST KEY"
	pemFingerprint = "PAYRUN CARD FINGERPRINT KEY"
	headerKeyID    = "Key-Id"
)

// ErrOpen is returned (wrapped) when a sealed value cannot be opened: a key
// this processor does not hold, the wrong row, or tampered text.
var ErrOpen = errors.New("cannot open sealed value")
