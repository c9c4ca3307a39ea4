package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// The ledger is payrun's directory of people (auth.Directory): users,
// their API tokens, the approval policy and the audit log live in its
// database, the system of record. Reads use the read pool; every change
// goes through the one writer with its audit entry in the same
// transaction.

var _ auth.Directory = (*Service)(nil)

// userNameRule is what a user name may be: it is shown in the audit log
// and the reports, and typed on the command line.
var userNameRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CheckUserName refuses a name that is not 1–64 of letters, digits and
// . _ @ - (starting with a letter or digit), or that holds a card number
// (the name is kept and shown as it is).
func CheckUserName(name string) error {
	if masked, ok := cardmask.Find(name); ok {
		return ledgerapi.Errorf(ledgerapi.CodeInvalid, "user name %q holds a card number; choose another name", masked)
	}
	if !userNameRule.MatchString(name) {
		return ledgerapi.Errorf(ledgerapi.CodeInvalid, "user name %q: use 1–64 letters, digits, . _ @ - (starting with a letter or digit)",
			cardmask.Redact(name))
	}
	return nil
}

var errForbidden = &ledgerapi.Error{Code: ledgerapi.CodeForbidden}

const userColumns = `id, name, roles, password_hash, totp_secret, disabled_at, created_at, created_by, last_sign_in`

func scanUser(row interface{ Scan(...any) error }) (*auth.User, error) {
	var u auth.User
	var roles string
	var disabled, created, last sql.NullString
	if err := row.Scan(&u.ID, &u.Name, &roles, &u.PasswordHash, &u.TOTPSecret, &disabled, &created, &u.CreatedBy, &last); err != nil {
		return nil, err
	}
	u.Roles, _ = auth.ParseRoles(roles)
	u.Disabled = disabled.Valid
	if t := scanTime(created); t != nil {
		u.CreatedAt = *t
	}
	u.LastSignIn = scanTime(last)
	return &u, nil
}

func (db *DB) user(ctx context.Context, where string, arg any) (*auth.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %v: %w", arg, errNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// UserByName returns a user by name (case-insensitive).
func (db *DB) UserByName(ctx context.Context, name string) (*auth.User, error) {
	return db.user(ctx, `name = ?`, name)
}

// UserByID returns a user by id.
func (db *DB) UserByID(ctx context.Context, id int64) (*auth.User, error) {
	return db.user(ctx, `id = ?`, id)
}

// Users lists every user by name.
func (db *DB) Users(ctx context.Context) ([]auth.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	out := []auth.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

const tokenColumns = `t.id, t.user_id, u.name, t.name, t.roles, t.hint, t.created_at, t.created_by, t.last_used, t.revoked_at`

func scanToken(row interface{ Scan(...any) error }) (*auth.Token, error) {
	var t auth.Token
	var roles string
	var created, used, revoked sql.NullString
	if err := row.Scan(&t.ID, &t.UserID, &t.User, &t.Name, &roles, &t.Hint, &created, &t.CreatedBy, &used, &revoked); err != nil {
		return nil, err
	}
	t.Roles, _ = auth.ParseRoles(roles)
	if c := scanTime(created); c != nil {
		t.CreatedAt = *c
	}
	t.LastUsed, t.RevokedAt = scanTime(used), scanTime(revoked)
	return &t, nil
}

// TokenByHash returns a live (not revoked) token by its hash, with its
// user.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*auth.Token, *auth.User, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = ? AND t.revoked_at IS NULL`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("token: %w", errNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read token: %w", err)
	}
	u, err := db.UserByID(ctx, t.UserID)
	if err != nil {
		return nil, nil, err
	}
	return t, u, nil
}

// Tokens lists tokens, newest first: a user's ("" for everyone's), and
// revoked ones only when asked.
func (db *DB) Tokens(ctx context.Context, user string, revoked bool) ([]auth.Token, error) {
	q := `SELECT ` + tokenColumns + ` FROM tokens t JOIN users u ON u.id = t.user_id WHERE (? = '' OR u.name = ?)`
	if !revoked {
		q += ` AND t.revoked_at IS NULL`
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY t.id DESC`, user, user)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []auth.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// Policy returns the approval policy in force: the latest version saved,
// or auth.DefaultPolicy (version 0) when none was.
func (db *DB) Policy(ctx context.Context) (auth.Policy, error) {
	return readPolicy(db.r.QueryRowContext(ctx, `SELECT version, body, created_at, created_by FROM policies ORDER BY version DESC LIMIT 1`))
}

// Policies lists every version of the policy, newest first.
func (db *DB) Policies(ctx context.Context) ([]auth.Policy, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT version, body, created_at, created_by FROM policies ORDER BY version DESC`)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	defer rows.Close()
	var out []auth.Policy
	for rows.Next() {
		p, err := readPolicy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func readPolicy(row interface{ Scan(...any) error }) (auth.Policy, error) {
	var version int
	var body, created, by string
	err := row.Scan(&version, &body, &created, &by)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.DefaultPolicy(), nil
	}
	if err != nil {
		return auth.Policy{}, fmt.Errorf("read policy: %w", err)
	}
	var p auth.Policy
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return auth.Policy{}, fmt.Errorf("read policy %d: %w", version, err)
	}
	p.Version, p.CreatedAt, p.CreatedBy = version, parseTime(created), by
	return p, nil
}

// policyTx is readPolicy inside the writer's transaction.
func policyTx(tx *Tx) (auth.Policy, error) {
	return readPolicy(tx.QueryRow(`SELECT version, body, created_at, created_by FROM policies ORDER BY version DESC LIMIT 1`))
}

// NewUser is a user to add.
type NewUser struct {
	Name     string
	Roles    auth.Roles
	Password string // "" for a user who signs in only with tokens
}

// AddUser adds a user. The password is hashed before the writer is
// asked (argon2id takes tens of milliseconds and must not hold it).
func (s *Service) AddUser(ctx context.Context, by auth.Actor, nu NewUser) (*auth.User, error) {
	if err := CheckUserName(nu.Name); err != nil {
		return nil, err
	}
	if len(nu.Roles) == 0 {
		return nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "user %s: give at least one role (maker, checker, viewer, admin)", nu.Name)
	}
	hash := ""
	if nu.Password != "" {
		var err error
		if hash, err = auth.HashPassword(nu.Password); err != nil {
			return nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "%v", err)
		}
	}
	err := s.w.Do(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM users WHERE name = ?`, nu.Name).Scan(&n); err != nil {
			return fmt.Errorf("add user: %w", err)
		}
		if n > 0 {
			return ledgerapi.Errorf(ledgerapi.CodeConflict, "user %s exists already", nu.Name)
		}
		if _, err := tx.Exec(`INSERT INTO users (name, roles, password_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)`,
			nu.Name, nu.Roles.String(), hash, formatTime(tx.Now), by.Name); err != nil {
			return fmt.Errorf("add user %s: %w", nu.Name, err)
		}
		e := auth.NewEntry(by, auth.ActUserAdd, auth.OutcomeOK)
		e.Target, e.Detail = nu.Name, "roles "+nu.Roles.String()
		if hash == "" {
			e.Detail += "; no password (tokens only)"
		}
		return appendAudit(tx, e)
	})
	if err != nil {
		return nil, err
	}
	return s.db.UserByName(ctx, nu.Name)
}

// updateUser changes one user in the writer with its audit entry.
func (s *Service) updateUser(ctx context.Context, by auth.Actor, name string, act auth.Action, detail string, set string, args ...any) error {
	return s.w.Do(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE users SET `+set+` WHERE name = ?`, append(args, name)...)
		if err != nil {
			return fmt.Errorf("update user %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %s: %w", name, errNotFound)
		}
		e := auth.NewEntry(by, act, auth.OutcomeOK)
		e.Target, e.Detail = name, detail
		return appendAudit(tx, e)
	})
}

// DisableUser stops a user: their sessions and tokens stop working at
// once (both are checked against the user on every request), and their
// sessions are deleted from the sessions file beside the database, so
// that enabling them again does not bring back a session opened before.
func (s *Service) DisableUser(ctx context.Context, by auth.Actor, name string, disabled bool) error {
	if !disabled {
		return s.updateUser(ctx, by, name, auth.ActUserEnable, "", `disabled_at = NULL`)
	}
	if err := s.updateUser(ctx, by, name, auth.ActUserDisable, "", `disabled_at = coalesce(disabled_at, ?)`, formatTime(s.db.Now())); err != nil {
		return err
	}
	// The user is disabled: every session of theirs is refused (and
	// ended) on its next request whatever happens here.
	if err := s.endSessions(ctx, name); err != nil {
		s.log.Error("end the sessions of a disabled user", "user", cardmask.Redact(name), "error", cardmask.Redact(err.Error()))
	}
	return nil
}

// endSessions deletes a user's sessions from the sessions file beside the
// database (SessionsPath), if there is one.
func (s *Service) endSessions(ctx context.Context, name string) error {
	path := SessionsPath(s.db.Path())
	if _, err := os.Stat(path); err != nil {
		return nil // nobody signed in here yet (a host's CLI, a fresh ledger)
	}
	u, err := s.db.UserByName(ctx, name)
	if err != nil {
		return err
	}
	sessions, err := OpenSessions(path)
	if err != nil {
		return err
	}
	defer sessions.Close()
	_, err = sessions.EndUser(ctx, u.ID)
	return err
}

// SetPassword sets (or, with "", removes) a user's password.
func (s *Service) SetPassword(ctx context.Context, by auth.Actor, name, password string) error {
	hash := ""
	if password != "" {
		var err error
		if hash, err = auth.HashPassword(password); err != nil {
			return ledgerapi.Errorf(ledgerapi.CodeInvalid, "%v", err)
		}
	}
	return s.updateUser(ctx, by, name, auth.ActUserPassword, map[bool]string{true: "set", false: "removed"}[hash != ""], `password_hash = ?`, hash)
}

// SetRoles replaces a user's roles.
func (s *Service) SetRoles(ctx context.Context, by auth.Actor, name string, roles auth.Roles) error {
	if len(roles) == 0 {
		return ledgerapi.Errorf(ledgerapi.CodeInvalid, "give at least one role (to stop a user, disable them)")
	}
	return s.updateUser(ctx, by, name, auth.ActUserRoles, "roles "+roles.String(), `roles = ?`, roles.String())
}

// EnrollTOTP gives a user a new TOTP secret and returns the otpauth://
// URL for their authenticator app (shown once); off removes it.
func (s *Service) EnrollTOTP(ctx context.Context, by auth.Actor, name string, off bool) (secret, url string, err error) {
	if off {
		return "", "", s.updateUser(ctx, by, name, auth.ActUserTOTP, "removed", `totp_secret = ''`)
	}
	if secret, url, err = auth.NewTOTP(name); err != nil {
		return "", "", err
	}
	return secret, url, s.updateUser(ctx, by, name, auth.ActUserTOTP, "enrolled", `totp_secret = ?`, secret)
}

// NewToken is a token to create.
type NewToken struct {
	User  string
	Name  string
	Roles auth.Roles // its scope; empty: every role the user has
}

// CreateToken creates an API token for a user and returns its text (the
// only time it is seen: the ledger keeps its hash).
func (s *Service) CreateToken(ctx context.Context, by auth.Actor, nt NewToken) (string, *auth.Token, error) {
	if nt.Name = strings.TrimSpace(nt.Name); nt.Name == "" || len(nt.Name) > 64 {
		return "", nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "a token needs a name of 1–64 characters (what uses it: \"erp\", \"ci\")")
	}
	if masked, ok := cardmask.Find(nt.Name); ok {
		// Kept and listed as it is (GET /tokens): never a card number.
		return "", nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "token name %q holds a card number; choose another name", masked)
	}
	text, hash, err := auth.NewToken()
	if err != nil {
		return "", nil, err
	}
	var id int64
	err = s.w.Do(ctx, func(tx *Tx) error {
		u, err := scanUser(tx.QueryRow(`SELECT `+userColumns+` FROM users WHERE name = ?`, nt.User))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %s: %w", nt.User, errNotFound)
		}
		if err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		roles := nt.Roles
		if len(roles) == 0 {
			roles = u.Roles
		}
		if extra := roles.Intersect(u.Roles); len(extra) != len(roles) {
			return ledgerapi.Errorf(ledgerapi.CodeInvalid, "user %s holds %s; a token cannot have %s", u.Name, u.Roles, roles)
		}
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM tokens WHERE user_id = ? AND name = ? AND revoked_at IS NULL`, u.ID, nt.Name).Scan(&n); err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		if n > 0 {
			return ledgerapi.Errorf(ledgerapi.CodeConflict, "user %s has a token named %q already; revoke it first", u.Name, nt.Name)
		}
		res, err := tx.Exec(`INSERT INTO tokens (user_id, name, hash, hint, roles, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			u.ID, nt.Name, hash, auth.TokenHint(text), roles.String(), formatTime(tx.Now), by.Name)
		if err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		id, _ = res.LastInsertId()
		e := auth.NewEntry(by, auth.ActTokenCreate, auth.OutcomeOK)
		e.Target, e.Detail = fmt.Sprintf("token %d %q of %s", id, nt.Name, u.Name), "roles "+roles.String()
		return appendAudit(tx, e)
	})
	if err != nil {
		return "", nil, err
	}
	t, _, err := s.db.TokenByHash(ctx, hash)
	if err != nil {
		return "", nil, err
	}
	return text, t, nil
}

// RevokeToken revokes a token by id; it stops working at once (every
// request looks its hash up among the live tokens).
func (s *Service) RevokeToken(ctx context.Context, by auth.Actor, id int64) error {
	return s.w.Do(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL`,
			formatTime(tx.Now), by.Name, id)
		if err != nil {
			return fmt.Errorf("revoke token %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("live token %d: %w", id, errNotFound)
		}
		e := auth.NewEntry(by, auth.ActTokenRevoke, auth.OutcomeOK)
		e.Target = fmt.Sprintf("token %d", id)
		return appendAudit(tx, e)
	})
}

// SetPolicy saves a new version of the approval policy; batches sealed
// from now on are judged by it (those sealed before keep theirs).
func (s *Service) SetPolicy(ctx context.Context, by auth.Actor, p auth.Policy) (auth.Policy, error) {
	if err := p.Check(); err != nil {
		return auth.Policy{}, ledgerapi.Errorf(ledgerapi.CodeInvalid, "policy: %v", err)
	}
	p.Version, p.CreatedAt, p.CreatedBy = 0, time.Time{}, ""
	body, err := json.Marshal(p)
	if err != nil {
		return auth.Policy{}, fmt.Errorf("encode policy: %w", err)
	}
	err = s.w.Do(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`INSERT INTO policies (body, created_at, created_by) VALUES (?, ?, ?)`, string(body), formatTime(tx.Now), by.Name)
		if err != nil {
			return fmt.Errorf("save policy: %w", err)
		}
		v, _ := res.LastInsertId()
		e := auth.NewEntry(by, auth.ActPolicySet, auth.OutcomeOK)
		e.Target, e.Detail = fmt.Sprintf("policy %d", v), string(body)
		return appendAudit(tx, e)
	})
	if err != nil {
		return auth.Policy{}, err
	}
	return s.db.Policy(ctx)
}

// UserByName, UserByID, TokenByHash and Policy read the service's
// database (auth.Directory).
func (s *Service) UserByName(ctx context.Context, name string) (*auth.User, error) {
	return s.db.UserByName(ctx, name)
}

// UserByID returns a user by id.
func (s *Service) UserByID(ctx context.Context, id int64) (*auth.User, error) {
	return s.db.UserByID(ctx, id)
}

// TokenByHash returns a live token and its user.
func (s *Service) TokenByHash(ctx context.Context, hash string) (*auth.Token, *auth.User, error) {
	return s.db.TokenByHash(ctx, hash)
}

// Policy returns the policy in force.
func (s *Service) Policy(ctx context.Context) (auth.Policy, error) { return s.db.Policy(ctx) }

// touches remembers when each token's or user's use was last written, so
// the writer records it at most once a minute each.
type touches struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (t *touches) due(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[string]time.Time{}
	}
	if now.Sub(t.last[key]) < time.Minute {
		return false
	}
	t.last[key] = now
	return true
}

// TokenUsed records a token's last use, at most once a minute per token
// (a request a second must not be a write a second). It does not wait.
func (s *Service) TokenUsed(ctx context.Context, id int64, at time.Time) {
	if !s.touched.due(fmt.Sprint("t", id), at) {
		return
	}
	s.w.Submit(func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE tokens SET last_used = ? WHERE id = ?`, formatTime(at), id)
		return err
	}, func(error) {})
}

// SignedIn records a user's last sign-in.
func (s *Service) SignedIn(ctx context.Context, id int64, at time.Time) {
	s.w.Submit(func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE users SET last_sign_in = ? WHERE id = ?`, formatTime(at), id)
		return err
	}, func(error) {})
}

// BootstrapAdmin makes the first admin of a ledger that has no users yet:
// user "admin" (role admin, no password) with a token written to
// tokenFile (mode 0600). It reports whether it did; a ledger with users
// is left alone (so a restart changes nothing).
func (s *Service) BootstrapAdmin(ctx context.Context, tokenFile string) (bool, error) {
	users, err := s.db.Users(ctx)
	if err != nil {
		return false, err
	}
	if len(users) > 0 {
		return false, nil
	}
	by := auth.Actor{Name: "bootstrap", Via: auth.ViaHost}
	if _, err := s.AddUser(ctx, by, NewUser{Name: "admin", Roles: auth.Roles{auth.RoleAdmin}}); err != nil {
		return false, err
	}
	text, _, err := s.CreateToken(ctx, by, NewToken{User: "admin", Name: "bootstrap"})
	if err != nil {
		return false, err
	}
	if err := os.WriteFile(tokenFile, []byte(text+"\n"), 0o600); err != nil {
		return false, fmt.Errorf("write admin token: %w", err)
	}
	return true, nil
}
