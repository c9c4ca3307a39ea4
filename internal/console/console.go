// Package console is payrun's web console for finance: plain
// server-rendered HTML (html/template) in Russian and English, with its
// CSS, a little JavaScript and an icon embedded in the binary (no build
// step, nothing fetched from elsewhere at run time). It is served by the
// process that serves the API (`ledger run --http`, `payrun up`: it is
// internal/apiserver's Pages handler), and every route it serves is a
// row of httpapi.Table with its permission, behind the Guard (sign-in,
// roles, cross-origin protection, security headers).
//
// Pages: sign in (the Guard's form, rendered here), the batches list
// (filters, keyset paging), a batch (live progress, counts and sums per
// state, its rows with filters and paging, each row's reason and what to
// do next, the 3-D Secure link of a waiting transfer, approve, reject,
// cancel, downloads), upload (validate before submitting, then submit;
// templates; the errors file), the exception queue (assign, comment,
// resolve) and the admin pages (users, tokens, the approval policy).
//
// Every action is a form post that works without JavaScript; with it,
// the upload page checks a file as soon as it is chosen or dropped and the
// batch page refreshes its progress and rows in place. Actions go through
// the ledger's methods that write the audit log (Service.Decide,
// CancelAs, the exception, user, token and policy methods) or through the
// upload handler (which audits uploads and validations), as the acting
// principal.
package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	_ "time/tzdata" // the console's zone on a host without a zone database

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/reconcile"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DefaultZone is the time zone pages show times in unless configured.
const DefaultZone = "Europe/Moscow"

// DefaultThreeDSWindow is how long a transfer's 3-D Secure page stays
// open after the bank asked for it: unopened, the transfer fails after
// 15 minutes (the sandbox's timeout; the bank's pages give no figure).
const DefaultThreeDSWindow = 15 * time.Minute

// Config configures the console.
type Config struct {
	Ledger *ledger.Service
	// Uploads is the upload handler (ingest.NewHandler): the console posts
	// its forms to it as POST /batches/validate and POST /batches, as the
	// signed-in person.
	Uploads http.Handler
	// Zone is the time zone times are shown in (default DefaultZone).
	Zone *time.Location
	// ThreeDSWindow: see DefaultThreeDSWindow.
	ThreeDSWindow time.Duration
	// Secure marks the language cookie Secure (HTTPS).
	Secure bool
	// TempDir holds the encrypted spool of an errors-file validation.
	TempDir string
	Logger  *slog.Logger
	Now     func() time.Time
	// Links issues recipient links for widget rows (internal/recipient);
	// nil: the batch page offers none.
	Links LinkIssuer
}

// LinkIssuer issues a recipient link for a row as p (recipient.Handler).
type LinkIssuer interface {
	Issue(ctx context.Context, p *auth.Principal, batch string, row int) (url string, expires time.Time, err error)
}

// LoadZone reads a --time-zone flag's value ("" is DefaultZone).
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultZone
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w (use a name such as Europe/Moscow)", name, err)
	}
	return z, nil
}

// Console serves the pages.
type Console struct {
	cfg    Config
	svc    *ledger.Service
	db     *ledger.DB
	mux    *http.ServeMux
	pages  map[string]*template.Template
	assets map[string]asset
	log    *slog.Logger
	errSem chan struct{} // errors-file validations at once
}

type asset struct {
	body    []byte
	ctype   string
	version string // a hash of the body, for the URL: cached until it changes
}

// New returns the console.
func New(cfg Config) (*Console, error) {
	if cfg.Ledger == nil {
		return nil, fmt.Errorf("console: no ledger")
	}
	if cfg.Zone == nil {
		z, err := LoadZone("")
		if err != nil {
			return nil, err
		}
		cfg.Zone = z
	}
	if cfg.ThreeDSWindow <= 0 {
		cfg.ThreeDSWindow = DefaultThreeDSWindow
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{cfg: cfg, svc: cfg.Ledger, db: cfg.Ledger.DB(), mux: http.NewServeMux(), log: cfg.Logger,
		errSem: make(chan struct{}, 2)}
	if err := c.loadAssets(); err != nil {
		return nil, err
	}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

func (c *Console) routes() {
	m := c.mux
	m.HandleFunc("GET "+httpapi.ConsoleAssets+"{file}", c.serveAsset)
	m.HandleFunc("GET /{$}", c.batchesPage)
	m.HandleFunc("GET /console/batches", c.batchesPage)
	m.HandleFunc("GET /console/batches/{id}", c.batchPage)
	m.HandleFunc("GET /console/batches/{id}/live", c.batchLive)
	m.HandleFunc("POST /console/batches/{id}/approve", c.decide(true))
	m.HandleFunc("POST /console/batches/{id}/reject", c.decide(false))
	m.HandleFunc("POST /console/batches/{id}/cancel", c.cancel)
	m.HandleFunc("POST /console/batches/{id}/act/{name}", c.act)
	m.HandleFunc("POST /console/batches/{id}/rows/{row}/link", c.issueLink)
	m.HandleFunc("GET /console/upload", c.uploadPage)
	m.HandleFunc("POST /console/upload", c.uploadPost)
	m.HandleFunc("POST /console/upload/errors", c.errorsFile)
	m.HandleFunc("GET /console/exceptions", c.exceptionsPage)
	m.HandleFunc("POST /console/exceptions/{id}/{action}", c.exceptionAction)
	m.HandleFunc("GET /console/admin/users", c.usersPage)
	m.HandleFunc("POST /console/admin/users", c.addUser)
	m.HandleFunc("POST /console/admin/users/{name}/{action}", c.userAction)
	m.HandleFunc("GET /console/admin/tokens", c.tokensPage)
	m.HandleFunc("POST /console/admin/tokens", c.createToken)
	m.HandleFunc("POST /console/admin/tokens/{id}/revoke", c.revokeToken)
	m.HandleFunc("GET /console/admin/policy", c.policyPage)
	m.HandleFunc("POST /console/admin/policy", c.setPolicy)
}

// ServeHTTP serves the console's routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

func (c *Console) loadAssets() error {
	c.assets = map[string]asset{}
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	return fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		c.assets[path.Base(p)] = asset{body: b, ctype: types[path.Ext(p)], version: hex.EncodeToString(sum[:6])}
		return nil
	})
}

// serveAsset serves an embedded file; its URL carries its hash (?v=), so
// it may be cached for a long time.
func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := c.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(a.body)
}

// assetURL is the URL of an embedded file with its version.
func (c *Console) assetURL(name string) string {
	return httpapi.ConsoleAssets + name + "?v=" + c.assets[name].version
}

func (c *Console) parseTemplates() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || base == "parts.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", n)
		if err != nil {
			return fmt.Errorf("console: template %s: %w", base, err)
		}
		c.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

var funcs = template.FuncMap{
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"pct": func(part, whole int) string {
		if whole <= 0 {
			return "0"
		}
		return fmt.Sprintf("%.2f", 100*float64(part)/float64(whole)) // a bar's width, not money
	},
}

// view is what every page template gets: the language, the principal, the
// zone, and the page's own data.
type view struct {
	L      Lang
	P      *auth.Principal
	c      *Console
	Title  string
	Nav    string // the menu item of the page
	Notice string // a catalogue key: what the last action did
	Err    *pageError
	Path   string // the page's path and query, for the language switch
	Data   any
	// Fragment: only a part of the page is rendered (for its script).
	Fragment bool
}

// pageError is a refusal or failure shown on a page: the heading in the
// page's language, the ledger's own words as detail.
type pageError struct {
	Key    string // catalogue key of the heading
	Detail string
}

// T translates a catalogue key (see Lang.T).
func (v *view) T(key string, args ...any) string { return v.L.T(key, args...) }

// Category is an exception category's label in the view's language, from
// the one catalogue (internal/reason).
func (v *view) Category(c reconcile.Category) string {
	if e, ok := reason.Lookup(reason.Exception, string(c)); ok {
		return e.Reason.In(string(v.L))
	}
	return string(c)
}

// Money formats an amount.
func (v *view) Money(a any) string {
	switch x := a.(type) {
	case moneyAmount:
		return FormatMoney(v.L, x)
	case *moneyAmount:
		if x == nil {
			return ""
		}
		return FormatMoney(v.L, *x)
	}
	return fmt.Sprint(a)
}

// Totals formats totals per currency.
func (v *view) Totals(t moneyTotals) []string { return FormatTotals(v.L, t) }

// Time formats a time in the console's zone ("" for none).
func (v *view) Time(t any) string {
	switch x := t.(type) {
	case time.Time:
		return FormatTime(v.L, x, v.c.cfg.Zone)
	case *time.Time:
		if x == nil {
			return ""
		}
		return FormatTime(v.L, *x, v.c.cfg.Zone)
	}
	return ""
}

// ISO is a time as RFC 3339 (the datetime of a <time> element).
func (v *view) ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Age is how long ago t was.
func (v *view) Age(t time.Time) string { return FormatAge(v.L, v.c.cfg.Now().Sub(t)) }

// Can reports whether the principal may do perm.
func (v *view) Can(perm string) bool { return v.P.Can(auth.Permission(perm)) }

// Asset is the versioned URL of an embedded file.
func (v *view) Asset(name string) string { return v.c.assetURL(name) }

// LangURL is the page's URL in the other language.
func (v *view) LangURL() string {
	u, err := url.Parse(v.Path)
	if err != nil {
		u = &url.URL{Path: "/"}
	}
	q := u.Query()
	// The page's query comes back in the link: never a card number
	// someone typed into a filter.
	for _, vs := range q {
		for i := range vs {
			vs[i] = maskEcho(vs[i])
		}
	}
	q.Set("lang", string(v.L.Other()))
	u.RawQuery = q.Encode()
	segs := strings.Split(u.Path, "/")
	for i := range segs {
		segs[i] = maskEcho(segs[i])
	}
	u.Path, u.RawPath = strings.Join(segs, "/"), ""
	return u.RequestURI()
}

// maskEcho is text a person typed, as a page shows it back: card numbers
// masked, but a batch id as it is (twenty hex digits may hold a run of
// decimal ones that passes the Luhn check; it is ours, not a card).
func maskEcho(s string) string {
	if payout.ValidBatchID(s) {
		return s
	}
	return cardmask.Redact(s)
}

// Zone names the console's time zone.
func (v *view) Zone() string { return v.c.cfg.Zone.String() }

func (c *Console) newView(w http.ResponseWriter, r *http.Request, nav, title string) *view {
	l := requestLang(w, r, c.cfg.Secure)
	v := &view{L: l, P: auth.PrincipalFrom(r.Context()), c: c, Nav: nav, Title: title, Path: r.URL.RequestURI()}
	if k := r.URL.Query().Get("done"); k != "" && l.Has("done."+k) {
		v.Notice = "done." + k
	}
	return v
}

// render answers a page, or with ?fragment (or the X-Console-Fragment
// header the JavaScript sends) only its named block.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t, ok := c.pages[page]
	if !ok {
		httpapi.Error(w, r, c.log, fmt.Errorf("console: no page %s", page))
		return
	}
	name := "layout"
	if f := r.Header.Get("X-Console-Fragment"); f != "" && t.Lookup(f) != nil {
		name, v.Fragment = f, true
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		c.log.Error("render page", "page", page, "error", logText(err))
		httpapi.Error(w, r, c.log, fmt.Errorf("render %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", string(v.L))
	w.Header().Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// fail shows an error page for err: not found, a refusal, or an internal
// error (logged; the page says only that something went wrong).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	e := ledgerapi.AsError(err)
	status := httpapi.Status(e.Code)
	if e.Code == ledgerapi.CodeInternal {
		c.log.Error("console request failed", "method", r.Method, "path", httpapi.LogPath(r.URL.Path), "error", logText(err))
	}
	v.Err = errorFor(err)
	if v.Title == "" {
		v.Title = v.L.T("error.title")
	}
	c.render(w, r, status, "error", v)
}

// logText is an error as a log line carries it: through the card masker
// (an internal error may wrap a bank's message or a value someone typed).
func logText(err error) string { return cardmask.Redact(err.Error()) }

// errorFor turns an error into what a page shows: a heading per code in
// the page's language, and the ledger's message (English, card numbers
// masked) as the detail; an internal error's detail is never shown.
func errorFor(err error) *pageError {
	e := ledgerapi.AsError(err)
	key := "error." + string(e.Code)
	if _, ok := catalogue[key]; !ok {
		key = "error.internal"
	}
	pe := &pageError{Key: key}
	if e.Code != ledgerapi.CodeInternal {
		// The message may echo what was typed (a filter, a reason), as
		// the API's answer does (httpapi.Error): masked.
		pe.Detail = cardmask.Redact(ledgerapi.ErrorMessage(err))
	}
	return pe
}

// back redirects to a local path (a form's "back" field, else fallback)
// with ?done=key.
func back(w http.ResponseWriter, r *http.Request, fallback, key string) {
	to := r.PostFormValue("back")
	if !strings.HasPrefix(to, "/") || strings.HasPrefix(to, "//") || strings.ContainsAny(to, "\\\r\n") {
		to = fallback
	}
	u, err := url.Parse(to)
	if err != nil {
		u = &url.URL{Path: fallback}
	}
	q := u.Query()
	q.Del("lang")
	if key != "" {
		q.Set("done", key)
	} else {
		q.Del("done")
	}
	u.RawQuery = q.Encode()
	if r.Header.Get("X-Console-Fragment") != "" {
		w.Header().Set("X-Console-Location", u.RequestURI())
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
}

// actor is the acting principal as the ledger records it.
func actor(r *http.Request) auth.Actor { return auth.PrincipalFrom(r.Context()).Actor() }

// parseForm reads a small form (urlencoded or multipart).
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
		return ledgerapi.Errorf(ledgerapi.CodeInvalid, "the form cannot be read: %v", err)
	}
	return nil
}

// ctxTimeout bounds a page's reads.
func ctxTimeout(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}
