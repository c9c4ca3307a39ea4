package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/time/rate"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// GuardConfig configures the Guard.
type GuardConfig struct {
	// Directory is where users, tokens, the policy and the audit log are
	// (the ledger).
	Directory auth.Directory
	// Store keeps sign-in sessions (ledger.Sessions); nil keeps them in
	// memory. A Store that is also a TOTPSteps (ledger.Sessions) keeps
	// the TOTP time steps spent too, so a code that signed someone in
	// stays spent across a restart; otherwise they are the process's.
	Store scs.Store
	// Hosts are the host names this listener answers to (without port);
	// any other Host header is refused (DNS rebinding). Empty: loopback
	// names only (LoopbackHosts).
	Hosts []string
	// Secure marks the session cookie Secure; set it when people reach the
	// listener over HTTPS (a TLS request is always answered with HSTS).
	Secure bool
	// IdleTimeout and Lifetime bound a session: signed out after this long
	// without a request, and this long after signing in whatever happens.
	// Defaults 30 minutes and 12 hours.
	IdleTimeout time.Duration
	Lifetime    time.Duration
	// Limiter slows sign-in attempts; default auth.NewLimiter(auth.DefaultLimiter()).
	Limiter *auth.Limiter
	// SignInPage, when set, renders the sign-in page (GET /signin, and a
	// refused form sign-in) with the status given: the console's.
	SignInPage func(w http.ResponseWriter, r *http.Request, status int, v SignInView)
	Logger     *slog.Logger
	Now        func() time.Time
}

// TOTPSteps keeps the last TOTP time step each user signed in with.
// ClaimTOTPStep records step for user and reports true when it is later
// than every step recorded for them; false when it is not (the code, or
// a later one, was used already).
type TOTPSteps interface {
	ClaimTOTPStep(ctx context.Context, user, step int64) (bool, error)
}

// LoopbackHosts are the names a listener on this machine answers to
// unless told others.
var LoopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// SessionCookie is the sign-in session's cookie.
const SessionCookie = "payrun_session"

// Guard authenticates every request and checks each route's permission.
// In order, for every request (Wrap): security headers on the answer; a
// Host header that is not one of the listener's names is refused 403
// (a page of another site resolving its name to us cannot read answers);
// a state-changing browser request from another origin is refused 403
// (http.CrossOriginProtection: Sec-Fetch-Site, else Origin against Host,
// so a text/plain or multipart form posted from another site, or with
// Origin: null, never reaches a handler); then the principal: an
// Authorization: Bearer token (a wrong, revoked or disabled one is 401 at
// once, never a fall-back to the cookie), else the session cookie.
// API(perm) and Page(perm) then let through only a principal whose roles
// grant perm: anonymous is 401 (a page redirects to the sign-in form),
// known but not allowed is 403. Refusals of known principals and of
// presented tokens are in the audit log.
type Guard struct {
	cfg      GuardConfig
	dir      auth.Directory
	sessions *scs.SessionManager
	limiter  *auth.Limiter
	cop      *http.CrossOriginProtection
	hosts    map[string]bool
	log      *slog.Logger

	mu        sync.Mutex
	denials   map[string]*rate.Limiter // audit entries for refusals, per client address
	totpSteps map[int64]int64          // the last TOTP time step each user signed in with (without steps)
	steps     TOTPSteps                // the same, kept by the Store (nil: totpSteps)
}

// NewGuard returns a guard.
func NewGuard(cfg GuardConfig) *Guard {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 12 * time.Hour
	}
	if cfg.Limiter == nil {
		cfg.Limiter = auth.NewLimiter(auth.DefaultLimiter())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = LoopbackHosts
	}
	sm := scs.New()
	if cfg.Store != nil {
		sm.Store = cfg.Store
	}
	sm.IdleTimeout, sm.Lifetime = cfg.IdleTimeout, cfg.Lifetime
	sm.Cookie.Name = SessionCookie
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = cfg.Secure
	sm.Cookie.Persist = false // a browser session: gone when the browser closes
	g := &Guard{cfg: cfg, dir: cfg.Directory, sessions: sm, limiter: cfg.Limiter, log: cfg.Logger,
		hosts: map[string]bool{}, denials: map[string]*rate.Limiter{}, totpSteps: map[int64]int64{}}
	if ts, ok := cfg.Store.(TOTPSteps); ok {
		g.steps = ts
	}
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		Error(w, r, g.log, fmt.Errorf("session: %w", err))
	}
	for _, h := range cfg.Hosts {
		g.hosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	g.cop = http.NewCrossOriginProtection()
	g.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.refuse(w, r, auth.PrincipalFrom(r.Context()), ledgerapi.Errorf(ledgerapi.CodeForbidden,
			"cross-origin request refused: a form on another site cannot act here"))
	}))
	return g
}

// Sessions is the session manager (sign-in, and the console's pages).
func (g *Guard) Sessions() *scs.SessionManager { return g.sessions }

// Wrap applies headers, the Host allowlist, cross-origin protection and
// authentication to h; the principal, if any, is in the request's
// context (auth.PrincipalFrom).
func (g *Guard) Wrap(h http.Handler) http.Handler {
	authed := g.sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := g.principal(r)
		if err != nil {
			g.refuse(w, r, nil, err)
			return
		}
		if p != nil {
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		}
		h.ServeHTTP(w, r)
	}))
	protected := g.cop.Handler(authed)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SecurityHeaders(w, r)
		if !g.hostAllowed(r.Host) {
			g.refuse(w, r, nil, ledgerapi.Errorf(ledgerapi.CodeForbidden, "host %q is not served here", cardmask.Redact(r.Host)))
			return
		}
		protected.ServeHTTP(w, r)
	})
}

// SecurityHeaders sets the headers every answer carries.
func SecurityHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Cache-Control", "no-store")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

func (g *Guard) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return g.hosts[strings.ToLower(strings.Trim(host, "[]"))]
}

// principal resolves who the request acts as: nil and no error when
// anonymous; an unauthorized error for credentials that do not hold.
func (g *Guard) principal(r *http.Request) (*auth.Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || !auth.WellFormedToken(tok) {
			return nil, ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "the Authorization header is not a payrun token (Bearer prt_…)")
		}
		t, u, err := g.dir.TokenByHash(ctx, auth.HashToken(tok))
		if ledgerapi.IsCode(err, ledgerapi.CodeNotFound) {
			g.auditDenied(r, nil, "token "+auth.TokenHint(tok)+": unknown or revoked")
			return nil, ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "the token is unknown or revoked")
		}
		if err != nil {
			return nil, err
		}
		if u.Disabled {
			g.auditDenied(r, nil, "token "+auth.TokenHint(tok)+" of disabled user "+u.Name)
			return nil, ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "the token's user is disabled")
		}
		g.dir.TokenUsed(ctx, t.ID, g.cfg.Now())
		return &auth.Principal{UserID: u.ID, Name: u.Name, Roles: t.Roles.Intersect(u.Roles), Via: auth.ViaToken,
			TokenID: t.ID, TokenName: t.Name, Remote: r.RemoteAddr}, nil
	}
	id := g.sessions.GetInt64(ctx, SessionUserKey)
	if id == 0 {
		return nil, nil
	}
	u, err := g.dir.UserByID(ctx, id)
	if ledgerapi.IsCode(err, ledgerapi.CodeNotFound) || err == nil && (u.Disabled || g.sessions.GetString(ctx, sessionCredentials) != credentialsOf(u)) {
		// Disabled (or gone) since signing in, or their password or
		// second factor set again: the session ends now.
		g.sessions.Destroy(ctx)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &auth.Principal{UserID: u.ID, Name: u.Name, Roles: u.Roles, Via: auth.ViaSession, Remote: r.RemoteAddr}, nil
}

// API lets through requests whose principal may do perm; anonymous is
// 401, known but not allowed 403.
func (g *Guard) API(perm auth.Permission, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.PrincipalFrom(r.Context())
		switch {
		case p == nil:
			w.Header().Set("WWW-Authenticate", `Bearer realm="payrun"`)
			Error(w, r, g.log, ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "sign in or send a token (Authorization: Bearer prt_…)"))
		case !p.Can(perm):
			g.refuse(w, r, p, ledgerapi.Errorf(ledgerapi.CodeForbidden, "%s may not %s: that needs the role %s", p.Name,
				strings.ReplaceAll(string(perm), "_", " "), strings.ReplaceAll(auth.RolesFor(perm).String(), ",", " or ")))
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// Page is API for pages: an anonymous browser is sent to the sign-in form
// (and back afterwards).
func (g *Guard) Page(perm auth.Permission, h http.Handler) http.Handler {
	api := g.API(perm, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth.PrincipalFrom(r.Context()) == nil {
			// Back to the page afterwards; a form posted after the
			// session ended starts again from the landing page.
			next := SignInPath
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				next += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// refuse answers err and writes an audit entry for it (at most one per
// second per client address beyond a burst, so refusals cannot flood the
// ledger's writer).
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error) {
	g.auditDenied(r, p, ledgerapi.ErrorMessage(err))
	Error(w, r, g.log, err)
}

func (g *Guard) auditDenied(r *http.Request, p *auth.Principal, detail string) {
	addr := r.RemoteAddr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	g.mu.Lock()
	lim, ok := g.denials[addr]
	if !ok {
		if len(g.denials) > 10000 {
			g.denials = map[string]*rate.Limiter{}
		}
		lim = rate.NewLimiter(1, 20)
		g.denials[addr] = lim
	}
	allowed := lim.Allow()
	g.mu.Unlock()
	if !allowed {
		return
	}
	a := auth.Actor{Name: "anonymous", Remote: r.RemoteAddr}
	if p != nil {
		a = p.Actor()
	}
	e := auth.NewEntry(a, auth.ActDenied, auth.OutcomeRefused)
	e.Target, e.Detail = r.Method+" "+auditPath(r.URL.Path), detail
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := g.dir.Audit(ctx, e); err != nil {
		g.log.Error("audit refusal", "error", cardmask.Redact(err.Error()))
	}
}

// RecipientPrefix is where recipient links' pages are (internal/recipient):
// the path carries the link's token, a credential.
const RecipientPrefix = "/r/"

// auditPath is a path as the audit log keeps it: a recipient link's token
// is cut, so the log never holds a live one.
// LogPath is a request's path as a log line carries it: a recipient
// link's token hidden (auditPath) and card numbers masked (a path is what
// someone typed).
func LogPath(p string) string { return cardmask.Redact(auditPath(p)) }

func auditPath(p string) string {
	if strings.HasPrefix(p, RecipientPrefix) && !strings.HasPrefix(p, RecipientPrefix+"static/") {
		rest := strings.TrimPrefix(p, RecipientPrefix)
		tail := ""
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			tail = rest[i:]
		}
		return RecipientPrefix + "…" + tail
	}
	return p
}
