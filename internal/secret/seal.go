package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// sealedPrefix starts every value sealed to a public key.
	sealedPrefix = "hpke1:"
	// hpkeInfo is the HPKE info of every encapsulation.
	hpkeInfo = "payrun card numbers v1"
	// exportLabel names the secret an encapsulation exports: the upload's
	// AES-256-GCM key.
	exportLabel = "payrun card number key v1"
	// Domain separation of the two HMACs.
	rowDigestLabel   = "payrun row digest v1\n"
	fingerprintLabel = "payrun card fingerprint v1\n"
)

// Sealer is what the upload side holds: the public key it seals card
// numbers to (the newest of card.pub) and the upload keys it digests rows
// and fingerprints card numbers with. It cannot open what it seals. It is
// safe for concurrent use.
type Sealer struct {
	mu  sync.Mutex
	pub PublicKey
	up  UploadKeys
	// pubFile, when the Sealer was loaded from files, is re-read when it
	// changes, so a long-running upload API seals to a rotated key
	// without a restart; the upload keys never change under it.
	pubFile  string
	pubStamp fileStamp
}

// fileStamp is what tells that a key file changed.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// NewSealer returns a Sealer for a public key and the upload keys.
func NewSealer(pub PublicKey, up UploadKeys) (*Sealer, error) {
	if pub.pub == nil {
		return nil, errors.New("sealer: no public key")
	}
	if len(up.RowDigest) != hmacKeySize || len(up.Fingerprint) != hmacKeySize {
		return nil, errors.New("sealer: upload keys must be 32 bytes each")
	}
	return &Sealer{pub: pub, up: up}, nil
}

// LoadSealer reads a card.pub file (it seals to the last key) and an
// upload.key file.
func LoadSealer(publicFile, uploadKeyFile string) (*Sealer, error) {
	pubs, err := ReadPublicKeys(publicFile)
	if err != nil {
		return nil, err
	}
	up, err := ReadUploadKeys(uploadKeyFile)
	if err != nil {
		return nil, err
	}
	stamp, err := stampOf(publicFile)
	if err != nil {
		return nil, err
	}
	sl, err := NewSealer(pubs[len(pubs)-1], up)
	if err != nil {
		return nil, err
	}
	sl.pubFile, sl.pubStamp = publicFile, stamp
	return sl, nil
}

// KeyID is the id of the key this Sealer seals to.
func (s *Sealer) KeyID() string { return s.publicKey().ID }

// publicKey is the key to seal to: the newest of card.pub, read again
// when the file changed since (a rotation). A file that cannot be read
// now keeps the key read before.
func (s *Sealer) publicKey() PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pubFile == "" {
		return s.pub
	}
	if stamp, err := stampOf(s.pubFile); err == nil && stamp != s.pubStamp {
		if pubs, err := ReadPublicKeys(s.pubFile); err == nil {
			s.pub, s.pubStamp = pubs[len(pubs)-1], stamp
		}
	}
	return s.pub
}

// Begin starts sealing one upload: one HPKE encapsulation to the public
// key, whose exported secret seals every card number of the upload.
func (s *Sealer) Begin() (*Envelope, error) {
	pub := s.publicKey()
	enc, sender, err := hpke.NewSender(pub.pub, kdf, hpke.ExportOnly(), []byte(hpkeInfo))
	if err != nil {
		return nil, fmt.Errorf("seal to card key %s: %w", pub.ID, err)
	}
	key, err := sender.Export(exportLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("seal to card key %s: %w", pub.ID, err)
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return &Envelope{aead: aead, prefix: sealedPrefix + pub.ID + ":" + base64.StdEncoding.EncodeToString(enc) + ":",
		rowDigest: hmac.New(sha256.New, s.up.RowDigest), fingerprint: hmac.New(sha256.New, s.up.Fingerprint)}, nil
}

// RowDigest is the keyed digest of a row's plaintext fields: HMAC-SHA256
// under the row digest key of msg, the row's canonical bytes with the card
// number in plaintext (intake.AppendDigestInput).
func (s *Sealer) RowDigest(msg []byte) [32]byte {
	return rowDigest(hmac.New(sha256.New, s.up.RowDigest), msg)
}

func rowDigest(m hash.Hash, msg []byte) [32]byte {
	m.Reset()
	m.Write([]byte(rowDigestLabel))
	m.Write(msg)
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// FingerprintSize is the length of a card fingerprint in bytes; its text
// is twice as many hex characters.
const FingerprintSize = 16

// Fingerprint is the keyed fingerprint of a card number: HMAC-SHA256
// under the fingerprint key, its first 16 bytes in hex. The same number
// has the same fingerprint in every batch while the key stays.
func (s *Sealer) Fingerprint(pan string) string {
	return fingerprint(hmac.New(sha256.New, s.up.Fingerprint), pan)
}

func fingerprint(m hash.Hash, pan string) string {
	m.Reset()
	m.Write([]byte(fingerprintLabel))
	m.Write([]byte(pan))
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])[:FingerprintSize])
}

// Envelope seals the card numbers of one upload, and digests its rows and
// fingerprints its numbers as the Sealer does with HMAC states kept for
// the upload (a new HMAC per row was 30 % of a row message's cost). It is
// not safe for concurrent use.
type Envelope struct {
	aead   cipher.AEAD
	prefix string // "hpke1:<key id>:<enc>:"
	buf    []byte

	rowDigest, fingerprint hash.Hash
}

// RowDigest is Sealer.RowDigest.
func (e *Envelope) RowDigest(msg []byte) [32]byte { return rowDigest(e.rowDigest, msg) }

// RowDigestFrom is RowDigest of the bytes write writes, which need not
// exist anywhere as a whole (ingest writes the parts of a row message
// around the card number: intake.WriteDigestInput). It returns false when
// write does.
func (e *Envelope) RowDigestFrom(write func(io.Writer) bool) ([32]byte, bool) {
	m := e.rowDigest
	m.Reset()
	m.Write([]byte(rowDigestLabel))
	if !write(m) {
		return [32]byte{}, false
	}
	var out [32]byte
	m.Sum(out[:0])
	return out, true
}

// Fingerprint is Sealer.Fingerprint.
func (e *Envelope) Fingerprint(pan string) string { return fingerprint(e.fingerprint, pan) }

// Seal seals a card number bound to aad (the row's "<batch>/<row>").
func (e *Envelope) Seal(pan, aad string) string {
	n := e.aead.NonceSize()
	e.buf = append(e.buf[:0], make([]byte, n)...)
	rand.Read(e.buf)
	e.buf = e.aead.Seal(e.buf, e.buf[:n], []byte(pan), []byte(aad))
	return e.prefix + base64.StdEncoding.EncodeToString(e.buf)
}

// Opener opens sealed card numbers: a processor's private keys, and the
// legacy data key when one is given. It is safe for concurrent use.
type Opener struct {
	keys   []*CardKey
	legacy cipher.AEAD
}

// NewOpener returns an Opener for the key pairs and, if not nil, the
// legacy data key (32 bytes).
func NewOpener(keys []*CardKey, legacyKey []byte) (*Opener, error) {
	o := &Opener{keys: keys}
	if legacyKey != nil {
		if len(legacyKey) != LegacyKeySize {
			return nil, fmt.Errorf("data key is %d bytes, want %d", len(legacyKey), LegacyKeySize)
		}
		var err error
		if o.legacy, err = newGCM(legacyKey); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 && o.legacy == nil {
		return nil, errors.New("opener: no key")
	}
	return o, nil
}

// LoadOpener reads a card.key file and, when legacyFile is not empty, the
// legacy data key.
func LoadOpener(cardKeyFile, legacyFile string) (*Opener, error) {
	keys, err := ReadCardKeys(cardKeyFile)
	if err != nil {
		return nil, err
	}
	var legacy []byte
	if legacyFile != "" {
		if legacy, err = LoadLegacyKey(legacyFile); err != nil {
			return nil, err
		}
	}
	return NewOpener(keys, legacy)
}

// KeyIDs lists the ids of the key pairs the Opener holds.
func (o *Opener) KeyIDs() []string { return IDs(o.keys) }

// Legacy reports whether the Opener holds the legacy data key.
func (o *Opener) Legacy() bool { return o.legacy != nil }

// Open returns the card number sealed in sealed for aad. The error wraps
// ErrOpen and says why: a key this processor does not hold, a value of
// another row, or tampered text.
func (o *Opener) Open(sealed, aad string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return o.openLegacy(sealed, aad)
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return "", fmt.Errorf("%w: not a sealed value", ErrOpen)
	}
	id := parts[0]
	i := slices.IndexFunc(o.keys, func(k *CardKey) bool { return k.ID == id })
	if i < 0 {
		held := strings.Join(o.KeyIDs(), ", ")
		if held == "" {
			held = "none"
		}
		return "", fmt.Errorf("%w: sealed to card key %s, which this processor does not hold (it holds: %s)", ErrOpen, id, held)
	}
	enc, err1 := base64.StdEncoding.DecodeString(parts[1])
	raw, err2 := base64.StdEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("%w: not a sealed value", ErrOpen)
	}
	r, err := hpke.NewRecipient(enc, o.keys[i].priv, kdf, hpke.ExportOnly(), []byte(hpkeInfo))
	if err != nil {
		return "", fmt.Errorf("%w: bad encapsulated key", ErrOpen)
	}
	key, err := r.Export(exportLabel, 32)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrOpen, err)
	}
	aead, err := newGCM(key)
	if err != nil {
		return "", err
	}
	return openGCM(aead, raw, aad)
}

func openGCM(aead cipher.AEAD, raw []byte, aad string) (string, error) {
	n := aead.NonceSize()
	if len(raw) < n+aead.Overhead() {
		return "", fmt.Errorf("%w: too short", ErrOpen)
	}
	pt, err := aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return "", fmt.Errorf("%w: wrong key, another row's value, or tampered", ErrOpen)
	}
	return string(pt), nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("card number key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("card number key: %w", err)
	}
	return aead, nil
}
