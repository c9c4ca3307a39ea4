package ledger

// Reviewer rev2's attacks on branches p1 (intake counts, migration 0120)
// and p3 (compact transitions and webhooks, migrations 0140 and 0141).

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
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
	// '' is the key 0 of every file (migration 0163: the webhooks that name no batch).
	require.NoError(t, adb.r.QueryRow(`SELECT count(*) FROM batch_keys WHERE batch_id NOT IN (?, '')`, a.ID).Scan(&other))
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
			db := rawLedgerBefore(b, upTo)
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

// TestCountsRedeliveredResubmitArchive (p1 with p3): a batch of two
// currencies recorded in groups that cross the insert's 50-row chunks and
// are delivered again in part (a run of recorded rows, then new ones, one
// message twice in a chunk), paid with failures in both currencies, its
// failed rows resubmitted (the child's rows counted by the insert
// trigger, migration 0120), both archived: the counts equal a GROUP BY
// over the rows at each step, in the ledger and in each archive, and the
// reports read from the archives are byte for byte those read before.
func TestCountsRedeliveredResubmitArchive(t *testing.T) {
	s, c := newService(t)
	ctx := context.Background()
	db := s.db
	rows := uniqueBatch(120, "rev2 counts").Rows
	for i, r := range rows {
		if i%3 == 0 {
			r.Amount = money.New(9000+int64(i), "USD")
		}
	}
	p := makeRows("rev2 counts", rows)
	pm := p.msgs(nextSeq.Add(1000))
	record(t, s, pm[:55])
	checkCounts(t, db, p.ID)
	group := append([]intakeMsg{}, pm[45:60]...)
	group = append(group, pm[57], pm[60])
	group = append(group, pm[61:]...)
	res := record(t, s, group)
	require.Equal(t, 120-55, res.Recorded)
	require.Equal(t, 10+1, res.Duplicates) // pm[45:55] recorded before, pm[57] twice
	checkCounts(t, db, p.ID)
	require.NoError(t, s.ReleaseDue(ctx))
	checkCounts(t, db, p.ID)

	var failed int
	for i, r := range p.Rows {
		row := i + 1
		session, po := fmt.Sprintf("ps_r%d", row), fmt.Sprintf("po_r%d", row)
		if row%7 == 0 {
			failRow(t, s, p.ID, row, session, po, "card_expired")
			failed++
			continue
		}
		payRow(t, s, p.ID, row, session, po, r.Amount)
	}
	require.Equal(t, payout.BatchDone, summary(t, db, p.ID).Status)
	checkCounts(t, db, p.ID)

	reply, err := s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: p.ID, Failed: true, By: "anna", Reason: "card directory fixed"})
	require.NoError(t, err)
	child := reply.Batch.Batch
	require.Len(t, reply.Rows, failed)
	checkCounts(t, db, p.ID, child)
	var byInsert bool
	require.NoError(t, db.r.QueryRow(`SELECT counts_by_insert FROM batches WHERE id = ?`, child).Scan(&byInsert))
	require.False(t, byInsert, "a resubmit's child is counted by the trigger")
	if summary(t, db, child).Status == payout.BatchScheduled {
		require.NoError(t, s.ReleaseDue(ctx))
	}
	for _, m := range reply.Rows {
		cr := mustRow(t, s, child, m.ChildRow)
		payRow(t, s, child, m.ChildRow, fmt.Sprintf("ps_c%d", m.ChildRow), fmt.Sprintf("po_c%d", m.ChildRow), cr.Amount)
	}
	require.Equal(t, payout.BatchDone, summary(t, db, child).Status)
	checkCounts(t, db, p.ID, child)

	before := map[string]map[string][]byte{p.ID: reports(t, db, p.ID), child: reports(t, db, child)}
	sums := map[string]*ledgerapi.BatchSummary{p.ID: summary(t, db, p.ID), child: summary(t, db, child)}
	c.Add(25 * time.Hour)
	for _, id := range []string{p.ID, child} {
		out := filepath.Join(t.TempDir(), id+".archive.db")
		ares, err := db.Archive(ctx, id, ArchiveOptions{Out: out, MinAge: 24 * time.Hour})
		require.NoError(t, err, id)
		adb, err := OpenReadOnly(out)
		require.NoError(t, err)
		require.NoError(t, adb.VerifyCounts(ctx), "the archive's counts of %s", id)
		var n int
		require.NoError(t, adb.r.QueryRow(`SELECT count(*) FROM rows`).Scan(&n))
		require.Equal(t, ares.Rows, n)
		adb.Close()
	}
	require.NoError(t, db.VerifyCounts(ctx))
	for _, id := range []string{p.ID, child} {
		after := summary(t, db, id)
		require.Equal(t, sums[id].ByState, after.ByState, id)
		require.Equal(t, sums[id].PaidTotals, after.PaidTotals, id)
		require.Equal(t, sums[id].FailedTotals, after.FailedTotals, id)
		require.Equal(t, before[id], reports(t, db, id), "the report of %s read from its archive", id)
	}
}

// TestIntakeDiskFull (p1): the intake's multi-row INSERT, prepared
// once on the writer's driver connection (Tx.execRaw), fails with
// SQLITE_FULL in the middle of a group (the file may not grow: max_page_count);
// nothing of the group stays, the writer goes on, and the same statements
// record the group delivered again once there is room: every row once,
// counted once.
func TestIntakeDiskFull(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	db := s.db
	a := uniqueBatch(300, "rev2 disk full")
	am := a.msgs(nextSeq.Add(1000))
	record(t, s, am[:50]) // prepares the 50-row statement
	checkCounts(t, db, a.ID)
	pragma := func(q string) {
		require.NoError(t, s.w.Do(ctx, func(tx *Tx) error { _, err := tx.db.wc.ExecContext(ctx, q); return err }))
	}
	var pages int
	require.NoError(t, db.wc.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages))
	pragma(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+3))
	err := s.w.Do(ctx, func(tx *Tx) error { _, err := s.recordIntake(tx, am[50:]); return err })
	require.Error(t, err)
	require.Contains(t, err.Error(), "full")
	var n int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ?`, a.ID).Scan(&n))
	require.Equal(t, 50, n, "nothing of the failed group stays")
	checkCounts(t, db, a.ID)

	pragma(`PRAGMA max_page_count = 1073741823`)
	res := record(t, s, am[40:])
	require.Equal(t, 250, res.Recorded)
	require.Equal(t, 10, res.Duplicates)
	checkCounts(t, db, a.ID)
	res = record(t, s, am)
	require.Equal(t, 0, res.Recorded)
	require.Equal(t, 300, res.Duplicates, "sealed: every row seen again")
	require.Equal(t, payout.BatchScheduled, summary(t, db, a.ID).Status)
	checkCounts(t, db, a.ID)
}

// TestCompactMigrationOfALedger (p3): a ledger with real intake, payouts,
// failures and webhooks, put back to its form before 0140 (the
// transitions and bank_events tables as 0139 had them, filled from the
// views in id and record order), migrated again on Open: every row's
// transitions (ids, order, times, sources, hook ids, keys), the webhooks,
// the batch's status, its reconciliation and its report in every format
// read byte for byte as before.
func TestCompactMigrationOfALedger(t *testing.T) {
	s, _, a, b := archivedPair(t)
	ctx := context.Background()
	db := s.db
	batches := []*testBatch{a, b}
	type seen struct {
		trs     [][]Transition
		reports map[string][]byte
		sum     *ledgerapi.BatchSummary
	}
	read := func(d *DB) []seen {
		var out []seen
		for _, tb := range batches {
			var sn seen
			for row := 1; row <= len(tb.Rows); row++ {
				trs, err := d.Transitions(ctx, tb.ID, row)
				require.NoError(t, err)
				require.NotEmpty(t, trs)
				sn.trs = append(sn.trs, trs)
			}
			sn.reports = reports(t, d, tb.ID)
			sn.sum = summary(t, d, tb.ID)
			out = append(out, sn)
		}
		return out
	}
	before := read(db)
	events := dumpCompact(t, db.r)
	recA, err := db.Reconcile(ctx, a.ID)
	require.NoError(t, err)

	// The 0139 schema of the two tables, from a ledger migrated so far.
	ref, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "ref.db"))
	require.NoError(t, err)
	defer ref.Close()
	applyMigrationsBefore(t, ref, "migrations/0140")
	var tables, indexes []string
	qr, err := ref.Query(`SELECT type, sql FROM sqlite_master WHERE tbl_name IN ('transitions', 'bank_events', 'sessions', 'gate_checks') AND sql IS NOT NULL
		ORDER BY type = 'index', name`)
	require.NoError(t, err)
	for qr.Next() {
		var typ, q string
		require.NoError(t, qr.Scan(&typ, &q))
		if typ == "table" {
			tables = append(tables, q)
		} else {
			indexes = append(indexes, q)
		}
	}
	require.NoError(t, qr.Err())
	qr.Close()
	require.Len(t, tables, 4)

	old := filepath.Join(t.TempDir(), "old.db")
	_, err = db.wc.ExecContext(ctx, `VACUUM INTO ?`, old)
	require.NoError(t, err)
	o, err := sql.Open("sqlite3", "file:"+old)
	require.NoError(t, err)
	o.SetMaxOpenConns(1)
	steps := []string{}
	for _, q := range tables {
		steps = append(steps, strings.NewReplacer("CREATE TABLE transitions", "CREATE TABLE transitions_old",
			"CREATE TABLE bank_events", "CREATE TABLE bank_events_old", "CREATE TABLE sessions", "CREATE TABLE sessions_old",
			"CREATE TABLE gate_checks", "CREATE TABLE gate_checks_old").Replace(q))
	}
	const trCols = `id, batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt, session_id, payout_id,
		idem_key, error_code, reason, hook_id, hook_type, detail`
	const evCols = `hook_id, type, session_id, session_status, payout_id, payout_status, amount_minor, currency, fee_minor,
		fee_currency, error_code, error_text, ref_batch, ref_row, ref_reference, stream_seq, received_at, recorded_at, body, body_z`
	// The sessions and gate checks as tables again too (migrations 0160
	// and 0161 read batch_keys and move_names).
	const sessCols = `session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at`
	const gateCols = `id, batch_id, row_no, session_id, payout_id, decision, reason, observed, confirm_info, tcn, source,
		hook_id, hook_type, worker, at, hook_seq`
	steps = append(steps,
		// hook_events' trigger names gates (migration 0171), which goes.
		`DROP TRIGGER hook_events_refs`,
		`INSERT INTO sessions_old (`+sessCols+`) SELECT `+sessCols+` FROM sessions`, `DROP VIEW sessions`, `DROP TABLE sess`,
		`ALTER TABLE sessions_old RENAME TO sessions`,
		`INSERT INTO gate_checks_old (`+gateCols+`) SELECT `+gateCols+` FROM gate_checks ORDER BY id`, `DROP VIEW gate_checks`,
		`DROP TABLE gates`, `ALTER TABLE gate_checks_old RENAME TO gate_checks`,
		`INSERT INTO transitions_old (`+trCols+`) SELECT `+trCols+` FROM transitions ORDER BY id`,
		`INSERT INTO bank_events_old (`+evCols+`) SELECT `+evCols+` FROM bank_events`, // in hook_events' order
		`DROP VIEW transitions`, `DROP VIEW bank_events`, `DROP TABLE moves`, `DROP TABLE batch_keys`, `DROP TABLE move_names`,
		`DROP TABLE hook_events`, `ALTER TABLE transitions_old RENAME TO transitions`, `ALTER TABLE bank_events_old RENAME TO bank_events`)
	steps = append(steps, indexes...)
	steps = append(steps, `DELETE FROM schema_migrations WHERE name >= 'migrations/0140'`)
	for _, q := range steps {
		_, err := o.Exec(q)
		require.NoError(t, err, q)
	}
	var n int
	require.NoError(t, o.QueryRow(`SELECT count(*) FROM transitions`).Scan(&n))
	require.Positive(t, n)
	require.NoError(t, o.Close())

	m, err := Open(old)
	require.NoError(t, err)
	defer m.Close()
	m.Now, m.ReportZone = db.Now, db.ReportZone
	require.Equal(t, before, read(m), "migrated again, every transition, status and report the same")
	require.Equal(t, events, dumpCompact(t, m.r))
	recM, err := m.Reconcile(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, recA.Result, recM.Result)
	var texts int
	require.NoError(t, m.r.QueryRow(`SELECT count(*) FROM moves WHERE typeof(t) <> 'integer' OR typeof(fs) <> 'integer'
		OR typeof(ts) <> 'integer' OR typeof(src) <> 'integer'`).Scan(&texts))
	require.Zero(t, texts, "the ledger's own times, states and sources all compact")
}
