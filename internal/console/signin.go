package console

import (
	"net/http"
	"time"

	"github.com/payrun/payrun/internal/httpapi"
)

type signInData struct {
	httpapi.SignInView
	Problem string // catalogue key of the problem, "" for none
	WaitS   int    // rate limited: seconds
}

// SignInPage renders the Guard's sign-in page (httpapi.GuardConfig's
// SignInPage): the form, and a refused attempt's problem in the page's
// language.
func (c *Console) SignInPage(w http.ResponseWriter, r *http.Request, status int, s httpapi.SignInView) {
	v := c.newView(w, r, "signin", "")
	v.P = nil // the form is for signing in (again)
	v.Title = v.L.T("signin.title")
	d := &signInData{SignInView: s}
	if s.Problem != "" {
		d.Problem = "signin." + string(s.Problem)
		d.WaitS = int((s.Wait + time.Second - 1) / time.Second)
	}
	v.Data = d
	c.render(w, r, status, "signin", v)
}
