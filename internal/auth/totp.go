package auth

import (
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTPIssuer names payrun in authenticator apps.
const TOTPIssuer = "payrun"

// NewTOTP makes a TOTP secret for a user (RFC 6238: SHA-1, 6 digits, 30
// seconds, what every authenticator app reads). It returns the secret
// (base32, stored with the user) and the otpauth:// URL to put in the app.
func NewTOTP(user string) (secret, url string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: user})
	if err != nil {
		return "", "", fmt.Errorf("new TOTP secret: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// VerifyTOTP reports whether code is valid for secret at t (one step of
// clock skew either way).
func VerifyTOTP(secret, code string, t time.Time) bool {
	ok, err := totp.ValidateCustom(code, secret, t, totp.ValidateOpts{
		Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	return err == nil && ok
}

// TOTPCode returns the code for secret at t (tests, and the demo's users).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCode(secret, t)
}
