package ledger

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

func TestBatchPageKeyset(t *testing.T) {
	s, c := newService(t)
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		b := makeBatch(2, fmt.Sprint("page ", i))
		record(t, s, b.msgs(uint64(10*i+1)))
		ids = append([]string{b.ID}, ids...) // newest first
		c.Add(time.Second)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		items, next, err := s.db.BatchPage(ctx, BatchFilter{Limit: 3, Before: cursor})
		require.NoError(t, err)
		for _, it := range items {
			got = append(got, it.Batch)
			require.Equal(t, 2, it.Rows)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	require.Equal(t, ids, got, "every batch once, newest first")

	items, _, err := s.db.BatchPage(ctx, BatchFilter{Status: payout.BatchCancelled})
	require.NoError(t, err)
	require.Empty(t, items)
	items, _, err = s.db.BatchPage(ctx, BatchFilter{Status: payout.BatchScheduled, Limit: 100})
	require.NoError(t, err)
	require.Len(t, items, 7)

	_, _, err = s.db.BatchPage(ctx, BatchFilter{Before: "nonsense"})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "%v", err)
}

func TestRowPageAndStateSums(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	b := makeBatch(120, "rows")
	record(t, s, b.msgs(1))
	require.NoError(t, exec(s, `UPDATE rows SET state = 'failed', error_code = 'bank_card_expired' WHERE batch_id = ? AND row_no % 40 = 0`, b.ID))

	var all []int
	after := 0
	for {
		page, next, err := s.db.RowPage(ctx, RowFilter{Batch: b.ID, After: after, Limit: 50})
		require.NoError(t, err)
		for _, r := range page {
			all = append(all, r.Row)
			require.NotContains(t, r.Destination, "4242424242424242")
		}
		if next == 0 {
			break
		}
		after = next
	}
	require.Len(t, all, 120)
	require.Equal(t, 1, all[0])
	require.Equal(t, 120, all[119])

	failed, next, err := s.db.RowPage(ctx, RowFilter{Batch: b.ID, States: []payout.State{payout.StateFailed}})
	require.NoError(t, err)
	require.Zero(t, next)
	require.Len(t, failed, 3)
	require.Equal(t, "bank_card_expired", failed[0].ErrorCode)

	sums, err := s.db.StateSums(ctx, b.ID)
	require.NoError(t, err)
	got := map[payout.State]int{}
	var total int64
	for _, x := range sums {
		got[x.State] += x.Rows
		total += x.Minor
	}
	require.Equal(t, map[payout.State]int{payout.StateFailed: 3, payout.StateReceived: 117}, got)
	require.Equal(t, b.Manifest.Totals["RUB"], total)
}

func TestExceptionWork(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		_, err := openException(tx, reconcile.AmountMismatch, "x/1", "bx", 1, "paid 10.00, asked 12.00")
		if err == nil {
			_, err = openException(tx, reconcile.InDoubt, "x/2", "bx", 2, "in doubt")
		}
		return err
	}))
	counts, err := s.db.ExceptionCounts(ctx)
	require.NoError(t, err)
	require.Equal(t, map[reconcile.Category]int{reconcile.AmountMismatch: 1, reconcile.InDoubt: 1}, counts)
	queue, _, err := s.db.ExceptionQueue(ctx, ExceptionFilter{Category: reconcile.AmountMismatch})
	require.NoError(t, err)
	require.Len(t, queue, 1)
	id := queue[0].ID

	err = s.ResolveException(ctx, mia, id, "looks fine")
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeForbidden), "a maker does not resolve exceptions: %v", err)
	require.NoError(t, s.AssignException(ctx, carol, id, "carol"))
	require.Error(t, s.AssignException(ctx, carol, id, "nobody"))
	require.NoError(t, s.CommentException(ctx, carol, id, "asked the bank; card 4111 1111 1111 1111"))
	require.Error(t, s.ResolveException(ctx, carol, id, "  "), "a resolution needs a reason")
	require.NoError(t, s.ResolveException(ctx, carol, id, "the bank refunded the difference"))
	err = s.ResolveException(ctx, carol, id, "again")
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeConflict), "%v", err)

	it, err := s.db.ExceptionByID(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "carol", it.Assignee)
	require.Equal(t, "carol", it.ResolvedBy)
	require.NotNil(t, it.ClosedAt)
	require.Contains(t, it.Resolution, "the bank refunded the difference")
	require.Equal(t, 1, it.Comments)
	comments, err := s.db.ExceptionComments(ctx, id)
	require.NoError(t, err)
	require.Len(t, comments, 1)
	require.NotContains(t, comments[0].Body, "4111 1111 1111 1111", "comments are masked")

	open, _, err := s.db.ExceptionQueue(ctx, ExceptionFilter{})
	require.NoError(t, err)
	require.Len(t, open, 1)
	closed, _, err := s.db.ExceptionQueue(ctx, ExceptionFilter{Closed: true})
	require.NoError(t, err)
	require.Len(t, closed, 1)

	entries, err := s.db.AuditEntries(ctx, AuditFilter{Batch: "bx"})
	require.NoError(t, err)
	var lines []string
	for _, e := range entries {
		require.Equal(t, auth.ActException, e.Action)
		lines = append(lines, e.User+" "+string(e.Outcome)+" "+e.Detail)
	}
	require.Equal(t, []string{
		"mia refused mia may not work on exceptions: that needs the role checker",
		"carol ok assigned to carol",
		"carol refused no user nobody to assign the exception to",
		"carol ok comment: asked the bank; card 411111******1111",
		"carol ok resolved: the bank refunded the difference",
		"carol refused exception " + fmt.Sprint(id) + " is resolved already",
	}, lines)
	require.False(t, strings.Contains(strings.Join(lines, ""), "4111 1111"))
}
