package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
)

// TestReportDrop: POST /sandbox/report/drop writes each project's files
// of the day into the drop folder under their final names (no temporary
// file left), as the bank's SFTP delivery would.
func TestReportDrop(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(c *sandbox.Config) {
		c.ReportDir = dir
		c.Modes.ReportParts = 2
		c.Modes.ReportZip = "one"
	})
	c := e.client(projSingle)
	r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.BankCardMethod("4242424242424242"), AmountDetails: rub(150050),
		ParticipantDetails: recipient("A B")})
	require.NoError(t, err)
	e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
	day := e.payout(r.Session.ID).FinishedAt.In(time.FixedZone("MSK", 3*3600)).Format(time.DateOnly)

	resp, err := http.Post(e.ts.URL+"/sandbox/report/drop?date="+day, "", nil)
	require.NoError(t, err)
	var out struct {
		Files []string `json:"files"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, out.Files, 3, "one ZIP per project")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	require.ElementsMatch(t, []string{projAuto + "_" + day + "_" + day + ".zip", projSingle + "_" + day + "_" + day + ".zip",
		projTwoStep + "_" + day + "_" + day + ".zip"}, names)
	b, err := os.ReadFile(filepath.Join(dir, projSingle+"_"+day+"_"+day+".zip"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "PK\x03\x04"))

	resp, err = http.Post(e.ts.URL+"/sandbox/report/drop?date=yesterday", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// TestReportQuery: GET /sandbox/report takes the format, parts and ZIP as
// query options; a report of several files needs part=K (or zip=one).
func TestReportQuery(t *testing.T) {
	e := newEnv(t)
	c := e.client(projSingle)
	var last string
	for _, amount := range []int64{10000, 20000} {
		r, err := c.InitPayout(ctx, bank131.InitPayoutRequest{PaymentMethod: bank131.BankCardMethod("4242424242424242"), AmountDetails: rub(amount),
			ParticipantDetails: recipient("A B")})
		require.NoError(t, err)
		e.sink.await(r.Session.ID, bank131.HookPaymentFinished, 1)
		last = r.Session.ID
	}
	day := e.payout(last).FinishedAt.In(time.FixedZone("MSK", 3*3600)).Format(time.DateOnly)
	get := func(query string) (*http.Response, string) {
		resp, err := http.Get(e.ts.URL + "/sandbox/report?project=" + projSingle + "&date=" + day + query)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}
	resp, _ := get("&parts=2")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, body := get("&parts=2&part=2")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Disposition"), "_"+day+"_2.csv")
	require.True(t, strings.HasPrefix(body, "operationId,"), "every part has the header by default")
	resp, body = get("&format=xlsx&zip=one&parts=2")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/zip", resp.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(body, "PK\x03\x04"))
	resp, _ = get("&format=pdf")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
