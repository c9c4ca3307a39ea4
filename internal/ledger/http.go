package ledger

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/report"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// WithAudit records every report download in the audit log through
// audit (Service.Audit): who, which batch, which file, how it ended.
// Without it a handler WithService records them through the service; a
// read-only handler without either records none (tests only: apiserver
// gives both of its handlers one).
func WithAudit(audit func(context.Context, auth.Entry) error) HTTPOption {
	return func(h *httpHandler) { h.audit = audit }
}

// HTTPOption configures NewHTTPHandler.
type HTTPOption func(*httpHandler)

// WithHTTPLogger sets the logger for failed requests (default slog.Default()).
func WithHTTPLogger(l *slog.Logger) HTTPOption {
	return func(h *httpHandler) { h.log = l }
}

type httpHandler struct {
	db    *DB
	log   *slog.Logger
	svc   *Service // decisions; nil: read-only
	actor Actor
	audit func(context.Context, auth.Entry) error // downloads' entries; nil: svc's, else none

	reports    chan struct{} // a slot per report being built and sent
	reportWait time.Duration
}

// Report downloads built at once, and how long a download waits for a
// slot before it is answered 503 with Retry-After (DefaultReportSlots,
// DefaultReportWait; WithReportSlots).
const (
	DefaultReportSlots = 1
	DefaultReportWait  = time.Minute
)

// reportRetryAfter is the Retry-After of a download refused for want of a
// slot, in seconds.
const reportRetryAfter = 10

// WithReportSlots bounds the reports built and sent at once to n (each
// reads and reconciles its batch and holds what a format's writer needs;
// a 100k-row report is ~1 s of one core): a download beyond them waits up
// to wait for a slot, in arrival order as the slots free, and is then
// answered 503 unavailable with Retry-After. n < 1 keeps the default.
func WithReportSlots(n int, wait time.Duration) HTTPOption {
	return func(h *httpHandler) {
		if n >= 1 {
			h.reports = make(chan struct{}, n)
		}
		if wait >= 0 {
			h.reportWait = wait
		}
	}
}

// NewHTTPHandler serves the ledger's batches and reports over HTTP. Without
// WithService it only reads (the read pool), so it works on a database
// opened with OpenReadOnly as well as on the running ledger's. Routes:
//
//	GET /batches                           JSON list of batch summaries, newest first (?limit=N, default 100)
//	GET /batches/{id}                      JSON: the batch summary, the report's summary and reconciliation counts, the transfers waiting for 3-D Secure (no other rows)
//	GET /batches/{id}/report.csv           the report's rows as a CSV download
//	GET /batches/{id}/report-summary.csv   the report's summary as a CSV download
//	GET /batches/{id}/report.xlsx          the report as an XLSX download (sheets Rows and Summary)
//	GET /batches/{id}/report.json          the report as a JSON download
//	GET /batches/{id}/transfers            JSON: the batch's transfer rows as the report has them (FX, commission, TCN, 3-D Secure link and expiry)
//	GET /exceptions                        open exceptions (?batch=ID, ?all=1 for closed ones too)
//	GET /batches/{id}/held                 rows the duplicate guard held, with the decisions about them
//	GET /batches/{id}/decisions            every decision taken on the batch, with who and why
//
// The report routes and /batches/{id} take ?lang=ru|en, the language of the
// report's words and headers (default: Russian when Accept-Language prefers
// it, else English), and the CSV ones ?dialect=excel-ru|rfc4180 (also
// ?csv_dialect=, as the template download; default: excel-ru for Russian,
// rfc4180 for English; report.DefaultDialect). The links of /batches/{id}
// carry a ?lang= it was given.
//
// With WithService it also serves the decisions of people (http_decide.go:
// POST /batches/{id}/approve|cancel|hold|resume|resubmit and
// POST /batches/{id}/rows/{row}/cancel|hold|resume|release|drop).
//
// Errors are httpapi's one answer: an unknown batch is 404
// {"error":{"code":"not_found","message":…}}, a bad ?lang or ?dialect 400.
// Mount it under a prefix with http.StripPrefix.
func NewHTTPHandler(db *DB, opts ...HTTPOption) http.Handler {
	_, mux := newHTTPHandler(db, opts...)
	return mux
}

func newHTTPHandler(db *DB, opts ...HTTPOption) (*httpHandler, *http.ServeMux) {
	h := &httpHandler{db: db, log: slog.Default(), reportWait: DefaultReportWait}
	for _, o := range opts {
		o(h)
	}
	if h.reports == nil {
		h.reports = make(chan struct{}, DefaultReportSlots)
	}
	if h.audit == nil && h.svc != nil {
		h.audit = h.svc.Audit
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /batches", h.batches)
	mux.HandleFunc("GET /batches/{id}", h.batch)
	for _, f := range report.Formats {
		mux.HandleFunc("GET /batches/{id}/"+ReportPath(f), h.report(f))
	}
	mux.HandleFunc("GET /batches/{id}/transfers", h.transfers)
	mux.HandleFunc("GET /exceptions", h.exceptions)
	h.decisionRoutes(mux)
	return h, mux
}

// ReportPath is the last part of a report's download path in format:
// report.csv, report-summary.csv, report.xlsx, report.json.
func ReportPath(format string) string {
	if format == report.FormatSummaryCSV {
		return "report-summary.csv"
	}
	return "report." + format
}

// langMatcher picks a report's language from Accept-Language.
var langMatcher = language.NewMatcher([]language.Tag{language.English, language.Russian})

// reportLang is the language a request asks for: ?lang=ru|en, else the
// Accept-Language header's choice between English and Russian.
func reportLang(r *http.Request) (string, error) {
	if v := r.URL.Query().Get("lang"); v != "" {
		switch l := strings.ToLower(strings.TrimSpace(v)); l {
		case reason.English, reason.Russian:
			return l, nil
		}
		return "", ledgerapi.Errorf(ledgerapi.CodeInvalid, "lang %q: use ru or en", cardmask.Redact(v))
	}
	if accept := r.Header.Get("Accept-Language"); accept != "" {
		tags, _, err := language.ParseAcceptLanguage(accept)
		if err == nil && len(tags) > 0 {
			tag, _, conf := langMatcher.Match(tags...)
			if base, _ := tag.Base(); conf != language.No && base.String() == reason.Russian {
				return reason.Russian, nil
			}
		}
	}
	return reason.English, nil
}

// reportLayout is the layout a request asks for: ?dialect=excel-ru|rfc4180
// (or ?csv_dialect=, the template download's name for it; default: the
// language's).
func reportLayout(r *http.Request) (report.Layout, error) {
	var l report.Layout
	q := r.URL.Query()
	v := q.Get("dialect")
	if v == "" {
		v = q.Get("csv_dialect")
	}
	if v != "" {
		d, err := spreadsheet.ParseDialect(v)
		if err != nil {
			return l, ledgerapi.Errorf(ledgerapi.CodeInvalid, "%s", cardmask.Redact(err.Error()))
		}
		l.Dialect = d
	}
	return l, nil
}

func (h *httpHandler) writeJSON(w http.ResponseWriter, status int, v any) {
	httpapi.WriteJSON(w, status, v, h.log)
}

// fail answers an error the one way every payrun route does
// (httpapi.Error): not found 404, invalid 400, else 500 (logged).
func (h *httpHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.Error(w, r, h.log, err)
}

// batchID reads and checks the {id} of the path; a malformed id is
// answered as not found without touching the database.
func (h *httpHandler) batchID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !payout.ValidBatchID(id) {
		h.fail(w, r, fmt.Errorf("batch %s: %w", strconv.Quote(cardmask.Redact(id)), errNotFound))
		return "", false
	}
	return id, true
}

func (h *httpHandler) batches(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeInvalid, "limit must be a positive number"))
			return
		}
		limit = n
	}
	list, err := h.db.Batches(r.Context(), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []ledgerapi.BatchSummary{}
	}
	h.writeJSON(w, http.StatusOK, struct {
		Batches []ledgerapi.BatchSummary `json:"batches"`
	}{list})
}

// BatchDetail is the answer of GET /batches/{id}.
type BatchDetail struct {
	Batch   *ledgerapi.BatchSummary `json:"batch"`
	AsOf    string                  `json:"as_of"`
	Lang    string                  `json:"lang"`
	Summary report.Summary          `json:"summary"`
	Reports map[string]string       `json:"reports"` // format → download path
	// ActionRequired are the transfers waiting for their sender's 3-D
	// Secure (the link, its expiry and the TCN are on each), at most
	// maxActionRequired; ActionRequiredRows counts them all.
	ActionRequired     []report.Row `json:"action_required"`
	ActionRequiredRows int          `json:"action_required_rows"`
}

// maxActionRequired bounds the rows BatchDetail lists.
const maxActionRequired = 100

func (h *httpHandler) batch(w http.ResponseWriter, r *http.Request) {
	id, ok := h.batchID(w, r)
	if !ok {
		return
	}
	lang, err := reportLang(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The summary and the rows waiting for 3-D Secure, streamed from the
	// ledger (DB.ReportSource): a few chunks of rows held, not the batch.
	actionRows, actionRequired := 0, []report.Row{}
	rep, sum, err := h.db.reportSummary(r.Context(), id, lang, func(row *report.Row) error {
		if row.Status == string(payout.StateActionRequired) {
			actionRows++
			if len(actionRequired) < maxActionRequired {
				actionRequired = append(actionRequired, *row)
			}
		}
		return nil
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The links ask for the language a ?lang= asked for; one from
	// Accept-Language the client sends again itself.
	query := ""
	if r.URL.Query().Get("lang") != "" {
		query = "?lang=" + lang
	}
	links := map[string]string{}
	for _, f := range report.Formats {
		links[f] = "batches/" + id + "/" + ReportPath(f) + query
	}
	links["transfers"] = "batches/" + id + "/transfers" + query
	d := BatchDetail{Batch: sum, AsOf: rep.AsOf, Lang: rep.Lang, Summary: rep.Summary, Reports: links,
		ActionRequired: actionRequired, ActionRequiredRows: actionRows}
	h.writeJSON(w, http.StatusOK, d)
}

var reportTypes = map[string]string{
	report.FormatCSV:        "text/csv; charset=utf-8; header=present",
	report.FormatSummaryCSV: "text/csv; charset=utf-8; header=present",
	report.FormatJSON:       "application/json; charset=utf-8",
	report.FormatXLSX:       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

func (h *httpHandler) report(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := h.batchID(w, r)
		if !ok {
			return
		}
		lang, err := reportLang(r)
		if err == nil {
			var l report.Layout
			if l, err = reportLayout(r); err == nil {
				h.writeReport(w, r, id, format, lang, l)
				return
			}
		}
		h.failDownload(w, r, id, ReportPath(format), "", err)
	}
}

// downloadEntry is the audit entry of a download of file (about batch,
// when not "") by the request's principal.
func downloadEntry(r *http.Request, batch, file, detail string, outcome auth.Outcome) auth.Entry {
	var a auth.Actor
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		a = p.Actor()
	}
	e := auth.NewEntry(a, auth.ActDownload, outcome)
	e.Batch, e.Target, e.Detail = batch, file, detail
	return e
}

// auditDownload records a download (ok: before its first byte is sent; a
// failure to record refuses it, so nothing is sent unrecorded) or a
// download refused or failed (err: the answer says why; a failure to
// record it is logged).
func (h *httpHandler) auditDownload(r *http.Request, batch, file, detail string, err error) error {
	if h.audit == nil {
		return nil
	}
	outcome := auth.OutcomeOK
	if err != nil {
		outcome, detail = auth.OutcomeRefused, strings.TrimPrefix(detail+"; "+ledgerapi.ErrorMessage(err), "; ")
		if ledgerapi.ErrorCode(err) == ledgerapi.CodeInternal {
			outcome = auth.OutcomeFailed
		}
	}
	// The request's context may be ending (the client left mid-download);
	// the entry is written all the same.
	ctx := context.WithoutCancel(r.Context())
	aerr := h.audit(ctx, downloadEntry(r, batch, file, detail, outcome))
	if aerr != nil {
		if err != nil {
			h.log.Error("audit a download", logkey.Batch, batch, "file", file, logkey.Error, cardmask.Redact(aerr.Error()))
		}
		return fmt.Errorf("record the download in the audit log: %w", aerr)
	}
	return nil
}

// failDownload answers a download refused or failed before its first
// byte, and records it.
func (h *httpHandler) failDownload(w http.ResponseWriter, r *http.Request, batch, file, detail string, err error) {
	h.auditDownload(r, batch, file, detail, err)
	h.fail(w, r, err)
}

func (h *httpHandler) writeReport(w http.ResponseWriter, r *http.Request, id, format, lang string, l report.Layout) {
	file := ReportPath(format)
	detail := "lang " + lang
	if format == report.FormatCSV || format == report.FormatSummaryCSV {
		d := l.Dialect
		if d == "" {
			d = report.DefaultDialect(lang)
		}
		detail += ", dialect " + string(d)
	}
	if !h.reportSlot(w, r, id, file, detail) {
		return
	}
	defer func() { <-h.reports }()
	// Streamed from the ledger as it is written (DB.ReportSource: a few
	// chunks of rows held, whatever the batch's size), never held whole:
	// a failure before the first byte is a clean 500; one after it aborts
	// the response (no final chunk), so a client never takes half a
	// report for a whole one.
	src, done, err := h.db.ReportSource(r.Context(), id, lang)
	if err != nil {
		h.failDownload(w, r, id, file, detail, err)
		return
	}
	defer done()
	if err := h.auditDownload(r, id, file, detail, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", reportTypes[format])
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": src.FileName(format)}))
	w.Header().Set("Content-Language", src.Lang)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Accept-Language")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	sw := &sentWriter{w: w}
	bw := bufio.NewWriterSize(sw, 64<<10)
	err = src.WriteLayout(bw, format, l)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		return
	}
	if !sw.sent {
		for _, k := range []string{"Content-Disposition", "Content-Language"} {
			w.Header().Del(k)
		}
		h.failDownload(w, r, id, file, detail, err)
		return
	}
	h.log.Error("report download broken off", "batch", id, "format", format, logkey.Error, cardmask.Redact(err.Error()))
	h.auditDownload(r, id, file, detail, fmt.Errorf("broken off after the first byte: %w", err))
	panic(http.ErrAbortHandler)
}

// Transfers is the answer of GET /batches/{id}/transfers.
type Transfers struct {
	Batch     string       `json:"batch"`
	AsOf      string       `json:"as_of"`
	Lang      string       `json:"lang"`
	Transfers []report.Row `json:"transfers"`
}

func (h *httpHandler) transfers(w http.ResponseWriter, r *http.Request) {
	id, ok := h.batchID(w, r)
	if !ok {
		return
	}
	const file = "transfers"
	lang, err := reportLang(r)
	if err != nil {
		h.failDownload(w, r, id, file, "", err)
		return
	}
	detail := "lang " + lang
	if !h.reportSlot(w, r, id, file, detail) {
		return
	}
	defer func() { <-h.reports }()
	src, done, err := h.db.ReportSource(r.Context(), id, lang)
	if err != nil {
		h.failDownload(w, r, id, file, detail, err)
		return
	}
	defer done()
	out := Transfers{Batch: id, Lang: src.Lang, Transfers: []report.Row{}}
	rep, err := src.Rows(nil, func(row *report.Row) error {
		if row.Method == string(payout.MethodTransfer) {
			out.Transfers = append(out.Transfers, *row)
		}
		return nil
	})
	if err != nil {
		h.failDownload(w, r, id, file, detail, err)
		return
	}
	if err := h.auditDownload(r, id, file, detail, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	out.AsOf = rep.AsOf
	w.Header().Set("Vary", "Accept-Language")
	h.writeJSON(w, http.StatusOK, out)
}

// reportSlot takes a slot for a report, waiting up to reportWait; false
// when it answered 503 (recorded as a refused download of file) or the
// client left.
func (h *httpHandler) reportSlot(w http.ResponseWriter, r *http.Request, batch, file, detail string) bool {
	select {
	case h.reports <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(h.reportWait)
	defer t.Stop()
	select {
	case h.reports <- struct{}{}:
		return true
	case <-r.Context().Done():
		return false
	case <-t.C:
		w.Header().Set("Retry-After", strconv.Itoa(reportRetryAfter))
		h.failDownload(w, r, batch, file, detail, ledgerapi.Errorf(ledgerapi.CodeUnavailable, "%d reports are being built; try again in %d seconds", cap(h.reports), reportRetryAfter))
		return false
	}
}

// sentWriter tells whether anything reached the response.
type sentWriter struct {
	w    http.ResponseWriter
	sent bool
}

func (s *sentWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		s.sent = true
	}
	return s.w.Write(p)
}

func (h *httpHandler) exceptions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list, err := h.db.Exceptions(q.Get("batch"), q.Get("all") == "1" || q.Get("all") == "true")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []Exception{}
	}
	h.writeJSON(w, http.StatusOK, struct {
		Exceptions []Exception `json:"exceptions"`
	}{list})
}
