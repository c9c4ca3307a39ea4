package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// DecideAs runs a person's decision on a batch or one of its rows (hold,
// resume, cancel a row, release or drop a held row, resubmit) as p: a
// maker decides only on batches they uploaded, and the outcome — done,
// refused or failed — lands in the audit log. The HTTP API and the web
// console both decide through it, so the rule and the record are one.
func (s *Service) DecideAs(ctx context.Context, p *auth.Principal, act auth.Action, cmd ledgerapi.RowCommand,
	do func(context.Context, ledgerapi.RowCommand) error) error {
	if p == nil {
		return ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "a decision needs a signed-in person")
	}
	cmd.By = p.Name
	if err := s.MayDecide(ctx, p, cmd.Batch); err != nil {
		s.auditDecision(ctx, p, act, cmd, err)
		return err
	}
	// The decision is recorded whatever happens to the caller.
	ctx = context.WithoutCancel(ctx)
	err := do(ctx, cmd)
	s.auditDecision(ctx, p, act, cmd, err)
	return err
}

// MayDecide refuses a maker's decision on a batch they did not upload
// (makers hold, resume, cancel and resubmit their own batches; checkers
// and admins any).
func (s *Service) MayDecide(ctx context.Context, p *auth.Principal, batch string) error {
	if p.Roles.Has(auth.RoleChecker) || p.Roles.Has(auth.RoleAdmin) {
		return nil
	}
	var uploader sql.NullInt64
	if err := s.db.r.QueryRowContext(ctx, `SELECT uploader_id FROM batches WHERE id = ?`, batch).Scan(&uploader); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ledgerapi.Errorf(ledgerapi.CodeNotFound, "batch %s: not found", batch)
		}
		return fmt.Errorf("read the uploader of %s: %w", batch, err)
	}
	if !uploader.Valid || uploader.Int64 != p.UserID {
		return ledgerapi.Errorf(ledgerapi.CodeForbidden, "%s did not upload batch %s: a maker decides only on their own batches", p.Name, batch)
	}
	return nil
}

// auditDecision records a person's decision and how it ended.
func (s *Service) auditDecision(ctx context.Context, p *auth.Principal, act auth.Action, cmd ledgerapi.RowCommand, err error) {
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
	if aerr := s.Audit(context.WithoutCancel(ctx), e); aerr != nil {
		s.log.Error("audit a decision", "error", aerr)
	}
}
