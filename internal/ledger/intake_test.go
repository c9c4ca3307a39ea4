package ledger

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

func TestIntakeAcceptsMatchingManifest(t *testing.T) {
	s, _ := newService(t)
	b := makeBatch(10, "good")
	res := record(t, s, b.msgs(1))
	require.Equal(t, 10, res.Recorded)
	require.Equal(t, []string{b.ID}, res.Accepted)

	sum := summary(t, s.db, b.ID)
	require.Equal(t, payout.BatchScheduled, sum.Status)
	require.Equal(t, 10, sum.ByState[payout.StateReceived], "rows wait as received while the batch is scheduled")
	require.Equal(t, b.Manifest.Totals, sum.Totals)

	r := mustRow(t, s, b.ID, 3)
	require.Equal(t, "E-00003", r.Reference)
	require.Equal(t, "card 424242******4242", r.Destination)
	require.Equal(t, "Ivan Petrov 3", r.Recipient)
	require.Equal(t, uint64(3), r.IntakeSeq)
	d := sha256.Sum256(b.Data[2])
	require.Equal(t, d[:], mustDigest(t, r.RowDigest))

	// A redelivery of everything is a no-op.
	res = record(t, s, b.msgs(1))
	require.Equal(t, 0, res.Recorded)
	require.Equal(t, 10, res.Duplicates)
	require.Empty(t, res.Accepted)
	tr, err := s.db.Transitions(context.Background(), b.ID, 3)
	require.NoError(t, err)
	require.Empty(t, tr, "sealing moves the batch, not the rows")

	// Only the last four digits and the BIN are kept.
	var n int
	require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM rows WHERE meta LIKE '%sealed%' OR destination LIKE '%c2VhbGVk%'`).Scan(&n))
	require.Zero(t, n)
}

func TestIntakeRejectsTamperedManifest(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(b *testBatch) []intakeMsg
		reason string
	}{
		{"count", func(b *testBatch) []intakeMsg {
			m := b.msgs(1)
			return append(m[:4], m[5:]...) // row 5 never arrives
		}, "manifest says 10 rows, ledger recorded 9"},
		{"total", func(b *testBatch) []intakeMsg {
			b.Manifest.Totals["RUB"] += 100
			return b.msgs(1)
		}, "total RUB 10001.55 ≠ 10000.55"},
		{"digest", func(b *testBatch) []intakeMsg {
			b.Manifest.RowsSHA256 = payout.DigestRows([][]byte{{1}})
			return b.msgs(1)
		}, "rows digest differs"},
		{"conflicting row", func(b *testBatch) []intakeMsg {
			m := b.msgs(1)
			other := *b.Rows[6]
			other.Reference = "E-99999"
			data := intake.EncodeRow(&other)
			r, _ := parseRow(data)
			extra := intakeMsg{Seq: 100, Digest: sha256.Sum256(data), Row: r}
			return append(m[:10], extra, m[10])
		}, "row 7 arrived twice with different data (1 conflicts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newService(t)
			b := makeBatch(10, "tamper")
			res := record(t, s, tt.tamper(b))
			require.Equal(t, []string{b.ID}, res.Rejected)
			sum := summary(t, s.db, b.ID)
			require.Equal(t, payout.BatchRejected, sum.Status)
			require.True(t, strings.HasPrefix(sum.Reason, tt.reason), "reason %q, want it to start with %q", sum.Reason, tt.reason)

			// Nothing of it is ever released.
			require.NoError(t, s.ReleaseDue(context.Background()))
			sum = summary(t, s.db, b.ID)
			require.Zero(t, sum.ByState[payout.StateQueued])
			ex, err := s.db.Exceptions(b.ID, false)
			require.NoError(t, err)
			require.NotEmpty(t, ex)
		})
	}
}

func TestIntakeLateRowIsNeverReleased(t *testing.T) {
	s, _ := newService(t)
	b := makeBatch(3, "late")
	record(t, s, b.msgs(1))
	extra := makeBatch(4, "late")
	m := extra.msgs(10)
	res := record(t, s, m[3:4]) // row 4 after the manifest
	require.Equal(t, 1, res.Conflicts)
	require.NoError(t, s.ReleaseDue(context.Background()))
	_, err := s.db.Row(b.ID, 4)
	require.True(t, IsNotFound(err), "a late row is not recorded as a row: %v", err)
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 3).State)
	require.Equal(t, 3, summary(t, s.db, b.ID).Rows)
	ex, err := s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Len(t, ex, 1)
	require.Equal(t, reconcile.LateRow, ex[0].Category)
}

func mustDigest(t *testing.T, h string) []byte {
	t.Helper()
	var out [32]byte
	n, err := hexDecode(out[:], h)
	require.NoError(t, err)
	require.Equal(t, 32, n)
	return out[:]
}
