package recipient

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// A link token is "<link id>.<expiry>.<mac>": the link's id (32 hex, the
// ledger's recipient_links.id), its expiry in Unix seconds (base 36), and
// HMAC-SHA256 under the ledger's link key over a domain string and both,
// in unpadded base64url. The signature makes a guessed or altered token
// fail before the ledger is asked; the ledger keeps single use (used_at),
// revocation and the expiry it recorded.
const tokenDomain = "payrun recipient link v1\x00"

// Token errors.
var (
	ErrMalformed = errors.New("not a recipient link token")
	ErrTampered  = errors.New("the link's signature does not hold")
	ErrExpired   = errors.New("the link has expired")
)

func mac(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tokenDomain + payload))
	return m.Sum(nil)
}

// Sign makes the token of link id, expiring at exp.
func Sign(key []byte, id string, exp time.Time) string {
	payload := id + "." + strconv.FormatInt(exp.Unix(), 36)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac(key, payload))
}

// Verify checks a token's form, signature and expiry at now, and returns
// the link id it names.
func Verify(key []byte, token string, now time.Time) (string, error) {
	if len(token) > 128 {
		return "", ErrMalformed
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[0]) != 32 {
		return "", ErrMalformed
	}
	if _, err := hex.DecodeString(parts[0]); err != nil {
		return "", ErrMalformed
	}
	exp, err := strconv.ParseInt(parts[1], 36, 64)
	if err != nil {
		return "", ErrMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", ErrMalformed
	}
	if !hmac.Equal(sig, mac(key, parts[0]+"."+parts[1])) {
		return "", ErrTampered
	}
	if !now.Before(time.Unix(exp, 0)) {
		return parts[0], ErrExpired
	}
	return parts[0], nil
}
