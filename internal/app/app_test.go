package app

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/hookrelay"
	"github.com/payrun/payrun/internal/ingest"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

const keys = "../../samples/keys"

// slowUpload opens a connection to addr and starts an upload that never
// finishes: complete is false for a client that does not even finish its
// headers. Its answer, if one comes, is sent to answers.
func slowUpload(t *testing.T, addr, token string, complete bool, answers chan<- int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	if !complete {
		_, err = fmt.Fprintf(c, "POST /batches HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\n", addr, token)
		require.NoError(t, err)
		return c
	}
	_, err = fmt.Fprintf(c, "POST /batches HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\nreference,method,amount\n",
		addr, token, 10<<20)
	require.NoError(t, err)
	go func() {
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			resp.Body.Close()
			answers <- resp.StatusCode
		}
	}()
	return c
}

// TestSlowUploadsDoNotStarveWebhooks: with 80 uploads held open by clients
// that never finish their bodies and 20 that never finish their headers,
// uploads over the cap are refused at once, the bank's webhooks are
// answered on their own listener, and a batch is paid to the end (every
// payout's outcome comes by webhook).
func TestSlowUploadsDoNotStarveWebhooks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	noApproval := auth.Policy{Approvals: 1}
	a, err := Start(ctx, Config{Dir: t.TempDir(), KeysDir: keys, AutoThreeDS: true, Logger: testutil.QuietLogger(),
		SandboxTiming: sandbox.Timing{Processing: 20 * time.Millisecond, Settle: 20 * time.Millisecond}, Policy: &noApproval})
	require.NoError(t, err)
	defer a.Close()
	require.NotEqual(t, a.URL, a.WebhookURL)

	people := strings.TrimPrefix(a.URL, "http://")
	token := makerToken(t, a)
	answers := make(chan int, 100)
	const held, headerless = 80, 20
	for i := range held + headerless {
		slowUpload(t, people, token, i < held, answers)
	}
	// All but the uploads being served are refused at once (they all come
	// from one address: the cap per uploader).
	for range held - ingest.DefaultMaxUploadsPerKey {
		select {
		case status := <-answers:
			require.Equal(t, http.StatusTooManyRequests, status)
		case <-ctx.Done():
			t.Fatal("the uploads over the cap were not refused")
		}
	}

	// The bank's listener answers while people's is held; people's does
	// not take webhooks at all.
	priv, err := bank131.ReadPrivateKey(filepath.Join(keys, "bank_private.pem"))
	require.NoError(t, err)
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 20 {
		body := fmt.Sprintf("%q", fmt.Sprintf("evidence %d", i)) // verified, not an object: kept as evidence only
		sig, err := bank131.Sign(priv, []byte(body))
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.WebhookURL+hookrelay.Path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-PARTNER-SIGN", sig)
		resp, err := client.Do(req)
		require.NoError(t, err, "webhook %d", i)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "webhook %d", i)
	}
	resp, err := client.Post(a.URL+hookrelay.Path, "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	// An unknown path is 401 to anonymous (httpapi): not served either way.
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "people's listener serves no webhooks")
	resp, err = client.Get(a.WebhookURL + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// A whole batch is paid while the slow uploads are still held.
	res, err := a.Ingest(ctx, "../../samples/payroll.csv", ingest.Options{})
	require.NoError(t, err)
	require.Equal(t, ingest.StatusCreated, res.Status)
	lc := ledgerapi.NewClient(a.Conn, 5*time.Second)
	var sum *ledgerapi.BatchSummary
	require.Eventually(t, func() bool {
		sum, err = lc.Batch(ctx, res.Batch)
		return err == nil && sum.Status == payout.BatchDone
	}, 2*time.Minute, 100*time.Millisecond, "batch not paid to the end: %+v", sum)
	require.Equal(t, 20, sum.ByState[payout.StateSucceeded])

	// The held uploads are still being served (their bodies have minutes).
	select {
	case status := <-answers:
		t.Fatalf("a held upload was answered %d", status)
	default:
	}
}

// TestTwoListeners: both addresses are the configured ones and Close
// stops both.
func TestTwoListeners(t *testing.T) {
	a, err := Start(context.Background(), Config{Dir: t.TempDir(), KeysDir: keys, Logger: testutil.QuietLogger()})
	require.NoError(t, err)
	token := adminToken(t, a)
	var wg sync.WaitGroup
	for _, url := range []string{a.URL + "/metrics", a.WebhookURL + "/healthz"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodGet, url, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+token) // /metrics needs a token
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, url)
		}()
	}
	wg.Wait()
	// Recipient links are on with the embedded sandbox's widget: the
	// page's assets are served, an unknown link is refused.
	resp, err := http.Get(a.URL + "/r/static/recipient.js")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(a.URL + "/r/" + strings.Repeat("0", 32) + ".z.AAAA")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.NoError(t, a.Close())
	for _, url := range []string{a.URL, a.WebhookURL} {
		_, err := http.Get(url + "/healthz")
		require.Error(t, err, "%s still listening", url)
	}
}

// adminToken reads the first admin's API token the app wrote.
func adminToken(t *testing.T, a *App) string {
	t.Helper()
	b, err := os.ReadFile(a.AdminToken)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// makerToken makes a maker and returns a token of theirs (uploads).
func makerToken(t *testing.T, a *App) string {
	t.Helper()
	ctx := context.Background()
	by := auth.Actor{Name: "test", Via: auth.ViaHost}
	_, err := a.Ledger.AddUser(ctx, by, ledger.NewUser{Name: "mia", Roles: auth.Roles{auth.RoleMaker}})
	require.NoError(t, err)
	tok, _, err := a.Ledger.CreateToken(ctx, by, ledger.NewToken{User: "mia", Name: "test"})
	require.NoError(t, err)
	return tok
}

// TestAdminPassword: payrun up's first start gives the admin a password
// in <data>/admin.password (0600) that signs in to the console.
func TestAdminPassword(t *testing.T) {
	a, err := Start(context.Background(), Config{Dir: t.TempDir(), KeysDir: keys, AdminPassword: true, Logger: testutil.QuietLogger()})
	require.NoError(t, err)
	defer a.Close()
	st, err := os.Stat(a.AdminPassword)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	pw, err := os.ReadFile(a.AdminPassword)
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(a.URL+"/signin", map[string][]string{"user": {"admin"}, "password": {strings.TrimSpace(string(pw))}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.NotEmpty(t, resp.Cookies(), "signed in: a session cookie")
	resp, err = client.PostForm(a.URL+"/signin", map[string][]string{"user": {"admin"}, "password": {"not the password"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// payrun up's Submerchant goes with every call to the bank, from both
// projects' clients: the sandbox, set to require it, refuses none and
// records no call without it.
func TestSubmerchantOnEveryCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	a, err := Start(ctx, Config{Dir: dir, KeysDir: keys, Logger: testutil.QuietLogger(), Submerchant: "sub-131",
		SandboxModes:  sandbox.Modes{Submerchant: "required"},
		SandboxTiming: sandbox.Timing{Processing: 20 * time.Millisecond, Settle: 20 * time.Millisecond},
		Policy:        &auth.Policy{Approvals: 1}})
	require.NoError(t, err)
	defer a.Close()
	file := filepath.Join(dir, "sub.csv")
	require.NoError(t, os.WriteFile(file, []byte("reference,method,amount,currency,full_name,card_number,card_token\n"+
		"SUB-1,card,100.00,RUB,Ivan Petrov,4242424242424242,\n"+
		"SUB-2,token,200.00,RUB,Anna Petrova,,tok_5f2b9c1e8d7a4b3c\n"), 0o600))
	res, err := a.Ingest(ctx, file, ingest.Options{Name: "sub"})
	require.NoError(t, err)
	require.Equal(t, ingest.StatusCreated, res.Status, "%v", res.Errors)
	client := ledgerapi.NewClient(a.Conn, 10*time.Second)
	testutil.Eventually(t, 45*time.Second, 50*time.Millisecond, func() error {
		for n := 1; n <= 2; n++ {
			st, err := client.Get(ctx, ledgerapi.RowRequest{Batch: res.Batch, Row: n})
			if err != nil {
				return err
			}
			if st.State != payout.StateSucceeded {
				return fmt.Errorf("row %d is %s %s", n, st.State, st.Reason)
			}
		}
		return nil
	})
	calls := a.Sandbox.Submerchants()
	require.Zero(t, calls[""], "no call without the header: %v", calls)
	require.Positive(t, calls["sub-131"])
	projects := map[string]bool{}
	for _, p := range a.Sandbox.Payouts() {
		projects[p.Project] = true
	}
	require.Len(t, projects, 2, "both projects' clients paid: %v", projects)
}
