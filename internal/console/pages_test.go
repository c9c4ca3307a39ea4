package console_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/apiserver"
	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/testutil"
)

// site is the API with the console over a real ledger database (no
// NATS: uploads validate; publishing answers 503).
type site struct {
	srv   *httptest.Server
	svc   *ledger.Service
	seed  *seed
	users map[string]int64
}

const testPassword = "correct horse battery staple"

func newSite(tb testing.TB) *site {
	tb.Helper()
	dir := tb.TempDir()
	db, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	require.NoError(tb, err)
	svc := ledger.NewService(db, ledger.Config{Logger: testutil.QuietLogger()})
	api, err := apiserver.New(apiserver.Config{Ledger: svc, TempDir: dir, Logger: testutil.QuietLogger()})
	require.NoError(tb, err)
	srv := httptest.NewServer(api.Handler)
	tb.Cleanup(func() {
		srv.Close()
		api.Close()
		svc.Close()
		db.Close()
	})
	s := &site{srv: srv, svc: svc, seed: openSeed(tb, db.Path()), users: map[string]int64{}}
	ctx := context.Background()
	for name, roles := range map[string]auth.Roles{"mia": {auth.RoleMaker}, "carl": {auth.RoleChecker}, "vera": {auth.RoleViewer},
		"ada": {auth.RoleAdmin}} {
		u, err := svc.AddUser(ctx, auth.HostActor("test"), ledger.NewUser{Name: name, Roles: roles, Password: testPassword})
		require.NoError(tb, err)
		s.users[name] = u.ID
	}
	return s
}

// browser is a client with a cookie jar, not following redirects.
type browser struct {
	t    testing.TB
	c    *http.Client
	base string
	lang string
}

func (s *site) browser(t testing.TB, lang string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: s.srv.URL, lang: lang, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) (int, string, http.Header) {
	b.t.Helper()
	req.Header.Set("Accept-Language", b.lang)
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) get(path string) (int, string, http.Header) {
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) (int, string, http.Header) {
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) upload(path, name string, data []byte, fields map[string]string) (int, string, http.Header) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("file", name)
	fw.Write(data)
	w.Close()
	req, _ := http.NewRequest("POST", b.base+path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.do(req)
}

func (b *browser) signIn(user string) {
	b.t.Helper()
	status, body, h := b.post("/signin", url.Values{"user": {user}, "password": {testPassword}, "next": {"/"}})
	require.Equal(b.t, http.StatusSeeOther, status, body)
	require.Equal(b.t, "/", h.Get("Location"))
}

func TestSignInPage(t *testing.T) {
	s := newSite(t)
	ru := s.browser(t, "ru-RU,ru;q=0.9,en;q=0.8")
	status, _, h := ru.get("/")
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/signin?next=%2F", h.Get("Location"))
	status, body, _ := ru.get("/signin?next=%2F")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `<html lang="ru">`)
	require.Contains(t, body, "Вход в payrun")
	require.Contains(t, body, `<form method="post" action="/signin">`)
	status, body, _ = ru.post("/signin", url.Values{"user": {"mia"}, "password": {"wrong password!"}})
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, body, "Неверное имя пользователя или пароль.")

	en := s.browser(t, "en-GB,en;q=0.9")
	_, body, _ = en.get("/signin")
	require.Contains(t, body, "Sign in to payrun")
	// The switch: ?lang= sets the cookie, which wins over the header.
	_, body, _ = en.get("/signin?lang=ru")
	require.Contains(t, body, "Вход в payrun")
	_, body, _ = en.get("/signin")
	require.Contains(t, body, "Вход в payrun", "the choice is kept")

	// The assets are public (the sign-in page needs them) and cached.
	status, body, h = s.browser(t, "").get("/console/static/app.css")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "--accent")
	require.Contains(t, h.Get("Cache-Control"), "immutable")
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), "behind the guard's headers")
}

// payroll is the sample file, and the same with one bad row.
func payroll(t *testing.T) (good, bad []byte) {
	good, err := os.ReadFile("../../samples/payroll.csv")
	require.NoError(t, err)
	bad = bytes.Replace(good, []byte("E-004/2026-11,card,71000,"), []byte("E-004/2026-11,card,71000.555,"), 1)
	require.NotEqual(t, good, bad)
	return good, bad
}

func TestUploadChecks(t *testing.T) {
	s := newSite(t)
	good, bad := payroll(t)
	mia := s.browser(t, "en")
	mia.signIn("mia")
	status, body, _ := mia.get("/console/upload")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `type="file"`)
	require.Contains(t, body, `/templates/card.xlsx?lang=en`)

	status, body, _ = mia.upload("/console/upload?action=check", "payroll.csv", bad, map[string]string{"name": "November"})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	require.Contains(t, body, "Errors in the file: 1.")
	require.Regexp(t, `<td class="num">5</td><td><code>amount</code></td>`, body, "the error on its line and column")

	status, body, _ = mia.upload("/console/upload?action=check", "payroll.csv", good, nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "The file is valid")
	require.Contains(t, body, "1,079,332.77\u00a0RUB")
	require.Contains(t, body, "15,000.00\u00a0KGS")

	// Submitting needs JetStream, which this site has not: the refusal is
	// shown on the page.
	status, body, _ = mia.upload("/console/upload?action=submit", "payroll.csv", good, nil)
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, "could not take it now")

	// The errors file: the failed row with its line, the card masked.
	status, body, h := mia.upload("/console/upload/errors", "payroll.csv", bad, nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "text/csv; charset=utf-8", h.Get("Content-Type"))
	require.Contains(t, h.Get("Content-Disposition"), "payroll-errors.csv")
	require.True(t, strings.HasPrefix(body, "line,"), body)
	require.Contains(t, body, "411111******1111")
	require.NotContains(t, body, "4111111111111111")

	// A viewer may not upload.
	vera := s.browser(t, "en")
	vera.signIn("vera")
	status, _, _ = vera.get("/console/upload")
	require.Equal(t, http.StatusForbidden, status)

	// Every check is in the audit log.
	entries, err := s.svc.DB().AuditEntries(context.Background(), ledger.AuditFilter{})
	require.NoError(t, err)
	var validations int
	for _, e := range entries {
		if e.Action == auth.ActValidate && e.User == "mia" {
			validations++
		}
	}
	require.Equal(t, 3, validations)
}

func TestBatchPages(t *testing.T) {
	s := newSite(t)
	id, sha := s.seed.batch(t, batchSpec{name: "november", status: payout.BatchAwaitingApproval, rows: 120, uploader: s.users["mia"],
		by: "mia", required: 1, states: func(i int) (payout.State, string) {
			switch {
			case i == 7:
				return payout.StateFailed, "bank_card_expired"
			case i == 8:
				return payout.StateActionRequired, ""
			}
			return payout.StateReceived, ""
		}})
	ru := s.browser(t, "ru")
	ru.signIn("carl")
	status, body, _ := ru.get("/console/batches")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "/console/batches/"+id)
	require.Contains(t, body, "ждёт согласования")

	status, body, _ = ru.get("/console/batches/" + id)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, sha, "the approval shows the file hash it binds to")
	require.Contains(t, body, "Срок действия карты получателя истёк.")
	require.Contains(t, body, "/sandbox/3ds/tok8")
	require.Contains(t, body, `data-copy="tds-8"`)
	require.Contains(t, body, "MSK")
	require.Contains(t, body, "?after=50#rows", "keyset paging of the rows")

	status, body, _ = ru.get("/console/batches/" + id + "?failed=1")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "E-000007")
	require.NotContains(t, body, "E-000008")

	status, body, _ = ru.get("/console/batches/" + id + "/live")
	require.Equal(t, http.StatusOK, status)
	require.True(t, strings.HasPrefix(strings.TrimSpace(body), `<section id="live"`), body[:min(len(body), 200)])

	// Stale totals are refused and shown; the right ones approve.
	status, body, _ = ru.post("/console/batches/"+id+"/approve", url.Values{"file_sha256": {sha}, "totals": {`{"RUB":1}`}})
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "Реестр изменился")
	b, err := s.svc.DB().Batch(context.Background(), id)
	require.NoError(t, err)
	status, _, h := ru.post("/console/batches/"+id+"/approve", url.Values{"file_sha256": {sha},
		"totals": {`{"RUB":` + itoa64(b.Totals["RUB"]) + `}`}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/batches/"+id+"?done=approved", h.Get("Location"))
	b, err = s.svc.DB().Batch(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, payout.BatchScheduled, b.Status)
	require.Equal(t, "carl", b.ApprovedBy)

	// A form posted from another site is refused before it acts, even
	// with the checker's cookie.
	req, _ := http.NewRequest("POST", s.srv.URL+"/console/batches/"+id+"/cancel", strings.NewReader("reason=forged"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	status, _, _ = ru.do(req)
	require.Equal(t, http.StatusForbidden, status)
	b, err = s.svc.DB().Batch(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, payout.BatchScheduled, b.Status, "not cancelled")

	// A maker sees no approve form and cannot post one.
	mia := s.browser(t, "en")
	mia.signIn("mia")
	status, _, _ = mia.post("/console/batches/"+id+"/approve", url.Values{"file_sha256": {sha}})
	require.Equal(t, http.StatusForbidden, status)
}

func TestExceptionsAndAdmin(t *testing.T) {
	s := newSite(t)
	id, _ := s.seed.batch(t, batchSpec{name: "x", status: payout.BatchDone, rows: 3})
	_, err := s.seed.db.Exec(`INSERT INTO exceptions (category, key, batch_id, row_no, detail, opened_at) VALUES (?, 'k1', ?, 2, 'paid 10.00, asked 12.00', ?)`,
		string(reconcile.AmountMismatch), id, "2026-11-25T09:00:00.000000000Z")
	require.NoError(t, err)
	carl := s.browser(t, "en")
	carl.signIn("carl")
	status, body, _ := carl.get("/console/exceptions")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "amount or currency mismatch")
	require.Contains(t, body, "Open: 1")
	status, body, h := carl.post("/console/exceptions/1/resolve", url.Values{"reason": {"the bank refunded"},
		"back": {"/console/exceptions?category=amount_mismatch"}})
	require.Equal(t, http.StatusSeeOther, status, body)
	require.Equal(t, "/console/exceptions?category=amount_mismatch&done=exception_resolve", h.Get("Location"))
	_, body, _ = carl.get("/console/exceptions?closed=1")
	require.Contains(t, body, "resolved by carl: the bank refunded")

	ada := s.browser(t, "ru")
	ada.signIn("ada")
	for _, p := range []string{"/console/admin/users", "/console/admin/tokens", "/console/admin/policy"} {
		status, body, _ := ada.get(p)
		require.Equal(t, http.StatusOK, status, "%s: %s", p, body)
	}
	status, body, _ = ada.post("/console/admin/tokens", url.Values{"user": {"mia"}, "name": {"erp"}})
	require.Equal(t, http.StatusCreated, status, body)
	require.Regexp(t, `value="prt_[A-Za-z0-9_-]+"`, body, "the token is shown once")
	status, body, _ = ada.post("/console/admin/policy", url.Values{"policy": {`{"every": true, "approvals": 2, "expire_after": "24h"}`}})
	require.Equal(t, http.StatusSeeOther, status, body)
	p, err := s.svc.DB().Policy(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, p.Approvals)
	status, body, _ = ada.post("/console/admin/policy", url.Values{"policy": {`{"nonsense": 1}`}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "nonsense", "the text as typed stays in the editor")
	status, _, _ = ada.post("/console/admin/users", url.Values{"name": {"nina"}, "roles": {"maker", "checker"}, "password": {testPassword}})
	require.Equal(t, http.StatusSeeOther, status)
	u, err := s.svc.DB().UserByName(context.Background(), "nina")
	require.NoError(t, err)
	require.Equal(t, auth.Roles{auth.RoleChecker, auth.RoleMaker}, u.Roles)

	// A checker is not an admin.
	status, _, _ = carl.get("/console/admin/users")
	require.Equal(t, http.StatusForbidden, status)
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
