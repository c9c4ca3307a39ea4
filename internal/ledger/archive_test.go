package ledger

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/report"
)

// archivedPair records two batches: a, every row final (paid, two
// failed), and b, released and waiting.
func archivedPair(t *testing.T) (*Service, *clock, *testBatch, *testBatch) {
	t.Helper()
	s, c := newService(t)
	a := uniqueBatch(10, "archive a")
	b := uniqueBatch(4, "archive b")
	record(t, s, a.msgs(1))
	record(t, s, b.msgs(100))
	require.NoError(t, s.ReleaseDue(context.Background()))
	for row := 1; row <= 10; row++ {
		session, po := "ps_a"+itoa(row), "po_a"+itoa(row)
		if row > 8 {
			failRow(t, s, a.ID, row, session, po, "card_expired")
			continue
		}
		payRow(t, s, a.ID, row, session, po, rowAmount(row))
	}
	require.Equal(t, payout.BatchDone, summary(t, s.db, a.ID).Status)
	return s, c, a, b
}

func itoa(n int) string { return strconv.Itoa(n) }

// reports renders a batch's report in every format.
func reports(t *testing.T, db *DB, batch string) map[string][]byte {
	t.Helper()
	rep, err := db.Report(context.Background(), batch)
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, f := range report.Formats {
		var buf bytes.Buffer
		require.NoError(t, rep.Write(&buf, f))
		out[f] = buf.Bytes()
	}
	return out
}

// TestArchive: an archived batch's rows, transitions, sessions and
// webhooks leave the ledger file for the archive file; its status (the
// counts) stays; its report reads the same from the archive, in every
// format; the other batch is untouched.
func TestArchive(t *testing.T) {
	s, c, a, b := archivedPair(t)
	ctx := context.Background()
	db := s.db
	// A closed exception of the batch with a person's comment on it: the
	// comment refers to the exception, which stays with it.
	_, err := db.wc.ExecContext(ctx, `INSERT INTO exceptions (category, key, batch_id, row_no, detail, opened_at, closed_at, resolution)
		VALUES ('amount_mismatch', 'archive-k1', ?, 1, 'paid 10.00, asked 12.00', '2026-11-25T09:00:00Z', '2026-11-25T10:00:00Z', 'checked')`, a.ID)
	require.NoError(t, err)
	_, err = db.wc.ExecContext(ctx, `INSERT INTO exception_comments (exception_id, user_name, body, at)
		SELECT id, 'carl', 'the bank confirmed 10.00', '2026-11-25T09:30:00Z' FROM exceptions WHERE key = 'archive-k1'`)
	require.NoError(t, err)

	beforeA, beforeB := reports(t, db, a.ID), reports(t, db, b.ID)
	sumA := summary(t, db, a.ID)
	recA, err := db.Reconcile(ctx, a.ID)
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "a.archive.db")

	_, err = db.Archive(ctx, b.ID, ArchiveOptions{Out: out})
	require.ErrorContains(t, err, "not finished")
	_, err = db.Archive(ctx, a.ID, ArchiveOptions{Out: out, MinAge: 24 * time.Hour})
	require.ErrorContains(t, err, "less than 24h0m0s ago")
	_, err = db.Archive(ctx, "nope", ArchiveOptions{Out: out})
	require.True(t, IsNotFound(err))
	_, err = os.Stat(out)
	require.True(t, os.IsNotExist(err), "nothing written for a refusal")

	fpBefore, err := db.Footprint(ctx)
	require.NoError(t, err)
	c.Add(25 * time.Hour)
	res, err := db.Archive(ctx, a.ID, ArchiveOptions{Out: out, MinAge: 24 * time.Hour})
	require.NoError(t, err)
	require.Equal(t, 10, res.Rows)
	require.Equal(t, 10, res.Events)
	require.Len(t, res.SHA256, 64)
	sha, err := fileSHA256(out)
	require.NoError(t, err)
	require.Equal(t, res.SHA256, sha)

	// Pruned here, b untouched.
	for _, q := range []string{`SELECT count(*) FROM rows WHERE batch_id = ?`, `SELECT count(*) FROM transitions WHERE batch_id = ?`,
		`SELECT count(*) FROM sessions WHERE batch_id = ?`, `SELECT count(*) FROM bank_events WHERE ref_batch = ?`} {
		var n int
		require.NoError(t, db.r.QueryRow(q, a.ID).Scan(&n))
		require.Zero(t, n, q)
	}
	var comments int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM exception_comments c JOIN exceptions e ON e.id = c.exception_id
		WHERE e.batch_id = ?`, a.ID).Scan(&comments))
	require.Equal(t, 1, comments, "the people's record stays")
	var nb int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ?`, b.ID).Scan(&nb))
	require.Equal(t, 4, nb)
	fpAfter, err := db.Footprint(ctx)
	require.NoError(t, err)
	require.Less(t, fpAfter.Tables["transitions"], fpBefore.Tables["transitions"])
	require.NoError(t, db.VerifyCounts(ctx))

	// Status as before; report and detail from the archive, the same.
	sumAfter := summary(t, db, a.ID)
	require.Equal(t, sumA.ByState, sumAfter.ByState)
	require.Equal(t, sumA.PaidTotals, sumAfter.PaidTotals)
	require.Equal(t, beforeA, reports(t, db, a.ID))
	require.Equal(t, beforeB, reports(t, db, b.ID))
	recAfter, err := db.Reconcile(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, recA.Result, recAfter.Result)
	_, err = s.Reconcile(ctx, a.ID)
	require.NoError(t, err, "the service's reconciliation reads it too, and records nothing")

	// A reader of the file alone (ledger report while the ledger runs).
	ro, err := OpenReadOnly(db.Path())
	require.NoError(t, err)
	ro.Now = db.Now
	ro.ReportZone = db.ReportZone
	require.Equal(t, beforeA, reports(t, ro, a.ID))
	ro.Close()

	// Once only; and the archive must stay where it was recorded.
	_, err = db.Archive(ctx, a.ID, ArchiveOptions{Out: out + "2"})
	require.ErrorContains(t, err, "archived already")
	require.NoError(t, os.Rename(out, out+".moved"))
	_, err = db.Report(ctx, a.ID)
	require.ErrorContains(t, err, "is archived in "+out)
}

// TestArchiveRefusesOpenExceptions: a batch with an open exception stays.
func TestArchiveRefusesOpenExceptions(t *testing.T) {
	s, _, a, _ := archivedPair(t)
	ctx := context.Background()
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		_, err := openException(tx, "dead_letter", "x", a.ID, 1, "look at it")
		return err
	}))
	_, err := s.db.Archive(ctx, a.ID, ArchiveOptions{Out: filepath.Join(t.TempDir(), "x.db")})
	require.ErrorContains(t, err, "1 open exceptions")
}
