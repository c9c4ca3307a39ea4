package bank131

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// ErrBadSignature is returned (wrapped) when a signature does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// LoadPrivateKey reads an RSA private key from PEM, in PKCS#1
// ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY") form. Text before the PEM
// block (a comment line, for example) is ignored.
func LoadPrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, err := decodePEM(pemBytes)
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key (neither PKCS#1 nor PKCS#8): %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, not RSA", k)
	}
	return rk, nil
}

// LoadPublicKey reads an RSA public key from PEM, in PKIX
// ("PUBLIC KEY", SubjectPublicKeyInfo) or PKCS#1 ("RSA PUBLIC KEY") form:
// the first block (LoadPublicKeys reads them all).
func LoadPublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	block, err := decodePEM(pemBytes)
	if err != nil {
		return nil, err
	}
	return parsePublicKey(block)
}

// LoadPublicKeys reads every PEM block of pemBytes as an RSA public key
// (PKIX or PKCS#1), in order. The bank's webhook key file holds the old
// and the new key during a rotation; text around the blocks (a comment
// line) is ignored.
func LoadPublicKeys(pemBytes []byte) ([]*rsa.PublicKey, error) {
	var keys []*rsa.PublicKey
	for rest := pemBytes; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if len(block.Headers) > 0 {
			return nil, fmt.Errorf("PEM block %d: encrypted or annotated PEM keys are not supported", len(keys)+1)
		}
		k, err := parsePublicKey(block)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return keys, nil
}

func parsePublicKey(block *pem.Block) (*rsa.PublicKey, error) {
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, not RSA", k)
		}
		return rk, nil
	}
	k, err := x509.ParsePKCS1PublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key (neither PKIX nor PKCS#1): %w", err)
	}
	return k, nil
}

func decodePEM(b []byte) (*pem.Block, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if len(block.Headers) > 0 {
		return nil, errors.New("encrypted or annotated PEM keys are not supported")
	}
	return block, nil
}

// Sign returns the bank's signature of body: RSASSA-PKCS1-v1_5 over the
// SHA-256 digest of exactly these bytes, in standard Base64 with padding
// (the value of X-PARTNER-SIGN). PKCS#1 v1.5 is deterministic: the same key
// and body always give the same string.
func Sign(priv *rsa.PrivateKey, body []byte) (string, error) {
	if priv == nil {
		return "", errors.New("sign: no private key")
	}
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifySignature checks sigBase64 (an X-PARTNER-SIGN value) against body
// with pub. It returns an error wrapping ErrBadSignature when the signature
// is missing, not Base64, or does not match.
func VerifySignature(pub *rsa.PublicKey, body []byte, sigBase64 string) error {
	if pub == nil {
		return errors.New("verify: no public key")
	}
	if sigBase64 == "" {
		return fmt.Errorf("%w: no signature", ErrBadSignature)
	}
	raw, err := base64.StdEncoding.DecodeString(sigBase64)
	if err != nil {
		return fmt.Errorf("%w: not standard Base64: %w", ErrBadSignature, err)
	}
	sum := sha256.Sum256(body)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], raw); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

// Verifier checks the X-PARTNER-SIGN of Bank 131 webhooks with the bank's
// public key. It accepts a signature made with any of its keys, so a key
// rotation can be rolled out by configuring the old and the new key at once.
// Verify works on the raw body and must be called before the body is parsed.
type Verifier struct {
	keys []*rsa.PublicKey
}

// NewVerifier returns a Verifier for the bank's public key(s).
func NewVerifier(keys ...*rsa.PublicKey) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("verifier needs at least one public key")
	}
	for _, k := range keys {
		if k == nil {
			return nil, errors.New("verifier: nil public key")
		}
	}
	return &Verifier{keys: keys}, nil
}

// NewVerifierPEM returns a Verifier for every PEM-encoded public key in
// pemBytes: while the bank rotates its key the file holds the old and the
// new one, and a webhook signed with either is accepted.
func NewVerifierPEM(pemBytes []byte) (*Verifier, error) {
	keys, err := LoadPublicKeys(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("load bank public key: %w", err)
	}
	return NewVerifier(keys...)
}

// Keys is how many public keys the Verifier accepts signatures of.
func (v *Verifier) Keys() int { return len(v.keys) }

// Verify checks sig (the X-PARTNER-SIGN header) over the raw body bytes. The
// error wraps ErrBadSignature when no key verifies it.
func (v *Verifier) Verify(body []byte, sig string) error {
	var err error
	for _, k := range v.keys {
		if err = VerifySignature(k, body, sig); err == nil {
			return nil
		}
	}
	return err
}

// ReadPrivateKey reads a PEM private key file (PKCS#1 or PKCS#8).
func ReadPrivateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	k, err := LoadPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return k, nil
}

// ReadPublicKey reads a PEM public key file (PKIX or PKCS#1).
func ReadPublicKey(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	k, err := LoadPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}
