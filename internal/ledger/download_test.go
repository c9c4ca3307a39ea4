package ledger

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/httpapi"
)

// TestReportDownloadsAreAudited: who downloaded which batch's report (or
// the audit log), in which format and language, is in the audit log, and
// so is a download refused. Through the guard with real tokens, as
// apiserver mounts the handlers.
func TestReportDownloadsAreAudited(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	_, carol, _ := people(t, s)
	vera, err := s.AddUser(ctx, testAdmin, NewUser{Name: "vera", Roles: auth.Roles{auth.RoleViewer}})
	require.NoError(t, err)
	token := func(name string) string {
		tok, _, err := s.CreateToken(ctx, testAdmin, NewToken{User: name, Name: "test"})
		require.NoError(t, err)
		return tok
	}
	veraTok, carolTok := token(vera.Name), token(carol.Name)
	b := releaseBatch(t, s, 3, "downloads")
	g := httpapi.NewGuard(httpapi.GuardConfig{Directory: s, Logger: quiet})
	srv := httptest.NewServer(httpapi.Routes{Reports: NewHTTPHandler(s.db, WithHTTPLogger(quiet), WithAudit(s.Audit)),
		Commands: NewCommandHandler(s, WithHTTPLogger(quiet)), Guard: g}.Handler())
	defer srv.Close()
	as := func(tok, path string) int {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	const unknown = "bffffffffffffffffffff"
	for _, c := range []struct {
		tok, path string
		status    int
	}{
		{veraTok, "/batches/" + b.ID + "/report.csv", http.StatusOK},
		{veraTok, "/batches/" + b.ID + "/report.xlsx?lang=ru", http.StatusOK},
		{veraTok, "/batches/" + b.ID + "/report.json", http.StatusOK},
		{veraTok, "/batches/" + b.ID + "/report-summary.csv?lang=ru&dialect=rfc4180", http.StatusOK},
		{veraTok, "/batches/" + b.ID + "/transfers", http.StatusOK},
		{veraTok, "/batches/" + unknown + "/report.csv", http.StatusNotFound},
		{veraTok, "/batches/" + b.ID + "/report.csv?lang=de", http.StatusBadRequest},
		{carolTok, "/audit?batch=" + b.ID + "&format=csv", http.StatusOK},
		{carolTok, "/audit?batch=4111%201111%201111%201111", http.StatusOK},
	} {
		require.Equal(t, c.status, as(c.tok, c.path), c.path)
	}
	entries, err := s.db.AuditEntries(ctx, AuditFilter{})
	require.NoError(t, err)
	type seen struct{ User, Batch, Target, Outcome, Detail string }
	var got []seen
	for _, e := range entries {
		if e.Action == auth.ActDownload {
			require.Equal(t, auth.Via("token:test"), e.Via)
			require.NotEmpty(t, e.Remote)
			got = append(got, seen{e.User, e.Batch, e.Target, string(e.Outcome), e.Detail})
		}
	}
	require.Equal(t, []seen{
		{"vera", b.ID, "report.csv", "ok", "lang en, dialect rfc4180"},
		{"vera", b.ID, "report.xlsx", "ok", "lang ru"},
		{"vera", b.ID, "report.json", "ok", "lang en"},
		{"vera", b.ID, "report-summary.csv", "ok", "lang ru, dialect rfc4180"},
		{"vera", b.ID, "transfers", "ok", "lang en"},
		{"vera", unknown, "report.csv", "refused", "lang en, dialect rfc4180; batch " + unknown + ": not found"},
		{"vera", b.ID, "report.csv", "refused", "lang \"de\": use ru or en"},
		{"carol", b.ID, "audit.csv", "ok", "6 entries"},
		{"carol", "", "audit.json", "ok", "0 entries of batch \"411111******1111\""},
	}, got)
}
