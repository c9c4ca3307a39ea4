package auth

import (
	"crypto/subtle"
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

// totpOpts are the codes' parameters (NewTOTP's).
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// VerifyTOTP reports whether code is valid for secret at t (one step of
// clock skew either way).
func VerifyTOTP(secret, code string, t time.Time) bool {
	_, ok := TOTPStep(secret, code, t)
	return ok
}

// TOTPStep is VerifyTOTP that also says which time step (Unix time / 30)
// code is the code of, so that a verifier accepts each step once (RFC
// 6238 §5.2).
func TOTPStep(secret, code string, t time.Time) (int64, bool) {
	if len(code) != int(otp.DigitsSix) {
		return 0, false
	}
	step := t.Unix() / int64(totpOpts.Period)
	for _, d := range []int64{0, -1, 1} {
		at := time.Unix((step+d)*int64(totpOpts.Period), 0)
		want, err := totp.GenerateCodeCustom(secret, at, totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + d, true
		}
	}
	return 0, false
}

// TOTPCode returns the code for secret at t (tests, and the demo's users).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCode(secret, t)
}
