package auth

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
)

// MinPassword is the shortest password accepted, in characters.
const MinPassword = 12

// params are argon2id's: 64 MiB, one pass, two lanes (the library's and
// RFC 9106's second recommended option). About 60 ms per hash on this
// project's 2-core machine, which with the sign-in limiter bounds a
// guesser to a few attempts a minute per name and address.
var params = argon2id.DefaultParams

// HashPassword returns the argon2id hash of a password, in the library's
// encoded form ($argon2id$v=19$m=65536,t=1,p=2$salt$key), which is what is
// stored.
func HashPassword(pw string) (string, error) {
	if err := CheckPasswordRules(pw); err != nil {
		return "", err
	}
	h, err := argon2id.CreateHash(pw, params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// CheckPasswordRules refuses a password too short to keep out a guesser.
func CheckPasswordRules(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPassword {
		return fmt.Errorf("a password needs at least %d characters (this one has %d)", MinPassword, n)
	}
	return nil
}

// dummyHash is compared against when the user is unknown or has no
// password, so a sign-in takes as long either way. It is made on first use,
// not at package load: made there it cost every process that links this
// package (hookrelay, processor, `ledger report`) ~0.1–0.4 s of CPU and a
// 64 MiB peak at start. A process that signs people in calls WarmPasswords
// when it builds its sign-in handler, so no answer waits for it.
var dummyHash = sync.OnceValue(func() string {
	h, _ := argon2id.CreateHash("payrun: no such user", params)
	return h
})

// WarmPasswords makes the dummy hash in the background.
func WarmPasswords() { go dummyHash() }

// ErrBadCredentials is the one answer to a wrong name, a wrong password,
// a user without a password or a disabled user: which one is not told.
var ErrBadCredentials = errors.New("wrong user name or password")

// VerifyPassword reports whether pw matches hash. An empty hash (a user
// who signs in only with tokens) never matches, after the same work.
func VerifyPassword(pw, hash string) bool {
	if hash == "" {
		argon2id.ComparePasswordAndHash(pw, dummyHash())
		return false
	}
	ok, err := argon2id.ComparePasswordAndHash(pw, hash)
	return err == nil && ok
}

// SpendPasswordTime does the work of one verification for a sign-in that
// will fail anyway (an unknown user), so its answer takes as long.
func SpendPasswordTime(pw string) { argon2id.ComparePasswordAndHash(pw, dummyHash()) }
