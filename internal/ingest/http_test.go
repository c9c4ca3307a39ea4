package ingest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/testutil"
)

func newTestServer(t *testing.T, maxUpload int64) (*httptest.Server, *env, string) {
	e := startJS(t)
	tmp := t.TempDir()
	h := NewHandler(HandlerConfig{JS: e.js, Sealer: testSealer(t), Batch: batch.Options{Now: testNow},
		MaxUpload: maxUpload, TempDir: tmp, Logger: testutil.QuietLogger()})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, e, tmp
}

// multipartBody builds a form with the file and fields.
func multipartBody(t *testing.T, name string, data []byte, fields map[string]string) (io.Reader, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		require.NoError(t, w.WriteField(k, v))
	}
	fw, err := w.CreateFormFile("file", name)
	require.NoError(t, err)
	fw.Write(data)
	require.NoError(t, w.Close())
	return &b, w.FormDataContentType()
}

func post(t *testing.T, url, contentType string, body io.Reader) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, contentType, body)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func TestHandlerUpload(t *testing.T) {
	srv, e, tmp := newTestServer(t, 0)
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)

	body, ct := multipartBody(t, "payroll.csv", data, map[string]string{
		"name": "Payroll November", "schedule_at": "2026-12-25T09:00:00+03:00", "require_approval": "true",
		"expect_count": "23"})
	status, out := post(t, srv.URL+"/batches", ct, body)
	require.Equal(t, http.StatusCreated, status, out)
	require.Equal(t, "created", out["status"])
	require.Equal(t, "payroll.csv", out["file_name"])
	require.Equal(t, float64(23), out["rows"])
	require.Equal(t, float64(23), out["published"])
	require.Equal(t, "1079332.77", out["totals_decimal"].(map[string]any)["RUB"])
	man := out["manifest"].(map[string]any)
	require.Equal(t, "Payroll November", man["name"])
	require.Equal(t, true, man["require_approval"])
	require.Equal(t, "2026-12-25T09:00:00+03:00", man["schedule_at"])
	batchID := out["batch"].(string)

	// The same bytes as a raw body: the existing batch, 200.
	status, out = post(t, srv.URL+"/batches?name=again", "text/csv", bytes.NewReader(data))
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "existing", out["status"])
	require.Equal(t, batchID, out["batch"])
	require.Len(t, streamMsgs(t, e.js), 24)

	// Nothing is left in the spool folder.
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left)
}

func TestHandlerInvalid(t *testing.T) {
	srv, e, _ := newTestServer(t, 0)
	data, err := os.ReadFile("../batch/testdata/validate/amounts.csv")
	require.NoError(t, err)
	body, ct := multipartBody(t, "amounts.csv", data, nil)
	status, out := post(t, srv.URL+"/batches", ct, body)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Equal(t, "invalid", out["status"])
	require.Equal(t, float64(9), out["error_count"])
	first := out["errors"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"line": float64(4), "column": "amount",
		"message": `"1500.555" has more than 2 decimal places`}, first)
	require.Empty(t, streamMsgs(t, e.js))
}

func TestHandlerValidateOnly(t *testing.T) {
	srv, e, _ := newTestServer(t, 0)
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	status, out := post(t, srv.URL+"/batches/validate?file_name=payroll.csv", "text/csv", bytes.NewReader(data))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "valid", out["status"])
	require.Empty(t, streamMsgs(t, e.js))
}

func TestHandlerRefusals(t *testing.T) {
	srv, _, _ := newTestServer(t, 1000)
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	tests := []struct {
		name, url, ct string
		body          io.Reader
		status        int
		code, msg     string
	}{
		{"too large", "/batches", "text/csv", bytes.NewReader(data), http.StatusRequestEntityTooLarge, "too_large", "the upload is larger than 1000 bytes"},
		{"bad schedule", "/batches?schedule_at=tomorrow", "text/csv", strings.NewReader("x"), http.StatusBadRequest, "invalid",
			`schedule "tomorrow" is not an RFC 3339 time such as 2026-12-25T09:00:00+03:00`},
		{"bad count", "/batches?expect_count=-1", "text/csv", strings.NewReader("x"), http.StatusBadRequest, "invalid", `expect_count "-1" is not a positive number`},
		{"bad total", "/batches?expect_total=abc", "text/csv", strings.NewReader("x"), http.StatusBadRequest, "invalid", `control total "abc" is not a positive amount such as 1234.56`},
		{"card number in a total", "/batches?expect_total=4111.1111.1111.1111", "text/csv", strings.NewReader("x"), http.StatusBadRequest, "invalid",
			`control total "411111******1111" is not a positive amount such as 1234.56`},
		{"card number in a schedule", "/batches?schedule_at=4111-1111-1111-1111", "text/csv", strings.NewReader("x"), http.StatusBadRequest, "invalid",
			`schedule "411111******1111" is not an RFC 3339 time such as 2026-12-25T09:00:00+03:00`},
		{"no file", "/batches", "multipart/form-data; boundary=x", strings.NewReader("--x--\r\n"), http.StatusBadRequest, "invalid", `the form has no "file" field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := post(t, srv.URL+tt.url, tt.ct, tt.body)
			require.Equal(t, tt.status, status)
			// httpapi's one error answer: {"error":{"code","message"}}.
			require.Equal(t, map[string]any{"code": tt.code, "message": tt.msg}, out["error"])
		})
	}
	resp, err := http.Get(srv.URL + "/batches")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestHandlerCardNumberInName: the batch name is checked like the file's
// text; the answer shows it and the file name masked.
func TestHandlerCardNumberInName(t *testing.T) {
	srv, e, _ := newTestServer(t, 0)
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	body, ct := multipartBody(t, "pay 4111 1111 1111 1111.csv", data, map[string]string{"name": "Payroll Ivan.4242.4242.4242.4242"})
	status, out := post(t, srv.URL+"/batches", ct, body)
	require.Equal(t, http.StatusUnprocessableEntity, status, out)
	require.Equal(t, "invalid", out["status"])
	require.Equal(t, []any{map[string]any{"column": "name",
		"message": "contains what looks like a card number (424242******4242); a batch name must not hold card data"}}, out["errors"])
	require.Equal(t, "Payroll Ivan.424242******4242", out["name"])
	require.Equal(t, "pay 411111******1111.csv", out["file_name"])
	require.Empty(t, streamMsgs(t, e.js))
}

// TestHandlerResavedCopy: uploading the payroll again after it was saved
// with CRLF line endings or extra blank lines answers 200 existing with the
// same batch.
func TestHandlerResavedCopy(t *testing.T) {
	srv, e, _ := newTestServer(t, 0)
	copies, order := resavedCopies(t)
	batchID := ""
	for _, name := range order {
		body, ct := multipartBody(t, name+".csv", copies[name], nil)
		status, out := post(t, srv.URL+"/batches", ct, body)
		if batchID == "" {
			require.Equal(t, http.StatusCreated, status, out)
			batchID = out["batch"].(string)
			continue
		}
		require.Equal(t, http.StatusOK, status, "%s: %v", name, out)
		require.Equal(t, "existing", out["status"], name)
		require.Equal(t, batchID, out["batch"], name)
	}
	require.Len(t, streamMsgs(t, e.js), 24)
}
