package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/httpserve"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// maxUpload bounds an upload through the console (the upload handler's).
const maxUpload = ingest.DefaultMaxUpload

type uploadData struct {
	Methods   []payout.Method
	Form      uploadForm
	Result    *ingest.Result
	Submitted bool // the result is of a submission
	CanSubmit bool
	Errors    []batch.Error // the first errors shown (the result has them all up to the validator's cap)
	More      int           // errors beyond those
	Warnings  []batch.Error
}

// uploadForm is what was typed besides the file, to show it again.
type uploadForm struct {
	Name, Schedule, Method, Sheet string
}

func (c *Console) uploadData(r *http.Request) *uploadData {
	return &uploadData{Methods: []payout.Method{payout.MethodCard, payout.MethodToken, payout.MethodEncryptedCard, payout.MethodTransfer},
		CanSubmit: auth.PrincipalFrom(r.Context()).Can(auth.PermUpload)}
}

// uploadPage is the upload form.
func (c *Console) uploadPage(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "upload", "")
	v.Title = v.L.T("upload.title")
	v.Data = c.uploadData(r)
	c.render(w, r, http.StatusOK, "upload", v)
}

// uploadPost checks (action=check) or submits (action=submit) the file:
// the form is passed on, streamed, to the upload handler as POST
// /batches/validate or POST /batches, as the signed-in person (so the
// handler's limits, spool and audit entry are the API's), with the
// schedule turned from the console's zone into RFC 3339 and the page's
// language for the messages. A submission that makes a batch goes to its
// page; anything else shows the result (every error by line and column,
// warnings, totals per currency, rows per method).
func (c *Console) uploadPost(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "upload", "")
	v.Title = v.L.T("upload.title")
	d := c.uploadData(r)
	v.Data = d
	submit := r.URL.Query().Get("action") == "submit"
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" || params["boundary"] == "" {
		c.uploadFail(w, r, v, ledgerapi.Errorf(ledgerapi.CodeInvalid, "the upload form is not multipart/form-data"))
		return
	}
	if err := httpserve.SetBodyDeadline(w, r, time.Now().Add(ingest.DefaultBodyTimeout)); err != nil {
		c.log.Debug("upload body has no time bound of its own", "error", err)
	}
	src := multipart.NewReader(http.MaxBytesReader(w, r.Body, maxUpload), params["boundary"])
	pr, pw := io.Pipe()
	out := multipart.NewWriter(pw)
	copied := make(chan error, 1)
	go func() {
		err := c.passForm(src, out, v.L, d)
		if err == nil {
			err = out.Close()
		}
		pw.CloseWithError(err)
		copied <- err
	}()
	path := "/batches/validate"
	if submit {
		if !d.CanSubmit {
			pr.CloseWithError(errors.New("not allowed"))
			<-copied
			c.uploadFail(w, r, v, ledgerapi.Errorf(ledgerapi.CodeForbidden, "%s may not upload: that needs the role maker",
				auth.PrincipalFrom(r.Context()).Name))
			return
		}
		path, d.Submitted = "/batches", true
	}
	rec := newCapture()
	sub := r.Clone(r.Context())
	sub.Body, sub.ContentLength = pr, -1
	sub.Header = r.Header.Clone()
	sub.Header.Set("Content-Type", out.FormDataContentType())
	sub.Header.Del("Content-Length")
	sub.Header.Del("X-Console-Fragment")
	sub.URL.Path, sub.URL.RawQuery = path, ""
	sub.RequestURI = ""
	sub.Method = http.MethodPost
	c.cfg.Uploads.ServeHTTP(rec, sub)
	pr.CloseWithError(io.ErrClosedPipe) // the handler stopped reading
	if err := <-copied; err != nil && !errors.Is(err, io.ErrClosedPipe) && rec.status < 400 {
		c.uploadFail(w, r, v, ledgerapi.Errorf(ledgerapi.CodeInvalid, "the upload form cannot be read: %v", err))
		return
	}
	if rec.status >= 400 && rec.status != http.StatusUnprocessableEntity {
		var e struct {
			Error *ledgerapi.Error `json:"error"`
		}
		if json.Unmarshal(rec.body.Bytes(), &e) != nil || e.Error == nil {
			e.Error = ledgerapi.Errorf(ledgerapi.CodeInternal, "upload failed")
		}
		c.uploadFail(w, r, v, e.Error)
		return
	}
	var res ingest.Result
	if err := json.Unmarshal(rec.body.Bytes(), &res); err != nil {
		c.uploadFail(w, r, v, err)
		return
	}
	d.Result = &res
	d.Errors = res.Errors
	if len(d.Errors) > 200 {
		d.Errors = d.Errors[:200]
	}
	d.More = res.ErrorCount - len(d.Errors)
	d.Warnings = res.Warnings
	if d.Submitted && (res.Status == ingest.StatusCreated || res.Status == ingest.StatusExisting) {
		key := "uploaded"
		if res.Status == ingest.StatusExisting {
			key = "existing"
		}
		back(w, r, "/console/batches/"+res.Batch, key)
		return
	}
	status := http.StatusOK
	if res.Status == ingest.StatusInvalid {
		status = http.StatusUnprocessableEntity
	}
	c.renderUpload(w, r, status, v)
}

// renderUpload answers the upload page, or its result alone to the
// page's script.
func (c *Console) renderUpload(w http.ResponseWriter, r *http.Request, status int, v *view) {
	if r.Header.Get("X-Console-Fragment") != "" {
		r.Header.Set("X-Console-Fragment", "result")
	}
	c.render(w, r, status, "upload", v)
}

// uploadFail shows a refused upload on the upload page (the error's
// heading in the page's language, the handler's words as detail).
func (c *Console) uploadFail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	if ledgerapi.ErrorCode(err) == ledgerapi.CodeInternal {
		c.log.Error("console upload failed", "error", logText(err))
	}
	v.Err = errorFor(err)
	c.renderUpload(w, r, statusOf(err), v)
}

// passForm copies the console's upload form to the upload handler's:
// name, method and sheet as they are, the schedule (a datetime-local in
// the console's zone) as RFC 3339, lang the page's, the file streamed
// (the action, check or submit, is the URL's ?action=, so the path is
// known before the form is read). It returns once the whole form was
// copied.
func (c *Console) passForm(src *multipart.Reader, out *multipart.Writer, l Lang, d *uploadData) error {
	if err := out.WriteField("lang", string(l)); err != nil {
		return err
	}
	for {
		part, err := src.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := part.FormName()
		if name == "file" {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": part.FileName()}))
			h.Set("Content-Type", "application/octet-stream")
			dst, err := out.CreatePart(h)
			if err != nil {
				return err
			}
			if _, err := io.Copy(dst, part); err != nil {
				return err
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, 4<<10))
		if err != nil {
			return err
		}
		val := strings.TrimSpace(string(b))
		switch name {
		case "name":
			d.Form.Name = val
			err = out.WriteField(name, val)
		case "method":
			d.Form.Method = val
			if val != "" {
				err = out.WriteField(name, val)
			}
		case "sheet":
			d.Form.Sheet = val
			if val != "" {
				err = out.WriteField(name, val)
			}
		case "schedule_at":
			d.Form.Schedule = val
			if val != "" {
				t, perr := time.ParseInLocation("2006-01-02T15:04", val, c.cfg.Zone)
				if perr != nil {
					// Passed on as typed: the handler refuses it with its reason.
					err = out.WriteField(name, val)
				} else {
					err = out.WriteField(name, t.Format(time.RFC3339))
				}
			}
		}
		if err != nil {
			return err
		}
	}
}

// capture keeps a handler's answer.
type capture struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func newCapture() *capture { return &capture{h: http.Header{}} }

func (c *capture) Header() http.Header { return c.h }
func (c *capture) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
}
func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// errorsFile answers the errors file of a file that does not pass: its
// failed rows with their lines, error_column and error_message
// (batch.ErrorsCSV: card numbers masked, formulas guarded), in the
// page's dialect (excel-ru for Russian, rfc4180 for English). A file
// without errors gets the upload page saying so. Validating it is
// audited as a validation.
func (c *Console) errorsFile(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "upload", "")
	v.Title = v.L.T("upload.title")
	d := c.uploadData(r)
	v.Data = d
	select {
	case c.errSem <- struct{}{}:
		defer func() { <-c.errSem }()
	default:
		w.Header().Set("Retry-After", "5")
		c.fail(w, r, v, ledgerapi.Errorf(ledgerapi.CodeTooMany, "other errors files are being made; try again in a moment"))
		return
	}
	if err := httpserve.SetBodyDeadline(w, r, time.Now().Add(ingest.DefaultBodyTimeout)); err != nil {
		c.log.Debug("upload body has no time bound of its own", "error", err)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		c.fail(w, r, v, ledgerapi.Errorf(ledgerapi.CodeInvalid, "the upload form is not multipart/form-data"))
		return
	}
	opts := batch.Options{Lang: string(v.L)}
	var fileName string
	var res *batch.Result
	dialect := spreadsheet.RFC4180
	if v.L == Russian {
		dialect = spreadsheet.ExcelRU
	}
	var report bytes.Buffer
	ecsv := batch.NewErrorsCSV(&report, dialect)
	for {
		part, perr := mr.NextPart()
		if errors.Is(perr, io.EOF) {
			break
		}
		if perr != nil {
			err = perr
			break
		}
		switch part.FormName() {
		case "method":
			b, _ := io.ReadAll(io.LimitReader(part, 64))
			if m, ok := payout.ParseMethod(strings.TrimSpace(string(b))); ok {
				opts.Method = m
			}
		case "sheet":
			b, _ := io.ReadAll(io.LimitReader(part, 256))
			opts.Sheet = strings.TrimSpace(string(b))
		case "file":
			fileName = part.FileName()
			opts.OnRecord = ecsv.Record
			res, err = batch.Validate(part, opts)
		}
		if err != nil || res != nil {
			break
		}
	}
	if err == nil && res == nil {
		err = ledgerapi.Errorf(ledgerapi.CodeInvalid, "choose a file first")
	}
	if cerr := ecsv.Close(); err == nil {
		err = cerr
	}
	e := auth.NewEntry(actor(r), auth.ActValidate, auth.OutcomeOK)
	e.Target = fileName
	switch {
	case err != nil:
		e.Outcome, e.Detail = auth.OutcomeRefused, "errors file: "+ledgerapi.ErrorMessage(err)
	case !res.Valid():
		e.Outcome, e.Detail = auth.OutcomeRefused, "errors file: invalid, "+itoa(res.ErrorCount)+" errors"
	default:
		e.Detail = "errors file: valid, " + itoa(res.Rows) + " rows"
	}
	if aerr := c.svc.Audit(r.Context(), e); aerr != nil {
		c.log.Error("audit errors file", "error", logText(aerr))
	}
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	if res.Valid() {
		v.Notice = "done.no_errors"
		c.render(w, r, http.StatusOK, "upload", v)
		return
	}
	name := strings.TrimSuffix(fileName, pathExt(fileName)) + "-errors.csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Content-Length", itoa(report.Len()))
	report.WriteTo(w)
}

func pathExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}
