package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// DecideAs runs a person's decision on a batch or one of its rows (hold,
// resume, cancel a row, release or drop a held row, resubmit) as p. The
// rules (mayDecide) are checked before and again inside the decision's
// transaction, and the audit entry of a decision done is written in that
// same transaction: a decision is never taken without its entry. A
// refusal or a failure is recorded afterwards (nothing changed). The HTTP
// API and the web console both decide through it, so the rule and the
// record are one.
//
// do is one of the Service's decision methods (Hold, Resume, CancelRow,
// ReleaseHeld, DropHeld, or a function calling Resubmit); they find p in
// ctx. A function that does not is audited after it returned.
func (s *Service) DecideAs(ctx context.Context, p *auth.Principal, act auth.Action, cmd ledgerapi.RowCommand,
	do func(context.Context, ledgerapi.RowCommand) error) error {
	if p == nil {
		return ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "a decision needs a signed-in person")
	}
	cmd.By = p.Name
	cmd.Reason = cleanReason(cmd.Reason)
	// The decision is recorded whatever happens to the caller.
	ctx = context.WithoutCancel(ctx)
	if err := mayDecide(ctx, s.db.r, p, act, cmd); err != nil {
		s.auditDecision(ctx, p, act, cmd, err)
		return err
	}
	d := &asPerson{p: p, act: act, cmd: cmd}
	err := do(context.WithValue(ctx, asPersonKey{}, d), cmd)
	if err != nil || !d.audited {
		s.auditDecision(ctx, p, act, cmd, err)
	}
	return err
}

// asPerson is a person's decision in flight: DecideAs puts it in the
// context, the decision's transaction checks the rules and writes its
// audit entry (decidedAs).
type asPerson struct {
	p       *auth.Principal
	act     auth.Action
	cmd     ledgerapi.RowCommand
	audited bool
}

type asPersonKey struct{}

// decidedAs checks, in the decision's transaction, that the person of ctx
// (if any: a decision over NATS has none) may decide, and appends the
// audit entry of the decision. An error rolls the decision back.
func decidedAs(ctx context.Context, tx *Tx) error {
	d, ok := ctx.Value(asPersonKey{}).(*asPerson)
	if !ok {
		return nil
	}
	if err := mayDecide(ctx, tx, d.p, d.act, d.cmd); err != nil {
		return err
	}
	if err := appendAudit(tx, decisionEntry(d.p, d.act, d.cmd, nil)); err != nil {
		return err
	}
	d.audited = true
	return nil
}

// decisionPerm is the permission each decision needs.
var decisionPerm = map[auth.Action]auth.Permission{
	auth.ActHold:        auth.PermHold,
	auth.ActResume:      auth.PermHold,
	auth.ActCancel:      auth.PermCancel,
	auth.ActReleaseHeld: auth.PermReleaseHeld,
	auth.ActDropHeld:    auth.PermReleaseHeld,
	auth.ActResubmit:    auth.PermResubmit,
}

// querier is the read connection or the writer's transaction.
type querier interface {
	QueryRow(query string, args ...any) *sql.Row
}

// MayDecide reports whether p may take the decision act on cmd's batch
// (or row), as DecideAs checks it.
func (s *Service) MayDecide(ctx context.Context, p *auth.Principal, act auth.Action, cmd ledgerapi.RowCommand) error {
	return mayDecide(ctx, s.db.r, p, act, cmd)
}

// mayDecide is the rule of a person's decision:
//   - the action's permission (auth.Permission) by p's roles;
//   - a maker (not a checker) decides only on batches they uploaded (a
//     child batch: resubmitted), and lifts only a hold they placed
//     themselves: a hold by a checker or the breaker is a checker's to lift;
//   - the uploader of a batch (the person who resubmitted a child) never
//     releases or drops its held rows: another person allowed to approve
//     does (four eyes).
func mayDecide(_ context.Context, q querier, p *auth.Principal, act auth.Action, cmd ledgerapi.RowCommand) error {
	perm, ok := decisionPerm[act]
	if !ok {
		return fmt.Errorf("%s is not a decision on a batch", act)
	}
	if !p.Can(perm) {
		return ledgerapi.Errorf(ledgerapi.CodeForbidden, "%s may not %s: that needs the role %s", p.Name,
			strings.ReplaceAll(string(act), "_", " "), strings.ReplaceAll(auth.RolesFor(perm).String(), ",", " or "))
	}
	var uploader sql.NullInt64
	var holdSource, holdBy string
	if err := q.QueryRow(`SELECT uploader_id, hold_source, hold_by FROM batches WHERE id = ?`, cmd.Batch).
		Scan(&uploader, &holdSource, &holdBy); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ledgerapi.Errorf(ledgerapi.CodeNotFound, "batch %s: not found", cmd.Batch)
		}
		return fmt.Errorf("read the uploader of %s: %w", cmd.Batch, err)
	}
	checker := p.Roles.Has(auth.RoleChecker)
	own := uploader.Valid && uploader.Int64 == p.UserID
	switch {
	case !checker && !own:
		return ledgerapi.Errorf(ledgerapi.CodeForbidden, "%s did not upload batch %s: a maker decides only on their own batches", p.Name, cmd.Batch)
	case (act == auth.ActReleaseHeld || act == auth.ActDropHeld) && own:
		return ledgerapi.Errorf(ledgerapi.CodeForbidden,
			"%s uploaded (or resubmitted) batch %s: its held rows are released or dropped by another person allowed to approve", p.Name, cmd.Batch)
	case act != auth.ActResume || checker:
		return nil
	}
	// A maker resuming their own batch or row: only their own hold.
	if cmd.Row == 0 {
		if holdSource != "" && (holdSource != ledgerapi.HoldByOperator || holdBy != p.Name) {
			return ledgerapi.Errorf(ledgerapi.CodeForbidden, "batch %s was put on hold by %s: a checker resumes it", cmd.Batch,
				orNone(firstNonEmpty(holdBy, holdSource)))
		}
		return nil
	}
	var stop, stopBy string
	err := q.QueryRow(`SELECT stop, stop_by FROM rows WHERE batch_id = ? AND row_no = ?`, cmd.Batch, cmd.Row).Scan(&stop, &stopBy)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ledgerapi.Errorf(ledgerapi.CodeNotFound, "row %d of batch %s: not found", cmd.Row, cmd.Batch)
	case err != nil:
		return fmt.Errorf("read row %d of %s: %w", cmd.Row, cmd.Batch, err)
	case stop == stopHold && stopBy != p.Name:
		return ledgerapi.Errorf(ledgerapi.CodeForbidden, "row %d of batch %s was put on hold by %s: a checker resumes it", cmd.Row, cmd.Batch,
			orNone(stopBy))
	}
	return nil
}

// decisionEntry is the audit entry of a person's decision and how it ended.
func decisionEntry(p *auth.Principal, act auth.Action, cmd ledgerapi.RowCommand, err error) auth.Entry {
	e := auth.NewEntry(p.Actor(), act, auth.OutcomeOK)
	e.Batch, e.Target = cmd.Batch, cmd.Batch
	if cmd.Row > 0 {
		e.Target = fmt.Sprintf("%s/%d", cmd.Batch, cmd.Row)
	}
	e.Detail = cmd.Reason
	if err != nil {
		e.Outcome, e.Detail = auth.OutcomeRefused, cardmask.Redact(ledgerapi.ErrorMessage(err))
		if ledgerapi.ErrorCode(err) == ledgerapi.CodeInternal {
			e.Outcome = auth.OutcomeFailed
		}
	}
	return e
}

// auditDecision records a person's decision that was refused or failed
// (nothing changed), or one its method did not audit itself.
func (s *Service) auditDecision(ctx context.Context, p *auth.Principal, act auth.Action, cmd ledgerapi.RowCommand, err error) {
	if aerr := s.Audit(context.WithoutCancel(ctx), decisionEntry(p, act, cmd, err)); aerr != nil {
		s.log.Error("audit a decision", "error", aerr)
	}
}
