// Package httpapi is payrun's HTTP API: the routes payrun serves and the
// one error answer every one of them gives.
//
// Routes (the all-in-one `payrun up` serves them all on one listener; the
// production commands serve their part):
//
//	POST /webhooks/bank131        Bank 131's webhooks (internal/hookrelay; cmd/hookrelay)
//	GET  /healthz, /readyz        liveness, NATS connection (internal/hookrelay; cmd/hookrelay)
//	POST /batches                 validate and publish a payout file (internal/ingest)
//	POST /batches/validate        validate only (internal/ingest)
//	GET  /batches                 batch summaries (internal/ledger; `ledger run --http`)
//	GET  /batches/{id}            a batch with its report's summary (internal/ledger)
//	GET  /batches/{id}/report.csv|.xlsx|.json   the report (internal/ledger)
//	GET  /exceptions              open exceptions (internal/ledger)
//	GET  /batches/{id}/held|decisions   rows the duplicate guard held; decisions taken (internal/ledger)
//	POST /batches/{id}/approve|cancel|hold|resume|resubmit   a person's decision on a batch (internal/ledger, Decisions)
//	POST /batches/{id}/rows/{row}/cancel|hold|resume|release|drop   a person's decision on a row (internal/ledger, Decisions)
//	GET  /metrics                 Prometheus metrics (internal/metrics; every command's --metrics)
//
// An error is answered as {"error":{"code":"…","message":"…"}} with the
// status of its ledgerapi.Code (Status). The message is the error's own for
// an application error (*ledgerapi.Error: invalid input, not found, …);
// anything else is answered "internal error" with status 500 and logged in
// full.
package httpapi

import (
	"encoding/json"
	"github.com/payrun/payrun/internal/cardmask"
	"log/slog"
	"net/http"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// Routes are the handlers of payrun's routes; Handler mounts them on one
// mux. A nil handler leaves its routes out.
type Routes struct {
	Webhooks http.Handler // POST /webhooks/bank131, GET /healthz, GET /readyz
	Uploads  http.Handler // POST /batches, POST /batches/validate
	Reports  http.Handler // GET /batches, /batches/…, /exceptions
	// Decisions are the decisions people take on batches and rows
	// (POST /batches/{id}/…): where who decides must be known.
	Decisions http.Handler
	Metrics   http.Handler // GET /metrics
}

// WebhookPath is where the bank posts webhooks (hookrelay.Path).
const WebhookPath = "/webhooks/bank131"

// Handler returns the mux serving the routes.
func (r Routes) Handler() http.Handler {
	mux := http.NewServeMux()
	mount := func(h http.Handler, patterns ...string) {
		if h == nil {
			return
		}
		for _, p := range patterns {
			mux.Handle(p, h)
		}
	}
	mount(r.Webhooks, "POST "+WebhookPath, "GET /healthz", "GET /readyz")
	mount(r.Uploads, "POST /batches", "POST /batches/validate")
	mount(r.Reports, "GET /batches", "GET /batches/", "GET /exceptions")
	mount(r.Decisions, "POST /batches/{id}/")
	mount(r.Metrics, "GET /metrics")
	return mux
}

// statuses maps codes to HTTP statuses; a code not listed is 500.
var statuses = map[ledgerapi.Code]int{
	ledgerapi.CodeInvalid:        http.StatusBadRequest,
	ledgerapi.CodeUnauthorized:   http.StatusUnauthorized,
	ledgerapi.CodeNotFound:       http.StatusNotFound,
	ledgerapi.CodeConflict:       http.StatusConflict,
	ledgerapi.CodeIllegal:        http.StatusConflict,
	ledgerapi.CodeStale:          http.StatusConflict,
	ledgerapi.CodeForeignSession: http.StatusConflict,
	ledgerapi.CodeTooLarge:       http.StatusRequestEntityTooLarge,
	ledgerapi.CodeUnavailable:    http.StatusServiceUnavailable,
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
		log.Error("HTTP request failed", "method", r.Method, "path", cardmask.Redact(r.URL.Path),
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
