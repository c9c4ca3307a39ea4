package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/testutil"
)

// guarded is the route table over a real ledger (its directory of people
// and its sessions file), with a handler standing in for the reports.
func guarded(t *testing.T) (*ledger.Service, *httptest.Server) {
	t.Helper()
	db, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	require.NoError(t, err)
	svc := ledger.NewService(db, ledger.Config{Logger: testutil.QuietLogger()})
	sessions, err := ledger.OpenSessions(ledger.SessionsPath(db.Path()))
	require.NoError(t, err)
	t.Cleanup(func() {
		sessions.Close()
		svc.Close()
		db.Close()
	})
	g := httpapi.NewGuard(httpapi.GuardConfig{Directory: svc, Store: sessions, Logger: testutil.QuietLogger()})
	reports := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.PrincipalFrom(r.Context())
		w.Write([]byte("batches for " + p.Name))
	})
	srv := httptest.NewServer(httpapi.Routes{Reports: reports, Commands: ledger.NewCommandHandler(svc), Guard: g}.Handler())
	t.Cleanup(srv.Close)
	return svc, srv
}

func signIn(t *testing.T, srv *httptest.Server, user, pw, code string) (*http.Response, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user": user, "password": pw, "totp": code})
	resp, err := http.Post(srv.URL+"/signin", "application/json", strings.NewReader(string(body)))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func get(t *testing.T, srv *httptest.Server, path, cookie string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSessionsAndSecondFactor(t *testing.T) {
	svc, srv := guarded(t)
	ctx := context.Background()
	admin := auth.HostActor("test")
	_, err := svc.AddUser(ctx, admin, ledger.NewUser{Name: "carl", Roles: auth.Roles{auth.RoleChecker}, Password: "carl checks every batch"})
	require.NoError(t, err)

	resp, body := signIn(t, srv, "carl", "carl checks every batch", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	cookie := strings.SplitN(resp.Header.Get("Set-Cookie"), ";", 2)[0]
	status, body := get(t, srv, "/batches", cookie)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "batches for carl", body)

	// Disabling a user ends their session at once.
	require.NoError(t, svc.DisableUser(ctx, admin, "carl", true))
	status, _ = get(t, srv, "/batches", cookie)
	require.Equal(t, http.StatusUnauthorized, status)
	resp, _ = signIn(t, srv, "carl", "carl checks every batch", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a disabled user cannot sign in")
	require.NoError(t, svc.DisableUser(ctx, admin, "carl", false))

	// The policy requires a second factor for checkers: refused until
	// enrolled, then the code is required.
	p := auth.DefaultPolicy()
	p.TOTPFor = auth.Roles{auth.RoleChecker}
	_, err = svc.SetPolicy(ctx, admin, p)
	require.NoError(t, err)
	resp, body = signIn(t, srv, "carl", "carl checks every batch", "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	require.Contains(t, body, "requires a second factor")
	secret, otpURL, err := svc.EnrollTOTP(ctx, admin, "carl", false)
	require.NoError(t, err)
	require.Contains(t, otpURL, "otpauth://totp/")
	resp, _ = signIn(t, srv, "carl", "carl checks every batch", "123456")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	code, err := auth.TOTPCode(secret, time.Now())
	require.NoError(t, err)
	resp, body = signIn(t, srv, "carl", "carl checks every batch", code)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `"via": "session"`)

	// Sign-out ends the session.
	cookie = strings.SplitN(resp.Header.Get("Set-Cookie"), ";", 2)[0]
	req, _ := http.NewRequest("POST", srv.URL+"/signout", nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Accept", "application/json")
	out, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	out.Body.Close()
	require.Equal(t, http.StatusNoContent, out.StatusCode)
	status, _ = get(t, srv, "/batches", cookie)
	require.Equal(t, http.StatusUnauthorized, status)

	entries, err := svc.DB().AuditEntries(ctx, ledger.AuditFilter{})
	require.NoError(t, err)
	var signins []string
	for _, e := range entries {
		if e.Action == auth.ActSignIn || e.Action == auth.ActSignOut {
			signins = append(signins, string(e.Action)+" "+string(e.Outcome)+" "+e.Detail)
		}
	}
	require.Equal(t, []string{"signin ok ", "signin refused user disabled", "signin refused the policy requires a second factor; none enrolled",
		"signin refused wrong or missing TOTP code", "signin ok ", "signout ok "}, signins)
}

func TestSignInFormRedirectsOnlyHere(t *testing.T) {
	svc, srv := guarded(t)
	_, err := svc.AddUser(context.Background(), auth.HostActor("test"), ledger.NewUser{Name: "vera", Roles: auth.Roles{auth.RoleViewer},
		Password: "vera reads the reports"})
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for next, want := range map[string]string{"/batches?x=1": "/batches?x=1", "https://evil.example/": "/", "//evil.example": "/", "": "/"} {
		resp, err := client.PostForm(srv.URL+"/signin", url.Values{"user": {"vera"}, "password": {"vera reads the reports"}, "next": {next}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, want, resp.Header.Get("Location"), next)
	}
	resp, err := client.PostForm(srv.URL+"/signin", url.Values{"user": {"vera"}, "password": {"wrong one, twelve+"}})
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, string(b), "wrong user name or password", "the form again, with the reason")
}

func TestNoGuardServesNothing(t *testing.T) {
	srv := httptest.NewServer(httpapi.Routes{Reports: http.NotFoundHandler()}.Handler())
	defer srv.Close()
	status, _ := get(t, srv, "/batches", "")
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = get(t, srv, "/healthz", "")
	require.Equal(t, http.StatusOK, status)
}
