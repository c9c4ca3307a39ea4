package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

func TestRefFilter(t *testing.T) {
	f := newRefFilter(0)
	for i := 0; i < 100000; i++ {
		f.add(fmt.Sprintf("E-%06d/2026-11", i))
	}
	for i := 0; i < 100000; i++ {
		require.True(t, f.mayHave(fmt.Sprintf("E-%06d/2026-11", i)), "never a false negative")
	}
	fp := 0
	for i := 0; i < 100000; i++ {
		if f.mayHave(fmt.Sprintf("X-%06d/2026-11", i)) {
			fp++
		}
	}
	require.Less(t, fp, 100, "false positives: %d of 100000", fp)
	require.False(t, f.full())
	for i := 0; f.mask+1 > uint64(f.count)*refFull; i++ {
		f.add(fmt.Sprintf("F-%d", i))
	}
	require.True(t, f.full())
}

func TestPayeeIndexCompact(t *testing.T) {
	x := newPayeeIndex()
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	p := []byte("payee")
	a := money.New(100, "RUB")
	for d := 0; d < 10; d++ {
		x.add(p, a, "b", d+1, day.AddDate(0, 0, d))
	}
	x.add([]byte("other"), a, "b", 99, day)
	got := x.candidates(p, a, day.AddDate(0, 0, 7))
	require.Equal(t, []rowRef{{"b", 10}, {"b", 9}, {"b", 8}}, got, "newest first, none older than since")
	x.compact(day.AddDate(0, 0, 5))
	require.Len(t, x.entries, 5)
	require.Equal(t, []rowRef{{"b", 10}, {"b", 9}, {"b", 8}, {"b", 7}, {"b", 6}}, x.candidates(p, a, day))
	require.Empty(t, x.candidates([]byte("other"), a, day))
	require.Empty(t, x.candidates(p, money.New(101, "RUB"), day))
}

// testAndAdd answers as mayHave before the add, and candidatesAdd as
// candidates before the add: the guard's one-visit steps.
func TestGuardIndexOneVisit(t *testing.T) {
	f := newRefFilter(0)
	for i := 0; i < 20000; i++ {
		ref := fmt.Sprintf("E-%06d", i%10000) // each twice
		had := f.mayHave(ref)
		require.Equal(t, had, f.testAndAdd(refHash(ref)), ref)
		require.True(t, f.mayHave(ref))
		if i >= 10000 {
			require.True(t, had, "a reference seen before: %s", ref)
		}
	}
	require.Equal(t, 20000, f.count)

	x := newPayeeIndex()
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	p := []byte("payee")
	a := money.New(100, "RUB")
	for d := 0; d < 5; d++ {
		want := x.candidates(p, a, day.AddDate(0, 0, 2))
		got := x.candidatesAdd(payeeKey(p, a), day.AddDate(0, 0, 2), "b", d+1, day.AddDate(0, 0, d))
		require.Equal(t, want, got, "row %d", d+1)
	}
	require.Equal(t, []rowRef{{"b", 5}, {"b", 4}, {"b", 3}}, x.candidates(p, a, day.AddDate(0, 0, 2)))
	require.Empty(t, x.candidatesAdd(payeeKey(p, money.New(101, "RUB")), day, "b", 9, day))
}

// The guard's indexes are built again from the ledger's rows at start: a
// repeat and a probable duplicate of rows recorded before a restart are
// held after it.
func TestGuardAfterRestart(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	db := openDB(t, dir, c)
	s := NewService(db, testConfig())
	a := makeRows("a", []*payout.Row{tokenRow("T-1", 100, "tok_1"), tokenRow("T-2", 200, "tok_2")})
	record(t, s, a.msgs(1))
	s.Close()
	db.Close()

	db = openDB(t, dir, c)
	s = NewService(db, testConfig())
	t.Cleanup(func() { s.Close(); db.Close() })
	b := makeRows("b", []*payout.Row{tokenRow("T-1", 101, "tok_9"), tokenRow("T-3", 200, "tok_2")})
	record(t, s, b.msgs(10))
	h, err := db.Holds(context.Background(), b.ID, 0)
	require.NoError(t, err)
	require.Len(t, h, 2)
	require.Equal(t, HoldRepeat, h[0].Kind)
	require.Equal(t, HoldDuplicate, h[1].Kind)
}

// A group whose write is rolled back leaves entries in the guard's
// indexes; recorded again, it holds what it would have held the first
// time, no more.
func TestGuardAfterRolledBackGroup(t *testing.T) {
	s, _ := newService(t)
	a := makeRows("a", []*payout.Row{tokenRow("T-1", 100, "tok_1"), tokenRow("T-2", 100, "tok_1")})
	b := makeRows("b", []*payout.Row{tokenRow("U-1", 100, "tok_1")})
	msgs := append(a.msgs(1), b.msgs(10)...)
	failed := fmt.Errorf("the commit failed")
	err := s.w.Do(context.Background(), func(tx *Tx) error {
		if _, err := s.recordIntake(tx, msgs); err != nil {
			return err
		}
		return failed
	})
	require.ErrorIs(t, err, failed)
	record(t, s, msgs)
	ha, err := s.db.Holds(context.Background(), a.ID, 0)
	require.NoError(t, err)
	require.Len(t, ha, 1, "T-2 repeats T-1's payee; T-1 is first")
	require.Equal(t, 2, ha[0].Row)
	hb, err := s.db.Holds(context.Background(), b.ID, 0)
	require.NoError(t, err)
	require.Len(t, hb, 1)
	require.Equal(t, a.ID, hb[0].EarlierBatch)
}
