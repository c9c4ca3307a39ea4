// Package secret seals card numbers so they never travel or rest in
// plaintext: AES-256-GCM with a 32-byte data key from configuration.
//
// The nonce is synthetic (HMAC-SHA256 of the associated data and plaintext
// under a key derived from the data key), so sealing the same number for the
// same row twice gives the same ciphertext. That keeps a re-ingested file
// byte-identical in the intake stream, which lets the ledger check a batch's
// row digests; it reveals only that two seals of one row are equal.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a data key in bytes.
const KeySize = 32

// EnvKey names the environment variable that may hold the data key as 64 hex
// characters; it takes precedence over a key file.
const EnvKey = "PAYRUN_DATA_KEY"

// DefaultKeyFile is the data key file ingest and the processor read when
// --data-key is not given.
const DefaultKeyFile = "payrun-data/data.key"

// Sealer encrypts and decrypts card data with one data key.
type Sealer struct {
	aead   cipher.AEAD
	macKey []byte
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("data key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("payrun nonce key v1"))
	return &Sealer{aead: aead, macKey: m.Sum(nil)}, nil
}

// Seal encrypts plaintext bound to aad (payrun binds a card number to its
// "<batch>/<row>", so a sealed value cannot be moved to another row) and
// returns base64 text.
func (s *Sealer) Seal(plaintext, aad string) string {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte(aad))
	m.Write([]byte{0})
	m.Write([]byte(plaintext))
	nonce := m.Sum(nil)[:s.aead.NonceSize()]
	out := s.aead.Seal(append([]byte(nil), nonce...), nonce, []byte(plaintext), []byte(aad))
	return base64.StdEncoding.EncodeToString(out)
}

// ErrOpen is returned when a sealed value cannot be decrypted: wrong key,
// wrong row, or tampered text.
var ErrOpen = errors.New("cannot open sealed value")

// Open decrypts a value produced by Seal with the same aad.
func (s *Sealer) Open(sealed, aad string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return "", ErrOpen
	}
	n := s.aead.NonceSize()
	pt, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return "", ErrOpen
	}
	return string(pt), nil
}

// LoadKey returns the data key from $PAYRUN_DATA_KEY, or else from path
// (64 hex characters). When neither exists and create is true, it generates a
// key and writes it to path with mode 0600 — the embedded default does this
// in its data folder.
func LoadKey(path string, create bool) ([]byte, error) {
	if v := strings.TrimSpace(os.Getenv(EnvKey)); v != "" {
		return decodeKey(v, "$"+EnvKey)
	}
	b, err := os.ReadFile(path)
	if err == nil {
		return decodeKey(strings.TrimSpace(string(b)), path)
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return nil, fmt.Errorf("read data key: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate data key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data key folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process created it first
		return LoadKey(path, false)
	}
	if err != nil {
		return nil, fmt.Errorf("write data key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("write data key: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("write data key: %w", err)
	}
	return key, nil
}

func decodeKey(text, where string) ([]byte, error) {
	key, err := hex.DecodeString(text)
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("data key in %s must be %d hex characters", where, 2*KeySize)
	}
	return key, nil
}
