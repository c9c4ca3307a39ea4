package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
)

// rev9Cards are one Luhn-valid test card number as people type it.
var rev9Cards = []string{"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111"}

func requireNoCard(t *testing.T, where, body string) {
	t.Helper()
	for _, c := range rev9Cards {
		require.NotContains(t, body, c, "%s shows the card number", where)
		require.NotContains(t, body, url.QueryEscape(c), "%s shows the card number", where)
	}
}

// TestRev9PagesNeverEchoACardNumber: a card number typed into any field of
// the console (the sign-in's user name, a filter, a reason, a batch name)
// must not come back in a page unmasked. The sign-in form put a refused
// user name back into its field as typed, and the exceptions page its
// batch filter.
func TestRev9PagesNeverEchoACardNumber(t *testing.T) {
	s := newSite(t)
	id, _ := s.seed.batch(t, batchSpec{name: "echo", status: payout.BatchAwaitingApproval, rows: 2, uploader: s.users["mia"], by: "mia",
		required: 1, states: func(int) (payout.State, string) { return payout.StateReceived, "" }})

	for _, card := range rev9Cards {
		anon := s.browser(t, "en")
		status, body, _ := anon.post("/signin", url.Values{"user": {card}, "password": {"a wrong password"}, "next": {"/console/batches?q=" + card}})
		require.Equal(t, http.StatusUnauthorized, status)
		requireNoCard(t, "the refused sign-in", body)
		_, body, _ = anon.get("/signin?next=" + url.QueryEscape("/console/batches?batch="+card))
		requireNoCard(t, "the sign-in page's next", body)

		carl := s.browser(t, "en")
		carl.signIn("carl")
		q := url.QueryEscape(card)
		for _, page := range []string{"/console/batches?status=" + q + "&from=" + q + "&to=" + q + "&name=" + q + "&after=" + q,
			"/console/exceptions?batch=" + q + "&category=" + q + "&assignee=" + q,
			"/console/batches/" + id + "?state=" + q + "&method=" + q + "&after=" + q,
			"/console/batches/" + q} {
			_, body, _ := carl.get(page)
			requireNoCard(t, page, body)
		}
		for _, post := range []string{"/console/batches/" + id + "/reject", "/console/batches/" + id + "/cancel",
			"/console/batches/" + id + "/act/hold", "/console/exceptions/1/comment"} {
			_, body, _ := carl.post(post, url.Values{"reason": {card + strings.Repeat("x", 600)}, "comment": {card}, "back": {"/" + card}})
			requireNoCard(t, post, body)
		}
	}
}
