package ingest

import (
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

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/secret"
)

// DefaultMaxUpload caps an uploaded file (about 1.5 million rows of a
// typical payroll file).
const DefaultMaxUpload = 256 << 20

// maxField caps a form field other than the file.
const maxField = 4 << 10

// HandlerConfig configures the upload handler.
type HandlerConfig struct {
	JS     jetstream.JetStream
	Sealer *secret.Sealer
	// Batch holds the validation defaults (per-row limit, clock); uploads
	// cannot change the limit.
	Batch     batch.Options
	MaxUpload int64         // default DefaultMaxUpload
	TempDir   string        // where uploads are spooled; default os.TempDir()
	Timeout   time.Duration // per upload, publishing included; default 10 minutes
	Logger    *slog.Logger
	// Ledger, if set, is asked on validation which rows its duplicate
	// guard would hold (CheckDuplicates); they come back as warnings.
	Ledger Prechecker
}

// Handler serves uploads for the finance web tools:
//
//	POST /batches           validate, then publish; 201 created, 200 existing, 422 invalid
//	POST /batches/validate  validate only; 200 valid, 422 invalid; with a Ledger,
//	                        repeats and probable duplicates of earlier payouts are warnings
//
// The file is the multipart form field "file", or the raw request body.
// Options come as form fields or query parameters: name, file_name (raw
// body), schedule_at (RFC 3339), require_approval (true/false),
// expect_count, expect_total. The answer is a Result as JSON; a request
// that cannot be served gets httpapi's error answer
// {"error":{"code":"…","message":"…"}} with 400 (invalid), 413
// (too_large), 503 (unavailable: JetStream did not take it, retry) or 500.
type Handler struct {
	cfg HandlerConfig
	mux *http.ServeMux
}

// NewHandler returns the upload handler.
func NewHandler(cfg HandlerConfig) *Handler {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /batches", func(w http.ResponseWriter, r *http.Request) { h.upload(w, r, true) })
	h.mux.HandleFunc("POST /batches/validate", func(w http.ResponseWriter, r *http.Request) { h.upload(w, r, false) })
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func badRequest(format string, args ...any) error {
	return ledgerapi.Errorf(ledgerapi.CodeInvalid, format, args...)
}

func (h *Handler) upload(w http.ResponseWriter, r *http.Request, publish bool) {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxUpload)

	path, fields, err := h.spool(r)
	if path != "" {
		defer os.Remove(path)
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

	var res *Result
	if publish {
		if h.cfg.JS == nil || h.cfg.Sealer == nil {
			h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeUnavailable, "publishing is not configured"))
			return
		}
		res, err = Ingest(ctx, h.cfg.JS, path, opts)
	} else {
		res, err = Check(path, opts)
		if err == nil && res.Status == StatusValid {
			err = CheckDuplicates(ctx, path, res, opts, h.cfg.Ledger, "")
		}
	}
	if err != nil {
		if publish && !errors.Is(err, os.ErrNotExist) {
			// JetStream did not take it; retry later.
			h.cfg.Logger.Error("upload failed", "file", cardmask.Redact(opts.FileName), logkey.Error, cardmask.Redact(err.Error()))
			h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeUnavailable, "the file could not be published; try again later"))
			return
		}
		h.fail(w, r, fmt.Errorf("validate upload: %w", err))
		return
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

// spool streams the upload into a temporary file (the file is read twice:
// validate, then publish) and collects the option fields.
func (h *Handler) spool(r *http.Request) (path string, fields map[string]string, err error) {
	fields = map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			fields[k] = v[0]
		}
	}
	tmp, err := os.CreateTemp(h.cfg.TempDir, "payrun-upload-*.csv")
	if err != nil {
		return "", nil, fmt.Errorf("spool upload: %w", err)
	}
	path = tmp.Name()
	defer func() {
		if cerr := tmp.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("spool upload: %w", cerr)
		}
	}()

	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		if _, err := io.Copy(tmp, r.Body); err != nil {
			return path, nil, uploadError(err)
		}
		if fields["file_name"] == "" {
			fields["file_name"] = "upload.csv"
		}
		return path, fields, nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return path, nil, badRequest("read multipart form: %v", err)
	}
	gotFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return path, nil, uploadError(err)
		}
		name := part.FormName()
		if name == "file" {
			if gotFile {
				return path, nil, badRequest("one file per upload")
			}
			gotFile = true
			if _, err := io.Copy(tmp, part); err != nil {
				return path, nil, uploadError(err)
			}
			if fields["file_name"] == "" {
				fields["file_name"] = filepath.Base(part.FileName())
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, maxField+1))
		if err != nil {
			return path, nil, uploadError(err)
		}
		if len(b) > maxField {
			return path, nil, badRequest("form field %q is too long", cardmask.Redact(name))
		}
		fields[name] = string(b)
	}
	if !gotFile {
		return path, nil, badRequest(`the form has no "file" field`)
	}
	if fn := fields["file_name"]; fn == "" || fn == "." || fn == "/" {
		fields["file_name"] = "upload.csv"
	}
	return path, fields, nil
}

func uploadError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return ledgerapi.Errorf(ledgerapi.CodeTooLarge, "the upload is larger than %d bytes", tooLarge.Limit)
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
