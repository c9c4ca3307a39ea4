// Package httpapi is payrun's HTTP API: the routes payrun serves, who may
// call each of them, and the one error answer every one of them gives.
//
// Routes (Table; `payrun up` serves the webhooks and health checks on the
// bank's listener and the others on people's, `ledger run --http` all but
// the webhooks; cmd/hookrelay serves the webhooks alone):
//
//	POST /webhooks/bank131        public: verified by the bank's signature (internal/hookrelay)
//	GET  /healthz, /readyz        public: liveness, NATS connection
//	GET  /signin                  public: the sign-in form; POST /signin signs in (form or JSON)
//	POST /signout                 ends the session
//	GET  /session                 who the request acts as
//	GET  /                        a page: signed-in landing, the console's batches (anonymous: redirect to /signin)
//	GET|POST /console/…           the web console's pages and forms (internal/console; Table names each)
//	GET  /console/static/{file}   public: the console's CSS, JavaScript and icon
//	POST /batches                 upload: validate and publish a payout file (internal/ingest)
//	POST /batches/validate        validate only (internal/ingest)
//	GET  /templates/{method}.csv|.xlsx   validate: a payout file template (internal/ingest)
//	GET  /batches, /batches/{id}, /batches/{id}/report.csv|-summary.csv|.xlsx|.json (?lang, ?dialect),
//	     /batches/{id}/transfers, /exceptions   read (internal/ledger)
//	GET  /batches/{id}/approvals  read: the checkers' decisions
//	POST /batches/{id}/approve    approve: bound to the file SHA-256 and totals shown
//	POST /batches/{id}/reject     approve: reject with a reason
//	POST /batches/{id}/cancel     cancel (makers: their own batches)
//	GET  /batches/{id}/held|decisions   read: rows the duplicate guard held; decisions taken (internal/ledger)
//	POST /batches/{id}/hold|resume      hold (makers: their own batches)
//	POST /batches/{id}/resubmit         resubmit: a child batch of the failed rows
//	POST /batches/{id}/rows/{row}/cancel|hold|resume   cancel, hold: one row
//	POST /batches/{id}/rows/{row}/release|drop         release_held: a row the duplicate guard held
//	POST /batches/{id}/rows/{row}/link                 upload: a recipient link for a widget row (internal/recipient)
//	GET  /r/{token}, POST /r/{token}/card, GET /r/static/{file}   public: a recipient's page, scoped to the link's signed token (internal/recipient)
//	POST /reports/bank            import_report: the bank's daily report
//	GET  /audit                   audit: the audit log (?batch, ?since, ?format=csv|json)
//	GET  /policy                  read; PUT /policy admin: a new version
//	GET|POST /users, POST /users/{name}/disable|enable|password|roles   admin
//	GET|POST /tokens, POST /tokens/{id}/revoke                           admin
//	GET  /metrics                 read: Prometheus metrics
//
// Every route but the public ones passes the Guard: security headers, the
// Host allowlist, cross-origin protection, a session or a token, and the
// route's permission (401 anonymous, 403 not allowed). An unknown path is
// 401 to anonymous and 404 to a signed-in principal.
//
// An error is answered as {"error":{"code":"…","message":"…"}} with the
// status of its ledgerapi.Code (Status). The message is the error's own for
// an application error (*ledgerapi.Error: invalid input, not found, …);
// anything else is answered "internal error" with status 500 and logged in
// full.
package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// Routes are the handlers of payrun's routes; Handler mounts them on one
// mux. A nil handler leaves its routes out.
type Routes struct {
	Webhooks http.Handler // POST /webhooks/bank131, GET /healthz, GET /readyz
	Uploads  http.Handler // POST /batches, POST /batches/validate, GET /templates/…
	Reports  http.Handler // GET /batches, /batches/…, /exceptions
	Commands http.Handler // approvals, cancel, the bank's report, audit, policy, users, tokens (ledger.NewCommandHandler)
	// Decisions are the decisions people take on batches and rows
	// (hold, resume, resubmit, a row's cancel, hold, resume, release,
	// drop: ledger.NewHTTPHandler WithService).
	Decisions http.Handler
	Metrics   http.Handler // GET /metrics
	Pages     http.Handler // GET / and the console's pages; default a minimal signed-in page
	// Recipient serves recipient links (internal/recipient): the maker's
	// POST /batches/{id}/rows/{row}/link and the recipient's public page,
	// which only its link's signed token opens.
	Recipient http.Handler
	// Guard authenticates and authorizes every route but the public ones.
	// Without one those routes answer 401: nothing is served unguarded.
	Guard *Guard
}

// WebhookPath is where the bank posts webhooks (hookrelay.Path).
const WebhookPath = "/webhooks/bank131"

// Route is one row of the route table.
type Route struct {
	Pattern string
	Perm    auth.Permission // "" for the session routes every principal may use
	Page    bool            // anonymous browsers are redirected to the sign-in form
	handler func(Routes) http.Handler
}

func uploads(r Routes) http.Handler   { return r.Uploads }
func reports(r Routes) http.Handler   { return r.Reports }
func commands(r Routes) http.Handler  { return r.Commands }
func metricsH(r Routes) http.Handler  { return r.Metrics }
func decisions(r Routes) http.Handler { return r.Decisions }
func recipient(r Routes) http.Handler { return r.Recipient }
func pages(r Routes) http.Handler {
	if r.Pages != nil {
		return r.Pages
	}
	return landing
}

// Table is every guarded route and the permission it needs.
var Table = []Route{
	{"POST /batches", auth.PermUpload, false, uploads},
	{"POST /batches/validate", auth.PermValidate, false, uploads},
	{"GET /templates/{file}", auth.PermValidate, false, uploads},
	{"GET /batches", auth.PermRead, false, reports},
	{"GET /batches/{id}", auth.PermRead, false, reports},
	{"GET /batches/{id}/report.csv", auth.PermRead, false, reports},
	{"GET /batches/{id}/report.xlsx", auth.PermRead, false, reports},
	{"GET /batches/{id}/report.json", auth.PermRead, false, reports},
	{"GET /batches/{id}/report-summary.csv", auth.PermRead, false, reports},
	{"GET /batches/{id}/transfers", auth.PermRead, false, reports},
	{"GET /exceptions", auth.PermRead, false, reports},
	{"GET /batches/{id}/approvals", auth.PermRead, false, commands},
	{"POST /batches/{id}/approve", auth.PermApprove, false, commands},
	{"POST /batches/{id}/reject", auth.PermApprove, false, commands},
	{"POST /batches/{id}/cancel", auth.PermCancel, false, commands},
	{"GET /batches/{id}/held", auth.PermRead, false, reports},
	{"GET /batches/{id}/decisions", auth.PermRead, false, reports},
	{"POST /batches/{id}/hold", auth.PermHold, false, decisions},
	{"POST /batches/{id}/resume", auth.PermHold, false, decisions},
	{"POST /batches/{id}/resubmit", auth.PermResubmit, false, decisions},
	{"POST /batches/{id}/rows/{row}/cancel", auth.PermCancel, false, decisions},
	{"POST /batches/{id}/rows/{row}/hold", auth.PermHold, false, decisions},
	{"POST /batches/{id}/rows/{row}/resume", auth.PermHold, false, decisions},
	{"POST /batches/{id}/rows/{row}/release", auth.PermReleaseHeld, false, decisions},
	{"POST /batches/{id}/rows/{row}/drop", auth.PermReleaseHeld, false, decisions},
	{"POST /batches/{id}/rows/{row}/link", auth.PermUpload, false, recipient},
	// A recipient's page: public, but it shows and does nothing without
	// its link's signed, expiring, single-use token, and then only that
	// row's card capture.
	{"GET /r/{token}", PermPublic, false, recipient},
	{"POST /r/{token}/card", PermPublic, false, recipient},
	{"GET /r/static/{file}", PermPublic, false, recipient},
	{"POST /reports/bank", auth.PermImportReport, false, commands},
	{"GET /audit", auth.PermAudit, false, commands},
	{"GET /policy", auth.PermRead, false, commands},
	{"PUT /policy", auth.PermAdmin, false, commands},
	{"GET /users", auth.PermAdmin, false, commands},
	{"POST /users", auth.PermAdmin, false, commands},
	{"POST /users/{name}/disable", auth.PermAdmin, false, commands},
	{"POST /users/{name}/enable", auth.PermAdmin, false, commands},
	{"POST /users/{name}/roles", auth.PermAdmin, false, commands},
	{"GET /tokens", auth.PermAdmin, false, commands},
	{"POST /tokens", auth.PermAdmin, false, commands},
	{"POST /tokens/{id}/revoke", auth.PermAdmin, false, commands},
	{"GET /metrics", auth.PermRead, false, metricsH},
	{"GET /{$}", auth.PermRead, true, pages},
	// The console (internal/console): pages redirect anonymous browsers
	// to the sign-in form; its assets are public (the sign-in page needs
	// them); every action is a form post, which the console also checks
	// against the principal where a page serves several roles.
	{"GET " + ConsoleAssets + "{file}", PermPublic, false, pages},
	{"GET /console/batches", auth.PermRead, true, pages},
	{"GET /console/batches/{id}", auth.PermRead, true, pages},
	{"GET /console/batches/{id}/live", auth.PermRead, false, pages},
	{"POST /console/batches/{id}/approve", auth.PermApprove, true, pages},
	{"POST /console/batches/{id}/reject", auth.PermApprove, true, pages},
	{"POST /console/batches/{id}/cancel", auth.PermCancel, true, pages},
	// Issue 11's batch and row actions (hold, resume, release or drop a
	// held row, resubmit failed rows): console.BatchActions/RowActions
	// name each with its permission, which the console checks (and the
	// ledger again) before it acts.
	{"POST /console/batches/{id}/act/{name}", auth.PermRead, true, pages},
	{"POST /console/batches/{id}/rows/{row}/link", auth.PermUpload, true, pages},
	{"GET /console/upload", auth.PermValidate, true, pages},
	{"POST /console/upload", auth.PermValidate, true, pages},
	{"POST /console/upload/errors", auth.PermValidate, true, pages},
	{"GET /console/exceptions", auth.PermRead, true, pages},
	{"POST /console/exceptions/{id}/{action}", auth.PermExceptions, true, pages},
	{"GET /console/admin/users", auth.PermAdmin, true, pages},
	{"POST /console/admin/users", auth.PermAdmin, true, pages},
	{"POST /console/admin/users/{name}/{action}", auth.PermAdmin, true, pages},
	{"GET /console/admin/tokens", auth.PermAdmin, true, pages},
	{"POST /console/admin/tokens", auth.PermAdmin, true, pages},
	{"POST /console/admin/tokens/{id}/revoke", auth.PermAdmin, true, pages},
	{"GET /console/admin/policy", auth.PermAdmin, true, pages},
	{"POST /console/admin/policy", auth.PermAdmin, true, pages},
}

// PermPublic marks the routes anyone may call, signed in or not, behind
// the guard's headers, Host allowlist and cross-origin protection: the
// console's static assets, which the sign-in page needs, and a
// recipient's page, which its link's token scopes. It is not a
// permission any role holds.
const PermPublic auth.Permission = "public"

// ConsoleAssets is where the console's embedded CSS, JavaScript and icon
// are served.
const ConsoleAssets = "/console/static/"

// Handler returns the mux serving the routes.
func (r Routes) Handler() http.Handler {
	public := http.NewServeMux()
	if r.Webhooks != nil {
		for _, p := range []string{"POST " + WebhookPath, "GET /healthz", "GET /readyz"} {
			public.Handle(p, r.Webhooks)
		}
	} else {
		public.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("ok\n"))
		})
	}
	g := r.Guard
	if g == nil {
		public.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			Error(w, req, nil, ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "this listener has no authentication configured"))
		}))
		return public
	}
	guarded := http.NewServeMux()
	for _, rt := range Table {
		h := rt.handler(r)
		if h == nil {
			continue
		}
		switch {
		case rt.Perm == PermPublic:
			guarded.Handle(rt.Pattern, h)
		case rt.Page:
			guarded.Handle(rt.Pattern, g.Page(rt.Perm, h))
		default:
			guarded.Handle(rt.Pattern, g.API(rt.Perm, h))
		}
	}
	guarded.Handle("GET "+SignInPath, g.SignInForm())
	guarded.Handle("POST "+SignInPath, g.SignIn())
	guarded.Handle("POST "+SignOutPath, g.SignOut())
	guarded.Handle("GET "+SessionPath, g.API(auth.PermRead, g.WhoAmI()))
	guarded.Handle("/", g.API(auth.PermRead, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		Error(w, req, nil, ledgerapi.Errorf(ledgerapi.CodeNotFound, "no such route: %s %s", req.Method, req.URL.Path))
	})))
	public.Handle("/", g.Wrap(guarded))
	return public
}

// statuses maps codes to HTTP statuses; a code not listed is 500.
var statuses = map[ledgerapi.Code]int{
	ledgerapi.CodeInvalid:        http.StatusBadRequest,
	ledgerapi.CodeUnauthorized:   http.StatusUnauthorized,
	ledgerapi.CodeForbidden:      http.StatusForbidden,
	ledgerapi.CodeRateLimited:    http.StatusTooManyRequests,
	ledgerapi.CodeNotFound:       http.StatusNotFound,
	ledgerapi.CodeConflict:       http.StatusConflict,
	ledgerapi.CodeIllegal:        http.StatusConflict,
	ledgerapi.CodeStale:          http.StatusConflict,
	ledgerapi.CodeForeignSession: http.StatusConflict,
	ledgerapi.CodeTooLarge:       http.StatusRequestEntityTooLarge,
	ledgerapi.CodeUnavailable:    http.StatusServiceUnavailable,
	ledgerapi.CodeTooMany:        http.StatusTooManyRequests,
	ledgerapi.CodeTimeout:        http.StatusRequestTimeout,
	ledgerapi.CodeInternal:       http.StatusInternalServerError,
}

// Status is the HTTP status of an error code.
func Status(code ledgerapi.Code) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error *ledgerapi.Error `json:"error"`
}

// Error answers err: {"error":{"code","message"}} with the status of its
// code. An internal error (any error that carries no *ledgerapi.Error, or
// one with CodeInternal) is logged in full with the request's method and
// path, and its answer says only "internal error".
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e := ledgerapi.AsError(err)
	if e.Code == ledgerapi.CodeInternal {
		if log == nil {
			log = slog.Default()
		}
		log.Error("HTTP request failed", "method", r.Method, "path", LogPath(r.URL.Path),
			"error", cardmask.Redact(err.Error()))
	}
	// The message may echo the request (a path, a field, a value): masked.
	WriteJSON(w, Status(e.Code), errorBody{&ledgerapi.Error{Code: e.Code, Message: cardmask.Redact(e.Message)}}, log)
}

// internalBody is the answer when a reply cannot be encoded.
const internalBody = `{"error":{"code":"internal","message":"internal error"}}`

// WriteJSON answers v as indented JSON with status; the answer is never
// cached or sniffed as another type. If v cannot be encoded, the answer
// is a 500 internal error (logged).
func WriteJSON(w http.ResponseWriter, status int, v any, log *slog.Logger) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		if log == nil {
			log = slog.Default()
		}
		log.Error("encode HTTP reply", "error", err)
		status, body = http.StatusInternalServerError, []byte(internalBody)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
