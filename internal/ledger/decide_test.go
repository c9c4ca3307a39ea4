package ledger

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// TestDecideAsRules: who may take which decision on mia's batch, each
// outcome in the audit log.
func TestDecideAsRules(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	vera, err := s.AddUser(ctx, testAdmin, NewUser{Name: "vera", Roles: auth.Roles{auth.RoleViewer}})
	require.NoError(t, err)
	asMia, asCarol := principalOf(mia, auth.RoleMaker), principalOf(carol, auth.RoleChecker)
	asVera := principalOf(auth.Actor{UserID: vera.ID, Name: vera.Name}, auth.RoleViewer)

	b := uniqueBatch(3, "decide as")
	b.Manifest.UploadedBy, b.Manifest.UploaderID = mia.Name, mia.UserID
	record(t, s, b.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.ReleaseDue(ctx))
	row := func(n int, why string) ledgerapi.RowCommand {
		return ledgerapi.RowCommand{Batch: b.ID, Row: n, Reason: why}
	}

	steps := []struct {
		name string
		p    *auth.Principal
		act  auth.Action
		cmd  ledgerapi.RowCommand
		do   func(context.Context, ledgerapi.RowCommand) error
		code ledgerapi.Code // "" done
	}{
		{"a viewer holds nothing", asVera, auth.ActHold, row(0, "look"), s.Hold, ledgerapi.CodeForbidden},
		{"a reason over the bound", asMia, auth.ActHold, row(1, strings.Repeat("я", MaxReason+1)), s.Hold, ledgerapi.CodeInvalid},
		{"the maker holds her row", asMia, auth.ActHold, row(1, "ask HR"), s.Hold, ""},
		{"and resumes her own hold", asMia, auth.ActResume, row(1, "HR says fine"), s.Resume, ""},
		{"the maker holds her batch", asMia, auth.ActHold, row(0, "month end"), s.Hold, ""},
		{"and resumes it", asMia, auth.ActResume, row(0, "new month"), s.Resume, ""},
		{"a checker holds row 2", asCarol, auth.ActHold, row(2, "the account looks wrong"), s.Hold, ""},
		{"the maker may not resume it", asMia, auth.ActResume, row(2, "it is fine"), s.Resume, ledgerapi.CodeForbidden},
		{"the checker does", asCarol, auth.ActResume, row(2, "checked"), s.Resume, ""},
		{"the maker cancels her row", asMia, auth.ActCancel, row(3, "left the company"), s.CancelRow, ""},
	}
	for _, st := range steps {
		err := s.DecideAs(ctx, st.p, st.act, st.cmd, st.do)
		if st.code == "" {
			require.NoError(t, err, st.name)
		} else {
			require.True(t, ledgerapi.IsCode(err, st.code), "%s: %v", st.name, err)
		}
	}
	require.Equal(t, payout.StateCancelled, mustRow(t, s, b.ID, 3).State)

	entries, err := s.db.AuditEntries(ctx, AuditFilter{Batch: b.ID})
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		if e.Action != auth.ActUpload {
			got = append(got, e.User+" "+string(e.Action)+" "+e.Target+" "+string(e.Outcome))
		}
	}
	require.Equal(t, []string{
		"vera hold " + b.ID + " refused", "mia hold " + b.ID + "/1 refused",
		"mia hold " + b.ID + "/1 ok", "mia resume " + b.ID + "/1 ok", "mia hold " + b.ID + " ok", "mia resume " + b.ID + " ok",
		"carol hold " + b.ID + "/2 ok", "mia resume " + b.ID + "/2 refused", "carol resume " + b.ID + "/2 ok",
		"mia cancel " + b.ID + "/3 ok",
	}, got)
}

// TestMakerMayNotResumeTheBreaker: the breaker's hold is a checker's to
// lift, even on the maker's own batch.
func TestMakerMayNotResumeTheBreaker(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	b := uniqueBatch(1, "breaker's hold")
	b.Manifest.UploadedBy, b.Manifest.UploaderID = mia.Name, mia.UserID
	record(t, s, b.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		return s.holdBatch(tx, b.ID, ledgerapi.HoldByBreaker, "breaker", "20 of the last 50 failed")
	}))
	err := s.DecideAs(ctx, principalOf(mia, auth.RoleMaker), auth.ActResume, ledgerapi.RowCommand{Batch: b.ID, Reason: "go on"}, s.Resume)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeForbidden), "%v", err)
	require.NoError(t, s.DecideAs(ctx, principalOf(carol, auth.RoleChecker), auth.ActResume,
		ledgerapi.RowCommand{Batch: b.ID, Reason: "the bank fixed it"}, s.Resume))
}

// TestGuardPayeePaidAfterAll: a failed row the bank paid after all counts
// as paid for the probable-duplicate check too, in the running guard and
// in one whose indexes were loaded again from the ledger (a restart).
func TestGuardPayeePaidAfterAll(t *testing.T) {
	for _, reload := range []bool{false, true} {
		t.Run(map[bool]string{false: "running", true: "reloaded"}[reload], func(t *testing.T) {
			s, _ := newService(t)
			a := makeRows("a", []*payout.Row{tokenRow("T-1", 50000, "tok_a")})
			record(t, s, a.msgs(nextSeq.Add(1000)))
			require.NoError(t, s.ReleaseDue(context.Background()))
			finish(t, s, a.ID, 1, payout.StateFailed, "bank_card_expired")
			bankSaysPaid(t, s, a.ID, 1)
			if reload {
				s.gidxMu.Lock()
				s.gidx = nil // loaded again from the ledger
				s.gidxMu.Unlock()
			}
			b := makeRows("b", []*payout.Row{tokenRow("T-2", 50000, "tok_a")})
			record(t, s, b.msgs(nextSeq.Add(1000)))
			h := holdsOf(t, s, b.ID)
			require.Len(t, h, 1, "a probable duplicate of a row the bank paid")
			require.Equal(t, HoldDuplicate, h[1].Kind)
			require.Contains(t, h[1].Reason, "was paid")
		})
	}
}

// TestRowResumedDuringBatchHoldIsPaidOnResume: a row on hold when its
// batch was released stays received; resumed while the batch is on hold
// too, it is released by the batch's resume.
func TestRowResumedDuringBatchHoldIsPaidOnResume(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	b := makeBatch(2, "row resumed during a batch hold")
	record(t, s, b.msgs(nextSeq.Add(1000))[:2]) // row 1 and row 2; the manifest later
	require.NoError(t, s.Hold(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "carol", Reason: "ask HR"}))
	record(t, s, b.msgs(nextSeq.Add(1000))[2:])
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, 1).State, "on hold when its batch was released")
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 2).State)
	require.NoError(t, s.Hold(ctx, ledgerapi.RowCommand{Batch: b.ID, By: "carol", Reason: "month end"}))
	require.NoError(t, s.Resume(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "carol", Reason: "HR says fine"}))
	require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, 1).State, "its batch is on hold")
	require.NoError(t, s.Resume(ctx, ledgerapi.RowCommand{Batch: b.ID, By: "carol", Reason: "new month"}))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 1).State)
}
