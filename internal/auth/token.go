package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// TokenPrefix starts every API token, so a token pasted where it does not
// belong is easy to find (and to scan for).
const TokenPrefix = "prt_"

// tokenBytes is the randomness of a token: 256 bits.
const tokenBytes = 32

// NewToken returns a fresh API token (shown to its owner once) and its
// hash (what is stored). A token is TokenPrefix and 43 characters of
// URL-safe base64.
func NewToken() (token, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("new token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is the stored form of a token: the hex SHA-256 of its text. A
// token carries 256 random bits, so a fast hash is enough: there is
// nothing to guess, and the lookup by hash is one index probe per request.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenHint is how a token is shown after its creation: its first
// characters only ("prt_Ab3xY…").
func TokenHint(token string) string {
	n := len(TokenPrefix) + 6
	if len(token) < n {
		return token
	}
	return token[:n] + "…"
}

// WellFormedToken reports whether s looks like a payrun token (before any
// lookup).
func WellFormedToken(s string) bool {
	if !strings.HasPrefix(s, TokenPrefix) || len(s) != len(TokenPrefix)+43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(TokenPrefix):])
	return err == nil
}
