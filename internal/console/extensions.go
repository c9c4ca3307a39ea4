package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// Action is an action on a batch or one of its rows beyond approve, reject
// and cancel: hold and resume a batch, resubmit its failed rows; hold,
// resume or cancel one row, release or drop a row the duplicate guard held
// (issue 11). Each is a form with a reason field, shown to principals whose
// roles grant Perm when Show says it applies, posting to
// POST /console/batches/{id}/act/{name} (a row in httpapi.Table with
// auth.PermRead: the ledger checks the action's own permission and the
// rest of the rule — ledger.Service.DecideAs, which also writes the audit
// entry, of a refusal too).
type Action struct {
	Name  string          // in the path: hold, resume, resubmit, row-hold, …
	Label string          // catalogue key of the button
	Perm  auth.Permission // e.g. auth.PermHold, auth.PermReleaseHeld, auth.PermResubmit
	// Show says whether the action applies to the batch (row nil: a batch
	// action) or to one of its rows.
	Show func(b *ledger.BatchItem, failed int, row *ledger.RowView) bool
	// Do runs the action as p and returns where to go next ("" the batch).
	Do func(ctx context.Context, svc *ledger.Service, p *auth.Principal, cmd ledgerapi.RowCommand) (string, error)
}

// decision is an Action's Do for a ledger method that takes a RowCommand.
func decision(act auth.Action, method func(*ledger.Service) func(context.Context, ledgerapi.RowCommand) error) func(context.Context, *ledger.Service, *auth.Principal, ledgerapi.RowCommand) (string, error) {
	return func(ctx context.Context, svc *ledger.Service, p *auth.Principal, cmd ledgerapi.RowCommand) (string, error) {
		return "", svc.DecideAs(ctx, p, act, cmd, method(svc))
	}
}

// open reports whether a batch may still change.
func open(b *ledger.BatchItem) bool {
	return b.Status != payout.BatchDone && b.Status != payout.BatchRejected && b.Status != payout.BatchCancelled
}

// BatchActions and RowActions are the actions the batch page offers
// beyond approve, reject and cancel.
var (
	BatchActions = []Action{
		{Name: "hold", Label: "act.hold", Perm: auth.PermHold,
			Show: func(b *ledger.BatchItem, _ int, _ *ledger.RowView) bool { return open(b) && b.Hold == nil },
			Do:   decision(auth.ActHold, func(s *ledger.Service) func(context.Context, ledgerapi.RowCommand) error { return s.Hold })},
		{Name: "resume", Label: "act.resume", Perm: auth.PermHold,
			Show: func(b *ledger.BatchItem, _ int, _ *ledger.RowView) bool { return b.Hold != nil },
			Do:   decision(auth.ActResume, func(s *ledger.Service) func(context.Context, ledgerapi.RowCommand) error { return s.Resume })},
		{Name: "resubmit", Label: "act.resubmit", Perm: auth.PermResubmit,
			Show: func(b *ledger.BatchItem, failed int, _ *ledger.RowView) bool { return failed > 0 },
			Do: func(ctx context.Context, svc *ledger.Service, p *auth.Principal, cmd ledgerapi.RowCommand) (string, error) {
				var child string
				err := svc.DecideAs(ctx, p, auth.ActResubmit, cmd, func(ctx context.Context, cmd ledgerapi.RowCommand) error {
					reply, err := svc.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: cmd.Batch, Failed: true, By: cmd.By,
						ByUserID: p.UserID, Reason: cmd.Reason})
					if err == nil {
						child = reply.Batch.Batch
					}
					return err
				})
				if err != nil {
					return "", err
				}
				return "/console/batches/" + child, nil
			}},
	}
	RowActions = []Action{
		{Name: "release", Label: "act.release", Perm: auth.PermReleaseHeld,
			Show: func(_ *ledger.BatchItem, _ int, r *ledger.RowView) bool { return r.Held },
			Do: decision(auth.ActReleaseHeld, func(s *ledger.Service) func(context.Context, ledgerapi.RowCommand) error {
				return s.ReleaseHeld
			})},
		{Name: "drop", Label: "act.drop", Perm: auth.PermReleaseHeld,
			Show: func(_ *ledger.BatchItem, _ int, r *ledger.RowView) bool { return r.Held },
			Do:   decision(auth.ActDropHeld, func(s *ledger.Service) func(context.Context, ledgerapi.RowCommand) error { return s.DropHeld })},
		{Name: "row-hold", Label: "act.row_hold", Perm: auth.PermHold,
			Show: func(b *ledger.BatchItem, _ int, r *ledger.RowView) bool {
				return open(b) && !r.Held && r.Stop == "" && !r.State.Terminal()
			},
			Do: decision(auth.ActHold, func(s *ledger.Service) func(context.Context, ledgerapi.RowCommand) error { return s.Hold })},
		{Name: "row-resume", Label: "act.row_resume", Perm: auth.PermHold,
			Show: func(_ *ledger.BatchItem, _ int, r *ledger.RowView) bool { return r.Stop == "hold" },
			Do:   decision(auth.ActResume, func(s *ledger.Service) func(context.Context, ledgerapi.RowCommand) error { return s.Resume })},
		{Name: "row-cancel", Label: "act.row_cancel", Perm: auth.PermCancel,
			Show: func(b *ledger.BatchItem, _ int, r *ledger.RowView) bool {
				return open(b) && r.Stop != "cancel" && !r.State.Terminal() && !r.State.InFlight()
			},
			Do: decision(auth.ActCancel, func(s *ledger.Service) func(context.Context, ledgerapi.RowCommand) error { return s.CancelRow })},
	}
)

// act runs a registered action (form field row for a row action).
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
		// The ledger checks the action's permission and the rest of the
		// rule (DecideAs), and audits a refusal as it does a decision.
		p := auth.PrincipalFrom(r.Context())
		next, err := a.Do(r.Context(), c.svc, p, ledgerapi.RowCommand{Batch: id, Row: row,
			Reason: strings.TrimSpace(r.PostFormValue("reason"))})
		if err != nil {
			c.batchRefused(w, r, v, id, err)
			return
		}
		if next == "" {
			next = "/console/batches/" + id
		}
		back(w, r, next, "action")
		return
	}
	c.fail(w, r, v, ledgerapi.Errorf(ledgerapi.CodeNotFound, "no action %q", name))
}

func itoa(n int) string { return strconv.Itoa(n) }

// statusOf is the HTTP status of an error.
func statusOf(err error) int { return httpapi.Status(ledgerapi.ErrorCode(err)) }
