package ledger

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/report"
)

// TestRev3ReportStreamedWhileArchived: a streamed report reads its batch
// chunk by chunk, not in one transaction (batchScan), from the file
// openScan chose when the report began. A batch archived while its
// report streams (ledger archive of a finished batch, a download in
// progress) leaves the main file between two chunks: the rest of the
// chunks read nothing there, and the report ends early — fewer rows than
// the batch has, its summary counted from the rows read, no error.
func TestRev3ReportStreamedWhileArchived(t *testing.T) {
	s, _, a, _ := archivedPair(t)
	ctx := context.Background()
	db := s.db
	defer func(n int) { scanChunk = n }(scanChunk)
	scanChunk = 1

	src, done, err := db.ReportSource(ctx, a.ID, "en")
	require.NoError(t, err)
	defer done()
	out := filepath.Join(t.TempDir(), "a.archive.db")
	var rows []int
	rep, err := src.Rows(func([]string) error { return nil }, func(r *report.Row) error {
		if len(rows) == 0 {
			_, err := db.Archive(ctx, a.ID, ArchiveOptions{Out: out})
			require.NoError(t, err, "archive the finished batch while its report streams")
		}
		rows = append(rows, r.Row)
		return nil
	})
	if err == nil {
		require.Len(t, rows, 10, "a report that completes without an error holds every row of the batch (rows %v)", rows)
		require.Equal(t, 10, rep.Summary.Rows, "the summary counts every row of the batch")
	}
	// Fixed: the scan asks, once its rows are read, whether the batch was
	// archived meanwhile, and fails the report instead of ending it short.
	require.ErrorContains(t, err, "archived while it was read")
}
