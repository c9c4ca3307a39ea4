package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/testutil"
)

// TestTOTPCodeStaysSpentAcrossARestart: a one-time code that signed a
// user in is refused by the next serving process on the same files (the
// steps are in the sessions file, not the process), as by the first; the
// next step's code still works. The clock is fixed, so both attempts fall
// in one time step.
func TestTOTPCodeStaysSpentAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	db, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	require.NoError(t, err)
	svc := ledger.NewService(db, ledger.Config{Logger: testutil.QuietLogger()})
	t.Cleanup(func() {
		svc.Close()
		db.Close()
	})
	ctx := context.Background()
	admin := auth.HostActor("test")
	_, err = svc.AddUser(ctx, admin, ledger.NewUser{Name: "carl", Roles: auth.Roles{auth.RoleChecker}, Password: "carl checks every batch"})
	require.NoError(t, err)
	secret, _, err := svc.EnrollTOTP(ctx, admin, "carl", false)
	require.NoError(t, err)
	clock := testutil.NewClock(time.Date(2026, 12, 2, 8, 0, 5, 0, time.UTC))
	code, err := auth.TOTPCode(secret, clock.Now())
	require.NoError(t, err)

	// serve is one serving process: its own Guard and sessions handle.
	serve := func() (*httptest.Server, func()) {
		sessions, err := ledger.OpenSessions(ledger.SessionsPath(db.Path()))
		require.NoError(t, err)
		g := httpapi.NewGuard(httpapi.GuardConfig{Directory: svc, Store: sessions, Logger: testutil.QuietLogger(), Now: clock.Now})
		srv := httptest.NewServer(httpapi.Routes{Commands: ledger.NewCommandHandler(svc), Guard: g}.Handler())
		return srv, func() {
			srv.Close()
			sessions.Close()
		}
	}
	first, stop := serve()
	resp, body := signIn(t, first, "carl", "carl checks every batch", code)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	resp, body = signIn(t, first, "carl", "carl checks every batch", code)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the same code twice in one process: %s", body)
	stop()

	second, stop := serve()
	defer stop()
	resp, body = signIn(t, second, "carl", "carl checks every batch", code)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a restarted process let a spent code sign in again: %s", body)
	entries, err := db.AuditEntries(ctx, ledger.AuditFilter{})
	require.NoError(t, err)
	last := entries[len(entries)-1]
	require.Equal(t, auth.ActSignIn, last.Action)
	require.Equal(t, auth.OutcomeRefused, last.Outcome)
	require.Equal(t, "TOTP code used already", last.Detail)

	clock.Add(30 * time.Second)
	next, err := auth.TOTPCode(secret, clock.Now())
	require.NoError(t, err)
	resp, body = signIn(t, second, "carl", "carl checks every batch", next)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the next step's code: %s", body)
}
