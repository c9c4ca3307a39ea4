package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// TestWidgetRowInABrowser is seed 000's widget flow end to end through the
// built binaries, the sandbox's stand-in widget and Chromium: a batch with
// a widget row that has no card yet is approved and released; the row
// waits while the token row pays; the maker issues a recipient link on the
// batch page; the recipient opens it in another browser, the page loads
// the bank's (the sandbox's) widget, the card is typed into the widget's
// frame (the sandbox's origin); the encrypted card lands on the row, the
// row is paid once, and the report shows the card's last four. The card
// number is in no file payrun wrote.
//
// It runs in each mode of what the bank leaves open here: a public token
// reusable or single use within its lifetime (a page view gets a new
// one), the recipient's name optional or required for a widget payout.
func TestWidgetRowInABrowser(t *testing.T) {
	for _, modes := range [][]string{
		{"--public-token", "unlimited", "--encrypted-card-name", "optional"},
		{"--public-token", "single-use", "--encrypted-card-name", "required"},
	} {
		t.Run(modes[1]+"-"+modes[3], func(t *testing.T) { widgetRowInABrowser(t, modes) })
	}
}

func widgetRowInABrowser(t *testing.T, modes []string) {
	ctx := newBrowser(t)
	s := startSystem(t, options{widget: true, sandboxArgs: modes})
	const password = "a widget passphrase"
	pwFile := filepath.Join(s.dir, "password")
	require.NoError(t, os.WriteFile(pwFile, []byte(password+"\n"), 0o600))
	s.host("users", "password", "--name", "mia", "--password-file", pwFile)

	file := filepath.Join(s.dir, "widget.csv")
	require.NoError(t, os.WriteFile(file, []byte("reference,method,amount,full_name,card_token,number_hash\n"+
		"W-1,encrypted_card,1500.00,Olga Smirnova,,\n"+
		"T-1,token,200.00,Ivan Petrov,tok_e2e_widget_1,\n"), 0o600))
	batch := s.ingest(file)
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if st := s.row(batch, 2).State; st != payout.StateSucceeded {
			return fmt.Errorf("the token row is %s", st)
		}
		return nil
	})
	require.Equal(t, payout.StateReceived, s.row(batch, 1).State, "the widget row waits for its card")

	// A link from the command line; the console's later one replaces it.
	out, err := s.asUser("mia", "link", "--batch", batch, "--row", "1")
	require.NoError(t, err, out)
	cliLink := strings.Fields(out)[0]
	require.True(t, strings.HasPrefix(cliLink, s.api+"/r/"), out)
	out, err = s.asUser("vera", "link", "--batch", batch, "--row", "1")
	require.Error(t, err, "a viewer issues no links: %s", out)

	// The maker issues the link on the batch page; it is shown once.
	p := &page{t: t, ctx: ctx, dir: artifacts(t), api: s.api}
	p.signIn("mia", password)
	p.do(chromedp.Navigate(s.api+"/console/batches/"+batch), chromedp.WaitVisible(chromedp.CSS("button.link-issue")))
	require.Contains(t, p.text("#rows-table"), "Waits for the recipient's card")
	p.load("#rl-url", chromedp.Click(chromedp.CSS("button.link-issue")))
	link := p.eval(`document.getElementById("rl-url").value`)
	require.Regexp(t, `^`+regexp.QuoteMeta(s.api)+`/r/[0-9a-f]{32}\.[0-9a-z]+\.[A-Za-z0-9_-]{43}$`, link)
	p.shot("link-issued")

	// The recipient, in a browser of their own (no session).
	rctx := newBrowser(t)
	r := &page{t: t, ctx: rctx, dir: p.dir, api: s.api, n: 10}
	r.do(chromedp.Navigate(cliLink), chromedp.WaitVisible(chromedp.CSS("#status")))
	require.Contains(t, r.text("#status"), "replaced by a newer one")
	r.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#bank131-tokenization iframe")))
	require.Equal(t, "Olga Smirnova", r.text("#recipient"))
	require.Equal(t, "1 500.00 RUB", r.text("#amount"))
	require.NotContains(t, r.text("main"), "Ivan", "nothing of another row")
	frameSrc := r.eval(`document.querySelector("#bank131-tokenization iframe").src`)
	require.True(t, strings.HasPrefix(frameSrc, s.bankURL+"/sandbox/widget/form?"), frameSrc)
	frames, err := chromedp.Run(r.ctx, chromedp.Nodes(chromedp.CSS("#bank131-tokenization iframe")))
	require.NoError(t, err)
	require.Len(t, frames, 1)
	in := chromedp.FromNode(frames[0])
	r.do(chromedp.WaitVisible(chromedp.CSS("#number"), in),
		chromedp.SendKeys(chromedp.CSS("#number"), "4111 1111 1111 1111", in),
		chromedp.SendKeys(chromedp.CSS("#expiration_month"), "12", in),
		chromedp.SendKeys(chromedp.CSS("#expiration_year"), "29", in),
		chromedp.SendKeys(chromedp.CSS("#cardholder_name"), "OLGA SMIRNOVA", in),
		chromedp.SendKeys(chromedp.CSS("#security_code"), "123", in))
	r.shot("recipient-card")
	r.do(chromedp.Click(chromedp.CSS("#submit"), in))
	r.waitJS(`document.body.classList.contains("saved")`, 30*time.Second)
	require.Contains(t, r.text("#status"), "…1111")
	r.shot("recipient-saved")

	// The row is paid once, to that card.
	final := s.waitFinal(batch, 2, 60*time.Second, nil)
	require.Equal(t, 2, final.ByState[payout.StateSucceeded], "%+v", final)
	st := s.row(batch, 1)
	require.Equal(t, "card …1111", st.Destination)
	require.NotNil(t, st.Card)
	s.agree(batch, 2)
	paid := s.bankPayouts()[batch+"/1"]
	require.Len(t, paid, 1, "one payout at the bank for the row")
	require.Equal(t, "succeeded", paid[0].Status)

	// The link is used; the page says so and offers nothing.
	r.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#status")))
	require.Contains(t, r.text("#status"), "received")
	require.Equal(t, "0", r.eval(`String(document.querySelectorAll("iframe").length)`))

	// The report shows the card's last four.
	rep := s.httpGet("/batches/" + batch + "/report.csv")
	require.Regexp(t, `W-1.*1111`, rep)

	// The recipient's action is in the audit log, by the link.
	audit := s.host("audit", "--batch", batch)
	require.Contains(t, audit, "recipient_link")
	require.Contains(t, audit, "card_captured")
	require.Regexp(t, `(?m)^\d+,[^,]+,recipient,0,link,[^,]+,card_captured,`+batch+`,`+batch+`/1,ok,link [0-9a-f]{8}; card …1111,`, audit)

	// No card number in anything payrun wrote.
	require.NoError(t, filepath.Walk(s.dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.Contains(path, "bank131-sandbox") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil // a file gone meanwhile
		}
		require.NotContains(t, string(b), "4111111111111111", path)
		require.NotContains(t, string(b), "4111 1111 1111 1111", path)
		return nil
	}))
}
