package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// chromiumPath finds Debian's chromium. Missing, the test fails in CI
// (CI=true: .ci/run installs it) and is skipped elsewhere, saying how to
// install it.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "chromium is not installed: apt-get install -y chromium (.ci/run installs it when missing)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifacts is where the test's screenshots go: $PAYRUN_ARTIFACTS/<test>,
// else a temporary folder (kept in the log's path).
func artifacts(t *testing.T) string {
	dir := os.Getenv("PAYRUN_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, t.Name())
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// newBrowser starts headless Chromium for the test: no sandbox, no GPU,
// nothing fetched from the network on its own, a fresh profile.
func newBrowser(t *testing.T) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("accept-lang", "en-US,en"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	return ctx
}

// page is one browser tab on the console.
type page struct {
	t   *testing.T
	ctx context.Context
	dir string
	api string
	n   int
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	require.NoError(p.t, chromedp.Do(ctx, actions...))
}

// text waits until an element matching sel is shown and returns its
// innerText. The lookup and the read are one script, tried again while a
// page loads: the console's live updates replace elements, and a node found
// by one DevTools call can be gone by the next ("No node with given id
// found", a CI run of 617a36d).
func (p *page) text(sel string) string {
	p.t.Helper()
	js := fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (!e || !(e.offsetWidth || e.offsetHeight || e.getClientRects().length)) return null;
		return [e.innerText];
	})()`, sel)
	var got []string
	p.retry(sel, 30*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		got, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
		return len(got) == 1, err
	})
	return strings.ReplaceAll(got[0], "\u00a0", " ")
}

// retry calls try until it reports done or timeout passes. A script can
// fail while the tab changes documents ("Inspected target navigated or
// closed", "Execution context was destroyed"): such errors are tried again,
// the last one reported at the end.
func (p *page) retry(what string, timeout time.Duration, try func(ctx context.Context) (bool, error)) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		done, err := try(ctx)
		cancel()
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			require.NoError(p.t, err, "waiting for %s", what)
			require.FailNow(p.t, "timed out waiting for "+what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// load runs actions that load another page (a form's submit, a link) and
// waits until the new page has loaded and shows sel. The old page is
// marked first, so an element of the old page (the batch page's #live
// before an approval's redirect) is never taken for the new page's.
func (p *page) load(sel string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	p.eval(`window.__payrunOldPage = "yes"`)
	p.do(actions...)
	p.waitJS(fmt.Sprintf(`(() => {
		if (window.__payrunOldPage !== undefined || document.readyState !== "complete") return false;
		const e = document.querySelector(%q);
		return !!e && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
	})()`, sel), 60*time.Second)
}

func (p *page) eval(js string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	require.NoError(p.t, err, js)
	return s
}

// waitJS waits until a JavaScript expression is true.
func (p *page) waitJS(js string, timeout time.Duration) {
	p.t.Helper()
	p.retry(js, timeout, func(ctx context.Context) (bool, error) {
		return chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	})
}

// shot saves a full-page screenshot as NN-name.png.
func (p *page) shot(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(p.t, err)
	p.n++
	path := filepath.Join(p.dir, fmt.Sprintf("%02d-%s.png", p.n, name))
	require.NoError(p.t, os.WriteFile(path, b, 0o644))
	return path
}

// viewShot saves what the window shows, from the top of the page.
func (p *page) viewShot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	p.eval(`window.scrollTo(0, 0), ""`)
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(p.t, err)
	require.NoError(p.t, os.WriteFile(filepath.Join(p.dir, name+".png"), b, 0o644))
}

func (p *page) signIn(user, password string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.api+"/"), chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), user), chromedp.SendKeys(chromedp.CSS("#password"), password))
	p.load("form[action='/signout']", chromedp.Click(chromedp.CSS("form[action='/signin'] button[type=submit]")))
}

func (p *page) signOut() {
	p.t.Helper()
	p.load("#user", chromedp.Click(chromedp.CSS("form[action='/signout'] button")))
}

// TestConsoleInABrowser drives the web console in Chromium through the
// built binaries and the sandbox (3-D Secure left to the sender): a maker
// signs in, uploads the sample with one bad row and sees the error on its
// line, uploads the fixed file and sees its totals, submits it; a checker
// signs in and approves what the page shows; the batch page shows the
// progress to the end without a reload; each transfer's 3-D Secure link
// is shown and opening it (as the sender would) completes the transfer;
// the XLSX report downloads; the exceptions page resolves an exception;
// pages render in English and Russian. Screenshots of each page are the
// test's artifacts.
func TestConsoleInABrowser(t *testing.T) {
	ctx := newBrowser(t)
	s := startSystem(t, options{})
	const password = "a console passphrase"
	pwFile := filepath.Join(s.dir, "password")
	require.NoError(t, os.WriteFile(pwFile, []byte(password+"\n"), 0o600))
	for _, u := range []string{"mia", "carl"} {
		s.host("users", "password", "--name", u, "--password-file", pwFile)
	}
	sample, err := os.ReadFile(s.repo("samples/payroll.csv"))
	require.NoError(t, err)
	bad := bytes.Replace(sample, []byte("E-004/2026-11,card,71000,"), []byte("E-004/2026-11,card,71000.555,"), 1)
	require.NotEqual(t, sample, bad)
	badPath, goodPath := filepath.Join(s.dir, "payroll-bad.csv"), filepath.Join(s.dir, "payroll.csv")
	require.NoError(t, os.WriteFile(badPath, bad, 0o600))
	require.NoError(t, os.WriteFile(goodPath, sample, 0o600))
	p := &page{t: t, ctx: ctx, dir: artifacts(t), api: s.api}

	// Sign-in, in English (the browser asks for it).
	p.do(chromedp.Navigate(s.api+"/"), chromedp.WaitVisible(chromedp.CSS("#user")))
	require.Equal(t, "en", p.eval(`document.documentElement.lang`))
	require.Contains(t, p.text("h1"), "Sign in to payrun")
	p.shot("signin")
	p.signIn("mia", password)
	require.Contains(t, p.text("h1"), "Batches")

	// Upload: the bad file is checked as soon as it is chosen; its error
	// is shown on its line and column.
	p.load("#u-file", chromedp.Click(chromedp.CSS(`a[href="/console/upload"]`)))
	p.do(chromedp.SetUploadFiles(chromedp.CSS("#u-file"), []string{badPath}))
	p.waitJS(`!!document.querySelector("#errors")`, 30*time.Second)
	errs := p.text("#errors tbody")
	require.Regexp(t, `(?m)^5\s+amount\s+.*2 decimal`, errs, "the error on line 5, column amount")
	require.Contains(t, p.text("#result h2"), "Errors in the file: 1.")
	p.shot("upload-errors")

	// The fixed file: valid, with its totals per currency.
	p.do(chromedp.SetUploadFiles(chromedp.CSS("#u-file"), []string{goodPath}))
	p.waitJS(`!!document.querySelector("#result-totals") && !document.querySelector("#errors")`, 30*time.Second)
	totals := p.text("#result-totals")
	for _, want := range []string{"15,000.00 KGS", "1,079,332.77 RUB", "12,500.00 TRY", "300.00 USD"} {
		require.Contains(t, totals, want)
	}
	require.Equal(t, "23", p.text("#result-rows"))
	p.do(chromedp.SendKeys(chromedp.CSS("#u-name"), "Salaries November 2026"))
	p.shot("upload-valid")
	p.load("#live", chromedp.Click(chromedp.CSS("#submit")))
	loc := p.eval(`location.pathname`)
	m := regexp.MustCompile(`^/console/batches/(b[0-9a-f]{20})$`).FindStringSubmatch(loc)
	require.NotNil(t, m, loc)
	batch := m[1]
	s.sealed(batch)
	p.signOut()

	// The checker approves what the page shows (file hash and totals).
	p.signIn("carl", password)
	p.do(chromedp.Navigate(s.api+"/console/batches"), chromedp.WaitVisible(chromedp.CSS(`a[href="/console/batches/`+batch+`"]`)))
	p.shot("batches")
	p.load("#approve", chromedp.Click(chromedp.CSS(`a[href="/console/batches/`+batch+`"]`)))
	require.Contains(t, p.text(".decide"), "1,079,332.77 RUB")
	require.Contains(t, p.text(".decide"), s.sealed(batch).FileSHA256)
	p.shot("batch-approve")
	p.load("#live", chromedp.Click(chromedp.CSS("#approve")))
	require.Contains(t, p.text(".notice"), "Approved.")
	// From here on the page is never reloaded: a marker on the window
	// stays as long as the page does.
	p.eval(`window.__notReloaded = "yes"`)

	// Each transfer waits for its sender's 3-D Secure: the page shows the
	// link (with a copy button and until when it is open); the sender
	// opens it in another tab.
	sender, cancelSender := chromedp.NewContext(ctx)
	defer cancelSender()
	// The tab is made by its first action, on a context without a
	// deadline (a deadline's end would close it).
	require.NoError(t, chromedp.Do(sender, chromedp.Navigate("about:blank")))
	opened := map[string]bool{}
	shot3DS := false
	testutil.Eventually(t, 90*time.Second, 250*time.Millisecond, func() error {
		links := p.eval(`Array.from(document.querySelectorAll("a.tds-open")).map(a => a.href).join(" ")`)
		for _, u := range strings.Fields(links) {
			if opened[u] {
				continue
			}
			require.Regexp(t, `^http://127\.0\.0\.1:\d+/sandbox/3ds/`, u)
			if !shot3DS {
				require.Contains(t, p.text("#rows-table"), "open until")
				require.Contains(t, p.text("#rows-table"), "MSK")
				p.shot("batch-3ds")
				p.viewShot("console") // the README's picture (docs/console.png)
				shot3DS = true
			}
			sctx, cancel := context.WithTimeout(sender, 20*time.Second)
			err := chromedp.Do(sctx, chromedp.Navigate(u))
			cancel()
			require.NoError(t, err)
			opened[u] = true
		}
		if p.eval(`document.querySelector("#live").dataset.final`) != "true" {
			return fmt.Errorf("batch not final yet; %d 3-D Secure links opened", len(opened))
		}
		return nil
	})
	require.Len(t, opened, 6, "the sample's six transfers")
	require.Equal(t, "yes", p.eval(`window.__notReloaded`), "the progress came without a reload")
	progress := p.text("#live")
	require.Contains(t, progress, "23 of 23 rows final")
	require.Contains(t, progress, "979,701.74 RUB", "paid")
	sum := s.waitFinal(batch, 23, 10*time.Second, nil)
	require.Equal(t, 20, sum.ByState[payout.StateSucceeded])
	require.Equal(t, 3, sum.ByState[payout.StateFailed])
	p.shot("batch-done")
	// A failed row's reason in plain words and what to do next; a
	// transfer's control number.
	p.do(chromedp.Navigate(s.api+"/console/batches/"+batch+"?failed=1#rows"), chromedp.WaitVisible(chromedp.CSS("#rows-table")))
	failed := p.text("#rows-table")
	require.Contains(t, failed, "The recipient's card has expired.")
	require.Contains(t, failed, "Next:")
	p.shot("batch-failed-rows")
	p.do(chromedp.Navigate(s.api+"/console/batches/"+batch+"?method=transfer#rows"), chromedp.WaitVisible(chromedp.CSS("#rows-table")))
	require.Regexp(t, `Transfer control number:\s+\d{6}-\d{8}`, p.text("#rows-table"))

	// The XLSX report downloads.
	dl := t.TempDir()
	progressEv := chromedp.Events(p.ctx, browser.DownloadProgress)
	p.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: ptr(true)})
		return err
	}), chromedp.Click(chromedp.CSS(`a[href="/batches/`+batch+`/report.xlsx"]`)))
	var file string
	for ev, err := range progressEv {
		require.NoError(t, err)
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(dl, ev.GUID)
			break
		}
		require.NotEqual(t, browser.DownloadProgressStateCanceled, ev.State)
	}
	xlsx, err := os.ReadFile(file)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(xlsx, []byte("PK")), "an XLSX workbook is a ZIP archive")

	// Russian: the language switch on the same page.
	p.do(chromedp.Navigate(s.api+"/console/batches/"+batch), chromedp.WaitVisible(chromedp.CSS("a.lang")))
	p.load("#live", chromedp.Click(chromedp.CSS("a.lang")))
	require.Equal(t, "ru", p.eval(`document.documentElement.lang`))
	require.Contains(t, p.text("#live"), "Завершено 23 из 23 строк")
	require.Contains(t, p.text("#live"), "979 701,74 ₽")
	require.Contains(t, p.text("dl.facts"), "1 079 332,77 ₽")
	p.shot("batch-ru")
	p.do(chromedp.Navigate(s.api+"/console/exceptions"), chromedp.WaitVisible(chromedp.CSS("h1")))
	require.Contains(t, p.text("h1"), "Исключения")
	p.load("h1", chromedp.Click(chromedp.CSS("a.lang")))
	require.Equal(t, "en", p.eval(`document.documentElement.lang`))

	// An exception: the bank sends a signed webhook about a row of the
	// batch that the ledger does not know. The checker resolves it.
	hook := []byte(`{"type":"payment_finished","session":{"id":"ps_console_1","status":"accepted",` +
		`"payments":[{"id":"po_console_1","status":"succeeded","amount_details":{"amount":100,"currency":"rub"},` +
		`"metadata":{"payrun":"` + batch + `/99","reference":"Z-99"}}]}}`)
	require.Equal(t, 200, s.post(t, hook, bankKey(t)))
	testutil.Eventually(t, 20*time.Second, 100*time.Millisecond, func() error {
		b, err := s.ledger.Batch(context.Background(), batch)
		if err != nil {
			return err
		}
		if b.Exceptions == 0 {
			return fmt.Errorf("no exception yet")
		}
		return nil
	})
	p.do(chromedp.Navigate(s.api+"/console/exceptions"), chromedp.WaitVisible(chromedp.CSS("ol.queue")))
	require.Contains(t, p.text("ol.queue"), "webhook for a row we do not know")
	require.Contains(t, p.text(".counts"), "Open: 1")
	p.shot("exceptions")
	p.do(chromedp.Click(chromedp.CSS("details.work summary")),
		chromedp.SendKeys(chromedp.CSS("details.work textarea[name=reason]"), "the bank confirmed it is not ours"))
	p.load(".notice", chromedp.Click(chromedp.CSS("details.work form[action$='/resolve'] button")))
	require.Contains(t, p.text(".notice"), "Resolved.")
	require.Contains(t, p.text(".counts"), "Open: 0")
	p.shot("exceptions-resolved")
	_, audit, _ := s.do(call{method: "GET", path: "/audit?batch=" + batch + "&format=csv", token: "carl"})
	require.Contains(t, audit, "exception", "the resolution is in the audit log")
	require.Contains(t, audit, "resolved: the bank confirmed it is not ours")
	require.Regexp(t, `approve,`+batch, audit)

	// The uploader resubmits the three failed rows from the batch page (a
	// reason is required): the child batch opens, linked to its parent,
	// and waits for a checker as any upload does.
	p.signOut()
	p.signIn("mia", password)
	p.do(chromedp.Navigate(s.api+"/console/batches/"+batch), chromedp.WaitVisible(chromedp.CSS("#act-resubmit")),
		chromedp.SendKeys(chromedp.CSS("#act-resubmit"), "new card details received"))
	p.load(".notice", chromedp.Click(chromedp.CSS(`form[action$="/act/resubmit"] button`)))
	m = regexp.MustCompile(`^/console/batches/(b[0-9a-f]{20})$`).FindStringSubmatch(p.eval(`location.pathname`))
	require.NotNil(t, m, p.eval(`location.pathname`))
	child := m[1]
	require.NotEqual(t, batch, child)
	require.Contains(t, p.text("dl.facts"), batch, "the child names its parent")
	p.shot("batch-resubmitted")
	cb, err := s.ledger.Batch(context.Background(), child)
	require.NoError(t, err)
	require.Equal(t, batch, cb.Parent)
	require.Equal(t, 3, cb.Rows)
	require.Equal(t, payout.BatchAwaitingApproval, cb.Status)
	_, audit, _ = s.do(call{method: "GET", path: "/audit?batch=" + batch + "&format=csv", token: "carl"})
	require.Contains(t, audit, "resubmit", "the resubmit is in the audit log")
	t.Logf("screenshots in %s", p.dir)
}

func ptr[T any](v T) *T { return &v }
