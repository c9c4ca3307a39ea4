package secret

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The HPKE suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, export only (the
// exported secret is the AES-256-GCM key of one upload).
var (
	kem = hpke.DHKEM(ecdh.X25519())
	kdf = hpke.HKDFSHA256()
)

// CardKey is a processor's key pair: it opens the card numbers sealed to
// its public key.
type CardKey struct {
	ID   string // KeyID of the public key
	priv hpke.PrivateKey
}

// PublicKey is the upload side's half of a CardKey.
type PublicKey struct {
	ID  string
	pub hpke.PublicKey
}

// KeyID names a public key: the first 8 bytes of the SHA-256 of its bytes,
// in hex (16 characters).
func KeyID(pub []byte) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateCardKey makes a new key pair.
func GenerateCardKey() (*CardKey, error) {
	priv, err := kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate card key: %w", err)
	}
	return &CardKey{ID: KeyID(priv.PublicKey().Bytes()), priv: priv}, nil
}

// Public returns the key pair's public key.
func (k *CardKey) Public() PublicKey {
	return PublicKey{ID: k.ID, pub: k.priv.PublicKey()}
}

// UploadKeys are the upload side's HMAC-SHA256 keys (see the package
// comment).
type UploadKeys struct {
	RowDigest   []byte // digests a row's plaintext fields
	Fingerprint []byte // fingerprints a card number
}

// hmacKeySize is the length of each upload key.
const hmacKeySize = 32

// GenerateUploadKeys makes new upload keys.
func GenerateUploadKeys() UploadKeys {
	k := UploadKeys{RowDigest: make([]byte, hmacKeySize), Fingerprint: make([]byte, hmacKeySize)}
	rand.Read(k.RowDigest)
	rand.Read(k.Fingerprint)
	return k
}

// pemBlocks reads every PEM block of data. Text around the blocks (a
// comment line) is ignored; text that is not a block at all is an error.
func pemBlocks(data []byte) ([]*pem.Block, error) {
	var out []*pem.Block
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return out, nil
}

// ParseCardKeys reads a card.key file: one "PAYRUN CARD PRIVATE KEY" block
// per key pair, each with the Key-Id of its public key.
func ParseCardKeys(data []byte) ([]*CardKey, error) {
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, err
	}
	var keys []*CardKey
	for i, b := range blocks {
		if b.Type != pemCardPrivate {
			return nil, fmt.Errorf("PEM block %d is %q, want %q", i+1, b.Type, pemCardPrivate)
		}
		priv, err := kem.NewPrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: not an X25519 private key: %w", i+1, err)
		}
		id := KeyID(priv.PublicKey().Bytes())
		if got := b.Headers[headerKeyID]; got != id {
			return nil, fmt.Errorf("PEM block %d: %s header %q, but the key's id is %s", i+1, headerKeyID, got, id)
		}
		if slices.ContainsFunc(keys, func(k *CardKey) bool { return k.ID == id }) {
			return nil, fmt.Errorf("PEM block %d: key %s is there twice", i+1, id)
		}
		keys = append(keys, &CardKey{ID: id, priv: priv})
	}
	return keys, nil
}

// ParsePublicKeys reads a card.pub file: one "PAYRUN CARD PUBLIC KEY"
// block per key pair, the newest last.
func ParsePublicKeys(data []byte) ([]PublicKey, error) {
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, err
	}
	var keys []PublicKey
	for i, b := range blocks {
		if b.Type != pemCardPublic {
			return nil, fmt.Errorf("PEM block %d is %q, want %q", i+1, b.Type, pemCardPublic)
		}
		pub, err := kem.NewPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: not an X25519 public key: %w", i+1, err)
		}
		id := KeyID(b.Bytes)
		if got := b.Headers[headerKeyID]; got != id {
			return nil, fmt.Errorf("PEM block %d: %s header %q, but the key's id is %s", i+1, headerKeyID, got, id)
		}
		keys = append(keys, PublicKey{ID: id, pub: pub})
	}
	return keys, nil
}

// ParseUploadKeys reads an upload.key file: one "PAYRUN ROW DIGEST KEY"
// and one "PAYRUN CARD FINGERPRINT KEY" block of 32 bytes each.
func ParseUploadKeys(data []byte) (UploadKeys, error) {
	blocks, err := pemBlocks(data)
	if err != nil {
		return UploadKeys{}, err
	}
	var k UploadKeys
	for i, b := range blocks {
		var dst *[]byte
		switch b.Type {
		case pemRowDigest:
			dst = &k.RowDigest
		case pemFingerprint:
			dst = &k.Fingerprint
		default:
			return UploadKeys{}, fmt.Errorf("PEM block %d is %q, want %q or %q", i+1, b.Type, pemRowDigest, pemFingerprint)
		}
		if *dst != nil {
			return UploadKeys{}, fmt.Errorf("PEM block %d: a second %q", i+1, b.Type)
		}
		if len(b.Bytes) != hmacKeySize {
			return UploadKeys{}, fmt.Errorf("PEM block %d (%s) is %d bytes, want %d", i+1, b.Type, len(b.Bytes), hmacKeySize)
		}
		*dst = b.Bytes
	}
	if k.RowDigest == nil || k.Fingerprint == nil {
		return UploadKeys{}, fmt.Errorf("want a %q and a %q block", pemRowDigest, pemFingerprint)
	}
	return k, nil
}

// MarshalCardKeys writes keys as a card.key file.
func MarshalCardKeys(keys []*CardKey) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# payrun card keys: processors only, mode 0600. Opens card numbers sealed to card.pub.\n")
	for _, k := range keys {
		raw, err := k.priv.Bytes()
		if err != nil {
			return nil, fmt.Errorf("card key %s: %w", k.ID, err)
		}
		if err := pem.Encode(&b, &pem.Block{Type: pemCardPrivate, Headers: map[string]string{headerKeyID: k.ID}, Bytes: raw}); err != nil {
			return nil, fmt.Errorf("card key %s: %w", k.ID, err)
		}
	}
	return b.Bytes(), nil
}

// MarshalPublicKeys writes keys as a card.pub file, in the order given
// (uploads seal to the last).
func MarshalPublicKeys(keys []PublicKey) []byte {
	var b bytes.Buffer
	b.WriteString("# payrun card public keys: the upload side seals card numbers to the last one.\n")
	for _, k := range keys {
		pem.Encode(&b, &pem.Block{Type: pemCardPublic, Headers: map[string]string{headerKeyID: k.ID}, Bytes: k.pub.Bytes()})
	}
	return b.Bytes()
}

// Marshal writes the keys as an upload.key file.
func (k UploadKeys) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("# payrun upload keys: ingest and the upload API only, mode 0600.\n")
	pem.Encode(&b, &pem.Block{Type: pemRowDigest, Bytes: k.RowDigest})
	pem.Encode(&b, &pem.Block{Type: pemFingerprint, Bytes: k.Fingerprint})
	return b.Bytes()
}

// ReadCardKeys reads a card.key file.
func ReadCardKeys(path string) ([]*CardKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("card keys: %w", err)
	}
	keys, err := ParseCardKeys(data)
	if err != nil {
		return nil, fmt.Errorf("card keys %s: %w", path, err)
	}
	return keys, nil
}

// ReadPublicKeys reads a card.pub file.
func ReadPublicKeys(path string) ([]PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("card public keys: %w", err)
	}
	keys, err := ParsePublicKeys(data)
	if err != nil {
		return nil, fmt.Errorf("card public keys %s: %w", path, err)
	}
	return keys, nil
}

// ReadUploadKeys reads an upload.key file.
func ReadUploadKeys(path string) (UploadKeys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return UploadKeys{}, fmt.Errorf("upload keys: %w", err)
	}
	k, err := ParseUploadKeys(data)
	if err != nil {
		return UploadKeys{}, fmt.Errorf("upload keys %s: %w", path, err)
	}
	return k, nil
}

// Created lists the key files EnsureKeys made.
type Created []string

// EnsureKeys makes, in dir, whichever of card.key, card.pub and
// upload.key is missing: a new key pair when card.key is missing (and
// card.pub from it), card.pub from card.key when only card.pub is missing,
// new upload keys when upload.key is missing. Private files get mode 0600.
// `payrun keys init` and the embedded default (`payrun up|demo`, in its data
// folder) call it; an existing file is never changed.
func EnsureKeys(dir string) (Created, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys folder: %w", err)
	}
	var made Created
	cardPath, pubPath := filepath.Join(dir, CardKeyFile), filepath.Join(dir, CardPublicFile)
	keys, err := ReadCardKeys(cardPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if _, err := os.Stat(pubPath); err == nil {
			return nil, fmt.Errorf("%s exists without %s: copy the processors' card.key there, or move card.pub away to make a new key pair", pubPath, cardPath)
		}
		k, err := GenerateCardKey()
		if err != nil {
			return nil, err
		}
		keys = []*CardKey{k}
		data, err := MarshalCardKeys(keys)
		if err != nil {
			return nil, err
		}
		if err := writeNew(cardPath, data, 0o600); err != nil {
			return nil, err
		}
		made = append(made, cardPath)
	case err != nil:
		return nil, err
	}
	if _, err := os.Stat(pubPath); errors.Is(err, os.ErrNotExist) {
		if err := writeNew(pubPath, MarshalPublicKeys(publicOf(keys)), 0o644); err != nil {
			return nil, err
		}
		made = append(made, pubPath)
	} else if err != nil {
		return nil, fmt.Errorf("card public keys: %w", err)
	}
	upPath := filepath.Join(dir, UploadKeyFile)
	if _, err := os.Stat(upPath); errors.Is(err, os.ErrNotExist) {
		if err := writeNew(upPath, GenerateUploadKeys().Marshal(), 0o600); err != nil {
			return nil, err
		}
		made = append(made, upPath)
	} else if err != nil {
		return nil, fmt.Errorf("upload keys: %w", err)
	}
	return made, nil
}

func publicOf(keys []*CardKey) []PublicKey {
	out := make([]PublicKey, len(keys))
	for i, k := range keys {
		out[i] = k.Public()
	}
	return out
}

// RotateCardKey adds a new key pair to dir's card.key and card.pub (last,
// so uploads seal to it once they read the new card.pub) and returns it.
// Give the new card.key to every processor before the new card.pub reaches
// the upload side.
func RotateCardKey(dir string) (*CardKey, error) {
	cardPath := filepath.Join(dir, CardKeyFile)
	keys, err := ReadCardKeys(cardPath)
	if err != nil {
		return nil, err
	}
	k, err := GenerateCardKey()
	if err != nil {
		return nil, err
	}
	if err := writeCardKeys(dir, append(keys, k)); err != nil {
		return nil, err
	}
	return k, nil
}

// RetireCardKey removes the key pair id from dir's card.key and card.pub.
// The last key cannot be retired. Retire a key only when no batch sealed
// with it has rows left to pay: its card numbers cannot be opened any more.
func RetireCardKey(dir, id string) error {
	keys, err := ReadCardKeys(filepath.Join(dir, CardKeyFile))
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k *CardKey) bool { return k.ID == id })
	if i < 0 {
		return fmt.Errorf("no card key %s in %s (it has %s)", id, filepath.Join(dir, CardKeyFile), strings.Join(IDs(keys), ", "))
	}
	if len(keys) == 1 {
		return fmt.Errorf("card key %s is the only one; rotate first", id)
	}
	return writeCardKeys(dir, slices.Delete(keys, i, i+1))
}

// IDs lists the keys' ids in order.
func IDs(keys []*CardKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

// writeCardKeys replaces dir's card.key and card.pub, the private file
// first (a processor must hold a key before anything is sealed to it).
func writeCardKeys(dir string, keys []*CardKey) error {
	data, err := MarshalCardKeys(keys)
	if err != nil {
		return err
	}
	if err := replace(filepath.Join(dir, CardKeyFile), data, 0o600); err != nil {
		return err
	}
	return replace(filepath.Join(dir, CardPublicFile), MarshalPublicKeys(publicOf(keys)), 0o644)
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	return nil
}

// replace writes a file through a temporary file and a rename, so a
// reader sees the old or the new content, never a part.
func replace(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".new"
	os.Remove(tmp)
	if err := writeNew(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace key file: %w", err)
	}
	return nil
}
