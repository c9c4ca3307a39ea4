package recipient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// The page's script relies on the sandbox stand-in's names: one
// assumption, held equal here.
func TestWidgetNamesAgreeWithTheSandbox(t *testing.T) {
	require.Equal(t, sandbox.WidgetConstructor, WidgetConstructor)
	require.Equal(t, sandbox.WidgetContainerID, WidgetContainerID)
	require.Equal(t, sandbox.WidgetMessageType, WidgetMessageType)
}

type fixture struct {
	svc    *ledger.Service
	sb     *sandbox.Server
	bank   string // the sandbox's URL
	srv    *httptest.Server
	h      *Handler
	batch  string
	maker  *auth.Principal
	now    time.Time
	dbPath string
}

func keyFile(t *testing.T, name string) string {
	p := filepath.Join("..", "..", "samples", "keys", name)
	_, err := os.Stat(p)
	require.NoError(t, err)
	return p
}

// newFixture is a ledger with a released batch of a widget row waiting for
// its card (row 1, Olga) and a token row (row 2, Ivan), the sandbox bank,
// and the handler behind the real guard, as apiserver mounts it.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dbPath: filepath.Join(dir, "ledger.db"), now: time.Now()}
	db, err := ledger.Open(f.dbPath)
	require.NoError(t, err)
	f.svc = ledger.NewService(db, ledger.Config{Logger: testutil.QuietLogger()})
	t.Cleanup(func() { f.svc.Close(); db.Close() })
	maker, err := f.svc.AddUser(context.Background(), auth.HostActor("test"), ledger.NewUser{Name: "mia", Roles: auth.Roles{auth.RoleMaker}})
	require.NoError(t, err)
	f.maker = &auth.Principal{UserID: maker.ID, Name: "mia", Roles: maker.Roles, Via: auth.ViaSession}
	f.batch = seedBatch(t, f.dbPath, maker.ID)

	pubPEM, err := os.ReadFile(keyFile(t, "partner_public.pem"))
	require.NoError(t, err)
	pub, err := bank131.LoadPublicKey(pubPEM)
	require.NoError(t, err)
	bankKey, err := bank131.ReadPrivateKey(keyFile(t, "bank_private.pem"))
	require.NoError(t, err)
	f.sb, err = sandbox.New(sandbox.Config{Projects: []sandbox.Project{{Name: "payrun", PublicKey: pub}}, BankKey: bankKey,
		Logger: testutil.QuietLogger()})
	require.NoError(t, err)
	bs := httptest.NewServer(f.sb)
	t.Cleanup(func() { bs.Close(); f.sb.Close() })
	f.bank = bs.URL
	partnerKey, err := bank131.ReadPrivateKey(keyFile(t, "partner_private.pem"))
	require.NoError(t, err)
	client, err := bank131.NewClient(bank131.Config{BaseURL: bs.URL, Project: "payrun", PrivateKey: partnerKey, Logger: testutil.QuietLogger()})
	require.NoError(t, err)

	f.srv = httptest.NewUnstartedServer(nil)
	f.h, err = New(Config{Ledger: f.svc, Bank: client, WidgetScript: bs.URL + sandbox.WidgetScriptPath,
		PublicURL: "http://" + f.srv.Listener.Addr().String(), Logger: testutil.QuietLogger(), Now: func() time.Time { return f.now }})
	require.NoError(t, err)
	sessions, err := ledger.OpenSessions(filepath.Join(dir, "sessions.db"))
	require.NoError(t, err)
	t.Cleanup(func() { sessions.Close() })
	guard := httpapi.NewGuard(httpapi.GuardConfig{Directory: f.svc, Store: sessions, Logger: testutil.QuietLogger()})
	f.srv.Config.Handler = httpapi.Routes{Recipient: f.h, Guard: guard}.Handler()
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// seedBatch writes a released batch as the ledger would have recorded it.
func seedBatch(t *testing.T, path string, uploader int64) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	require.NoError(t, err)
	defer db.Close()
	sum := sha256.Sum256([]byte("recipient links"))
	id := payout.BatchID(sum[:])
	at := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")
	_, err = db.Exec(`INSERT INTO batches (id, status, name, file_name, file_sha256, manifest_rows, manifest_totals, created_at,
		first_seen_at, accepted_at, released_at, release_done, rows_recorded, rows_terminal, uploaded_by, uploader_id, policy_version, approvals_required)
		VALUES (?, 'released', 'widget', 'widget.csv', ?, 2, '{"RUB":170000}', ?, ?, ?, ?, 1, 2, 0, 'mia', ?, 0, 0)`,
		id, hex.EncodeToString(sum[:]), at, at, at, at, uploader)
	require.NoError(t, err)
	for _, r := range []struct {
		no                       int
		method, name, dest, hash string
		amount                   int64
	}{{1, "encrypted_card", "Olga Smirnova", "", "", 150000}, {2, "token", "Ivan Petrov", "token …ok_1", "ab", 20000}} {
		_, err = db.Exec(`INSERT INTO rows (batch_id, row_no, line, reference, method, amount_minor, currency, recipient, destination,
			dest_hash, intake_seq, digest, received_at, state, moved_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 'RUB', ?, ?, ?, ?, x'00', ?, 'received', ?, ?)`,
			id, r.no, r.no+1, "W-"+r.name[:4], r.method, r.amount, r.name, r.dest, r.hash, r.no, at, at, at)
		require.NoError(t, err)
	}
	var wait int
	require.NoError(t, db.QueryRow(`SELECT card_wait FROM rows WHERE batch_id = ? AND row_no = 1`, id).Scan(&wait))
	require.Equal(t, 1, wait, "a widget row without its card waits for it")
	return id
}

func (f *fixture) issue(t *testing.T) string {
	t.Helper()
	u, _, err := f.h.Issue(context.Background(), f.maker, f.batch, 1)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u, f.srv.URL+"/r/"), u)
	return u
}

func get(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func postJSON(t *testing.T, u string, v any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(v)
	resp, err := http.Post(u, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// widgetCard does what the widget's frame does: the card goes to the bank
// (the sandbox) with the public token, and the encrypted card comes back.
func (f *fixture) widgetCard(t *testing.T, publicToken, pan string) map[string]any {
	t.Helper()
	code, a := postJSON(t, f.bank+"/sandbox/widget/tokenize", map[string]string{"public_token": publicToken, "number": pan,
		"expiration_month": "12", "expiration_year": "29", "cardholder_name": "OLGA SMIRNOVA", "security_code": "123"})
	require.Equal(t, http.StatusOK, code, "%v", a)
	return a["encrypted_card"].(map[string]any)
}

var publicTokenRE = regexp.MustCompile(`data-public-token="([0-9a-f]+)"`)

func TestRecipientPageAndCard(t *testing.T) {
	f := newFixture(t)
	u := f.issue(t)

	code, h, page := get(t, u)
	require.Equal(t, http.StatusOK, code, page)
	csp := h.Get("Content-Security-Policy")
	require.Equal(t, "default-src 'none'; script-src 'self' "+f.bank+"; frame-src "+f.bank+"; connect-src 'self'; style-src 'self'; "+
		"img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'", csp, "the widget's origin and nothing else")
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	require.Contains(t, page, "Olga Smirnova")
	require.Contains(t, page, "1\u00a0500.00 RUB")
	require.NotContains(t, page, "Ivan", "nothing of another row")
	require.NotContains(t, page, f.batch, "nothing of the batch")
	require.Contains(t, page, `<script src="`+f.bank+sandbox.WidgetScriptPath+`"></script>`)
	m := publicTokenRE.FindStringSubmatch(page)
	require.NotNil(t, m, "the page carries a public token from the bank")

	enc := f.widgetCard(t, m[1], "4111111111111111")
	code, a := postJSON(t, u+"/card", map[string]any{"encrypted_card": enc})
	require.Equal(t, http.StatusOK, code, "%v", a)
	require.Equal(t, "1111", a["last4"], "token/info told the card's last four")

	st, err := f.svc.DB().Row(f.batch, 1)
	require.NoError(t, err)
	require.Equal(t, payout.StateQueued, st.State, "the row is released with its card")
	require.Equal(t, enc["number_hash"], st.Card.NumberHash)
	require.Equal(t, "card …1111", st.Destination)
	for _, p := range []string{f.dbPath, f.dbPath + "-wal"} {
		raw, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		require.False(t, bytes.Contains(raw, []byte("4111111111111111")), "no card number in %s", p)
	}

	// Single use: the card is not taken twice, the page says so.
	code, a = postJSON(t, u+"/card", map[string]any{"encrypted_card": enc})
	require.Equal(t, http.StatusConflict, code, "%v", a)
	code, _, page = get(t, u)
	require.Equal(t, http.StatusGone, code)
	require.Contains(t, page, "Карта для этой выплаты уже получена")
	require.NotContains(t, page, "data-public-token")

	es, err := f.svc.DB().AuditEntries(context.Background(), ledger.AuditFilter{Batch: f.batch})
	require.NoError(t, err)
	var acts []string
	for _, e := range es {
		acts = append(acts, string(e.Action)+"/"+string(e.Outcome)+"/"+string(e.Via))
	}
	require.Equal(t, []string{"recipient_link/ok/session", "card_captured/ok/link", "card_captured/refused/link"}, acts)
}

func TestRecipientLinkRefusals(t *testing.T) {
	f := newFixture(t)
	u := f.issue(t)
	tok := strings.TrimPrefix(u, f.srv.URL+"/r/")

	// Tampered: another id under the same signature is unknown.
	forged := f.srv.URL + "/r/" + strings.Repeat("0", 32) + tok[32:]
	code, _, page := get(t, forged)
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, page, "Ссылка недействительна")
	code, _ = postJSON(t, forged+"/card", map[string]any{"encrypted_card": map[string]string{"number_hash": strings.Repeat("a", 64)}})
	require.Equal(t, http.StatusNotFound, code)

	// A bad body is refused and changes nothing.
	code, a := postJSON(t, u+"/card", map[string]any{"card_number": "4111111111111111"})
	require.Equal(t, http.StatusBadRequest, code, "%v", a)
	code, a = postJSON(t, u+"/card", map[string]any{"encrypted_card": map[string]string{"number_hash": "abc"}})
	require.Equal(t, http.StatusBadRequest, code, "%v", a)

	// A newer link replaces this one.
	newer := f.issue(t)
	code, _, page = get(t, u)
	require.Equal(t, http.StatusGone, code)
	require.Contains(t, page, "Эту ссылку заменила новая")

	// Expired: the token's own expiry (72 h by default).
	f.now = f.now.Add(73 * time.Hour)
	code, _, page = get(t, newer)
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, page, "Срок действия ссылки истёк")
	code, _ = postJSON(t, newer+"/card", map[string]any{"encrypted_card": map[string]string{"number_hash": strings.Repeat("a", 64)}})
	require.Equal(t, http.StatusConflict, code)
	st, err := f.svc.DB().Row(f.batch, 1)
	require.NoError(t, err)
	require.Equal(t, payout.StateReceived, st.State)
	require.Nil(t, st.Card)

	// The API: a maker's own batch only; anonymous callers are refused by the guard.
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/batches/"+f.batch+"/rows/1/link", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/batches/"+f.batch+"/rows/2/link", nil)
	f.h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), f.maker)))
	require.Equal(t, http.StatusBadRequest, w.Code, "a token row gets no link: %s", w.Body)
	w = httptest.NewRecorder()
	r = httptest.NewRequest(http.MethodPost, "/batches/"+f.batch+"/rows/1/link", nil)
	f.h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), f.maker)))
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var la LinkAnswer
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &la))
	require.True(t, strings.HasPrefix(la.URL, f.srv.URL+"/r/"))
}

func TestNewChecksSettings(t *testing.T) {
	svc := &ledger.Service{}
	_, err := New(Config{Ledger: svc, Bank: &bank131.Client{}, WidgetScript: "/widget.js", PublicURL: "http://x"})
	require.ErrorContains(t, err, "absolute http(s) URL")
	_, err = New(Config{Ledger: svc, Bank: &bank131.Client{}, WidgetScript: "https://widget.bank131.ru/t.js", PublicURL: "x"})
	require.ErrorContains(t, err, "public URL")
	_, err = New(Config{Ledger: svc, WidgetScript: "https://widget.bank131.ru/t.js", PublicURL: "https://pay.example"})
	require.ErrorContains(t, err, "bank client")
}
