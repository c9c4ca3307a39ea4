package ledger

// Reviewer rev2's attacks on branches p1 (intake counts, migration 0120)
// and p3 (compact transitions and webhooks, migrations 0140 and 0141).

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// TestReviewArchiveHoldsOnlyItsBatch (p3): an archive file holds its
// batch and what was recorded about it, nothing of other batches. Since
// migration 0140 a transition's detail without digits (a person's
// "cancelled by dave: <reason>", a release's "released by …: <reason>")
// and its worker are interned in move_names, and copyToArchive copies the
// whole of main.move_names into every archive: the archive of batch a
// carries the words people wrote about batch b (and about every batch the
// ledger ever held), which a's archive must not.
func TestReviewArchiveHoldsOnlyItsBatch(t *testing.T) {
	s, _, a, b := archivedPair(t)
	ctx := context.Background()
	db := s.db
	const why = "the payee asked us to stop; see the ticket from carol"
	require.NoError(t, s.CancelRow(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "dave", Reason: why}))
	var detail, kind string
	require.NoError(t, db.r.QueryRow(`SELECT t.detail, typeof(m.detail) FROM transitions t JOIN moves m ON m.id = t.id
		WHERE t.batch_id = ? AND t.row_no = 1 AND t.detail LIKE '%' || ? || '%'`, b.ID, why).Scan(&detail, &kind))
	require.Equal(t, "integer", kind, "b's cancel detail %q is interned in move_names", detail)

	out := filepath.Join(t.TempDir(), "a.archive.db")
	_, err := db.Archive(ctx, a.ID, ArchiveOptions{Out: out})
	require.NoError(t, err)
	adb, err := OpenReadOnly(out)
	require.NoError(t, err)
	defer adb.Close()
	var other int
	require.NoError(t, adb.r.QueryRow(`SELECT count(*) FROM batch_keys WHERE batch_id <> ?`, a.ID).Scan(&other))
	require.Zero(t, other, "the archive names no other batch")
	var leaked []string
	rows, err := adb.r.Query(`SELECT name FROM move_names WHERE name LIKE '%' || ? || '%' OR name = 'dave'`, why)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		leaked = append(leaked, n)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Empty(t, leaked, "a's archive holds what a person wrote about batch %s", b.ID)
}

// BenchmarkReviewTransitionsInsert (p3): the cost of an INSERT … SELECT
// into the transitions log (a release of n rows is one) into the table of
// migration 0139 and into the view of 0140, whose INSTEAD OF trigger runs
// once per row. Short sanity run: go test -run '^$' -bench ReviewTransitionsInsert -benchtime 1x.
func BenchmarkReviewTransitionsInsert(b *testing.B) {
	const n = 100_000
	for _, upTo := range []string{"migrations/0140", "migrations/9999"} {
		b.Run(map[string]string{"migrations/0140": "table0139", "migrations/9999": "view0141"}[upTo], func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "l.db")
			db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=NORMAL")
			require.NoError(b, err)
			defer db.Close()
			db.SetMaxOpenConns(1)
			names, err := migrationNames()
			require.NoError(b, err)
			for _, name := range names {
				if name >= upTo {
					break
				}
				body, err := migrationFS.ReadFile(name)
				require.NoError(b, err)
				_, err = db.Exec(string(body))
				require.NoError(b, err, name)
			}
			at := formatTime(newClock().Now())
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_, err := db.Exec(fmt.Sprintf(`INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt, reason, detail)
					WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < %d)
					SELECT 'B-%d', k, 'received', 'queued', ?, 'ledger', '', 1, 0, '', 'released' FROM s`, n, i), at)
				require.NoError(b, err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/transition")
		})
	}
}
