package ledger

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The transitions and webhooks of a ledger migrated before 0140 and 0141
// read the same after them, through the views, value for value, and so do
// those inserted through the views afterwards: each compact form, and the
// text kept where a value has none (odd times, ids, keys, states).
func TestCompactMigrations(t *testing.T) {
	ctx := context.Background()
	path, old := ledgerBefore(t, "migrations/0140")

	const hex = "4be89a9c3004ad17f1fa98cc7ab5db6b49d0460c5aa95a21d862c6cb0e026c91"
	now := formatTime(time.Date(2026, 12, 1, 17, 54, 16, 874107603, time.UTC))
	odd := []struct{ at, state, source, worker, idem, hook, hookType, detail, errCode string }{
		{now, "queued", "ledger", "", "", "", "", "released", ""},
		{now, "opening", "processor", "w-1", "B-1/1/a0/create", "", "", "sending session/create", ""},
		{now, "payout_started", "webhook", "w-1", "B-1/1/", hex, "payment_finished", "", ""},
		{"", "weird_state", "mystery", "w-2", "B-1/10/a0/create", strings.ToUpper(hex), "new_type", "gen 3; re-enqueued", "provider_timeout"},
		{"0001-01-01T00:00:00.000000000Z", "failed", "status", "", "other-key", "old", "", "", "provider_timeout"},
		{"1969-12-31T23:59:59.999999999Z", "in_doubt", "sweeper", "", "B-1/1", hex[:63], "", "", ""},
		{"2026-02-30T00:00:00.000000000Z", "succeeded", "report", "", "", "", "", "", ""},
		{"2026-12-01T17:54:16Z", "returned", "operator", "", "", "", "", "", ""},
	}
	// The bank's ids (migration 0162: 'ps_' or 'po_' and an integer that
	// reads back the same as the integer), and ids that are not so.
	ids := []struct{ session, payout string }{{"ps_1", ""}, {"ps_3230448", "po_2018"}, {"ps_01", "po_0"}, {"ps_", "po_x"},
		{"PS_5", "po_-3"}, {"ps_99999999999999999999", "po_1.5"}, {"ps_ 7", "po_7 "}, {"", "po_9223372036854775807"}}
	insertAll := func(ex interface {
		Exec(string, ...any) (sql.Result, error)
	}, row int) {
		for i, o := range odd {
			_, err := ex.Exec(`INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt,
				session_id, payout_id, idem_key, error_code, reason, hook_id, hook_type, detail)
				VALUES ('B-1', ?, 'received', ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, 'why', ?, ?, ?)`,
				row, o.state, o.at, o.source, o.worker, i, ids[i].session, ids[i].payout, o.idem, o.errCode, o.hook, o.hookType, o.detail)
			require.NoError(t, err, i)
			// The release's form: the columns not named read ''.
			_, err = ex.Exec(`INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt, reason, detail)
				VALUES ('B-2', ?, 'received', 'queued', ?, 'ledger', '', 1, 0, '', 'released')`, row, o.at)
			require.NoError(t, err, i)
			hookID := o.hook
			if hookID == "" {
				hookID = "h" + strings.Repeat("0", i)
			}
			_, err = ex.Exec(`INSERT INTO bank_events (hook_id, type, session_id, ref_batch, ref_row, stream_seq, received_at, recorded_at, body)
				VALUES (?, 'payment_finished', 'ps_1', 'B-1', ?, ?, ?, ?, 'body')`, hookID, row, i, o.at, now)
			require.NoError(t, err, i)
		}
	}
	insertAll(old, 1)
	before := dumpCompact(t, old)
	require.NoError(t, old.Close())

	db, w := openMigrated(t, path)
	require.Equal(t, before, dumpCompact(t, db.r), "migrated, the same")
	var texts int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM moves WHERE typeof(t) = 'text'`).Scan(&texts))
	require.Equal(t, 2*5, texts, "the times without an exact integer kept as text")
	var ints int
	require.NoError(t, db.r.QueryRow(`SELECT (SELECT count(*) FROM moves WHERE typeof(session_id) = 'integer')
		+ (SELECT count(*) FROM moves WHERE typeof(payout_id) = 'integer')`).Scan(&ints))
	require.Equal(t, 2+4, ints, "the bank's ids as integers: ps_1, ps_3230448; po_2018, po_0, po_-3, po_9223372036854775807")
	var blobs int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM hook_events WHERE typeof(h) = 'blob'`).Scan(&blobs))
	require.Equal(t, 1, blobs, "the lowercase SHA-256 ids as 32 bytes")
	// Each move's webhook is recorded for its row: the move names it by
	// hook_events' id (migration 0171).
	require.Equal(t, [][]any{{"integer", int64(4)}, {"text", int64(4)}},
		queryAll(t, db.r, `SELECT typeof(hook), count(*) FROM moves WHERE bk = (SELECT k FROM batch_keys WHERE batch_id = 'B-1')
			GROUP BY 1 ORDER BY 1`))

	// Inserted through the views now: the same as the old tables gave.
	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM transitions`)
		if err == nil {
			_, err = tx.Exec(`DELETE FROM bank_events`)
		}
		return err
	}))
	var left int
	require.NoError(t, db.r.QueryRow(`SELECT (SELECT count(*) FROM moves) + (SELECT count(*) FROM hook_events)`).Scan(&left))
	require.Zero(t, left, "deleted through the views")
	require.NoError(t, w.Do(ctx, func(tx *Tx) error { insertAll(tx, 1); return nil }))
	require.Equal(t, before, dumpCompact(t, db.r), "inserted through the views, the same")

	// The webhook writer's compact forms read the same as the trigger's.
	require.Equal(t, []byte(nil), nilIfText(hookKey(strings.ToUpper(hex))))
	require.Len(t, hookKey(hex), 32)
	require.Equal(t, "0001-01-01T00:00:00.000000000Z", timeKey(time.Time{}))
	ns, ok := timeKey(parseTime(now)).(int64)
	require.True(t, ok)
	require.Equal(t, now, formatTime(time.Unix(0, ns)))
}

func nilIfText(v any) []byte {
	b, _ := v.([]byte)
	return b
}

// dumpCompact reads every transition and webhook as the old tables had them.
func dumpCompact(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}) [][]any {
	t.Helper()
	var out [][]any
	for _, query := range []string{
		`SELECT id, batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt, session_id, payout_id,
			idem_key, error_code, reason, hook_id, hook_type, detail FROM transitions ORDER BY id`,
		`SELECT hook_id, type, session_id, session_status, payout_id, payout_status, amount_minor, currency, fee_minor,
			fee_currency, error_code, error_text, ref_batch, ref_row, ref_reference, stream_seq, received_at, recorded_at,
			body, body_z FROM bank_events ORDER BY stream_seq, hook_id`,
	} {
		out = append(out, queryAll(t, q, query)...)
	}
	require.NotEmpty(t, out)
	return out
}
