package ledger

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/spreadsheet"
	"github.com/payrun/payrun/internal/workbook"
)

// commandHandler serves people's commands to the ledger over HTTP.
type commandHandler struct {
	svc *Service
	db  *DB
	log *slog.Logger
}

// NewCommandHandler serves what people ask of the ledger (the routes are
// httpapi's Table, which checks each one's permission before it gets
// here; the ledger checks roles again where it decides):
//
//	GET  /batches/{id}/approvals     the decisions on a batch
//	POST /batches/{id}/approve       {"file_sha256", "totals": {"RUB": minor}}: what the checker was shown
//	POST /batches/{id}/reject        {"reason"}
//	POST /batches/{id}/cancel        {"reason"}
//	POST /reports/bank               the bank's daily report (CSV body; ?name=, ?date= repeatable)
//	GET  /audit                      ?batch=ID &since=RFC3339|YYYY-MM-DD &format=json|csv
//	GET  /policy, PUT /policy        the policy in force (and its versions); a new version
//	GET  /users, POST /users         {"name", "roles": [...], "password"}
//	POST /users/{name}/disable|enable|roles
//	GET  /tokens, POST /tokens       {"user", "name", "roles"}: the token is in the answer, once
//	POST /tokens/{id}/revoke
//
// Forms work as JSON does (field names alike; totals as JSON text), so a
// page without JavaScript can post them.
func NewCommandHandler(svc *Service, opts ...HTTPOption) http.Handler {
	hh := &httpHandler{db: svc.db, log: slog.Default()}
	for _, o := range opts {
		o(hh)
	}
	h := &commandHandler{svc: svc, db: svc.db, log: hh.log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /batches/{id}/approvals", h.approvals)
	mux.HandleFunc("POST /batches/{id}/approve", h.decide(true))
	mux.HandleFunc("POST /batches/{id}/reject", h.decide(false))
	mux.HandleFunc("POST /batches/{id}/cancel", h.cancel)
	mux.HandleFunc("POST /reports/bank", h.importReport)
	mux.HandleFunc("GET /audit", h.audit)
	mux.HandleFunc("GET /policy", h.policy)
	mux.HandleFunc("PUT /policy", h.setPolicy)
	mux.HandleFunc("GET /users", h.users)
	mux.HandleFunc("POST /users", h.addUser)
	mux.HandleFunc("POST /users/{name}/{action}", h.userAction)
	mux.HandleFunc("GET /tokens", h.tokens)
	mux.HandleFunc("POST /tokens", h.createToken)
	mux.HandleFunc("POST /tokens/{id}/revoke", h.revokeToken)
	return mux
}

func (h *commandHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.Error(w, r, h.log, err)
}

func (h *commandHandler) ok(w http.ResponseWriter, status int, v any) {
	httpapi.WriteJSON(w, status, v, h.log)
}

// actor is who asks; the guard put the principal in the context.
func actor(r *http.Request) (auth.Actor, error) {
	p := auth.PrincipalFrom(r.Context())
	if p == nil {
		return auth.Actor{}, ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "sign in or send a token")
	}
	return p.Actor(), nil
}

// input reads a JSON body, or a form, into v (form values by JSON name;
// a field holding an object is JSON text).
func input(r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	ct := r.Header.Get("Content-Type")
	raw := []byte(nil)
	if !strings.HasPrefix(ct, "multipart/form-data") {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return ledgerapi.Errorf(ledgerapi.CodeInvalid, "read the request: %v", err)
		}
		raw = b
		// curl -d sends JSON labelled as a form: JSON is JSON.
		if t := strings.TrimSpace(string(b)); t == "" || t[0] == '{' {
			ct = "application/json"
		}
		r.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
		if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
			return ledgerapi.Errorf(ledgerapi.CodeInvalid, "the form cannot be read: %v", err)
		}
		m := map[string]json.RawMessage{}
		for k, vs := range r.PostForm {
			if len(vs) == 0 {
				continue
			}
			val := strings.TrimSpace(vs[0])
			if strings.HasPrefix(val, "{") || strings.HasPrefix(val, "[") {
				m[k] = json.RawMessage(val)
			} else {
				b, _ := json.Marshal(val)
				m[k] = b
			}
		}
		b, _ := json.Marshal(m)
		return decodeStrict(b, v)
	}
	b := raw
	if len(strings.TrimSpace(string(b))) == 0 {
		b = []byte("{}")
	}
	return decodeStrict(b, v)
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return ledgerapi.Errorf(ledgerapi.CodeInvalid, "the request is not what this route takes: %v", cardmask.Redact(err.Error()))
	}
	return nil
}

func batchParam(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !payout.ValidBatchID(id) {
		return "", fmt.Errorf("batch %s: %w", strconv.Quote(cardmask.Redact(id)), errNotFound)
	}
	return id, nil
}

func (h *commandHandler) approvals(w http.ResponseWriter, r *http.Request) {
	id, err := batchParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sum, err := h.db.Batch(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, err := h.db.Approvals(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, http.StatusOK, struct {
		Batch     *ledgerapi.BatchSummary `json:"batch"`
		Approvals []ledgerapi.Approval    `json:"approvals"`
	}{sum, list})
}

func (h *commandHandler) decide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		by, err := actor(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		id, err := batchParam(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		var in struct {
			FileSHA256 string       `json:"file_sha256"`
			Totals     money.Totals `json:"totals"`
			Reason     string       `json:"reason"`
		}
		if err := input(r, &in); err != nil {
			h.fail(w, r, err)
			return
		}
		if approve && (in.FileSHA256 == "" || len(in.Totals) == 0) {
			h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeInvalid,
				"an approval carries what you were shown: file_sha256 and totals (GET /batches/%s shows both)", id))
			return
		}
		res, err := h.svc.Decide(r.Context(), by, Decision{Batch: id, Approve: approve, FileSHA256: strings.ToLower(in.FileSHA256),
			Totals: in.Totals, Reason: in.Reason})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.ok(w, http.StatusOK, res)
	}
}

func (h *commandHandler) cancel(w http.ResponseWriter, r *http.Request) {
	by, err := actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := batchParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := input(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	sum, err := h.svc.CancelAs(r.Context(), by, id, in.Reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, http.StatusOK, struct {
		Batch *ledgerapi.BatchSummary `json:"batch"`
	}{sum})
}

func (h *commandHandler) importReport(w http.ResponseWriter, r *http.Request) {
	by, err := actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	files, err := reportFiles(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	e := auth.NewEntry(by, auth.ActImportReport, auth.OutcomeOK)
	e.Target = strings.Join(names, ", ")
	rep, err := bank131.ParseDailyReportFiles(files, bank131.ReportOptions{Days: r.URL.Query()["date"],
		Zone: h.db.ReportZone, XLSX: workbook.ReadRaw})
	var res *ledgerapi.ReportImport
	if err == nil {
		res, err = h.svc.ImportReport(r.Context(), rep)
	}
	if err != nil {
		e.Outcome, e.Detail = auth.OutcomeRefused, ledgerapi.ErrorMessage(err)
		if ledgerapi.ErrorCode(err) == ledgerapi.CodeInternal {
			e.Outcome = auth.OutcomeFailed
		}
	} else {
		e.Detail = fmt.Sprintf("%d lines, %d new, %d exceptions opened", res.Lines, res.New, res.Opened)
	}
	if aerr := h.svc.Audit(r.Context(), e); aerr != nil && err == nil {
		err = aerr
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, http.StatusOK, res)
}

func (h *commandHandler) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := AuditFilter{Batch: q.Get("batch")}
	if s := q.Get("since"); s != "" {
		t, err := ParseSince(s)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f.Since = t
	}
	format := q.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeInvalid, "format %q: use csv or json", cardmask.Redact(format)))
		return
	}
	entries, err := h.db.AuditEntries(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The export is itself in the log (after the entries it holds), or
	// is not sent.
	detail := fmt.Sprintf("%d entries", len(entries))
	if !f.Since.IsZero() {
		detail += " since " + f.Since.UTC().Format(time.RFC3339)
	}
	batch := f.Batch
	if batch != "" && !payout.ValidBatchID(batch) {
		detail, batch = detail+" of batch "+strconv.Quote(batch), "" // typed: masked as Detail is
	}
	if err := h.svc.Audit(r.Context(), downloadEntry(r, batch, "audit."+format, detail, auth.OutcomeOK)); err != nil {
		h.fail(w, r, fmt.Errorf("record the export in the audit log: %w", err))
		return
	}
	if format == "json" {
		h.ok(w, http.StatusOK, struct {
			Entries []auth.Entry `json:"entries"`
		}{entries})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="payrun-audit.csv"`)
	WriteAuditCSV(w, entries)
}

// ParseSince reads a --since or ?since: RFC 3339, or a day (midnight UTC).
func ParseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, ledgerapi.Errorf(ledgerapi.CodeInvalid, "since %q: use a day (2026-11-25) or an RFC 3339 time", cardmask.Redact(s))
}

// auditHeader is the audit export's CSV header.
var auditHeader = []string{"seq", "at", "user", "user_id", "via", "remote", "action", "batch", "target", "outcome", "detail", "prev_hash", "hash"}

// WriteAuditCSV writes entries as CSV (a cell a spreadsheet would run as
// a formula gets a leading apostrophe: spreadsheet.SafeCSVCell).
func WriteAuditCSV(w io.Writer, entries []auth.Entry) error {
	cw := csv.NewWriter(w)
	cw.Write(auditHeader)
	for _, e := range entries {
		rec := []string{strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(time.RFC3339Nano), e.User, strconv.FormatInt(e.UserID, 10),
			string(e.Via), e.Remote, string(e.Action), e.Batch, e.Target, string(e.Outcome), e.Detail, e.Prev, e.Hash}
		for i, c := range rec {
			rec[i] = spreadsheet.SafeCSVCell(c)
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func (h *commandHandler) policy(w http.ResponseWriter, r *http.Request) {
	p, err := h.db.Policy(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	versions, err := h.db.Policies(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, http.StatusOK, struct {
		Policy   auth.Policy   `json:"policy"`
		Versions []auth.Policy `json:"versions"`
	}{p, versions})
}

func (h *commandHandler) setPolicy(w http.ResponseWriter, r *http.Request) {
	by, err := actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeInvalid, "read the policy: %v", err))
		return
	}
	p, err := auth.ParsePolicy(b)
	if err != nil {
		h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeInvalid, "%v", err))
		return
	}
	saved, err := h.svc.SetPolicy(r.Context(), by, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, http.StatusOK, struct {
		Policy auth.Policy `json:"policy"`
	}{saved})
}

func (h *commandHandler) users(w http.ResponseWriter, r *http.Request) {
	list, err := h.db.Users(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, http.StatusOK, struct {
		Users []auth.User `json:"users"`
	}{list})
}

func (h *commandHandler) addUser(w http.ResponseWriter, r *http.Request) {
	by, err := actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var in struct {
		Name     string     `json:"name"`
		Roles    auth.Roles `json:"roles"`
		Password string     `json:"password"`
	}
	if err := input(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	roles, err := auth.ParseRoles(in.Roles.String())
	if err != nil {
		h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeInvalid, "%v", err))
		return
	}
	u, err := h.svc.AddUser(r.Context(), by, NewUser{Name: in.Name, Roles: roles, Password: in.Password})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, http.StatusCreated, struct {
		User *auth.User `json:"user"`
	}{u})
}

func (h *commandHandler) userAction(w http.ResponseWriter, r *http.Request) {
	by, err := actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	name := r.PathValue("name")
	switch r.PathValue("action") {
	case "disable", "enable":
		err = h.svc.DisableUser(r.Context(), by, name, r.PathValue("action") == "disable")
	case "roles":
		var in struct {
			Roles auth.Roles `json:"roles"`
		}
		if err = input(r, &in); err == nil {
			var roles auth.Roles
			if roles, err = auth.ParseRoles(in.Roles.String()); err != nil {
				err = ledgerapi.Errorf(ledgerapi.CodeInvalid, "%v", err)
			} else {
				err = h.svc.SetRoles(r.Context(), by, name, roles)
			}
		}
	default:
		err = ledgerapi.Errorf(ledgerapi.CodeNotFound, "no such route: %s %s", r.Method, r.URL.Path)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.db.UserByName(r.Context(), name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, http.StatusOK, struct {
		User *auth.User `json:"user"`
	}{u})
}

func (h *commandHandler) tokens(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list, err := h.db.Tokens(r.Context(), q.Get("user"), q.Get("revoked") == "1" || q.Get("revoked") == "true")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, http.StatusOK, struct {
		Tokens []auth.Token `json:"tokens"`
	}{list})
}

// CreatedToken is the answer of POST /tokens: the token's text appears
// here and nowhere else.
type CreatedToken struct {
	Token string      `json:"token"`
	Info  *auth.Token `json:"info"`
}

func (h *commandHandler) createToken(w http.ResponseWriter, r *http.Request) {
	by, err := actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var in struct {
		User  string     `json:"user"`
		Name  string     `json:"name"`
		Roles auth.Roles `json:"roles"`
	}
	if err := input(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	roles, err := auth.ParseRoles(in.Roles.String())
	if err != nil {
		h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeInvalid, "%v", err))
		return
	}
	text, t, err := h.svc.CreateToken(r.Context(), by, NewToken{User: in.User, Name: in.Name, Roles: roles})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, http.StatusCreated, CreatedToken{Token: text, Info: t})
}

func (h *commandHandler) revokeToken(w http.ResponseWriter, r *http.Request) {
	by, err := actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, fmt.Errorf("token %s: %w", strconv.Quote(cardmask.Redact(r.PathValue("id"))), errNotFound))
		return
	}
	if err := h.svc.RevokeToken(r.Context(), by, id); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxReportUpload bounds the bank's report sent to POST /reports/bank.
const maxReportUpload = 512 << 20

// reportFiles reads the report files of POST /reports/bank: every "file"
// part of a multipart form (the parts of one report), or the body itself
// as one file named by ?name= (default upload.csv).
func reportFiles(w http.ResponseWriter, r *http.Request) ([]bank131.NamedFile, error) {
	body := http.MaxBytesReader(w, r.Body, maxReportUpload)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "read the report: %v", err)
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "upload.csv"
		}
		return []bank131.NamedFile{{Name: name, Data: data}}, nil
	}
	r.Body = body
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "read the report: %v", err)
	}
	var files []bank131.NamedFile
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "read the report: %v", err)
		}
		if part.FormName() != "file" {
			continue
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "read the report: %v", err)
		}
		files = append(files, bank131.NamedFile{Name: part.FileName(), Data: data})
	}
	if len(files) == 0 {
		return nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "no report file in the form (field \"file\")")
	}
	return files, nil
}
