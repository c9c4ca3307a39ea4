package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/httpserve"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/secret"
	"github.com/payrun/payrun/internal/spool"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// Upload bounds by default.
const (
	// DefaultMaxUpload caps an uploaded file (about 1.5 million rows of a
	// typical payroll file).
	DefaultMaxUpload = 256 << 20
	// DefaultBodyTimeout is how long a client may take to send its whole
	// upload (256 MiB at 1 MiB/s takes about 4.5 minutes).
	DefaultBodyTimeout = 5 * time.Minute
	// DefaultMaxUploads is how many uploads are served at once in all
	// (validating takes about one core each).
	DefaultMaxUploads = 4
	// DefaultMaxUploadsPerKey is how many uploads one uploader
	// (HandlerConfig.UploadKey) may have served at once.
	DefaultMaxUploadsPerKey = 2
)

// Spool files: an upload is spooled, encrypted, as SpoolPattern in the
// handler's TempDir while it is validated and published (internal/spool).
// OldSpoolPattern is the plain-text spool of earlier versions.
const (
	SpoolPattern    = "payrun-upload-*.spool"
	OldSpoolPattern = "payrun-upload-*.csv"
)

// maxField caps a form field other than the file.
const maxField = 4 << 10

// HandlerConfig configures the upload handler.
type HandlerConfig struct {
	JS     jetstream.JetStream
	Sealer *secret.Sealer
	// Batch holds the validation defaults (per-row limit, clock); uploads
	// cannot change the limit.
	Batch       batch.Options
	MaxUpload   int64         // default DefaultMaxUpload
	TempDir     string        // where uploads are spooled, encrypted; default os.TempDir()
	BodyTimeout time.Duration // to receive the whole body; default DefaultBodyTimeout
	Timeout     time.Duration // per upload, publishing included; default 10 minutes
	// MaxUploads caps the uploads served at once (default
	// DefaultMaxUploads); MaxUploadsPerKey caps them per UploadKey
	// (default DefaultMaxUploadsPerKey). An upload over either is answered
	// 429 too_many before its body is read.
	MaxUploads       int
	MaxUploadsPerKey int
	// UploadKey names who uploads, for MaxUploadsPerKey: the signed-in
	// user's id once requests carry one; default the client's IP address.
	UploadKey func(*http.Request) string
	Logger    *slog.Logger
	// Audit, when set, records every upload and validation in the audit
	// log, with the request's principal (http_auth.go).
	Audit func(context.Context, auth.Entry) error
	// Ledger, if set, is asked on validation which rows its duplicate
	// guard would hold (CheckDuplicates); they come back as warnings.
	Ledger Prechecker
}

// Handler serves uploads for the finance web tools:
//
//	POST /batches           validate, then publish; 201 created, 200 existing, 422 invalid
//	POST /batches/validate  validate only; 200 valid, 422 invalid; with a Ledger,
//	                        repeats and probable duplicates of earlier payouts are warnings
//	GET  /templates/{method}.csv|.xlsx?lang=ru|en  the payout file template of a method
//
// The file is the multipart form field "file", or the raw request body.
// Options come as form fields or query parameters: name, file_name (raw
// body), schedule_at (RFC 3339), require_approval (true/false),
// expect_count, expect_total, method (the method of rows that name none),
// sheet (of an XLSX workbook), lang (ru or en: the language of the
// messages that have both). The answer is a Result as JSON; a request
// that cannot be served gets httpapi's error answer
// {"error":{"code":"…","message":"…"}} with 400 (invalid), 408 (timeout:
// the body did not arrive within BodyTimeout), 413 (too_large), 429
// (too_many: too many uploads at once, with Retry-After), 503
// (unavailable: JetStream did not take it, retry) or 500.
//
// The upload never touches the disk in plain text: it is spooled
// encrypted under a key only this process holds, in a file without a name
// (internal/spool), and closed on every way out of the request.
type Handler struct {
	cfg   HandlerConfig
	mux   *http.ServeMux
	slots *slots
}

// NewHandler returns the upload handler. It first removes the spool files
// an earlier process left in TempDir (a crash where names cannot be
// removed early, or plain-text spools of an older version) and logs what
// it removed.
func NewHandler(cfg HandlerConfig) *Handler {
	metrics.Ingest.Register()
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.MaxUploads <= 0 {
		cfg.MaxUploads = DefaultMaxUploads
	}
	if cfg.MaxUploadsPerKey <= 0 {
		cfg.MaxUploadsPerKey = DefaultMaxUploadsPerKey
	}
	if cfg.UploadKey == nil {
		cfg.UploadKey = uploadKey
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	removed, err := spool.Clean(cfg.TempDir, SpoolPattern, OldSpoolPattern)
	if len(removed) > 0 {
		cfg.Logger.Warn("removed partial uploads an earlier run left behind", "count", len(removed),
			"dir", filepath.Dir(removed[0]))
	}
	if err != nil {
		cfg.Logger.Error("could not remove partial uploads an earlier run left behind", logkey.Error, err)
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), slots: newSlots(cfg.MaxUploads, cfg.MaxUploadsPerKey)}
	h.mux.HandleFunc("POST /batches", func(w http.ResponseWriter, r *http.Request) { h.upload(w, r, true) })
	h.mux.HandleFunc("POST /batches/validate", func(w http.ResponseWriter, r *http.Request) { h.upload(w, r, false) })
	h.mux.HandleFunc("GET /templates/{file}", h.template)
	return h
}

// template serves the template of a method: GET /templates/card.xlsx,
// /templates/transfer.csv?lang=ru (a CSV in excel-ru for Russian,
// rfc4180 for English, or ?csv_dialect=).
func (h *Handler) template(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	name, ext, _ := strings.Cut(file, ".")
	method, ok := payout.ParseMethod(name)
	if !ok || strings.ToLower(name) != name {
		h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeNotFound, "no template %q: use /templates/{card,token,encrypted_card,transfer}.{csv,xlsx}", cardmask.Redact(file)))
		return
	}
	format, err := batch.ParseTemplateFormat(ext)
	if err != nil || ext == "" {
		h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeNotFound, "no template %q: use /templates/{card,token,encrypted_card,transfer}.{csv,xlsx}", cardmask.Redact(file)))
		return
	}
	q := r.URL.Query()
	lang, err := batch.ParseLang(q.Get("lang"))
	if err != nil {
		h.fail(w, r, badRequest("%v", cardmask.Redact(err.Error())))
		return
	}
	var dialect spreadsheet.Dialect
	if v := q.Get("csv_dialect"); v != "" {
		if dialect, err = spreadsheet.ParseDialect(v); err != nil {
			h.fail(w, r, badRequest("%v", cardmask.Redact(err.Error())))
			return
		}
	}
	var buf bytes.Buffer
	if err := batch.WriteTemplate(&buf, method, lang, format, dialect); err != nil {
		h.fail(w, r, err)
		return
	}
	ctype := "text/csv; charset=utf-8"
	if format == batch.FormatXLSX {
		ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="payrun-template-%s.%s"`, method, format))
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func badRequest(format string, args ...any) error {
	return ledgerapi.Errorf(ledgerapi.CodeInvalid, format, args...)
}

func (h *Handler) upload(w http.ResponseWriter, r *http.Request, publish bool) {
	var res *Result
	var err error
	fileName := ""
	defer func() { h.audit(r, publish, fileName, res, err) }()
	release, err := h.slots.take(h.cfg.UploadKey(r))
	if err != nil {
		// Answered before the body is read; the connection is closed
		// rather than drained.
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Connection", "close")
		h.fail(w, r, err)
		return
	}
	defer release()
	if publish && (h.cfg.JS == nil || h.cfg.Sealer == nil) {
		err = ledgerapi.Errorf(ledgerapi.CodeUnavailable, "publishing is not configured")
		h.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	if err := httpserve.SetBodyDeadline(w, r, time.Now().Add(h.cfg.BodyTimeout)); err != nil {
		h.cfg.Logger.Warn("upload body has no time bound of its own", logkey.Error, err)
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxUpload)

	file, fields, err := h.spool(r)
	fileName = fields["file_name"]
	if file.File != nil {
		defer file.Close()
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	opts, err := h.options(fields)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	opts.UploadedBy, opts.UploaderID = uploader(r)

	res, err = CheckSource(file, opts)
	if err == nil && !publish && res.Status == StatusValid {
		err = CheckDuplicates(ctx, file, res, opts, h.cfg.Ledger, "")
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("validate upload: %w", err))
		return
	}
	if publish && res.Status == StatusValid {
		checked := res
		if res, err = PublishSource(ctx, h.cfg.JS, file, checked, opts); err != nil {
			// JetStream did not take it; retry later.
			h.cfg.Logger.Error("upload failed", "file", checked.FileName, logkey.Error, cardmask.Redact(err.Error()))
			h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeUnavailable, "the file could not be published; try again later"))
			return
		}
	} else if publish {
		h.cfg.Logger.Info("payout file rejected; nothing published", "file", res.FileName, "errors", res.ErrorCount)
	}
	status := http.StatusOK
	switch res.Status {
	case StatusCreated:
		status = http.StatusCreated
	case StatusInvalid:
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, res)
}

// spoolFile is an upload's encrypted spool as a Source.
type spoolFile struct{ *spool.File }

func (f spoolFile) Open() (io.ReadCloser, error) { return f.File.Open() }

// spool streams the upload into an encrypted spool file (the file is read
// twice: validate, then publish) and collects the option fields. The file
// is returned, to be closed, whenever it was created.
func (h *Handler) spool(r *http.Request) (file spoolFile, fields map[string]string, err error) {
	fields = map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			fields[k] = v[0]
		}
	}
	sp, err := spool.Create(h.cfg.TempDir, SpoolPattern)
	if err != nil {
		return spoolFile{}, nil, fmt.Errorf("spool upload: %w", err)
	}
	file = spoolFile{sp}
	if err := h.receive(r, sp, fields); err != nil {
		return file, nil, err
	}
	if err := sp.Finish(); err != nil {
		return file, nil, fmt.Errorf("spool upload: %w", err)
	}
	// The body's deadline stays: net/http lifts it when the body was read
	// to its end, and a body left unread after the form's last part must
	// not hold the connection once the answer is sent.
	return file, fields, nil
}

// receive copies the uploaded file into sp and the option fields into
// fields.
func (h *Handler) receive(r *http.Request, sp *spool.File, fields map[string]string) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		if _, err := io.Copy(sp, r.Body); err != nil {
			return h.uploadError(err)
		}
		if fields["file_name"] == "" {
			fields["file_name"] = "upload.csv"
		}
		return nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return badRequest("read multipart form: %v", err)
	}
	gotFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return h.uploadError(err)
		}
		name := part.FormName()
		if name == "file" {
			if gotFile {
				return badRequest("one file per upload")
			}
			gotFile = true
			if _, err := io.Copy(sp, part); err != nil {
				return h.uploadError(err)
			}
			if fields["file_name"] == "" {
				fields["file_name"] = filepath.Base(part.FileName())
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, maxField+1))
		if err != nil {
			return h.uploadError(err)
		}
		if len(b) > maxField {
			return badRequest("form field %q is too long", cardmask.Redact(name))
		}
		fields[name] = string(b)
	}
	if !gotFile {
		return badRequest(`the form has no "file" field`)
	}
	if fn := fields["file_name"]; fn == "" || fn == "." || fn == "/" {
		fields["file_name"] = "upload.csv"
	}
	return nil
}

// uploadError is the answer to a failure to read the upload.
func (h *Handler) uploadError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return ledgerapi.Errorf(ledgerapi.CodeTooLarge, "the upload is larger than %d bytes", tooLarge.Limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ledgerapi.Errorf(ledgerapi.CodeTimeout, "the upload did not arrive within %s; nothing was kept, send it again", h.cfg.BodyTimeout)
	}
	return badRequest("read upload: %v", err)
}

// options turns form fields into ingest options.
func (h *Handler) options(f map[string]string) (Options, error) {
	opts := Options{
		Batch:    h.cfg.Batch,
		Sealer:   h.cfg.Sealer,
		Logger:   h.cfg.Logger,
		FileName: f["file_name"],
		Name:     strings.TrimSpace(f["name"]),
	}
	opts.Batch.OnError, opts.Batch.OnWarning, opts.Batch.OnRecord = nil, nil, nil
	if v := f["schedule_at"]; v != "" {
		t, err := ParseSchedule(v)
		if err != nil {
			return opts, badRequest("%v", err)
		}
		opts.ScheduleAt = t
	}
	if v := f["require_approval"]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return opts, badRequest("require_approval %q is not true or false", cardmask.Redact(v))
		}
		opts.RequireApproval = b
	}
	if v := f["expect_count"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return opts, badRequest("expect_count %q is not a positive number", cardmask.Redact(v))
		}
		opts.Batch.ExpectCount = n
	}
	if v := f["expect_total"]; v != "" {
		if err := CheckExpectTotal(v); err != nil {
			return opts, badRequest("%v", err)
		}
		opts.Batch.ExpectTotal = v
	}
	if v := f["method"]; v != "" {
		m, ok := payout.ParseMethod(v)
		if !ok {
			return opts, badRequest("method %q: use card, token, encrypted_card or transfer", cardmask.Redact(v))
		}
		opts.Batch.Method = m
	}
	opts.Batch.Sheet = strings.TrimSpace(f["sheet"])
	lang, err := batch.ParseLang(f["lang"])
	if err != nil {
		return opts, badRequest("%v", cardmask.Redact(err.Error()))
	}
	opts.Batch.Lang = lang
	return opts, nil
}

// ParseSchedule reads a schedule time in RFC 3339
// ("2026-12-25T09:00:00+03:00").
func ParseSchedule(v string) (*time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return nil, fmt.Errorf("schedule %q is not an RFC 3339 time such as 2026-12-25T09:00:00+03:00", cardmask.Redact(v))
	}
	return &t, nil
}

// CheckExpectTotal checks that a control total is a positive decimal
// amount (its currency is the file's).
func CheckExpectTotal(v string) error {
	a, err := money.Parse(v, "RUB")
	if err != nil || a.Minor <= 0 {
		return fmt.Errorf("control total %q is not a positive amount such as 1234.56", cardmask.Redact(v))
	}
	return nil
}

// fail answers err with httpapi's error answer; an internal error is
// logged in full and answered "internal error".
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.Error(w, r, h.cfg.Logger, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
