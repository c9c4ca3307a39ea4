// Package auth is who people are in payrun and what they may do: roles and
// the permissions they grant, the principal a request acts as, password
// hashing (argon2id), API tokens (random, shown once, stored as a SHA-256),
// TOTP second factors, the sign-in rate limiter, the approval policy (which
// batches need how many checkers) and the audit log's entries and hash
// chain.
//
// It holds no storage and serves no HTTP: the ledger stores users, tokens,
// policies and the audit log (it implements Directory), and
// internal/httpapi authenticates requests with it and checks each route's
// Permission. The ledger checks roles again inside the transaction of
// every decision (an approval is refused for a user who is not a checker
// whatever the HTTP layer said).
package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Role is what a person does in payrun; a person may hold several.
type Role string

// The roles.
const (
	RoleMaker   Role = "maker"   // validate and upload files; cancel or hold their own batches
	RoleChecker Role = "checker" // approve, reject, cancel, release held rows, import the bank's report
	RoleViewer  Role = "viewer"  // read batches, reports, exceptions and the audit log
	RoleAdmin   Role = "admin"   // users, tokens, the approval policy
)

// AllRoles lists the roles in the order they are shown.
var AllRoles = []Role{RoleMaker, RoleChecker, RoleViewer, RoleAdmin}

// Roles is a set of roles, kept sorted and without repeats.
type Roles []Role

// ParseRoles reads roles separated by commas or spaces ("maker,checker").
// An unknown role is an error naming the known ones.
func ParseRoles(s string) (Roles, error) {
	var out Roles
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		r := Role(strings.ToLower(strings.TrimSpace(f)))
		if !slices.Contains(AllRoles, r) {
			return nil, fmt.Errorf("unknown role %q (roles: maker, checker, viewer, admin)", f)
		}
		out = append(out, r)
	}
	return out.norm(), nil
}

func (rs Roles) norm() Roles {
	out := slices.Clone(rs)
	slices.Sort(out)
	return slices.Compact(out)
}

// Has reports whether the set holds r.
func (rs Roles) Has(r Role) bool { return slices.Contains(rs, r) }

// Intersect returns the roles both sets hold.
func (rs Roles) Intersect(o Roles) Roles {
	var out Roles
	for _, r := range rs.norm() {
		if o.Has(r) {
			out = append(out, r)
		}
	}
	return out
}

// String joins the roles with commas, the form they are stored in.
func (rs Roles) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs.norm() {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}

// Permission is what a route or a command needs; roles grant them.
type Permission string

// The permissions.
const (
	PermRead         Permission = "read"          // batches, reports, exceptions
	PermValidate     Permission = "validate"      // validate a file without publishing
	PermUpload       Permission = "upload"        // publish a file as a batch
	PermCancel       Permission = "cancel"        // cancel a batch (makers: their own)
	PermHold         Permission = "hold"          // hold or resume a batch (makers: their own)
	PermApprove      Permission = "approve"       // approve or reject a batch
	PermReleaseHeld  Permission = "release_held"  // release or drop a held row
	PermResubmit     Permission = "resubmit"      // resubmit failed rows
	PermExceptions   Permission = "exceptions"    // assign, comment, resolve exceptions
	PermImportReport Permission = "import_report" // import the bank's daily report
	PermAudit        Permission = "audit"         // read and export the audit log
	PermAdmin        Permission = "admin"         // users, tokens, the approval policy
)

// grants are the permissions of each role.
var grants = map[Role][]Permission{
	RoleViewer:  {PermRead, PermAudit},
	RoleMaker:   {PermRead, PermValidate, PermUpload, PermCancel, PermHold, PermResubmit},
	RoleChecker: {PermRead, PermApprove, PermCancel, PermHold, PermReleaseHeld, PermExceptions, PermImportReport, PermAudit},
	RoleAdmin:   {PermRead, PermAudit, PermAdmin},
}

// Can reports whether any of the roles grants p.
func (rs Roles) Can(p Permission) bool {
	for _, r := range rs {
		if slices.Contains(grants[r], p) {
			return true
		}
	}
	return false
}

// RolesFor lists the roles that grant p (for refusals: "needs checker").
func RolesFor(p Permission) Roles {
	var out Roles
	for _, r := range AllRoles {
		if slices.Contains(grants[r], p) {
			out = append(out, r)
		}
	}
	return out
}

// Via says how a principal proved who it is.
type Via string

// The ways in.
const (
	ViaSession Via = "session" // signed in with a password (and a TOTP code) in a browser
	ViaToken   Via = "token"   // an API token (Authorization: Bearer)
	ViaHost    Via = "host"    // a command run on the ledger's host against its database
	ViaLedger  Via = "ledger"  // the ledger itself (an approval expiring)
	ViaNATS    Via = "nats"    // one of payrun's components over NATS, by its nkey (the report watcher)
	ViaLink    Via = "link"    // a recipient through their recipient link (no account: the link's signed token)
)

// Principal is who a request acts as: a user, the roles this request may
// use (a token's are its scope within the user's roles), and how it got
// in.
type Principal struct {
	UserID    int64  `json:"user_id"`
	Name      string `json:"name"`
	Roles     Roles  `json:"roles"`
	Via       Via    `json:"via"`
	TokenID   int64  `json:"token_id,omitempty"`
	TokenName string `json:"token_name,omitempty"`
	Remote    string `json:"remote,omitempty"` // the client's address
}

// Can reports whether the principal may do p.
func (p *Principal) Can(perm Permission) bool { return p != nil && p.Roles.Can(perm) }

// Actor is who the audit log and the ledger name for an action.
func (p *Principal) Actor() Actor {
	if p == nil {
		return Actor{}
	}
	a := Actor{UserID: p.UserID, Name: p.Name, Via: p.Via, Remote: p.Remote}
	if p.Via == ViaToken {
		a.Via = Via(string(ViaToken) + ":" + p.TokenName)
	}
	return a
}

// Actor names who did something: the user (0 and a name such as
// "anonymous" for a failed sign-in), how they came in, and from where.
type Actor struct {
	UserID int64  `json:"user_id,omitempty"`
	Name   string `json:"name"`
	Via    Via    `json:"via"`
	Remote string `json:"remote,omitempty"`
}

// HostActor is the actor of a command run on the ledger's host (`ledger
// users add`): the operating-system user, when known.
func HostActor(osUser string) Actor {
	if osUser == "" {
		osUser = "host"
	}
	return Actor{Name: osUser, Via: ViaHost, Remote: "local"}
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// PrincipalFrom returns the principal the request acts as, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// UnmarshalJSON reads ["maker","checker"] or "maker,checker", refusing
// unknown roles.
func (rs *Roles) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("roles: use a list such as [\"maker\", \"checker\"]")
		}
		list = []string{s}
	}
	out, err := ParseRoles(strings.Join(list, ","))
	if err != nil {
		return err
	}
	*rs = out
	return nil
}
