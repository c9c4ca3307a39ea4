// Review rev4 of the compact sessions and gate checks (q2: migrations
// 0160-0162): what the views read must be what the old tables held, in
// the ledger and in a batch's archive.

package ledger

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rev4Dump reads a query's rows, every value as the driver gives it.
func rev4Dump(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}, query string, args ...any) [][]any {
	t.Helper()
	rows, err := q.Query(query, args...)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		out = append(out, vals)
	}
	require.NoError(t, rows.Err())
	return out
}

const (
	rev4Sessions = `SELECT session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at
		FROM sessions WHERE batch_id = ? ORDER BY session_id`
	rev4Gates = `SELECT id, batch_id, row_no, session_id, payout_id, decision, reason, observed, confirm_info, tcn, source,
		hook_id, hook_type, worker, at, hook_seq FROM gate_checks WHERE batch_id = ? ORDER BY id`
)

// TestRev4ArchiveKeepsGateWords: an archived batch's gate checks read the
// same from its archive as they did from the ledger. gates keeps the
// worker and the webhook type as keys of move_names (0161), but the
// archive copies only the words the batch's moves use: a gate check whose
// worker or webhook type no move of the batch names (a "wait" or
// "ignore" decision makes no move) reads NULL there.
func TestRev4ArchiveKeepsGateWords(t *testing.T) {
	s, c, a, _ := archivedPair(t)
	ctx := context.Background()
	db := s.db
	now := formatTime(db.Now())
	long := strings.Repeat("ждём банк — ", 400) // a long Unicode reason
	_, err := db.wc.ExecContext(ctx, `INSERT INTO gate_checks (batch_id, row_no, session_id, payout_id, decision, reason, observed,
		confirm_info, tcn, source, hook_id, hook_type, worker, at, hook_seq) VALUES (?, 1, 'ps_a1', 'po_a1', 'wait', ?, '{}', '', '',
		'webhook', '4be89a9c3004ad17f1fa98cc7ab5db6b49d0460c5aa95a21d862c6cb0e026c91', 'rev4_gate_only_hook', 'rev4-gate-only-worker', ?, 7)`,
		a.ID, long, now)
	require.NoError(t, err)
	sessBefore, gatesBefore := rev4Dump(t, db.r, rev4Sessions, a.ID), rev4Dump(t, db.r, rev4Gates, a.ID)
	require.NotEmpty(t, sessBefore)
	require.NotEmpty(t, gatesBefore)

	out := filepath.Join(t.TempDir(), "a.archive.db")
	c.Add(25 * time.Hour)
	_, err = db.Archive(ctx, a.ID, ArchiveOptions{Out: out, MinAge: 24 * time.Hour})
	require.NoError(t, err)

	arch, err := sql.Open("sqlite3", "file:"+out+"?mode=ro")
	require.NoError(t, err)
	defer arch.Close()
	require.Equal(t, sessBefore, rev4Dump(t, arch, rev4Sessions, a.ID), "sessions in the archive")
	require.Equal(t, gatesBefore, rev4Dump(t, arch, rev4Gates, a.ID), "gate checks in the archive")
}
