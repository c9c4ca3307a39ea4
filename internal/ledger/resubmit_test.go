package ledger

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

func TestResubmitFailedRows(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	p := releaseBatch(t, s, 6, "parent")
	finish(t, s, p.ID, 1, payout.StateSucceeded, "")
	finish(t, s, p.ID, 2, payout.StateFailed, "card_number_does_not_exist")
	finish(t, s, p.ID, 3, payout.StateFailed, "bank_card_expired")
	force(t, s, p.ID, 4, payout.StateInDoubt, "")
	finish(t, s, p.ID, 5, payout.StateFailed, "provider_exceeds_amount_limit")
	finish(t, s, p.ID, 6, payout.StateFailed, "bank_card_expired")
	// Row 3: the bank says paid after all; row 6's reference was paid in
	// another batch meanwhile.
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		_, err := openException(tx, reconcile.PaidAfterCancel, p.ID+"/3", p.ID, 3, "paid after all")
		return err
	}))
	other := makeRows("other", []*payout.Row{makeBatch(6, "x").Rows[5]})
	record(t, s, other.msgs(100))
	setStates(t, s, other.ID, payout.StateSucceeded)

	cmd := func(rows ...int) ledgerapi.ResubmitCommand {
		return ledgerapi.ResubmitCommand{Batch: p.ID, Rows: rows, By: "anna", Reason: "card directory fixed"}
	}
	_, err := s.Resubmit(ctx, cmd(1, 3, 4, 7))
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "%v", err)
	for _, want := range []string{"row 7: no such row", "row 1: succeeded, not failed", "row 3: the bank paid this row after all",
		"row 4: in doubt; the bank may still pay it"} {
		require.Contains(t, err.Error(), want)
	}
	_, err = s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: p.ID, Failed: true, Rows: []int{2}, By: "anna", Reason: "x"})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "rows or every failed row, not both: %v", err)

	// Every failed row that can go: 2, 5 and 6 (3 has its exception).
	reply, err := s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: p.ID, Failed: true, By: "anna", Reason: "card directory fixed"})
	require.NoError(t, err)
	child := reply.Batch.Batch
	require.True(t, payout.ValidBatchID(child))
	require.Equal(t, []ledgerapi.Resubmitted{{ParentRow: 2, ChildRow: 1}, {ParentRow: 5, ChildRow: 2}, {ParentRow: 6, ChildRow: 3}}, reply.Rows)
	require.Equal(t, p.ID, reply.Batch.Parent)
	require.Equal(t, 3, reply.Batch.Rows)
	require.Equal(t, payout.BatchScheduled, reply.Batch.Status)
	require.Equal(t, 1, reply.Batch.Held, "row 6 repeats a reference paid elsewhere")
	require.Equal(t, []string{child}, summary(t, s.db, p.ID).Children)

	// The child rows pay from the parent's intake messages.
	for _, m := range reply.Rows {
		cr, pr := mustRow(t, s, child, m.ChildRow), mustRow(t, s, p.ID, m.ParentRow)
		require.Equal(t, pr.IntakeSeq, cr.IntakeSeq)
		require.Equal(t, pr.RowDigest, cr.RowDigest)
		require.Equal(t, p.ID, cr.IntakeBatch)
		require.Equal(t, m.ParentRow, cr.IntakeRow)
		require.Equal(t, pr.Reference, cr.Reference)
		require.Equal(t, pr.Amount, cr.Amount)
	}
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.StateQueued, mustRow(t, s, child, 1).State)
	require.Equal(t, payout.StateReceived, mustRow(t, s, child, 3).State, "held")

	// The same request again: the same child. A row goes to one child only.
	again, err := s.Resubmit(ctx, cmd(2, 5, 6))
	require.NoError(t, err)
	require.Equal(t, child, again.Batch.Batch)
	_, err = s.Resubmit(ctx, cmd(2))
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "%v", err)
	require.Contains(t, err.Error(), "row 2: resubmitted already in batch "+child)
	_, err = s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: p.ID, Failed: true, By: "anna", Reason: "again"})
	require.ErrorContains(t, err, "no failed rows to resubmit")

	// A child's failed row can be resubmitted from the child; its intake
	// message stays the first parent's.
	finish(t, s, child, 1, payout.StateFailed, "card_number_does_not_exist")
	grand, err := s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: child, Rows: []int{1}, By: "anna", Reason: "once more"})
	require.NoError(t, err)
	g := mustRow(t, s, grand.Batch.Batch, 1)
	require.Equal(t, p.ID, g.IntakeBatch)
	require.Equal(t, 2, g.IntakeRow)

	// The parent's report shows where each failed row went; the child's
	// where its rows came from.
	rep, err := s.db.Report(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, "resubmitted in batch "+child+" row 1", rep.Rows[1].Resubmit)
	require.Equal(t, "resubmitted in batch "+child+" row 3", rep.Rows[5].Resubmit)
	require.Empty(t, rep.Rows[2].Resubmit)
	rep, err = s.db.Report(ctx, child)
	require.NoError(t, err)
	require.Equal(t, "resubmits batch "+p.ID+" row 5", rep.Rows[1].Resubmit)
	require.Contains(t, rep.Rows[2].Held, "held: "+p.Rows[5].Reference+" was paid")

	dec, err := s.db.Decisions(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, dec, 1)
	require.Equal(t, ActionResubmit, dec[0].Action)
	require.Equal(t, "rows 2, 5, 6 → batch "+child, dec[0].Detail)
}
