package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// people adds a maker and two checkers and returns them as actors.
func people(t *testing.T, s *Service) (maker, carol, dave auth.Actor) {
	t.Helper()
	ctx := context.Background()
	actor := func(name string, roles ...auth.Role) auth.Actor {
		u, err := s.AddUser(ctx, testAdmin, NewUser{Name: name, Roles: roles})
		require.NoError(t, err)
		return auth.Actor{UserID: u.ID, Name: u.Name, Via: auth.ViaToken, Remote: "127.0.0.1:5000"}
	}
	return actor("mia", auth.RoleMaker), actor("carol", auth.RoleChecker), actor("dave", auth.RoleChecker, auth.RoleMaker)
}

// sealAs records a batch whose manifest names its uploader.
func sealAs(t *testing.T, s *Service, b *testBatch, by auth.Actor) *ledgerapi.BatchSummary {
	t.Helper()
	b.Manifest.UploadedBy, b.Manifest.UploaderID = by.Name, by.UserID
	record(t, s, b.msgs(1))
	return summary(t, s.db, b.ID)
}

// exec runs a statement through the writer, as a change made around the
// ledger's rules would.
func exec(s *Service, q string, args ...any) error {
	return s.w.Do(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec(q, args...)
		return err
	})
}

func approve(s *Service, by auth.Actor, sum *ledgerapi.BatchSummary) (*DecisionResult, error) {
	return s.Decide(context.Background(), by, Decision{Batch: sum.Batch, Approve: true, FileSHA256: sum.FileSHA256, Totals: sum.Totals})
}

func TestFourEyes(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, dave := people(t, s)
	p, err := s.SetPolicy(ctx, testAdmin, auth.DefaultPolicy())
	require.NoError(t, err)

	sum := sealAs(t, s, makeBatch(3, "four eyes"), mia)
	require.Equal(t, payout.BatchAwaitingApproval, sum.Status)
	require.Equal(t, "mia", sum.UploadedBy)
	require.Equal(t, p.Version, sum.PolicyVersion, "the batch records the policy it was judged by")
	require.Equal(t, 1, sum.ApprovalsRequired)
	require.NotNil(t, sum.ApprovalExpiresAt)
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.BatchAwaitingApproval, summary(t, s.db, sum.Batch).Status, "nothing released before approval")

	// A maker is not a checker.
	_, err = approve(s, mia, sum)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeForbidden), "got %v", err)
	// Stale totals or another file are refused.
	stale := Decision{Batch: sum.Batch, Approve: true, FileSHA256: sum.FileSHA256, Totals: money.Totals{"RUB": sum.Totals["RUB"] - 1}}
	_, err = s.Decide(ctx, carol, stale)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeStale), "got %v", err)
	require.ErrorContains(t, err, "is not what you were shown")
	other := Decision{Batch: sum.Batch, Approve: true, FileSHA256: "00" + sum.FileSHA256[2:], Totals: sum.Totals}
	_, err = s.Decide(ctx, carol, other)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeStale), "got %v", err)
	require.ErrorContains(t, err, "file SHA-256 "+sum.FileSHA256)
	require.Equal(t, payout.BatchAwaitingApproval, summary(t, s.db, sum.Batch).Status)

	// The second person approves; the batch is released.
	res, err := approve(s, carol, sum)
	require.NoError(t, err)
	require.Equal(t, payout.BatchScheduled, res.Batch.Status)
	require.Equal(t, 1, res.Given)
	require.Equal(t, "carol", res.Batch.ApprovedBy)
	_, err = approve(s, dave, sum)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "an approved batch needs no more: %v", err)
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.BatchReleased, summary(t, s.db, sum.Batch).Status)

	// The uploader never approves their own batch, even as a checker.
	own := sealAs(t, s, makeBatch(2, "own"), dave)
	_, err = approve(s, dave, own)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeForbidden), "got %v", err)
	require.ErrorContains(t, err, "dave uploaded batch")

	// The audit log has every decision and refusal, in a chain that holds.
	entries, err := s.db.AuditEntries(ctx, AuditFilter{Batch: sum.Batch})
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, string(e.Action)+" "+e.User+" "+string(e.Outcome))
		require.Equal(t, "127.0.0.1:5000", e.Remote)
	}
	require.Equal(t, []string{"approve mia refused", "approve carol refused", "approve carol refused", "approve carol ok",
		"approve dave refused"}, got)
	n, _, err := s.db.VerifyAudit(ctx)
	require.NoError(t, err)
	require.Greater(t, n, 5)
	require.ErrorContains(t, exec(s, `UPDATE audit SET outcome = 'ok' WHERE seq = 1`), "append-only", "no update path")
	require.ErrorContains(t, exec(s, `DELETE FROM audit`), "append-only", "no delete path")
}

func TestTwoCheckersAboveThreshold(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, dave := people(t, s)
	// makeBatch rows are 1000.00 RUB and a few kopecks each.
	_, err := s.SetPolicy(ctx, testAdmin, auth.Policy{TotalOver: auth.Limits{"RUB": 150000}, Approvals: 1,
		TwoAbove: auth.Limits{"RUB": 500000}})
	require.NoError(t, err)

	small := sealAs(t, s, makeBatch(1, "small"), mia)
	require.Equal(t, payout.BatchScheduled, small.Status, "under every threshold: no approval")
	one := sealAs(t, s, makeBatch(2, "one checker"), mia)
	require.Equal(t, 1, one.ApprovalsRequired)
	two := sealAs(t, s, makeBatch(6, "two checkers"), mia)
	require.Equal(t, 2, two.ApprovalsRequired)
	require.Contains(t, two.ApprovalReasons, "total 6000.21 RUB is above 5000.00 RUB: two checkers")

	res, err := approve(s, carol, two)
	require.NoError(t, err)
	require.Equal(t, payout.BatchAwaitingApproval, res.Batch.Status, "one of two")
	_, err = approve(s, carol, two)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict), "the same checker twice: %v", err)
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.BatchAwaitingApproval, summary(t, s.db, two.Batch).Status)
	res, err = approve(s, dave, two)
	require.NoError(t, err)
	require.Equal(t, payout.BatchScheduled, res.Batch.Status)
	require.Equal(t, "carol,dave", res.Batch.ApprovedBy)
	list, err := s.db.Approvals(ctx, two.Batch)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, two.FileSHA256, list[1].FileSHA256)
	require.True(t, two.Totals.Equal(list[1].Totals))

	// The release gate: a batch scheduled around the ledger without its
	// approvals is never released.
	require.NoError(t, exec(s, `UPDATE batches SET status = 'scheduled' WHERE id = ?`, one.Batch))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.BatchScheduled, summary(t, s.db, one.Batch).Status)
	require.Equal(t, 2, summary(t, s.db, one.Batch).ByState[payout.StateReceived])
}

func TestRejectAndExpire(t *testing.T) {
	s, c := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	_, err := s.SetPolicy(ctx, testAdmin, auth.Policy{Every: true, Approvals: 1, ExpireAfter: auth.Duration(time.Hour)})
	require.NoError(t, err)

	rej := sealAs(t, s, makeBatch(2, "rejected"), mia)
	_, err = s.Decide(ctx, carol, Decision{Batch: rej.Batch})
	require.ErrorContains(t, err, "a rejection needs a reason")
	res, err := s.Decide(ctx, carol, Decision{Batch: rej.Batch, Reason: "wrong month"})
	require.NoError(t, err)
	require.Equal(t, payout.BatchCancelled, res.Batch.Status)
	require.Equal(t, "cancelled by carol: rejected: wrong month", res.Batch.Reason)
	require.Equal(t, 2, res.Batch.ByState[payout.StateCancelled])

	old := sealAs(t, s, makeBatch(2, "expires"), mia)
	c.Add(59 * time.Minute)
	require.NoError(t, s.ExpireApprovals(ctx))
	require.Equal(t, payout.BatchAwaitingApproval, summary(t, s.db, old.Batch).Status)
	c.Add(time.Minute)
	require.NoError(t, s.ExpireApprovals(ctx))
	sum := summary(t, s.db, old.Batch)
	require.Equal(t, payout.BatchCancelled, sum.Status)
	require.Contains(t, sum.Reason, "; expired")
	_, err = approve(s, carol, old)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "got %v", err)
	entries, err := s.db.AuditEntries(ctx, AuditFilter{Batch: old.Batch})
	require.NoError(t, err)
	require.Equal(t, auth.ActExpire, entries[0].Action)
	require.Equal(t, "ledger", entries[0].User)

	// Makers cancel only their own batches; checkers any.
	b := sealAs(t, s, makeBatch(1, "cancel"), carol)
	_, err = s.CancelAs(ctx, mia, b.Batch, "not mine")
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeForbidden), "got %v", err)
	own := sealAs(t, s, makeBatch(1, "cancel own"), mia)
	got, err := s.CancelAs(ctx, mia, own.Batch, "typo")
	require.NoError(t, err)
	require.Equal(t, payout.BatchCancelled, got.Status)
	_, err = s.CancelAs(ctx, carol, b.Batch, "")
	require.ErrorContains(t, err, "needs a reason")
	got, err = s.CancelAs(ctx, carol, b.Batch, "duplicate")
	require.NoError(t, err)
	require.Equal(t, "cancelled by carol: duplicate", got.Reason)
}

func TestUsersAndTokens(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	u, err := s.AddUser(ctx, testAdmin, NewUser{Name: "anna", Roles: auth.Roles{auth.RoleMaker, auth.RoleViewer}, Password: "correct horse battery"})
	require.NoError(t, err)
	require.True(t, u.HasPassword())
	_, err = s.AddUser(ctx, testAdmin, NewUser{Name: "ANNA", Roles: auth.Roles{auth.RoleMaker}})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict), "names are case-insensitive: %v", err)
	_, err = s.AddUser(ctx, testAdmin, NewUser{Name: "bad name", Roles: auth.Roles{auth.RoleMaker}})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid))
	_, err = s.AddUser(ctx, testAdmin, NewUser{Name: "weak", Roles: auth.Roles{auth.RoleMaker}, Password: "123"})
	require.ErrorContains(t, err, "at least 12 characters")

	_, _, err = s.CreateToken(ctx, testAdmin, NewToken{User: "anna", Name: "erp", Roles: auth.Roles{auth.RoleChecker}})
	require.ErrorContains(t, err, "a token cannot have checker")
	text, tok, err := s.CreateToken(ctx, testAdmin, NewToken{User: "anna", Name: "erp", Roles: auth.Roles{auth.RoleMaker}})
	require.NoError(t, err)
	require.True(t, auth.WellFormedToken(text))
	require.Equal(t, auth.TokenHint(text), tok.Hint)
	got, owner, err := s.TokenByHash(ctx, auth.HashToken(text))
	require.NoError(t, err)
	require.Equal(t, tok.ID, got.ID)
	require.Equal(t, "anna", owner.Name)
	_, _, err = s.CreateToken(ctx, testAdmin, NewToken{User: "anna", Name: "erp"})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict))

	var stored int
	require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM tokens WHERE hash = ? AND hint <> ?`, auth.HashToken(text), text).Scan(&stored))
	require.Equal(t, 1, stored, "only the hash is stored")

	require.NoError(t, s.RevokeToken(ctx, testAdmin, tok.ID))
	_, _, err = s.TokenByHash(ctx, auth.HashToken(text))
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeNotFound), "revoked at once: %v", err)
	require.True(t, ledgerapi.IsCode(s.RevokeToken(ctx, testAdmin, tok.ID), ledgerapi.CodeNotFound))

	require.NoError(t, s.DisableUser(ctx, testAdmin, "anna", true))
	u, err = s.UserByName(ctx, "Anna")
	require.NoError(t, err)
	require.True(t, u.Disabled)
	list, err := s.db.Users(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)

	versions, err := s.db.Policies(ctx)
	require.NoError(t, err)
	require.Len(t, versions, 1, "newService saved one")
	entries, err := s.db.AuditEntries(ctx, AuditFilter{})
	require.NoError(t, err)
	var acts []auth.Action
	for _, e := range entries {
		acts = append(acts, e.Action)
	}
	require.Equal(t, []auth.Action{auth.ActPolicySet, auth.ActUserAdd, auth.ActTokenCreate, auth.ActTokenRevoke, auth.ActUserDisable}, acts)
}
