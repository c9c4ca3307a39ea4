package auth

import (
	"context"
	"time"
)

// User is a person (or an automation account) known to payrun.
type User struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	Roles        Roles      `json:"roles"`
	PasswordHash string     `json:"-"` // argon2id; empty: signs in with tokens only
	TOTPSecret   string     `json:"-"` // base32; empty: no second factor enrolled
	Disabled     bool       `json:"disabled,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	CreatedBy    string     `json:"created_by,omitempty"`
	LastSignIn   *time.Time `json:"last_sign_in,omitempty"`
}

// HasPassword reports whether the user can sign in with a password.
func (u *User) HasPassword() bool { return u.PasswordHash != "" }

// HasTOTP reports whether the user enrolled a second factor.
func (u *User) HasTOTP() bool { return u.TOTPSecret != "" }

// Token is an API token as stored: its hash, never its text.
type Token struct {
	ID        int64      `json:"id"`
	UserID    int64      `json:"user_id"`
	User      string     `json:"user"`
	Name      string     `json:"name"`
	Roles     Roles      `json:"roles"` // its scope; the token acts with these ∩ the user's roles
	Hint      string     `json:"hint"`  // "prt_Ab3xY…"
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by,omitempty"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Directory is where users, tokens, the policy and the audit log live (the
// ledger's database). Authentication reads from it on every request, so a
// disabled user or a revoked token stops working at once.
type Directory interface {
	// UserByName and UserByID return the user, or an error carrying
	// ledgerapi.CodeNotFound.
	UserByName(ctx context.Context, name string) (*User, error)
	UserByID(ctx context.Context, id int64) (*User, error)
	// TokenByHash returns a token that is not revoked, with its user, or
	// an error carrying ledgerapi.CodeNotFound.
	TokenByHash(ctx context.Context, hash string) (*Token, *User, error)
	// TokenUsed records that a token was used at t (at most once a minute
	// per token is written).
	TokenUsed(ctx context.Context, id int64, t time.Time)
	// SignedIn records a user's sign-in time.
	SignedIn(ctx context.Context, id int64, t time.Time)
	// Policy is the approval policy in force.
	Policy(ctx context.Context) (Policy, error)
	// Audit appends an entry to the audit log.
	Audit(ctx context.Context, e Entry) error
}
