package ledger

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// TestBatchIDsKeptByTheMasker: a batch id is ours; in the audit log's
// Batch and Target ("<id>", "<id>/<row>") and in a log line under its own
// key it is kept whole even when its digits read as a card number (two
// real ids: one holds a Luhn-valid run of 16 digits itself, one reads as
// a card only with the row after it). A card number in the reason (text)
// is still masked in the same entry.
func TestBatchIDsKeptByTheMasker(t *testing.T) {
	for _, tt := range []struct {
		seed string
		row  int
	}{
		{"pan-like id 965", 0},  // b0a56173434364210b55d
		{"pan-like id 965", 2},  // b0a56173434364210b55d/2
		{"pan-like id 5191", 3}, // b20bd621b937959929910/3
	} {
		c := newClock()
		db := openDB(t, t.TempDir(), c)
		var logs bytes.Buffer
		cfg := testConfig()
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		s := NewService(db, cfg)
		t.Cleanup(func() {
			s.Close()
			db.Close()
		})
		noApprovals(t, s)
		ctx := context.Background()
		_, carol, _ := people(t, s)
		b := releaseBatch(t, s, 3, tt.seed)
		target := b.ID
		if tt.row > 0 {
			target += "/" + itoa(tt.row)
		}
		_, masked := cardmask.Find(target)
		require.True(t, masked, "%s: the masker takes the id for a card number as text", target)
		require.NoError(t, s.DecideAs(ctx, principalOf(carol, auth.RoleChecker), auth.ActHold,
			ledgerapi.RowCommand{Batch: b.ID, Row: tt.row, Reason: "the card 4111 1111 1111 1111 is closed"}, s.Hold))
		entries, err := db.AuditEntries(ctx, AuditFilter{Batch: b.ID})
		require.NoError(t, err)
		require.NotEmpty(t, entries, target)
		e := entries[len(entries)-1]
		require.Equal(t, auth.ActHold, e.Action)
		require.Equal(t, b.ID, e.Batch)
		require.Equal(t, target, e.Target, "the audit target is our id, kept whole")
		require.Equal(t, "the card 411111******1111 is closed", e.Detail)
		n, _, err := db.VerifyAudit(ctx)
		require.NoError(t, err)
		require.Positive(t, n)
		require.Contains(t, logs.String(), "batch="+b.ID, "the log line keeps the id under its key")
		require.NotContains(t, logs.String(), "4111 1111 1111 1111")
	}
}
