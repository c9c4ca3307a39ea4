package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// Sign-in paths.
const (
	SignInPath  = "/signin"
	SignOutPath = "/signout"
	SessionPath = "/session"
)

// SessionUserKey is the key of the signed-in user's id (an int64) in a
// session's data: ledger.Sessions.EndUser finds a user's sessions by it.
// sessionCredentials holds the fingerprint of the credentials they signed
// in with (credentialsOf).
const (
	SessionUserKey     = "uid"
	sessionCredentials = "cred"
)

// credentialsOf fingerprints a user's sign-in credentials: the password's
// argon2id hash (a new salt every time it is set) and the TOTP secret. A
// session holds the fingerprint of when it signed in; once the password is
// set again or a second factor enrolled or removed, it no longer matches
// and the session ends (Guard.principal), as a disabled user's does.
func credentialsOf(u *auth.User) string {
	sum := sha256.Sum256([]byte(u.PasswordHash + "\x00" + u.TOTPSecret))
	return hex.EncodeToString(sum[:16])
}

// signInRequest is what POST /signin takes, as a form (user, password,
// totp, next) or as JSON.
type signInRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
	Next     string `json:"next"`
}

// wantsJSON reports whether the request is an API client's rather than a
// browser form's.
func wantsJSON(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/json" || strings.Contains(r.Header.Get("Accept"), "application/json")
}

// SignIn serves POST /signin: the limiter first (429 with Retry-After),
// then the password (argon2id; an unknown name costs the same time), then
// the TOTP code when the user enrolled one, or a refusal when the policy
// requires one they have not enrolled. Success renews the session token
// (no fixation) and records the sign-in; every attempt is in the audit
// log. A form is answered with a redirect to next (a path of this site)
// or the form again with the reason; JSON with the principal or the one
// error answer.
func (g *Guard) SignIn() http.Handler {
	auth.WarmPasswords()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req signInRequest
		asJSON := wantsJSON(r)
		if asJSON {
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&req); err != nil {
				Error(w, r, g.log, ledgerapi.Errorf(ledgerapi.CodeInvalid, "the sign-in is not JSON {\"user\",\"password\",\"totp\"}"))
				return
			}
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
			if err := r.ParseForm(); err != nil {
				g.form(w, r, http.StatusBadRequest, SignInView{Problem: SignInUnreadable, Message: "the sign-in form cannot be read"})
				return
			}
			req = signInRequest{User: r.PostForm.Get("user"), Password: r.PostForm.Get("password"), TOTP: r.PostForm.Get("totp"),
				Next: r.PostForm.Get("next")}
		}
		req.User = strings.TrimSpace(req.User)
		p, err := g.signIn(r, req)
		if err != nil {
			if ledgerapi.IsCode(err, ledgerapi.CodeRateLimited) {
				w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter(err).Seconds()+0.999)))
			}
			if asJSON {
				Error(w, r, g.log, err)
				return
			}
			g.form(w, r, http.StatusUnauthorized, SignInView{User: req.User, Next: req.Next, Problem: problemOf(err),
				Message: ledgerapi.ErrorMessage(err), Wait: retryAfter(err)})
			return
		}
		if asJSON {
			WriteJSON(w, http.StatusOK, struct {
				Principal *auth.Principal `json:"principal"`
			}{p}, g.log)
			return
		}
		http.Redirect(w, r, localPath(req.Next), http.StatusSeeOther)
	})
}

// SignInProblem says why a sign-in failed, for a page to explain it in
// the reader's language.
type SignInProblem string

// The problems a sign-in can have.
const (
	SignInBadCredentials SignInProblem = "credentials"   // wrong name or password (never which)
	SignInWrongCode      SignInProblem = "totp"          // the one-time code is wrong or missing
	SignInCodeRequired   SignInProblem = "totp_required" // the policy requires a second factor the user has not enrolled
	SignInRateLimited    SignInProblem = "rate_limited"  // too many attempts: wait
	SignInUnreadable     SignInProblem = "invalid"       // the form could not be read
)

// SignInView is what the sign-in page shows: the name typed, where to go
// afterwards, and the problem of the last attempt (Message is the API's
// English text of it, Wait how long a rate-limited person waits).
type SignInView struct {
	User, Next string
	Problem    SignInProblem
	Message    string
	Wait       time.Duration
}

// signInError is a refused sign-in: the answer's error and the problem.
type signInError struct {
	err     *ledgerapi.Error
	problem SignInProblem
	wait    time.Duration // rate limited
}

func (e *signInError) Error() string { return e.err.Error() }
func (e *signInError) Unwrap() error { return e.err }

func refusedSignIn(p SignInProblem, code ledgerapi.Code, format string, args ...any) *signInError {
	return &signInError{err: ledgerapi.Errorf(code, format, args...), problem: p}
}

func retryAfter(err error) time.Duration {
	if se, ok := err.(*signInError); ok && se.wait > 0 {
		return se.wait
	}
	return time.Second
}

func problemOf(err error) SignInProblem {
	if se, ok := err.(*signInError); ok {
		return se.problem
	}
	return ""
}

func (g *Guard) signIn(r *http.Request, req signInRequest) (*auth.Principal, error) {
	ctx := r.Context()
	actor := auth.Actor{Name: req.User, Via: auth.ViaSession, Remote: r.RemoteAddr}
	audit := func(outcome auth.Outcome, detail string) {
		e := auth.NewEntry(actor, auth.ActSignIn, outcome)
		e.Detail = detail
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := g.dir.Audit(actx, e); err != nil {
			g.log.Error("audit sign-in", "error", cardmask.Redact(err.Error()))
		}
	}
	if req.User == "" || len(req.User) > 64 {
		actor.Name = "anonymous"
		audit(auth.OutcomeRefused, "no user name")
		return nil, refusedSignIn(SignInBadCredentials, ledgerapi.CodeUnauthorized, "%s", auth.ErrBadCredentials)
	}
	if ok, wait := g.limiter.Allow(req.User, r.RemoteAddr); !ok {
		audit(auth.OutcomeRefused, "too many attempts; slowed for "+wait.Round(time.Second).String())
		se := refusedSignIn(SignInRateLimited, ledgerapi.CodeRateLimited, "too many sign-in attempts; try again in %s", wait.Round(time.Second))
		se.wait = wait
		return nil, se
	}
	u, err := g.dir.UserByName(ctx, req.User)
	if err != nil && !ledgerapi.IsCode(err, ledgerapi.CodeNotFound) {
		return nil, err
	}
	if u == nil {
		auth.SpendPasswordTime(req.Password)
		audit(auth.OutcomeRefused, "unknown user")
		return nil, refusedSignIn(SignInBadCredentials, ledgerapi.CodeUnauthorized, "%s", auth.ErrBadCredentials)
	}
	actor.UserID, actor.Name = u.ID, u.Name
	if !auth.VerifyPassword(req.Password, u.PasswordHash) || u.Disabled {
		why := "wrong password"
		if u.Disabled {
			why = "user disabled"
		} else if !u.HasPassword() {
			why = "user has no password"
		}
		audit(auth.OutcomeRefused, why)
		return nil, refusedSignIn(SignInBadCredentials, ledgerapi.CodeUnauthorized, "%s", auth.ErrBadCredentials)
	}
	policy, err := g.dir.Policy(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case u.HasTOTP():
		step, ok := auth.TOTPStep(u.TOTPSecret, strings.TrimSpace(req.TOTP), g.cfg.Now())
		if !ok {
			audit(auth.OutcomeRefused, "wrong or missing TOTP code")
			return nil, refusedSignIn(SignInWrongCode, ledgerapi.CodeUnauthorized, "the one-time code is wrong or missing")
		}
		claimed, err := g.claimTOTP(ctx, u.ID, step)
		if err != nil {
			return nil, err
		}
		if !claimed {
			audit(auth.OutcomeRefused, "TOTP code used already")
			return nil, refusedSignIn(SignInWrongCode, ledgerapi.CodeUnauthorized, "the one-time code is wrong or missing")
		}
	case policy.NeedsTOTP(u.Roles):
		audit(auth.OutcomeRefused, "the policy requires a second factor; none enrolled")
		return nil, refusedSignIn(SignInCodeRequired, ledgerapi.CodeForbidden,
			"the approval policy requires a second factor for %s: ask an admin to enrol you (ledger users totp %s)", u.Roles, u.Name)
	}
	if err := g.sessions.RenewToken(ctx); err != nil {
		return nil, err
	}
	g.sessions.Put(ctx, SessionUserKey, u.ID)
	g.sessions.Put(ctx, sessionCredentials, credentialsOf(u))
	g.limiter.Succeeded(u.Name)
	g.dir.SignedIn(ctx, u.ID, g.cfg.Now())
	audit(auth.OutcomeOK, "")
	return &auth.Principal{UserID: u.ID, Name: u.Name, Roles: u.Roles, Via: auth.ViaSession, Remote: r.RemoteAddr}, nil
}

// SignOut serves POST /signout: the session is destroyed (and the sign-out
// recorded); a form is sent to the sign-in page, JSON gets 204.
func (g *Guard) SignOut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := auth.PrincipalFrom(r.Context()); p != nil && p.Via == auth.ViaSession {
			e := auth.NewEntry(p.Actor(), auth.ActSignOut, auth.OutcomeOK)
			if err := g.dir.Audit(r.Context(), e); err != nil {
				g.log.Error("audit sign-out", "error", cardmask.Redact(err.Error()))
			}
		}
		if err := g.sessions.Destroy(r.Context()); err != nil {
			Error(w, r, g.log, err)
			return
		}
		if wantsJSON(r) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Redirect(w, r, SignInPath, http.StatusSeeOther)
	})
}

// WhoAmI serves GET /session: the principal of the request.
func (g *Guard) WhoAmI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, struct {
			Principal *auth.Principal `json:"principal"`
		}{auth.PrincipalFrom(r.Context())}, g.log)
	})
}

// SignInForm serves GET /signin: the console's page
// (GuardConfig.SignInPage), else a minimal form.
func (g *Guard) SignInForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.form(w, r, http.StatusOK, SignInView{Next: r.URL.Query().Get("next")})
	})
}

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · payrun</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>payrun</h1>
{{if .Message}}<p role="alert">{{.Message}}</p>{{end}}
<form method="post" action="/signin">
<p><label for="user">User name</label><br><input id="user" name="user" autocomplete="username" value="{{.User}}" required></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><label for="totp">One-time code (if you enrolled one)</label><br><input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code"></p>
<input type="hidden" name="next" value="{{.Next}}">
<p><button type="submit">Sign in</button></p>
</form></main></body></html>
`))

// form answers the sign-in page: GuardConfig.SignInPage's (the
// console's), else the minimal one.
func (g *Guard) form(w http.ResponseWriter, r *http.Request, status int, v SignInView) {
	v.Next = localPath(v.Next)
	// What was typed comes back in the page: never a card number.
	v.User = cardmask.Redact(v.User)
	if _, ok := cardmask.Find(v.Next); ok {
		v.Next = "/"
	}
	if g.cfg.SignInPage != nil {
		g.cfg.SignInPage(w, r, status, v)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	signInPage.Execute(w, struct{ User, Next, Message string }{v.User, v.Next, v.Message})
}

// localPath keeps a redirect on this site: a path starting with one
// slash, else "/". A browser drops tabs and line breaks from a Location
// and reads a backslash as a slash before it resolves it ("/\t/evil" and
// "/\\evil" are "//evil", another site), so a next with a control
// character, a space or a backslash anywhere is refused too.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsFunc(next, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '\\'
	}) {
		return "/"
	}
	return next
}

// landing is GET / until the console exists: who is signed in and a
// sign-out button.
var landing = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p := auth.PrincipalFrom(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	landingPage.Execute(w, p)
})

var landingPage = template.Must(template.New("landing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>payrun</title></head>
<body><main><h1>payrun</h1><p>Signed in as {{.Name}} ({{.Roles}}).</p>
<form method="post" action="/signout"><button type="submit">Sign out</button></form></main></body></html>
`))

// claimTOTP accepts a user's TOTP time step once: a code, once it signed
// someone in, is spent, and so is every code before it (RFC 6238 §5.2).
// The steps are the Store's when it keeps them (ledger.Sessions: the
// sessions file, so a restarted ledger still refuses a code just used),
// else the process's.
func (g *Guard) claimTOTP(ctx context.Context, user, step int64) (bool, error) {
	if g.steps != nil {
		ok, err := g.steps.ClaimTOTPStep(ctx, user, step)
		if err != nil {
			return false, fmt.Errorf("one-time code: %w", err)
		}
		return ok, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if last, ok := g.totpSteps[user]; ok && step <= last {
		return false, nil
	}
	g.totpSteps[user] = step
	return true, nil
}
