package ingest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
)

// TestHandlerTemplates: every method's template downloads, and, filled,
// uploads and publishes cleanly (the XLSX one through the upload handler
// itself).
func TestHandlerTemplates(t *testing.T) {
	srv, _, _ := newTestServer(t, 0)
	get := func(path string) (int, http.Header, []byte) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, b
	}

	code, h, body := get("/templates/card.csv?lang=ru")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "text/csv; charset=utf-8", h.Get("Content-Type"))
	require.Equal(t, `attachment; filename="payrun-template-card.csv"`, h.Get("Content-Disposition"))
	require.True(t, strings.HasPrefix(string(body), "\uFEFFНомер;ФИО;Номер карты;Сумма;"), string(body))

	code, _, body = get("/templates/token.csv?csv_dialect=rfc4180")
	require.Equal(t, http.StatusOK, code)
	require.True(t, strings.HasPrefix(string(body), "reference,full_name,card_token,amount,"), string(body))

	for i, m := range []string{"card", "token", "encrypted_card", "transfer"} {
		code, h, body = get("/templates/" + m + ".xlsx?lang=ru")
		require.Equal(t, http.StatusOK, code, string(body))
		require.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", h.Get("Content-Type"))

		// As it is: its example row is refused.
		form, ct := multipartBody(t, m+".xlsx", body, map[string]string{"lang": "ru"})
		status, out := post(t, srv.URL+"/batches/validate", ct, form)
		require.Equal(t, http.StatusUnprocessableEntity, status, out)
		require.Contains(t, out["errors"].([]any)[0].(map[string]any)["message"], "строка-пример из шаблона")

		// Filled: published.
		filled := fillXLSX(t, body, "T"+string(rune('0'+i)))
		form, ct = multipartBody(t, m+".xlsx", filled, map[string]string{"name": "template " + m})
		status, out = post(t, srv.URL+"/batches", ct, form)
		require.Equal(t, http.StatusCreated, status, out)
		require.Equal(t, "xlsx", out["format"])
		require.Equal(t, float64(2), out["rows"])
		require.Equal(t, map[string]any{m: float64(2)}, out["by_method"])
	}

	for _, path := range []string{"/templates/cash.csv", "/templates/card.pdf", "/templates/card", "/templates/CARD.csv"} {
		code, _, body = get(path)
		require.Equal(t, http.StatusNotFound, code, path)
		require.Contains(t, string(body), `"code": "not_found"`)
	}
	code, _, body = get("/templates/card.csv?lang=de")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, string(body), `language \"de\": use ru or en`)
}

// fillXLSX puts two payouts in place of a template's example row.
func fillXLSX(t *testing.T, data []byte, prefix string) []byte {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer f.Close()
	sheet := f.GetSheetList()[0]
	rows, err := f.GetRows(sheet)
	require.NoError(t, err)
	for i := 1; i <= 2; i++ {
		r := make([]any, len(rows[1]))
		for j, v := range rows[1] {
			r[j] = v
		}
		r[0] = prefix + "-" + string(rune('0'+i))
		ref, _ := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, f.SetSheetRow(sheet, ref, &r))
	}
	var out bytes.Buffer
	_, err = f.WriteTo(&out)
	require.NoError(t, err)
	return out.Bytes()
}

// TestHandlerXLSXOptions: the method, sheet and lang form fields.
func TestHandlerXLSXOptions(t *testing.T) {
	srv, _, _ := newTestServer(t, 0)
	f := excelize.NewFile()
	_, err := f.NewSheet("Ноябрь")
	require.NoError(t, err)
	require.NoError(t, f.SetSheetRow("Ноябрь", "A1", &[]any{"Табельный номер", "ФИО", "Токен", "Сумма"}))
	require.NoError(t, f.SetSheetRow("Ноябрь", "A2", &[]any{"0001/2026-11", "Иванов Иван", "tok_1", 85000}))
	var buf bytes.Buffer
	_, err = f.WriteTo(&buf)
	require.NoError(t, err)

	form, ct := multipartBody(t, "november.xlsx", buf.Bytes(), map[string]string{"sheet": "ноябрь", "method": "token"})
	status, out := post(t, srv.URL+"/batches/validate", ct, form)
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "Ноябрь", out["sheet"])
	require.Equal(t, map[string]any{"token": float64(1)}, out["by_method"])

	form, ct = multipartBody(t, "november.xlsx", buf.Bytes(), map[string]string{"lang": "ru"})
	status, out = post(t, srv.URL+"/batches/validate", ct, form)
	require.Equal(t, http.StatusUnprocessableEntity, status, out)
	require.Equal(t, `лист "Sheet1" пуст; нужна строка заголовка`, out["errors"].([]any)[0].(map[string]any)["message"])

	form, ct = multipartBody(t, "november.xlsx", buf.Bytes(), map[string]string{"method": "cash"})
	status, out = post(t, srv.URL+"/batches/validate", ct, form)
	require.Equal(t, http.StatusBadRequest, status, out)
	require.Contains(t, out["error"].(map[string]any)["message"], `method "cash"`)
}
