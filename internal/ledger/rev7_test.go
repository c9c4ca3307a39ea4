package ledger

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// TestRev7CardNumberInUserAndTokenNames: a user name or a token name is
// text a person types, kept as it is in users and tokens (and copied into
// batches' uploaded_by, approvals, tokens' created_by) and shown by GET
// /users and GET /tokens. A card number in it must be refused, as in every
// other field a person types, never stored.
func TestRev7CardNumberInUserAndTokenNames(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	for _, name := range []string{"4111111111111111", "4111.1111.1111.1111", "ivan.4242424242424242", "4242-4242-4242-4242"} {
		_, err := s.AddUser(ctx, testAdmin, NewUser{Name: name, Roles: auth.Roles{auth.RoleMaker}})
		require.Error(t, err, "user name %q holds a card number", name)
		require.NotContains(t, err.Error(), "4242424242424242")
		require.NotContains(t, err.Error(), "4111111111111111")
	}
	_, err := s.AddUser(ctx, testAdmin, NewUser{Name: "mia", Roles: auth.Roles{auth.RoleMaker}})
	require.NoError(t, err)
	for _, name := range []string{"erp 4111 1111 1111 1111", "4242424242424242"} {
		_, _, err := s.CreateToken(ctx, testAdmin, NewToken{User: "mia", Name: name})
		require.Error(t, err, "token name %q holds a card number", name)
		require.NotContains(t, err.Error(), "4242424242424242")
		require.NotContains(t, err.Error(), "4111 1111 1111 1111")
	}
	toks, err := s.db.Tokens(ctx, "", true)
	require.NoError(t, err)
	for _, tk := range toks {
		require.NotContains(t, tk.Name, "4111 1111")
		require.NotContains(t, tk.Name, "42424242")
	}
	users, err := s.db.Users(ctx)
	require.NoError(t, err)
	for _, u := range users {
		require.NotContains(t, u.Name, "1111111111")
		require.NotContains(t, u.Name, "42424242")
	}
}

// TestRev7ArchiveIsAudited: `ledger archive` is a person's action on the
// ledger's host that takes a batch's rows out of the ledger file (and out
// of the duplicate guard). Like every other host command that changes the
// record (users, tokens, policy), it is in the audit log, in the prune's
// transaction, with who ran it.
func TestRev7ArchiveIsAudited(t *testing.T) {
	s, c, a, _ := archivedPair(t)
	ctx := context.Background()
	c.Add(25 * time.Hour)
	out := filepath.Join(t.TempDir(), "a.archive.db")
	_, err := s.db.Archive(ctx, a.ID, ArchiveOptions{Out: out, MinAge: 24 * time.Hour, By: auth.HostActor("olga")})
	require.NoError(t, err)
	entries, err := s.db.AuditEntries(ctx, AuditFilter{Batch: a.ID})
	require.NoError(t, err)
	var found *auth.Entry
	for i := range entries {
		if entries[i].Action == auth.ActArchive {
			found = &entries[i]
		}
	}
	require.NotNil(t, found, "no archive entry in %+v", entries)
	require.Equal(t, "olga", found.User)
	require.Equal(t, auth.ViaHost, found.Via)
	require.Contains(t, found.Detail, "10 rows")
	_, _, err = s.db.VerifyAudit(ctx)
	require.NoError(t, err, "the chain holds across the archive's entry")
}

// TestRev7RestoreIsAudited: `ledger restore` puts an older copy of the
// record in place (what the lost tail held is taken again from the
// streams, a person's decision of the lost second is not): the audit log
// of the restored file says who restored it, from where and up to when,
// so the end of its chain is explained.
func TestRev7RestoreIsAudited(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	_, err := s.db.RecordRestoreBy(ctx, "file:///backup/ledger", auth.HostActor("olga"))
	require.NoError(t, err)
	entries, err := s.db.AuditEntries(ctx, AuditFilter{})
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	last := entries[len(entries)-1]
	require.Equal(t, auth.ActRestore, last.Action)
	require.Equal(t, "olga", last.User)
	require.Equal(t, auth.ViaHost, last.Via)
	require.Equal(t, "file:///backup/ledger", last.Target)
	require.Contains(t, last.Detail, "last write")
	_, _, err = s.db.VerifyAudit(ctx)
	require.NoError(t, err)
}

// TestRev7HeldWidgetRowStaysHeldWhenItsCardComes: a widget row without its
// card that repeats a paid reference is held by the duplicate guard; its
// maker may still send it a recipient link, and the recipient's card must
// not release it: only a person's decision (never its uploader's) does.
// The capture released every row waiting for a card, held or not, so the
// uploader paid the reference a second time by sending a link.
func TestRev7HeldWidgetRowStaysHeldWhenItsCardComes(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	paid := makeRows("rev7 paid", []*payout.Row{
		{Reference: "rev7/W-1", Method: payout.MethodToken, Amount: money.New(150000, "RUB"), FullName: "Olga Smirnova", CardToken: "tok_rev7"},
	})
	a := sealAs(t, s, paid, mia)
	require.NoError(t, s.ReleaseDue(ctx))
	payRow(t, s, a.Batch, 1, "ps_rev7", "po_rev7", money.New(150000, "RUB"))
	require.Equal(t, payout.StateSucceeded, mustRow(t, s, a.Batch, 1).State)

	again := makeRows("rev7 again", []*payout.Row{
		{Reference: "rev7/W-1", Method: payout.MethodEncryptedCard, Amount: money.New(150000, "RUB"), FullName: "Olga Smirnova"},
	})
	again.Manifest.UploadedBy, again.Manifest.UploaderID = mia.Name, mia.UserID
	record(t, s, again.msgs(100))
	b := summary(t, s.db, again.ID)
	require.NoError(t, s.ReleaseDue(ctx))
	st := mustRow(t, s, b.Batch, 1)
	require.Equal(t, payout.StateReceived, st.State)
	held, err := s.db.HasHeldRows(ctx, b.Batch)
	require.NoError(t, err)
	require.True(t, held, "held as a repeat of the paid row")

	l, err := s.IssueLink(ctx, principal(mia, auth.RoleMaker), b.Batch, 1, 0)
	if err == nil {
		_, err = s.CaptureCard(ctx, l.ID, testCard('f'), CardInfo{Last4: "4242"}, "127.0.0.1:1")
		require.NoError(t, err)
	}
	st = mustRow(t, s, b.Batch, 1)
	require.Equal(t, payout.StateReceived, st.State, "still held: no person released it")
	held, err = s.db.HasHeldRows(ctx, b.Batch)
	require.NoError(t, err)
	require.True(t, held)

	// A checker's release pays it, to the card the recipient gave.
	require.NoError(t, s.DecideAs(ctx, principal(carol, auth.RoleChecker), auth.ActReleaseHeld,
		ledgerapi.RowCommand{Batch: b.Batch, Row: 1, By: carol.Name, Reason: "the second payment is due"}, s.ReleaseHeld))
	st = mustRow(t, s, b.Batch, 1)
	require.Equal(t, payout.StateQueued, st.State)
	require.NotNil(t, st.Card)
	require.Equal(t, testCard('f'), *st.Card)
}

// TestRev7CapturedCardIsCheckedForProbableDuplicates: a widget row's payee
// (its card's number_hash) is known only when the recipient's card comes
// through the link. The guard must then compare it as it compares a file's
// rows: the same card paid the same amount under another reference within
// the window is a probable duplicate, held for a person. And a later
// upload paying that card the same amount is compared with it.
func TestRev7CapturedCardIsCheckedForProbableDuplicates(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	card := testCard('c')
	paid := makeRows("rev7 dup paid", []*payout.Row{
		{Reference: "rev7/D-1", Method: payout.MethodEncryptedCard, Amount: money.New(150000, "RUB"), FullName: "Olga Smirnova", Encrypted: &card},
	})
	a := sealAs(t, s, paid, mia)
	require.NoError(t, s.ReleaseDue(ctx))
	payRow(t, s, a.Batch, 1, "ps_rev7d", "po_rev7d", money.New(150000, "RUB"))

	later := makeRows("rev7 dup later", []*payout.Row{
		{Reference: "rev7/D-2", Method: payout.MethodEncryptedCard, Amount: money.New(150000, "RUB"), FullName: "Olga Smirnova"},
	})
	later.Manifest.UploadedBy, later.Manifest.UploaderID = mia.Name, mia.UserID
	record(t, s, later.msgs(100))
	require.NoError(t, s.ReleaseDue(ctx))
	l, err := s.IssueLink(ctx, principal(mia, auth.RoleMaker), later.ID, 1, 0)
	require.NoError(t, err)
	_, err = s.CaptureCard(ctx, l.ID, card, CardInfo{Last4: "4242"}, "127.0.0.1:1")
	require.NoError(t, err)
	require.Equal(t, payout.StateReceived, mustRow(t, s, later.ID, 1).State, "the same card and amount as rev7/D-1: held")
	held, err := s.db.HasHeldRows(ctx, later.ID)
	require.NoError(t, err)
	require.True(t, held)
	h := holdsOf(t, s, later.ID)
	require.Equal(t, HoldDuplicate, h[1].Kind)
	require.Equal(t, a.Batch, h[1].EarlierBatch)
	open, err := s.db.Exceptions(later.ID, false)
	require.NoError(t, err)
	require.NotEmpty(t, open, "a person is asked to decide")

	require.NoError(t, s.DecideAs(ctx, principal(carol, auth.RoleChecker), auth.ActReleaseHeld,
		ledgerapi.RowCommand{Batch: later.ID, Row: 1, By: carol.Name, Reason: "a second payment is due"}, s.ReleaseHeld))
	require.Equal(t, payout.StateQueued, mustRow(t, s, later.ID, 1).State)

	// The captured card counts for what comes after it.
	third := makeRows("rev7 dup third", []*payout.Row{
		{Reference: "rev7/D-3", Method: payout.MethodEncryptedCard, Amount: money.New(150000, "RUB"), FullName: "Olga Smirnova", Encrypted: &card},
	})
	record(t, s, third.msgs(200))
	h = holdsOf(t, s, third.ID)
	require.Equal(t, HoldDuplicate, h[1].Kind)
}

// TestRev7ResubmittedWidgetRowKeepsItsCard: a widget row whose card came
// through its recipient link, failed at the bank and resubmitted, pays its
// child from the same intake message, which has no card: the child must
// carry the card captured for the row its message names (RowState.Card),
// or the processor fails it ("encrypted_card row without card data") and
// the resubmit pays nothing.
func TestRev7ResubmittedWidgetRowKeepsItsCard(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, _, _ := people(t, s)
	sum := sealAs(t, s, widgetBatch("rev7 resubmit widget"), mia)
	require.NoError(t, s.ReleaseDue(ctx))
	l, err := s.IssueLink(ctx, principal(mia, auth.RoleMaker), sum.Batch, 1, 0)
	require.NoError(t, err)
	_, err = s.CaptureCard(ctx, l.ID, testCard('a'), CardInfo{Last4: "1111"}, "")
	require.NoError(t, err)
	failRow(t, s, sum.Batch, 1, "ps_rw1", "po_rw1", "card_expired")
	reply, err := s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: sum.Batch, Rows: []int{1}, By: "mia", Reason: "the card is renewed"})
	require.NoError(t, err)
	require.NoError(t, s.ReleaseDue(ctx))
	child := reply.Batch.Batch
	st := mustRow(t, s, child, 1)
	require.Equal(t, payout.StateQueued, st.State)
	require.NotNil(t, st.Card, "the child pays the card its parent's recipient gave")
	require.Equal(t, testCard('a'), *st.Card)
	// The writer's view (what a transition answers) says the same.
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		r, err := loadRow(tx, child, 1)
		if err != nil {
			return err
		}
		got := apiRow(tx, r)
		require.NotNil(t, got.Card)
		require.Equal(t, testCard('a'), *got.Card)
		return nil
	}))
}

// TestRev7CapturedCardHoldAfterARelease: a widget row held as a repeat and
// released by a checker while it waits for its card, whose card then
// turns out a probable duplicate, is held again for a decision about that
// (holds keeps one line a row: the new finding replaces the decided one),
// and a checker can decide it: it is never stuck held without a hold to
// decide.
func TestRev7CapturedCardHoldAfterARelease(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	card := testCard('d')
	amount := money.New(150000, "RUB")
	paid := makeRows("rev7 twice paid", []*payout.Row{
		{Reference: "rev7/R-1", Method: payout.MethodToken, Amount: amount, FullName: "Olga Smirnova", CardToken: "tok_rev7r"},
		{Reference: "rev7/R-2", Method: payout.MethodEncryptedCard, Amount: amount, FullName: "Olga Smirnova", Encrypted: &card},
	})
	a := sealAs(t, s, paid, mia)
	require.NoError(t, s.ReleaseDue(ctx))
	payRow(t, s, a.Batch, 1, "ps_rev7r1", "po_rev7r1", amount)
	payRow(t, s, a.Batch, 2, "ps_rev7r2", "po_rev7r2", amount)

	b := makeRows("rev7 twice again", []*payout.Row{
		{Reference: "rev7/R-1", Method: payout.MethodEncryptedCard, Amount: amount, FullName: "Olga Smirnova"},
	})
	b.Manifest.UploadedBy, b.Manifest.UploaderID = mia.Name, mia.UserID
	record(t, s, b.msgs(100))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, HoldRepeat, holdsOf(t, s, b.ID)[1].Kind)
	release := func() error {
		return s.DecideAs(ctx, principal(carol, auth.RoleChecker), auth.ActReleaseHeld,
			ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: carol.Name, Reason: "the second payment is due"}, s.ReleaseHeld)
	}
	require.NoError(t, release())
	require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, 1).State, "released; waits for its card")

	l, err := s.IssueLink(ctx, principal(mia, auth.RoleMaker), b.ID, 1, 0)
	require.NoError(t, err)
	_, err = s.CaptureCard(ctx, l.ID, card, CardInfo{Last4: "4242"}, "")
	require.NoError(t, err)
	require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, 1).State, "the card is rev7/R-2's, the same amount: held again")
	h := holdsOf(t, s, b.ID)[1]
	require.Equal(t, HoldDuplicate, h.Kind)
	require.Equal(t, 2, h.EarlierRow)
	// The release asks both rules as they stand: the paid repeat comes
	// first, so the hold is restated to name it ("look again"); the next
	// release passes. Never stuck held without a hold to decide.
	if err := release(); err != nil {
		require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict), "%v", err)
		require.NoError(t, release(), "a checker decides again")
	}
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 1).State)
}
