package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
)

// TestRev9SignInNextStaysHere: a browser removes every tab and line feed
// from a Location before it resolves it (WHATWG URL parsing), so
// "/\t/evil.example" is "//evil.example" to it, another site; and it reads
// "\" as "/", so "/.\\evil" style paths must not be let through either. A
// sign-in link of ours (…/signin?next=/%09/evil.example) must not send the
// person who signs in to another site.
func TestRev9SignInNextStaysHere(t *testing.T) {
	svc, srv := guarded(t)
	_, err := svc.AddUser(context.Background(), auth.HostActor("test"), ledger.NewUser{Name: "vera", Roles: auth.Roles{auth.RoleViewer},
		Password: "vera reads the reports"})
	require.NoError(t, err)
	for _, next := range []string{"/\t/evil.example", "/\x0b/evil.example", "/ /evil.example", "\t//evil.example", "/\x00/evil.example",
		"/\\evil.example", "/\t\\evil.example"} {
		// The transport alone: Go's client refuses to parse such a
		// Location, a browser follows it.
		req, _ := http.NewRequest("POST", srv.URL+"/signin", strings.NewReader(url.Values{"user": {"vera"},
			"password": {"vera reads the reports"}, "next": {next}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		loc := resp.Header.Get("Location")
		// What a browser makes of it: tabs and newlines removed, leading
		// C0 controls and spaces trimmed, backslashes as slashes.
		seen := strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			if r == '\\' {
				return '/'
			}
			return r
		}, loc)
		seen = strings.TrimLeft(seen, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
		u, err := url.Parse(seen)
		if err == nil {
			require.Empty(t, u.Host, "next %q answered Location %q: another site", next, loc)
		}
		require.False(t, strings.HasPrefix(seen, "//"), "next %q answered Location %q: another site", next, loc)
	}
}

// TestRev9PasswordChangeEndsSessions: an admin sets a new password for a
// person whose password leaked; whoever signed in with the old one must be
// signed out at once, as a disabled user is (their sessions lived on for
// up to 12 hours). Enrolling or removing a second factor ends them too.
func TestRev9PasswordChangeEndsSessions(t *testing.T) {
	svc, srv := guarded(t)
	ctx := context.Background()
	admin := auth.HostActor("test")
	_, err := svc.AddUser(ctx, admin, ledger.NewUser{Name: "carl", Roles: auth.Roles{auth.RoleChecker}, Password: "carl checks every batch"})
	require.NoError(t, err)
	session := func() string {
		resp, body := signIn(t, srv, "carl", "carl checks every batch", "")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		return strings.SplitN(resp.Header.Get("Set-Cookie"), ";", 2)[0]
	}

	thief := session()
	status, _ := get(t, srv, "/batches", thief)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, svc.SetPassword(ctx, admin, "carl", "carl checks every batch")) // the same words, a new hash
	status, _ = get(t, srv, "/batches", thief)
	require.Equal(t, http.StatusUnauthorized, status, "a session from before the password was set again still works")

	fresh := session()
	status, _ = get(t, srv, "/batches", fresh)
	require.Equal(t, http.StatusOK, status, "a session signed in after the change works")
	_, _, err = svc.EnrollTOTP(ctx, admin, "carl", false)
	require.NoError(t, err)
	status, _ = get(t, srv, "/batches", fresh)
	require.Equal(t, http.StatusUnauthorized, status, "a session from before a second factor was enrolled still works")
}

// TestRev9TOTPCodeWorksOnce: a one-time code is one time (RFC 6238 §5.2:
// the verifier must not accept the second attempt of the same OTP). A
// code seen over a shoulder or in a phished form, with the password,
// signed in again anywhere for the ~90 s it stayed valid.
func TestRev9TOTPCodeWorksOnce(t *testing.T) {
	svc, srv := guarded(t)
	ctx := context.Background()
	admin := auth.HostActor("test")
	_, err := svc.AddUser(ctx, admin, ledger.NewUser{Name: "carl", Roles: auth.Roles{auth.RoleChecker}, Password: "carl checks every batch"})
	require.NoError(t, err)
	secret, _, err := svc.EnrollTOTP(ctx, admin, "carl", false)
	require.NoError(t, err)
	now := time.Now()
	if now.Unix()%30 > 25 { // not at the end of a step: the same code for both attempts
		time.Sleep(time.Duration(31-now.Unix()%30) * time.Second)
	}
	code, err := auth.TOTPCode(secret, time.Now())
	require.NoError(t, err)
	resp, body := signIn(t, srv, "carl", "carl checks every batch", code)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	resp, body = signIn(t, srv, "carl", "carl checks every batch", code)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the same one-time code signed in twice: %s", body)
}

// TestRev9ReEnableDoesNotReviveSessions: disabling a user must end their
// sessions (README: "stops working the moment ... its user is
// disabled"). A session is ended only when it is next used while its
// user is disabled, so one that made no request in that window (the
// thief's browser, closed for an hour) is signed in again the moment an
// admin enables the user.
// Disabling now deletes the user's sessions from the sessions file.
func TestRev9ReEnableDoesNotReviveSessions(t *testing.T) {
	svc, srv := guarded(t)
	ctx := context.Background()
	admin := auth.HostActor("test")
	_, err := svc.AddUser(ctx, admin, ledger.NewUser{Name: "carl", Roles: auth.Roles{auth.RoleChecker}, Password: "carl checks every batch"})
	require.NoError(t, err)
	resp, body := signIn(t, srv, "carl", "carl checks every batch", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	cookie := strings.SplitN(resp.Header.Get("Set-Cookie"), ";", 2)[0]
	require.NoError(t, svc.DisableUser(ctx, admin, "carl", true))
	require.NoError(t, svc.DisableUser(ctx, admin, "carl", false))
	status, _ := get(t, srv, "/batches", cookie)
	require.Equal(t, http.StatusUnauthorized, status, "a session from before the user was disabled works again after enabling")
}
