package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// call is one request to the API; it returns the status and body.
type call struct {
	method, path string
	token        string // a token file's user, or ""
	body         io.Reader
	header       map[string]string
}

func (s *system) do(c call) (int, string, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest(c.method, s.api+c.path, c.body)
	require.NoError(s.t, err)
	if c.token != "" {
		tok, err := os.ReadFile(s.tokens[c.token])
		require.NoError(s.t, err)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	if c.body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

// errCode reads the one error answer's code.
func errCode(t *testing.T, body string) ledgerapi.Code {
	t.Helper()
	var e struct {
		Error ledgerapi.Error `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	return e.Error.Code
}

// TestEveryRouteNeedsSomeone: anonymous requests to every route of the
// table get 401 (the landing page redirects to the sign-in form); the
// health check and the sign-in form are public.
func TestEveryRouteNeedsSomeone(t *testing.T) {
	s := startSystem(t, options{widget: true})
	for _, rt := range httpapi.Table {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		file := "app.css"
		if strings.HasPrefix(path, "/r/static/") {
			file = "recipient.css"
		}
		path = strings.NewReplacer("{id}", "b00000000000000000000", "{name}", "mia", "{$}", "", "{file}", file,
			"{action}", "assign", "{row}", "1", "{token}", strings.Repeat("0", 32)+".z.AAAA").Replace(path)
		if strings.HasPrefix(path, "/tokens/") || strings.Contains(path, "/admin/tokens/") || strings.HasPrefix(path, "/console/exceptions/") {
			path = strings.Replace(path, "b00000000000000000000", "1", 1)
		}
		status, body, h := s.do(call{method: method, path: path})
		if rt.Perm == httpapi.PermPublic {
			if strings.HasPrefix(path, "/r/") && !strings.HasPrefix(path, "/r/static/") {
				// A recipient's page: public, but nothing without its link's token.
				require.Equal(t, http.StatusNotFound, status, "%s: %s", rt.Pattern, body)
				continue
			}
			require.Equal(t, http.StatusOK, status, "%s: the console's and the recipient page's assets are public", rt.Pattern)
			continue
		}
		if rt.Page {
			require.Equal(t, http.StatusSeeOther, status, rt.Pattern)
			want := "/signin" // a form posted without a session starts again from the landing page
			if method == http.MethodGet {
				want += "?next=" + url.QueryEscape(path)
			}
			require.Equal(t, want, h.Get("Location"), rt.Pattern)
			continue
		}
		require.Equal(t, http.StatusUnauthorized, status, "%s: %s", rt.Pattern, body)
		require.Equal(t, ledgerapi.CodeUnauthorized, errCode(t, body), rt.Pattern)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), rt.Pattern)
		require.Equal(t, "DENY", h.Get("X-Frame-Options"), rt.Pattern)
		require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'", rt.Pattern)
	}
	for _, p := range []string{"/session", "/no/such/route", "/batches/b00000000000000000000/report.pdf"} {
		status, _, _ := s.do(call{method: "GET", path: p})
		require.Equal(t, http.StatusUnauthorized, status, p)
	}
	status, _, _ := s.do(call{method: "GET", path: "/no/such/route", token: "vera"})
	require.Equal(t, http.StatusNotFound, status, "a signed-in principal learns it does not exist")
	status, _, _ = s.do(call{method: "GET", path: "/healthz"})
	require.Equal(t, http.StatusOK, status)
	status, body, _ := s.do(call{method: "GET", path: "/signin"})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `<form method="post" action="/signin">`)
	// A bad token is refused at once, never taken for anonymous.
	status, body, _ = s.do(call{method: "GET", path: "/batches", header: map[string]string{"Authorization": "Bearer prt_nope"}})
	require.Equal(t, http.StatusUnauthorized, status, body)
}

// TestFourEyesThroughTheAPI is the list, through the binaries:
// roles, four eyes bound to what was seen, two checkers above a
// threshold, a revoked token, forged cross-site posts (the 999 999.00 RUB
// case), sign-in brute force, DNS rebinding, and the audit log that has
// every one of them.
func TestFourEyesThroughTheAPI(t *testing.T) {
	s := startSystem(t, options{})
	file := payoutFile(t, s.dir, "payroll.csv", []map[string]string{
		cardRow("A-1", "1500.00", "Ivanov Ivan", "4242424242424242"),
		tokenRow("A-2", "700.00", "Petrova Anna", "tok_5f2b9c1e8d7a4b3c"),
	})

	// A viewer can read, but neither upload nor approve.
	_, out, err := s.tryUpload("vera", file)
	require.Error(t, err)
	require.Contains(t, out, "vera may not upload: that needs the role maker")
	status, _, _ := s.do(call{method: "GET", path: "/batches", token: "vera"})
	require.Equal(t, http.StatusOK, status)

	// A maker uploads and cannot approve; the batch waits.
	batch := s.upload("mia", file)
	sum := s.sealed(batch)
	require.Equal(t, payout.BatchAwaitingApproval, sum.Status)
	require.Equal(t, "mia", sum.UploadedBy)
	require.Equal(t, []string{"every batch needs approval"}, sum.ApprovalReasons)
	out, err = s.asUser("mia", "approve", "--batch", batch)
	require.Error(t, err)
	require.Contains(t, out, "mia may not approve: that needs the role checker")
	out, err = s.asUser("vera", "approve", "--batch", batch)
	require.Error(t, err)
	require.Contains(t, out, "vera may not approve")

	// A checker's approval with stale totals or another file is refused.
	approve := func(user string, sha string, totals map[string]int64) (int, string) {
		status, body, _ := s.do(call{method: "POST", path: "/batches/" + batch + "/approve", token: user,
			body: jsonBody(map[string]any{"file_sha256": sha, "totals": totals})})
		return status, body
	}
	status, body := approve("carl", sum.FileSHA256, map[string]int64{"RUB": sum.Totals["RUB"] + 100})
	require.Equal(t, http.StatusConflict, status, body)
	require.Equal(t, ledgerapi.CodeStale, errCode(t, body))
	require.Contains(t, body, "is not what you were shown")
	status, body = approve("carl", strings.Repeat("0", 64), sum.Totals)
	require.Equal(t, http.StatusConflict, status, body)
	require.Equal(t, ledgerapi.CodeStale, errCode(t, body))
	time.Sleep(300 * time.Millisecond)
	require.Empty(t, s.bankPayouts(), "nothing paid before a good approval")

	// The second person approves what they were shown: paid.
	out = s.approve("carl", batch)
	require.Contains(t, out, "sha256:   "+sum.FileSHA256)
	require.Contains(t, out, "approval: 1 of 1")
	s.waitFinal(batch, 2, 60*time.Second, nil)
	checkRows(t, s, batch, []expect{{payout.StateSucceeded, ""}, {payout.StateSucceeded, ""}})
	s.agree(batch, 2)

	// Two checkers above a threshold (a policy version of its own).
	policy := filepath.Join(s.dir, "policy.json")
	require.NoError(t, os.WriteFile(policy, []byte(`{"every": true, "approvals": 1, "two_above": {"RUB": "5000.00"}}`), 0o600))
	require.Contains(t, s.host("policy", "set", policy), "policy version 1 saved")
	big := s.upload("mia", payoutFile(t, s.dir, "big.csv", []map[string]string{
		tokenRow("B-1", "4000.00", "Petrova Anna", "tok_5f2b9c1e8d7a4b3c"),
		tokenRow("B-2", "2000.00", "Фёдорова Мария", "tok_77aa10bb20cc30dd"),
	}))
	bsum := s.sealed(big)
	require.Equal(t, 2, bsum.ApprovalsRequired)
	require.Equal(t, 1, bsum.PolicyVersion)
	out = s.approve("carl", big)
	require.Contains(t, out, "approval: 1 of 2")
	out, err = s.asUser("carl", "approve", "--batch", big)
	require.Error(t, err)
	require.Contains(t, out, "carl approved batch "+big+" already")
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, payout.BatchAwaitingApproval, s.sealed(big).Status, "one checker is not enough")
	out = s.approve("dora", big)
	require.Contains(t, out, "approval: 2 of 2")
	s.waitFinal(big, 2, 60*time.Second, nil)
	s.agree(big, 2)

	// A revoked token stops working at once.
	status, _, _ = s.do(call{method: "GET", path: "/batches", token: "vera"})
	require.Equal(t, http.StatusOK, status)
	list := s.host("tokens", "list", "--user", "vera")
	var id string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == "vera" {
			id = f[0]
		}
	}
	require.NotEmpty(t, id, list)
	require.Contains(t, s.host("tokens", "revoke", "--id", id), "revoked")
	status, body, _ = s.do(call{method: "GET", path: "/batches", token: "vera"})
	require.Equal(t, http.StatusUnauthorized, status, body)
	require.Contains(t, body, "the token is unknown or revoked")

	// People sign in with a password; the session cookie then works.
	pw := filepath.Join(s.dir, "mia.pw")
	require.NoError(t, os.WriteFile(pw, []byte("a long passphrase of mia\n"), 0o600))
	s.host("users", "password", "--name", "mia", "--password-file", pw)
	status, body, h := s.do(call{method: "POST", path: "/signin", body: strings.NewReader(url.Values{
		"user": {"mia"}, "password": {"a long passphrase of mia"}, "next": {"/batches"}}.Encode()),
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	require.Equal(t, http.StatusSeeOther, status, body)
	require.Equal(t, "/batches", h.Get("Location"))
	setCookie := h.Get("Set-Cookie")
	require.Contains(t, setCookie, httpapi.SessionCookie+"=")
	require.Contains(t, setCookie, "HttpOnly")
	require.Contains(t, setCookie, "SameSite=Lax")
	cookie := strings.SplitN(setCookie, ";", 2)[0]
	status, body, _ = s.do(call{method: "GET", path: "/session", header: map[string]string{"Cookie": cookie}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `"via": "session"`)

	// Forged cross-site posts carrying the session: a text/plain form
	// (no preflight), a multipart form with Origin: null, a foreign
	// Origin, a browser saying cross-site. The 999 999.00 RUB row of the
	// issue never becomes a batch.
	forged := "reference,method,amount,currency,full_name,card_number\nX-1,card,999999.00,RUB,Evil Sender,4111111111111111\n"
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "gift.csv")
	fw.Write([]byte(forged))
	mw.Close()
	for _, f := range []struct {
		name, ct, body string
		hdr            map[string]string
	}{
		{"text/plain from another site", "text/plain", forged, map[string]string{"Origin": "https://evil.example"}},
		{"multipart with Origin null", mw.FormDataContentType(), mp.String(), map[string]string{"Origin": "null"}},
		{"Sec-Fetch-Site cross-site", "text/plain", forged, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		hdr := map[string]string{"Cookie": cookie, "Content-Type": f.ct}
		for k, v := range f.hdr {
			hdr[k] = v
		}
		status, body, _ := s.do(call{method: "POST", path: "/batches?file_name=gift.csv", body: strings.NewReader(f.body), header: hdr})
		require.Equal(t, http.StatusForbidden, status, "%s: %s", f.name, body)
		require.Contains(t, body, "cross-origin request refused", f.name)
	}
	// What a SameSite=Lax browser really sends cross-site: no cookie at all.
	status, _, _ = s.do(call{method: "POST", path: "/batches?file_name=gift.csv", body: strings.NewReader(forged),
		header: map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}})
	require.Equal(t, http.StatusForbidden, status)
	status, _, _ = s.do(call{method: "POST", path: "/batches?file_name=gift.csv", body: strings.NewReader(forged),
		header: map[string]string{"Content-Type": "text/plain"}})
	require.Equal(t, http.StatusUnauthorized, status, "no cookie, no token")
	time.Sleep(500 * time.Millisecond)
	bl, err := s.ledger.Batches(t.Context(), 100)
	require.NoError(t, err)
	require.Len(t, bl, 2, "the forged file never became a batch")
	for ref := range s.bankPayouts() {
		require.True(t, strings.HasPrefix(ref, batch) || strings.HasPrefix(ref, big), ref)
	}
	// The same site's own page may post (same origin).
	status, body, _ = s.do(call{method: "POST", path: "/batches/validate?file_name=ok.csv", body: strings.NewReader(forged),
		header: map[string]string{"Cookie": cookie, "Content-Type": "text/plain", "Origin": s.api, "Sec-Fetch-Site": "same-origin"}})
	require.Equal(t, http.StatusOK, status, body)

	// DNS rebinding: another name pointing at our address is refused.
	for _, host := range []string{"evil.example", "evil.example:" + strings.Split(s.apiAddr, ":")[1], "127.0.0.1.nip.io"} {
		status, body, _ := s.do(call{method: "GET", path: "/batches", token: "carl", header: map[string]string{"Host": host}})
		require.Equal(t, http.StatusForbidden, status, "%s: %s", host, body)
		require.Contains(t, body, "is not served here")
	}
	status, _, _ = s.do(call{method: "GET", path: "/batches", token: "carl", header: map[string]string{"Host": "localhost:1"}})
	require.Equal(t, http.StatusOK, status)

	// Sign-in brute force is slowed: after 5 wrong passwords even the
	// right one waits.
	signin := func(pw string) (int, string, http.Header) {
		return s.do(call{method: "POST", path: "/signin", body: jsonBody(map[string]string{"user": "carl", "password": pw})})
	}
	pwc := filepath.Join(s.dir, "carl.pw")
	require.NoError(t, os.WriteFile(pwc, []byte("carl checks every batch\n"), 0o600))
	s.host("users", "password", "--name", "carl", "--password-file", pwc)
	for i := 0; i < 5; i++ {
		status, body, _ := signin(fmt.Sprintf("guess number %d", i))
		require.Equal(t, http.StatusUnauthorized, status, body)
		require.Contains(t, body, "wrong user name or password")
	}
	status, body, h = signin("carl checks every batch")
	require.Equal(t, http.StatusTooManyRequests, status, body)
	require.Equal(t, ledgerapi.CodeRateLimited, errCode(t, body))
	require.NotEmpty(t, h.Get("Retry-After"))

	// The audit log has every one of these; ledger audit exports it, and
	// its chain verifies.
	var log struct {
		Entries []auth.Entry `json:"entries"`
	}
	raw := s.host("audit", "--format", "json")
	require.NoError(t, json.Unmarshal([]byte(raw), &log), raw)
	has := func(act auth.Action, user string, outcome auth.Outcome, detail string) {
		t.Helper()
		for _, e := range log.Entries {
			if e.Action == act && e.User == user && e.Outcome == outcome && strings.Contains(e.Detail+" "+e.Target, detail) {
				require.NotEmpty(t, e.Remote, "from where: %+v", e)
				return
			}
		}
		t.Fatalf("no audit entry %s %s %s %q in:\n%s", act, user, outcome, detail, raw)
	}
	has(auth.ActDenied, "vera", auth.OutcomeRefused, "vera may not upload")
	has(auth.ActUpload, "mia", auth.OutcomeOK, "created: 2 rows")
	has(auth.ActDenied, "mia", auth.OutcomeRefused, "mia may not approve")
	has(auth.ActDenied, "vera", auth.OutcomeRefused, "vera may not approve")
	has(auth.ActApprove, "carl", auth.OutcomeRefused, "is not what you were shown")
	has(auth.ActApprove, "carl", auth.OutcomeOK, "approval 1 of 1")
	has(auth.ActPolicySet, auth.HostActor(os.Getenv("USER")).Name, auth.OutcomeOK, "policy 1")
	has(auth.ActApprove, "carl", auth.OutcomeRefused, "approved batch "+big+" already")
	has(auth.ActApprove, "dora", auth.OutcomeOK, "approval 2 of 2")
	has(auth.ActTokenRevoke, auth.HostActor(os.Getenv("USER")).Name, auth.OutcomeOK, "token "+id)
	has(auth.ActDenied, "anonymous", auth.OutcomeRefused, "unknown or revoked")
	has(auth.ActSignIn, "mia", auth.OutcomeOK, "")
	has(auth.ActDenied, "anonymous", auth.OutcomeRefused, "cross-origin request refused")
	has(auth.ActDenied, "anonymous", auth.OutcomeRefused, "is not served here")
	has(auth.ActSignIn, "carl", auth.OutcomeRefused, "wrong password")
	has(auth.ActSignIn, "carl", auth.OutcomeRefused, "too many attempts")
	require.Contains(t, s.host("audit", "--verify"), "chain intact")
	csv, err := s.asUser("carl", "audit", "--batch", big)
	require.NoError(t, err, csv)
	require.True(t, strings.HasPrefix(csv, "seq,at,user,user_id,via,remote,action,batch"), csv)
	require.Contains(t, csv, ",dora,")
	require.NotContains(t, csv, ",mia,3,", "only the batch's entries")
	logsHaveNoCardNumbers(t, s, "4242424242424242", "4111111111111111")
}

// TestUploaderNeverApproves: a person who is maker and checker uploads;
// they cannot approve their own batch, another checker can. A maker
// cancels only their own batch.
func TestUploaderNeverApproves(t *testing.T) {
	s := startSystem(t, options{})
	s.host("users", "add", "--name", "max", "--roles", "maker,checker")
	s.tokens["max"] = filepath.Join(s.dir, "max.token")
	s.host("tokens", "create", "--user", "max", "--name", "e2e", "--out", s.tokens["max"])
	file := payoutFile(t, s.dir, "own.csv", []map[string]string{tokenRow("O-1", "100.00", "Petrova Anna", "tok_5f2b9c1e8d7a4b3c")})
	batch := s.upload("max", file)
	s.sealed(batch)
	out, err := s.asUser("max", "approve", "--batch", batch)
	require.Error(t, err)
	require.Contains(t, out, "max uploaded batch "+batch+" and cannot approve it")
	out, err = s.asUser("mia", "cancel", "--batch", batch, "--reason", "not mine")
	require.Error(t, err)
	require.Contains(t, out, "a maker cancels only their own batches")
	s.approve("dora", batch)
	s.waitFinal(batch, 1, 60*time.Second, nil)
	s.agree(batch, 1)

	// A rejection cancels the batch with the checker's reason.
	other := s.upload("mia", payoutFile(t, s.dir, "wrong.csv", []map[string]string{tokenRow("W-1", "100.00", "Petrova Anna", "tok_5f2b9c1e8d7a4b3c")}))
	s.sealed(other)
	out, err = s.asUser("carl", "reject", "--batch", other, "--reason", "wrong month")
	require.NoError(t, err, out)
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		b, err := s.ledger.Batch(t.Context(), other)
		if err != nil || b.Status != payout.BatchCancelled || !strings.Contains(b.Reason, "rejected: wrong month") {
			return fmt.Errorf("batch %s: %+v %v", other, b, err)
		}
		return nil
	})
}
