package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// Action is an action on a batch or one of its rows that another part of
// payrun adds to the batch page: issue 11's hold and resume (a batch),
// release or drop (a held row) and resubmit (failed rows). Extension
// point: the lead appends them to BatchActions and RowActions when the
// ledger methods land; nothing else changes. Each becomes a form with a
// reason field, shown to principals whose roles grant Perm, posting to
// POST /console/batches/{id}/act/{name} (a row in httpapi.Table with
// auth.PermRead: the action's own Perm is checked in act, and its ledger
// method checks roles again).
type Action struct {
	Name  string          // in the path: hold, resume, release, drop, resubmit
	Label string          // catalogue key of the button
	Perm  auth.Permission // e.g. auth.PermHold, auth.PermReleaseHeld, auth.PermResubmit
	// Do runs the action as by (row 0 for a batch action) with the form's
	// fields (reason, …); its ledger method writes the audit entry.
	Do func(ctx context.Context, svc *ledger.Service, by auth.Actor, batch string, row int, form url.Values) error
}

// BatchActions and RowActions are the actions the batch page offers
// beyond approve, reject and cancel; empty until issue 11's land.
var (
	BatchActions []Action
	RowActions   []Action
)

// act runs a registered action (?row= for a row action).
func (c *Console) act(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "batches", "")
	id, name := r.PathValue("id"), r.PathValue("name")
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, v, err)
		return
	}
	row, _ := strconv.Atoi(r.PostFormValue("row"))
	list := BatchActions
	if row > 0 {
		list = RowActions
	}
	for _, a := range list {
		if a.Name != name {
			continue
		}
		p := auth.PrincipalFrom(r.Context())
		if !p.Can(a.Perm) {
			c.batchRefused(w, r, v, id, ledgerapi.Errorf(ledgerapi.CodeForbidden, "%s may not %s", p.Name, name))
			return
		}
		if err := a.Do(r.Context(), c.svc, actor(r), id, row, r.PostForm); err != nil {
			c.batchRefused(w, r, v, id, err)
			return
		}
		back(w, r, "/console/batches/"+id, "action")
		return
	}
	c.fail(w, r, v, ledgerapi.Errorf(ledgerapi.CodeNotFound, "no action %q", name))
}

func itoa(n int) string { return strconv.Itoa(n) }

// statusOf is the HTTP status of an error.
func statusOf(err error) int { return httpapi.Status(ledgerapi.ErrorCode(err)) }
