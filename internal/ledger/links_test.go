package ledger

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// widgetBatch is a batch of a widget row without its card (row 1) and a
// token row (row 2).
func widgetBatch(seed string) *testBatch {
	return makeRows(seed, []*payout.Row{
		{Reference: seed + "/W-1", Method: payout.MethodEncryptedCard, Amount: money.New(150000, "RUB"), FullName: "Olga Smirnova"},
		{Reference: seed + "/T-1", Method: payout.MethodToken, Amount: money.New(20000, "RUB"), FullName: "Ivan Petrov", CardToken: "tok_" + seed},
	})
}

func testCard(c byte) payout.EncryptedCard {
	return payout.EncryptedCard{NumberHash: strings.Repeat(string(c), 64), ExpirationDateHash: strings.Repeat("e", 64)}
}

func principal(a auth.Actor, roles ...auth.Role) *auth.Principal {
	return &auth.Principal{UserID: a.UserID, Name: a.Name, Roles: roles, Via: a.Via, Remote: a.Remote}
}

func auditActions(t *testing.T, s *Service, batch string) []string {
	t.Helper()
	es, err := s.db.AuditEntries(context.Background(), AuditFilter{Batch: batch})
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, string(e.Action)+":"+string(e.Outcome)+":"+e.User+":"+string(e.Via))
	}
	return out
}

// A widget row waits for its card while the rest of the batch goes; a
// maker's link brings the card once; the row is then released with the
// card in its state, which is what the processor pays to.
func TestRecipientLinkCapture(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	b := widgetBatch("links")
	sum := sealAs(t, s, b, mia)
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.StateReceived, mustRow(t, s, sum.Batch, 1).State, "the widget row waits for its card")
	require.Equal(t, payout.StateQueued, mustRow(t, s, sum.Batch, 2).State, "the rest of the batch goes")

	// Only the batch's maker issues links, and only for a waiting widget row.
	_, err := s.IssueLink(ctx, principal(carol, auth.RoleChecker), sum.Batch, 1, 0)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeForbidden), "a checker is not a maker: %v", err)
	_, err = s.IssueLink(ctx, principal(auth.Actor{UserID: 99, Name: "max"}, auth.RoleMaker), sum.Batch, 1, 0)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeForbidden), "another maker's batch: %v", err)
	_, err = s.IssueLink(ctx, principal(mia, auth.RoleMaker), sum.Batch, 2, 0)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "a token row: %v", err)

	first, err := s.IssueLink(ctx, principal(mia, auth.RoleMaker), sum.Batch, 1, 0)
	require.NoError(t, err)
	require.Equal(t, 72*time.Hour, first.ExpiresAt.Sub(first.IssuedAt), "the default link lifetime")
	l, err := s.IssueLink(ctx, principal(mia, auth.RoleMaker), sum.Batch, 1, time.Hour)
	require.NoError(t, err)
	v, err := s.LinkView(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, LinkRevoked, v.State, "a newer link replaces the older one")
	_, err = s.CaptureCard(ctx, first.ID, testCard('a'), CardInfo{}, "127.0.0.1:1")
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict), "%v", err)

	v, err = s.LinkView(ctx, l.ID)
	require.NoError(t, err)
	require.Equal(t, LinkOpen, v.State)
	require.Equal(t, "Olga Smirnova", v.Recipient)
	require.Equal(t, money.New(150000, "RUB"), v.Amount)

	_, err = s.CaptureCard(ctx, l.ID, payout.EncryptedCard{NumberHash: "abc"}, CardInfo{}, "")
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "%v", err)
	v, err = s.CaptureCard(ctx, l.ID, testCard('a'), CardInfo{Last4: "1111", Brand: "visa"}, "127.0.0.1:2")
	require.NoError(t, err)
	require.Equal(t, "1111", v.Last4)
	st := mustRow(t, s, sum.Batch, 1)
	require.Equal(t, payout.StateQueued, st.State, "released once its card came")
	require.Equal(t, "card …1111", st.Destination)
	require.NotNil(t, st.Card)
	require.Equal(t, testCard('a'), *st.Card)

	// Single use: the link and the row are done.
	_, err = s.CaptureCard(ctx, l.ID, testCard('b'), CardInfo{}, "127.0.0.1:3")
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict), "%v", err)
	_, err = s.IssueLink(ctx, principal(mia, auth.RoleMaker), sum.Batch, 1, 0)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "the row no longer waits: %v", err)
	require.Equal(t, testCard('a'), *mustRow(t, s, sum.Batch, 1).Card, "the second card changed nothing")
	_, err = s.CaptureCard(ctx, strings.Repeat("0", 32), testCard('c'), CardInfo{}, "")
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeNotFound), "%v", err)

	require.Equal(t, []string{
		"recipient_link:refused:carol:token:", "recipient_link:refused:max:ledger", "recipient_link:refused:mia:token:",
		"recipient_link:ok:mia:token:", "recipient_link:ok:mia:token:",
		"card_captured:refused:recipient:link", "card_captured:ok:recipient:link", "card_captured:refused:recipient:link",
		"recipient_link:refused:mia:token:",
	}, auditActions(t, s, sum.Batch))
}

// A card captured before the batch is released waits for the release.
func TestRecipientLinkBeforeRelease(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, _, _ := people(t, s)
	_, err := s.SetPolicy(ctx, testAdmin, auth.DefaultPolicy())
	require.NoError(t, err)
	sum := sealAs(t, s, widgetBatch("early"), mia)
	require.Equal(t, payout.BatchAwaitingApproval, sum.Status)
	l, err := s.IssueLink(ctx, principal(mia, auth.RoleMaker), sum.Batch, 1, 0)
	require.NoError(t, err)
	_, err = s.CaptureCard(ctx, l.ID, testCard('d'), CardInfo{}, "")
	require.NoError(t, err)
	st := mustRow(t, s, sum.Batch, 1)
	require.Equal(t, payout.StateReceived, st.State, "nothing moves before the approval")
	require.Equal(t, "encrypted card dddddd", st.Destination)
	require.NoError(t, exec(s, `UPDATE batches SET status = 'scheduled', approvals_given = approvals_required WHERE id = ?`, sum.Batch))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.StateQueued, mustRow(t, s, sum.Batch, 1).State, "released with its batch")
}

// The rule for a card that never comes: a released batch's row fails when
// its link expired unused, or CardWait after the release without a link.
func TestRecipientLinkExpiry(t *testing.T) {
	s, c := newService(t)
	ctx := context.Background()
	mia, _, _ := people(t, s)
	withLink := sealAs(t, s, widgetBatch("expiry-link"), mia)
	noLink := sealAs(t, s, widgetBatch("expiry-none"), mia)
	held := sealAs(t, s, widgetBatch("expiry-held"), mia)
	require.NoError(t, s.ReleaseDue(ctx))
	require.NoError(t, s.Hold(ctx, ledgerapi.RowCommand{Batch: held.Batch, Row: 1, By: "mia", Reason: "ask the payee first"}))
	l, err := s.IssueLink(ctx, principal(mia, auth.RoleMaker), withLink.Batch, 1, time.Hour)
	require.NoError(t, err)

	c.Add(59 * time.Minute)
	n, err := s.ExpireCardWaits(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is late yet")

	c.Add(time.Minute)
	v, err := s.LinkView(ctx, l.ID)
	require.NoError(t, err)
	require.Equal(t, LinkExpired, v.State)
	_, err = s.CaptureCard(ctx, l.ID, testCard('e'), CardInfo{}, "")
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict), "an expired link takes no card: %v", err)
	n, err = s.ExpireCardWaits(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	st := mustRow(t, s, withLink.Batch, 1)
	require.Equal(t, payout.StateFailed, st.State)
	require.Equal(t, CodeNoCard, st.ErrorCode)
	require.Contains(t, st.Reason, "the recipient link expired at")
	require.Equal(t, payout.StateReceived, mustRow(t, s, noLink.Batch, 1).State, "no link: CardWait from the release")

	c.Add(72 * time.Hour)
	n, err = s.ExpireCardWaits(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	st = mustRow(t, s, noLink.Batch, 1)
	require.Equal(t, payout.StateFailed, st.State)
	require.Contains(t, st.Reason, "no recipient link was issued within 72h0m0s of the release")
	require.Equal(t, payout.StateReceived, mustRow(t, s, held.Batch, 1).State, "a row on hold does not expire")
}
