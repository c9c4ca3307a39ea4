package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// Four eyes. A sealed batch is judged by the approval policy in force
// (judgeBatch, in the transaction that seals it); one that needs approval
// waits in awaiting_approval until as many distinct checkers as the
// policy asked approved exactly what they were shown (the file's SHA-256
// and the totals per currency), none of them its uploader. The release
// checks the count again (releaseChunk). A rejection cancels the batch; a
// batch left unapproved past the policy's expiry is cancelled by the
// ledger. Every decision and every refusal is in the audit log, written in
// the decision's transaction.

// judgeBatch records who uploaded a batch being accepted and what the
// policy says about it, and moves it to scheduled or awaiting_approval.
func judgeBatch(tx *Tx, man *payout.Manifest, facts auth.Facts) error {
	p, err := policyTx(tx)
	if err != nil {
		return err
	}
	j := p.Judge(facts)
	next, expires := payout.BatchScheduled, any(nil)
	if j.Approvals > 0 {
		next, expires = payout.BatchAwaitingApproval, formatTime(tx.Now.Add(p.Expiry()))
	}
	reasons, _ := json.Marshal(j.Reasons)
	var uploader any
	if man.UploaderID > 0 {
		uploader = man.UploaderID
	}
	if _, err := tx.Exec(`UPDATE batches SET status = ?, accepted_at = ?, uploaded_by = ?, uploader_id = ?, policy_version = ?,
		approvals_required = ?, approval_reasons = ?, approval_expires_at = ? WHERE id = ?`,
		next, formatTime(tx.Now), man.UploadedBy, uploader, p.Version, j.Approvals, string(reasons), expires, man.Batch); err != nil {
		return fmt.Errorf("accept batch %s: %w", man.Batch, err)
	}
	return nil
}

// Decision is a checker's approval or rejection of a batch. An approval
// carries what the checker was shown; the ledger refuses it if the batch
// differs.
type Decision struct {
	Batch      string       `json:"batch"`
	Approve    bool         `json:"approve"`
	FileSHA256 string       `json:"file_sha256,omitempty"`
	Totals     money.Totals `json:"totals,omitempty"` // minor units per currency
	Reason     string       `json:"reason,omitempty"` // required to reject
}

// DecisionResult says where the batch stands after a decision.
type DecisionResult struct {
	Batch    *ledgerapi.BatchSummary `json:"batch"`
	Given    int                     `json:"approvals_given"`
	Required int                     `json:"approvals_required"`
}

// refused is a decision the ledger turned down: recorded in the audit log
// (the transaction commits) and answered as its error.
type refused struct{ err *ledgerapi.Error }

func refuse(code ledgerapi.Code, format string, args ...any) *refused {
	return &refused{ledgerapi.Errorf(code, format, args...)}
}

// Decide applies a checker's decision in one transaction with its audit
// entry: approvals count once per checker and release the batch when the
// policy's number is reached; a rejection cancels it. A refusal (not a
// checker, the uploader, another file or other totals than the batch's, a
// batch that does not wait for approval) is recorded and returned as a
// *ledgerapi.Error.
func (s *Service) Decide(ctx context.Context, by auth.Actor, d Decision) (*DecisionResult, error) {
	var ref *refused
	var given, required int
	var released bool
	var live []*rowRec
	d.Reason = cleanReason(d.Reason)
	err := s.w.Do(ctx, func(tx *Tx) error {
		ref, given, required, released, live = nil, 0, 0, false, nil
		var err error
		ref, given, required, released, live, err = s.decide(tx, by, d)
		if err != nil {
			return err
		}
		act := auth.ActApprove
		if !d.Approve {
			act = auth.ActReject
		}
		e := auth.NewEntry(by, act, auth.OutcomeOK)
		e.Batch = d.Batch
		switch {
		case ref != nil:
			e.Outcome, e.Detail = auth.OutcomeRefused, ref.err.Message
		case d.Approve:
			e.Detail = fmt.Sprintf("approval %d of %d; file %s; totals %s", given, required, d.FileSHA256, d.Totals)
			if released {
				e.Detail += "; approved"
			}
		default:
			e.Detail = d.Reason
		}
		if err := appendAudit(tx, e); err != nil {
			return err
		}
		return s.pollLive(tx, live)
	})
	if err != nil {
		return nil, s.apiError(err)
	}
	if ref != nil {
		return nil, ref.err
	}
	if released {
		wake(s.release)
	}
	s.log.Info("batch "+map[bool]string{true: "approval", false: "rejection"}[d.Approve], logkey.Batch, d.Batch,
		"by", cardmask.Redact(by.Name), "given", given, "required", required)
	sum, err := s.db.Batch(ctx, d.Batch)
	if err != nil {
		return nil, err
	}
	return &DecisionResult{Batch: sum, Given: given, Required: required}, nil
}

// batchApproval is what decide reads of a batch.
type batchApproval struct {
	status             payout.BatchStatus
	sha                string
	totals             money.Totals
	uploaderID         sql.NullInt64
	required, given    int
	approvedBy, reason string
}

func readBatchApproval(tx *Tx, batch string) (*batchApproval, error) {
	var b batchApproval
	var totals sql.NullString
	err := tx.QueryRow(`SELECT status, file_sha256, manifest_totals, uploader_id, approvals_required, approvals_given, approved_by, reason
		FROM batches WHERE id = ?`, batch).Scan(&b.status, &b.sha, &totals, &b.uploaderID, &b.required, &b.given, &b.approvedBy, &b.reason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read batch %s: %w", batch, err)
	}
	b.totals = money.Totals{}
	if totals.Valid {
		json.Unmarshal([]byte(totals.String), &b.totals)
	}
	return &b, nil
}

// actorUser reads the acting user in tx: roles are checked where the
// decision is made, whatever the HTTP layer checked.
func actorUser(tx *Tx, by auth.Actor) (*auth.User, error) {
	if by.UserID == 0 {
		return nil, nil
	}
	u, err := scanUser(tx.QueryRow(`SELECT `+userColumns+` FROM users WHERE id = ?`, by.UserID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return u, err
}

func (s *Service) decide(tx *Tx, by auth.Actor, d Decision) (ref *refused, given, required int, released bool, live []*rowRec, err error) {
	u, err := actorUser(tx, by)
	if err != nil {
		return nil, 0, 0, false, nil, fmt.Errorf("read user: %w", err)
	}
	if u == nil || u.Disabled || !u.Roles.Has(auth.RoleChecker) {
		return refuse(ledgerapi.CodeForbidden, "%s is not a checker: only checkers approve or reject batches", by.Name), 0, 0, false, nil, nil
	}
	b, err := readBatchApproval(tx, d.Batch)
	if err != nil {
		return nil, 0, 0, false, nil, err
	}
	if b == nil {
		return refuse(ledgerapi.CodeNotFound, "batch %s: not found", d.Batch), 0, 0, false, nil, nil
	}
	required, given = b.required, b.given
	if b.status != payout.BatchAwaitingApproval {
		why := fmt.Sprintf("batch %s is %s", d.Batch, b.status)
		switch b.status {
		case payout.BatchReceiving:
			why += ": its rows are still arriving; decide once it is sealed"
		case payout.BatchScheduled, payout.BatchReleased, payout.BatchDone:
			if b.required > 0 {
				why += ": it was approved already"
			} else {
				why += ": it needs no approval"
			}
		}
		return refuse(ledgerapi.CodeInvalid, "%s", why), given, required, false, nil, nil
	}
	if b.uploaderID.Valid && b.uploaderID.Int64 == u.ID {
		return refuse(ledgerapi.CodeForbidden, "%s uploaded batch %s and cannot %s it: another checker must", u.Name, d.Batch,
			map[bool]string{true: "approve", false: "reject"}[d.Approve]), given, required, false, nil, nil
	}
	var prior string
	err = tx.QueryRow(`SELECT decision FROM approvals WHERE batch_id = ? AND user_id = ?`, d.Batch, u.ID).Scan(&prior)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, 0, false, nil, fmt.Errorf("read approvals of %s: %w", d.Batch, err)
	}
	if prior != "" {
		return refuse(ledgerapi.CodeConflict, "%s approved batch %s already; it needs %d approvals from different checkers (%d given)",
			u.Name, d.Batch, required, given), given, required, false, nil, nil
	}
	totals, _ := json.Marshal(d.Totals)
	if !d.Approve {
		reason := cleanReason(d.Reason)
		if reason == "" {
			return refuse(ledgerapi.CodeInvalid, "a rejection needs a reason"), given, required, false, nil, nil
		}
		if err := checkReason(reason); err != nil {
			return refuse(ledgerapi.CodeInvalid, "%s", ledgerapi.ErrorMessage(err)), given, required, false, nil, nil
		}
		if _, err := tx.Exec(`INSERT INTO approvals (batch_id, user_id, user_name, decision, file_sha256, totals, reason, at)
			VALUES (?, ?, ?, 'reject', ?, ?, ?, ?)`, d.Batch, u.ID, u.Name, d.FileSHA256, string(totals), reason, formatTime(tx.Now)); err != nil {
			return nil, 0, 0, false, nil, fmt.Errorf("record rejection of %s: %w", d.Batch, err)
		}
		live, err := cancelBatch(tx, ledgerapi.BatchCommand{Batch: d.Batch, By: u.Name, Reason: "rejected: " + reason})
		return nil, given, required, false, live, err
	}
	if d.FileSHA256 != b.sha || !d.Totals.Equal(b.totals) {
		var diff []string
		if d.FileSHA256 != b.sha {
			diff = append(diff, fmt.Sprintf("file SHA-256 %s, not %s", b.sha, orNone(d.FileSHA256)))
		}
		if !d.Totals.Equal(b.totals) {
			diff = append(diff, fmt.Sprintf("totals %s, not %s", b.totals, orNone(d.Totals.String())))
		}
		return refuse(ledgerapi.CodeStale, "batch %s is not what you were shown: it has %s; look at it again before approving",
			d.Batch, strings.Join(diff, " and ")), given, required, false, nil, nil
	}
	if _, err := tx.Exec(`INSERT INTO approvals (batch_id, user_id, user_name, decision, file_sha256, totals, at)
		VALUES (?, ?, ?, 'approve', ?, ?, ?)`, d.Batch, u.ID, u.Name, d.FileSHA256, string(totals), formatTime(tx.Now)); err != nil {
		return nil, 0, 0, false, nil, fmt.Errorf("record approval of %s: %w", d.Batch, err)
	}
	given++
	approvedBy := u.Name
	if b.approvedBy != "" {
		approvedBy = b.approvedBy + "," + u.Name
	}
	released = given >= max(required, 1)
	status := payout.BatchAwaitingApproval
	var at any
	if released {
		status, at = payout.BatchScheduled, formatTime(tx.Now)
	}
	if _, err := tx.Exec(`UPDATE batches SET approvals_given = ?, approved_by = ?, status = ?, approved_at = coalesce(?, approved_at) WHERE id = ?`,
		given, approvedBy, status, at, d.Batch); err != nil {
		return nil, 0, 0, false, nil, fmt.Errorf("approve batch %s: %w", d.Batch, err)
	}
	return nil, given, required, released, nil, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// pollLive gives every row with a live session a poll job, so the gate
// cancels it at the bank (a cancelled batch), and wakes the job publisher
// for rows that were opening.
func (s *Service) pollLive(tx *Tx, rows []*rowRec) error {
	var jobs []ledgerapi.Job
	var ids []string
	for _, r := range rows {
		j, id, err := s.schedulePoll(tx, r)
		if err != nil {
			return err
		}
		jobs, ids = append(jobs, j), append(ids, id)
	}
	tx.After(func() {
		if len(jobs) > 0 {
			s.publishPolls(jobs, ids)
		}
		wake(s.kick)
	})
	return nil
}

// CancelAs cancels a batch for a person: a checker may cancel any batch, a
// maker only one they uploaded. The refusal or the cancellation is in the
// audit log.
func (s *Service) CancelAs(ctx context.Context, by auth.Actor, batch, reason string) (*ledgerapi.BatchSummary, error) {
	var ref *refused
	reason = cleanReason(reason)
	err := s.w.Do(ctx, func(tx *Tx) error {
		ref = nil
		var live []*rowRec
		var err error
		ref, live, err = cancelAs(tx, by, batch, reason)
		if err != nil {
			return err
		}
		e := auth.NewEntry(by, auth.ActCancel, auth.OutcomeOK)
		e.Batch, e.Detail = batch, reason
		if ref != nil {
			e.Outcome, e.Detail = auth.OutcomeRefused, ref.err.Message
		}
		if err := appendAudit(tx, e); err != nil {
			return err
		}
		return s.pollLive(tx, live)
	})
	if err != nil {
		return nil, s.apiError(err)
	}
	if ref != nil {
		return nil, ref.err
	}
	s.log.Info("batch cancelled", logkey.Batch, batch, "by", cardmask.Redact(by.Name), "reason", cardmask.Redact(reason))
	return s.db.Batch(ctx, batch)
}

func cancelAs(tx *Tx, by auth.Actor, batch, reason string) (*refused, []*rowRec, error) {
	u, err := actorUser(tx, by)
	if err != nil {
		return nil, nil, fmt.Errorf("read user: %w", err)
	}
	if strings.TrimSpace(reason) == "" {
		return refuse(ledgerapi.CodeInvalid, "a cancellation needs a reason"), nil, nil
	}
	if err := checkReason(reason); err != nil {
		return refuse(ledgerapi.CodeInvalid, "%s", ledgerapi.ErrorMessage(err)), nil, nil
	}
	if u == nil || u.Disabled || !(u.Roles.Has(auth.RoleChecker) || u.Roles.Has(auth.RoleMaker)) {
		return refuse(ledgerapi.CodeForbidden, "%s may not cancel batches (makers cancel their own, checkers any)", by.Name), nil, nil
	}
	b, err := readBatchApproval(tx, batch)
	if err != nil {
		return nil, nil, err
	}
	if b == nil {
		return refuse(ledgerapi.CodeNotFound, "batch %s: not found", batch), nil, nil
	}
	if !u.Roles.Has(auth.RoleChecker) && !(b.uploaderID.Valid && b.uploaderID.Int64 == u.ID) {
		return refuse(ledgerapi.CodeForbidden, "%s did not upload batch %s: a maker cancels only their own batches (a checker may cancel any)",
			u.Name, batch), nil, nil
	}
	live, err := cancelBatch(tx, ledgerapi.BatchCommand{Batch: batch, By: u.Name, Reason: reason})
	var le *ledgerapi.Error
	if errors.As(err, &le) && le.Code != ledgerapi.CodeInternal {
		return &refused{ledgerapi.AsError(err)}, nil, nil
	}
	return nil, live, err
}

// expireBatches cancels batches that waited for approval past their
// policy's expiry; it returns their ids.
func expireBatches(tx *Tx) ([]string, error) {
	rows, err := tx.Query(`SELECT id, approval_expires_at FROM batches WHERE status = ? AND approval_expires_at IS NOT NULL
		AND approval_expires_at <= ?`, payout.BatchAwaitingApproval, formatTime(tx.Now))
	if err != nil {
		return nil, fmt.Errorf("find expired batches: %w", err)
	}
	type exp struct{ id, at string }
	var due []exp
	for rows.Next() {
		var e exp
		if err := rows.Scan(&e.id, &e.at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find expired batches: %w", err)
		}
		due = append(due, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find expired batches: %w", err)
	}
	var ids []string
	for _, e := range due {
		reason := "not approved by " + parseTime(e.at).Format("2006-01-02 15:04 MST") + "; expired"
		if _, err := cancelBatch(tx, ledgerapi.BatchCommand{Batch: e.id, By: "ledger", Reason: reason}); err != nil {
			return nil, err
		}
		entry := auth.NewEntry(auth.Actor{Name: "ledger", Via: auth.ViaLedger}, auth.ActExpire, auth.OutcomeOK)
		entry.Batch, entry.Detail = e.id, reason
		if err := appendAudit(tx, entry); err != nil {
			return nil, err
		}
		ids = append(ids, e.id)
	}
	return ids, nil
}

// ExpireApprovals cancels the batches whose approval expired (the
// releaser runs it on every tick).
func (s *Service) ExpireApprovals(ctx context.Context) error {
	var ids []string
	if err := s.w.Do(ctx, func(tx *Tx) error {
		var err error
		ids, err = expireBatches(tx)
		return err
	}); err != nil {
		return err
	}
	for _, id := range ids {
		s.log.Warn("batch not approved in time; cancelled", logkey.Batch, id)
	}
	return nil
}

// Approvals lists the decisions on a batch in order.
func (db *DB) Approvals(ctx context.Context, batch string) ([]ledgerapi.Approval, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT user_name, decision, file_sha256, totals, reason, at FROM approvals
		WHERE batch_id = ? ORDER BY at, user_id`, batch)
	if err != nil {
		return nil, fmt.Errorf("read approvals of %s: %w", batch, err)
	}
	defer rows.Close()
	out := []ledgerapi.Approval{}
	for rows.Next() {
		var a ledgerapi.Approval
		var totals, at string
		if err := rows.Scan(&a.By, &a.Decision, &a.FileSHA256, &totals, &a.Reason, &at); err != nil {
			return nil, fmt.Errorf("read approvals of %s: %w", batch, err)
		}
		a.Totals = money.Totals{}
		json.Unmarshal([]byte(totals), &a.Totals)
		a.At = parseTime(at)
		out = append(out, a)
	}
	return out, rows.Err()
}
