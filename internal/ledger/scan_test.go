package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/report"
)

// TestReportChunks: a report streamed in chunks of any size is the same,
// byte for byte in every format and language, as in one chunk: the golden
// ledger's rows, webhooks, status answers, 3-D Secure links, report lines
// (a refund, a second operation, lines naming no row of the batch) and
// notes all land on their rows across chunk ends.
func TestReportChunks(t *testing.T) {
	s, _, id := goldenLedger(t)
	ctx := context.Background()
	write := func(lang, format string) []byte {
		src, done, err := s.db.ReportSource(ctx, id, lang)
		require.NoError(t, err)
		defer done()
		var buf bytes.Buffer
		require.NoError(t, src.Write(&buf, format))
		return buf.Bytes()
	}
	whole := map[string][]byte{}
	for _, lang := range []string{"en", "ru"} {
		for _, f := range report.Formats {
			whole[lang+"/"+f] = write(lang, f)
		}
	}
	defer func(n int) { scanChunk = n }(scanChunk)
	for _, n := range []int{1, 2, 3, 7} {
		scanChunk = n
		for _, lang := range []string{"en", "ru"} {
			for _, f := range report.Formats {
				got := write(lang, f)
				if f == report.FormatXLSX {
					// The zip's bytes are the same when its parts are.
					require.Equal(t, whole[lang+"/"+f], got, "chunks of %d, %s %s", n, lang, f)
					continue
				}
				require.Equal(t, string(whole[lang+"/"+f]), string(got), fmt.Sprintf("chunks of %d, %s %s", n, lang, f))
			}
		}
	}
	// And the report in memory is the stream's rows kept.
	rep, err := s.db.Report(ctx, id)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, rep.Write(&buf, report.FormatJSON))
	require.Equal(t, string(whole["en/json"]), buf.String())
}

// TestReportNotesOfALedgerNotMigrated: a ledger file whose rows cannot be
// read with their notes in one query (here: no holds table, as before
// migration 0010) has its notes read apart (readNotes' later queries),
// and its report is the same, its descriptions and meta included.
func TestReportNotesOfALedgerNotMigrated(t *testing.T) {
	s, _, id := goldenLedger(t)
	ctx := context.Background()
	csv := func() string {
		src, done, err := s.db.ReportSource(ctx, id, "en")
		require.NoError(t, err)
		defer done()
		var buf bytes.Buffer
		require.NoError(t, src.Write(&buf, report.FormatCSV))
		return buf.String()
	}
	exec := func(q string) {
		require.NoError(t, s.w.Do(ctx, func(tx *Tx) error { _, err := tx.Exec(q); return err }))
	}
	exec(`DELETE FROM holds`) // so that both reports have no hold to show
	var described int
	require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ? AND (description <> '' OR meta <> '')`, id).
		Scan(&described))
	require.NotZero(t, described, "the golden ledger has descriptions or meta")
	before := csv()
	exec(`ALTER TABLE holds RENAME TO holds_gone`)
	_, _, _, err := (&batchScan{q: s.db.r, batch: id}).readRows(ctx, 0, 1<<40, true, scanChunk)
	require.ErrorContains(t, err, "no such table", "the rows are not read with their notes in one query")
	require.Equal(t, before, csv())
}

// TestChunkEnd: a scan's chunks are ranges of scanChunk row numbers from
// the first row after the last chunk, the last one open-ended; a sparse
// batch's chunks hold fewer rows, none is empty, and every row is in
// exactly one.
func TestChunkEnd(t *testing.T) {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "rows.db"))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE rows (batch_id TEXT NOT NULL, row_no INTEGER NOT NULL, PRIMARY KEY (batch_id, row_no)) WITHOUT ROWID`)
	require.NoError(t, err)
	nos := []int64{1, 2, 3, 4, 5, 9, 10, 11, 100, 101, 1 << 40}
	for _, no := range nos {
		_, err := db.Exec(`INSERT INTO rows VALUES ('b', ?), ('a', ?), ('c', ?)`, no, no+1, no-1)
		require.NoError(t, err)
	}
	defer func(n int) { scanChunk = n }(scanChunk)
	scanChunk = 4
	sc := &batchScan{q: db, batch: "b"}
	ctx := context.Background()
	var ends []int64
	lo := int64(math.MinInt64)
	for {
		first, hi, err := sc.chunkEnd(ctx, lo)
		require.NoError(t, err)
		require.Greater(t, first, lo)
		require.LessOrEqual(t, first, hi)
		ends = append(ends, hi)
		if hi == math.MaxInt64 {
			break
		}
		lo = hi
	}
	require.Equal(t, []int64{4, 8, 12, 103, math.MaxInt64}, ends, "1-4, 5 (5..8), 9-11 (9..12), 100-101 (100..103), 2^40 (the last)")

	sc.batch = "none" // no rows: one chunk, open-ended
	first, hi, err := sc.chunkEnd(ctx, math.MinInt64)
	require.NoError(t, err)
	require.Equal(t, [2]int64{math.MinInt64, math.MaxInt64}, [2]int64{first, hi})
}
