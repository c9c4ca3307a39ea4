package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/report"
	"github.com/payrun/payrun/internal/spreadsheet"
)

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func TestHTTPHandler(t *testing.T) {
	s, _, id := goldenLedger(t)
	srv := httptest.NewServer(NewHTTPHandler(s.db, WithHTTPLogger(quiet)))
	defer srv.Close()
	rep, err := s.db.Report(context.Background(), id)
	require.NoError(t, err)

	t.Run("list", func(t *testing.T) {
		resp, body := get(t, srv, "/batches")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		var list struct {
			Batches []struct {
				Batch string `json:"batch"`
				Rows  int    `json:"rows"`
			} `json:"batches"`
		}
		require.NoError(t, json.Unmarshal(body, &list))
		require.Len(t, list.Batches, 1)
		require.Equal(t, id, list.Batches[0].Batch)
		require.Equal(t, 23, list.Batches[0].Rows)
	})
	t.Run("one batch", func(t *testing.T) {
		resp, body := get(t, srv, "/batches/"+id)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var d BatchDetail
		require.NoError(t, json.Unmarshal(body, &d))
		require.Equal(t, id, d.Batch.Batch)
		require.Equal(t, rep.Summary, d.Summary)
		require.Equal(t, rep.AsOf, d.AsOf)
		require.Equal(t, "batches/"+id+"/report.xlsx", d.Reports["xlsx"])
		require.Equal(t, "batches/"+id+"/report-summary.csv", d.Reports["summary.csv"])
		require.Equal(t, "batches/"+id+"/transfers", d.Reports["transfers"])
		// The transfer waiting for its sender, with what finance sends on.
		require.Equal(t, 1, d.ActionRequiredRows)
		require.Len(t, d.ActionRequired, 1)
		a := d.ActionRequired[0]
		require.Equal(t, "T-003/2026-11", a.Reference)
		require.Equal(t, "https://bank.example/3ds/ps_17", a.ActionURL)
		require.Equal(t, "2026-11-25T09:15:00Z", a.ActionExpiresAt)
		require.Equal(t, "592174-69412211", a.TCN)
		require.Equal(t, "en", d.Lang)
		require.Contains(t, a.NextStep, "3-D Secure link")
		// Asked in Russian by ?lang=, the links ask for Russian too.
		resp, body = get(t, srv, "/batches/"+id+"?lang=ru")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		d = BatchDetail{}
		require.NoError(t, json.Unmarshal(body, &d))
		require.Equal(t, "ru", d.Lang)
		require.Equal(t, "batches/"+id+"/report.xlsx?lang=ru", d.Reports["xlsx"])
		require.Equal(t, "batches/"+id+"/transfers?lang=ru", d.Reports["transfers"])
		require.Contains(t, d.ActionRequired[0].NextStep, "ссылку 3-D Secure")
	})
	ru, err := s.db.Report(context.Background(), id)
	require.NoError(t, err)
	ru.Localize("ru")
	downloads := []struct {
		name, path, header, format, ctype, file string
		rep                                     *report.Report
		layout                                  report.Layout
	}{
		{"csv", "/report.csv", "", report.FormatCSV, "text/csv; charset=utf-8; header=present", "payrun-report-" + id + ".csv", rep, report.Layout{}},
		{"summary", "/report-summary.csv", "", report.FormatSummaryCSV, "text/csv; charset=utf-8; header=present",
			"payrun-report-" + id + "-summary.csv", rep, report.Layout{}},
		{"xlsx", "/report.xlsx", "", report.FormatXLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
			"payrun-report-" + id + ".xlsx", rep, report.Layout{}},
		{"json", "/report.json", "", report.FormatJSON, "application/json; charset=utf-8", "payrun-report-" + id + ".json", rep, report.Layout{}},
		{"csv ?lang=ru", "/report.csv?lang=ru", "", report.FormatCSV, "text/csv; charset=utf-8; header=present",
			"payrun-report-" + id + "-ru.csv", ru, report.Layout{}},
		{"csv Accept-Language ru", "/report.csv", "ru-RU,ru;q=0.9,en;q=0.8", report.FormatCSV, "text/csv; charset=utf-8; header=present",
			"payrun-report-" + id + "-ru.csv", ru, report.Layout{}},
		{"csv Accept-Language de", "/report.csv", "de-DE,de;q=0.9", report.FormatCSV, "text/csv; charset=utf-8; header=present",
			"payrun-report-" + id + ".csv", rep, report.Layout{}},
		{"csv ?lang=en over Accept-Language", "/report.csv?lang=en", "ru", report.FormatCSV, "text/csv; charset=utf-8; header=present",
			"payrun-report-" + id + ".csv", rep, report.Layout{}},
		{"csv ?dialect=excel-ru", "/report.csv?dialect=excel-ru", "", report.FormatCSV, "text/csv; charset=utf-8; header=present",
			"payrun-report-" + id + ".csv", rep, report.Layout{Dialect: spreadsheet.ExcelRU}},
		{"csv ?csv_dialect=excel-ru", "/report.csv?csv_dialect=excel-ru", "", report.FormatCSV, "text/csv; charset=utf-8; header=present",
			"payrun-report-" + id + ".csv", rep, report.Layout{Dialect: spreadsheet.ExcelRU}},
		{"summary ?lang=ru&dialect=rfc4180", "/report-summary.csv?lang=ru&dialect=rfc4180", "", report.FormatSummaryCSV,
			"text/csv; charset=utf-8; header=present", "payrun-report-" + id + "-ru-summary.csv", ru, report.Layout{Dialect: spreadsheet.RFC4180}},
		{"xlsx ?lang=ru", "/report.xlsx?lang=ru", "", report.FormatXLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
			"payrun-report-" + id + "-ru.xlsx", ru, report.Layout{}},
	}
	for _, tt := range downloads {
		t.Run("download "+tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/batches/"+id+tt.path, nil)
			require.NoError(t, err)
			if tt.header != "" {
				req.Header.Set("Accept-Language", tt.header)
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			require.Equal(t, tt.ctype, resp.Header.Get("Content-Type"))
			disp, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
			require.NoError(t, err)
			require.Equal(t, "attachment", disp)
			require.Equal(t, tt.file, params["filename"])
			require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			require.Equal(t, tt.rep.Lang, resp.Header.Get("Content-Language"))
			// The same ledger state: the same bytes as the command writes.
			var want bytes.Buffer
			require.NoError(t, tt.rep.WriteLayout(&want, tt.format, tt.layout))
			require.Equal(t, want.Bytes(), body)
		})
	}
	for _, path := range []string{"/report.csv?lang=de", "/report.csv?dialect=excel", "/transfers?lang=x", "?lang=fr"} {
		t.Run("400 "+path, func(t *testing.T) {
			resp, body := get(t, srv, "/batches/"+id+path)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
			require.Contains(t, string(body), `"invalid"`)
		})
	}
	t.Run("transfers", func(t *testing.T) {
		resp, body := get(t, srv, "/batches/"+id+"/transfers?lang=ru")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var tr Transfers
		require.NoError(t, json.Unmarshal(body, &tr))
		require.Len(t, tr.Transfers, 6)
		for _, r := range tr.Transfers {
			require.Equal(t, "transfer", r.Method)
			require.NotEmpty(t, r.FXRate, r.Reference)
			require.NotEmpty(t, r.Commission, r.Reference)
		}
		require.Equal(t, "592174-69412211", tr.Transfers[2].TCN)
		require.Equal(t, "Ждём, пока отправитель пройдёт проверку 3-D Secure.", tr.Transfers[2].Reason)
	})
	notFound := []string{"/batches/b00000000000000000000", "/batches/b00000000000000000000/report.csv",
		"/batches/not-a-batch", "/batches/..%2f..%2fetc/report.xlsx"}
	for _, path := range notFound {
		t.Run("404 "+path, func(t *testing.T) {
			resp, body := get(t, srv, path)
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			require.NoError(t, json.Unmarshal(body, &e), string(body))
			require.Equal(t, "not_found", e.Error.Code)
		})
	}
	t.Run("bad limit", func(t *testing.T) {
		resp, _ := get(t, srv, "/batches?limit=x")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("exceptions", func(t *testing.T) {
		resp, body := get(t, srv, "/exceptions")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var list struct {
			Exceptions []Exception `json:"exceptions"`
		}
		require.NoError(t, json.Unmarshal(body, &list))
		require.Len(t, list.Exceptions, 10) // the batch's nine and one naming no batch
		resp, body = get(t, srv, "/exceptions?batch="+id)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.Unmarshal(body, &list))
		require.Len(t, list.Exceptions, 9)
	})
	t.Run("only GET", func(t *testing.T) {
		resp, err := srv.Client().Post(srv.URL+"/batches", "text/plain", nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	})
}

// TestHTTPHandlerReadOnly serves a database opened read-only, as `ledger
// status` does next to the running ledger.
func TestHTTPHandlerReadOnly(t *testing.T) {
	s, _, id := goldenLedger(t)
	ro, err := OpenReadOnly(s.db.Path())
	require.NoError(t, err)
	defer ro.Close()
	srv := httptest.NewServer(NewHTTPHandler(ro))
	defer srv.Close()
	resp, body := get(t, srv, "/batches/"+id+"/report.csv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "E-001/2026-11")
}

// TestReportSlots: with every slot taken a download waits for one, and is
// answered 503 with Retry-After when none frees in time; a freed slot
// serves the next.
func TestReportSlots(t *testing.T) {
	s, _, id := goldenLedger(t)
	hh, mux := newHTTPHandler(s.db, WithHTTPLogger(quiet), WithReportSlots(1, 50*time.Millisecond))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	hh.reports <- struct{}{} // a report being built
	resp, body := get(t, srv, "/batches/"+id+"/report.csv")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(body))
	require.Equal(t, "10", resp.Header.Get("Retry-After"))
	require.Contains(t, string(body), `"unavailable"`)

	// A slot that frees while the download waits serves it.
	go func() { time.Sleep(10 * time.Millisecond); <-hh.reports }()
	hh.reportWait = 5 * time.Second
	resp, body = get(t, srv, "/batches/"+id+"/report.csv")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "", resp.Header.Get("Content-Length"), "streamed, not held whole")
	rep, err := s.db.Report(context.Background(), id)
	require.NoError(t, err)
	var want bytes.Buffer
	require.NoError(t, rep.Write(&want, report.FormatCSV))
	require.Equal(t, want.Bytes(), body)
	require.Len(t, hh.reports, 0, "the slot is given back")
}
