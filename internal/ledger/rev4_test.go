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
	sessBefore, gatesBefore := queryAll(t, db.r, rev4Sessions, a.ID), queryAll(t, db.r, rev4Gates, a.ID)
	require.NotEmpty(t, sessBefore)
	require.NotEmpty(t, gatesBefore)

	out := filepath.Join(t.TempDir(), "a.archive.db")
	c.Add(25 * time.Hour)
	_, err = db.Archive(ctx, a.ID, ArchiveOptions{Out: out, MinAge: 24 * time.Hour})
	require.NoError(t, err)

	arch, err := sql.Open("sqlite3", "file:"+out+"?mode=ro")
	require.NoError(t, err)
	defer arch.Close()
	require.Equal(t, sessBefore, queryAll(t, arch, rev4Sessions, a.ID), "sessions in the archive")
	require.Equal(t, gatesBefore, queryAll(t, arch, rev4Gates, a.ID), "gate checks in the archive")
}

// TestRev4MigrationOddValues: a ledger migrated from before 0160 with
// values the compact forms must not bend (times at the edges of the
// integer form, ids that look like numbers but are not their own
// decimal, Unicode, long reasons, words equal to the fixed ones) reads
// the same through sessions, gate_checks and transitions after 0160-0162
// as before, value for value and type for type; and so do the same
// values inserted through the views afterwards.
func TestRev4MigrationOddValues(t *testing.T) {
	ctx := context.Background()
	path, old := ledgerBefore(t, "migrations/0160")
	var err error
	_, err = old.Exec(`PRAGMA foreign_keys = OFF`)
	require.NoError(t, err)

	const hex = "4be89a9c3004ad17f1fa98cc7ab5db6b49d0460c5aa95a21d862c6cb0e026c91"
	times := []string{"1970-01-01T00:00:00.000000000Z", "2262-04-11T23:47:16.854775807Z", "2262-04-11T23:47:16.854775808Z",
		"2300-01-01T00:00:00.000000000Z", "1969-12-31T23:59:59.999999999Z", "2026-12-01T17:54:16.874107603+03:00",
		"2026-12-01 17:54:16.874107603Z", "2026-12-01T17:54:16.8741076Z", " 2026-12-01T17:54:16.874107603Z", "9999-12-31T23:59:59.999999999Z"}
	ids := []string{"ps_-0", "ps_+1", "ps_01", "ps_9223372036854775807", "ps_9223372036854775808", "ps_-9223372036854775808",
		"ps_", "ps_1.5", "ps_1e3", "ps_ 1", "ps_1 ", "ps_١٢", "ПС_1", "ps_x", "12345", ""}
	long := strings.Repeat("причина — ", 2000)
	insertAll := func(ex interface {
		Exec(string, ...any) (sql.Result, error)
	}, batch string) {
		for i, at := range times {
			sid := ids[i%len(ids)]
			_, err := ex.Exec(`INSERT INTO sessions (session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, batch+"|"+sid+"|"+string(rune('a'+i)), batch, i+1, i, []string{"row", "Row", "1", ""}[i%4],
				[]string{"succeeded", "15", "Succeeded", ""}[i%4], at, times[(i+1)%len(times)])
			require.NoError(t, err, i)
			_, err = ex.Exec(`INSERT INTO gate_checks (batch_id, row_no, session_id, payout_id, decision, reason, observed,
				confirm_info, tcn, source, hook_id, hook_type, worker, at, hook_seq) VALUES (?, ?, ?, ?, ?, ?, ?, '', '', ?, ?, ?, ?, ?, ?)`,
				batch, i+1, sid, ids[(i+3)%len(ids)], []string{"confirm", "confirm ", "1", "Cancel"}[i%4], long,
				[]string{`{"amount":{"minor":1,"currency":"RUB"},"recipient":"Иван \"}","token":"x"}`, `{"a":"\u0001"}`, `"}"}"}`, ``}[i%4],
				[]string{"webhook", "22", "Webhook", ""}[i%4], []string{hex, hex[:63], hex + "0", strings.ToUpper(hex)}[i%4],
				[]string{"succeeded", "", "ready_to_confirm", "тип"}[i%4], []string{"", "received", "w-1", "процессор"}[i%4], at, int64(i)<<40)
			require.NoError(t, err, i)
			_, err = ex.Exec(`INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt,
				session_id, payout_id, idem_key, error_code, reason, hook_id, hook_type, detail)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				batch, i+1, "queued", []string{"succeeded", "Succeeded", "", "15"}[i%4], at, "webhook", "w-1", i, i,
				sid, strings.Replace(ids[(i+5)%len(ids)], "ps_", "po_", 1), batch+"/"+itoa(i+1)+"/x", "", long[:i], hex, "", "")
			require.NoError(t, err, i)
		}
	}
	dump := func(q interface {
		Query(string, ...any) (*sql.Rows, error)
	}) [][]any {
		var out [][]any
		for _, query := range []string{
			`SELECT session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at,
				typeof(role), typeof(last_status), typeof(first_seen) FROM sessions ORDER BY session_id`,
			`SELECT id, batch_id, row_no, session_id, payout_id, decision, reason, observed, confirm_info, tcn, source, hook_id,
				hook_type, worker, at, hook_seq, typeof(decision), typeof(observed), typeof(hook_id) FROM gate_checks ORDER BY id`,
			`SELECT id, batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt, session_id, payout_id, idem_key,
				error_code, reason, hook_id, hook_type, detail, typeof(session_id), typeof(payout_id) FROM transitions ORDER BY id`,
		} {
			out = append(out, queryAll(t, q, query)...)
		}
		return out
	}
	insertAll(old, "B-1")
	insertAll(old, "Б-2")
	before := dump(old)
	require.NoError(t, old.Close())

	db, w := openMigrated(t, path)
	require.Equal(t, before, dump(db.r), "migrated, the same")
	var ints, texts int
	require.NoError(t, db.r.QueryRow(`SELECT (SELECT count(*) FROM sess WHERE typeof(first) = 'integer')
		+ (SELECT count(*) FROM gates WHERE typeof(hook) = 'blob') + (SELECT count(*) FROM moves WHERE typeof(session_id) = 'integer')`).Scan(&ints))
	require.NoError(t, db.r.QueryRow(`SELECT (SELECT count(*) FROM sess WHERE typeof(first) = 'text')
		+ (SELECT count(*) FROM moves WHERE typeof(session_id) = 'text')`).Scan(&texts))
	require.Positive(t, ints, "some values in their compact forms")
	require.Positive(t, texts, "some kept as text")

	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		for _, q := range []string{`DELETE FROM sessions`, `DELETE FROM gate_checks`, `DELETE FROM transitions`} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, w.Do(ctx, func(tx *Tx) error { insertAll(tx, "B-1"); insertAll(tx, "Б-2"); return nil }))
	after := dump(db.r)
	// The ids of gate_checks and transitions were given anew.
	require.Equal(t, len(before), len(after))
	strip := func(rows [][]any) [][]any {
		var out [][]any
		for _, r := range rows {
			if len(r) > 11 { // gate_checks and transitions: drop the id
				r = r[1:]
			}
			out = append(out, r)
		}
		return out
	}
	require.Equal(t, strip(before), strip(after), "inserted through the views, the same")
}

// TestRev4PackBodyFieldsOverlap: a webhook body packed with its own
// values replaced (body_z format 2) reads back byte for byte whatever
// the values are: equal to each other, inside each other, spanning JSON
// punctuation, absent from the body, Unicode, or the body not JSON at all.
func TestRev4PackBodyFieldsOverlap(t *testing.T) {
	const b = "b8e49914182ec58705f54"
	bodies := []string{
		`{"type":"payment_finished","session":{"id":"ps_12","payments":[{"id":"po_12","metadata":{"payrun":"` + b + `/7","reference":"ps_12"}}]}}`,
		`{"id":"ps_1","x":"ps_12","y":"s_1","z":"` + b + `","w":"` + b + `/7/` + b + `/70"}`,
		`ps_1ps_1ps_1`, ``, `not json: "},"token":" \u0001 ` + b, "Иван \"}\" ps_1 тип",
	}
	fields := [][5]string{
		{b + "/7", b, "ps_12", "po_12", "ps_12"},
		{b + "/7", b, "ps_1", "ps_1", "ps_1"},
		{b + "/70", b, "s_1", "ps_1", `"}`},
		{"", "", "", "", ""},
		{"a/1", "a", "\"", ":", "{"},
		{b + "/7", b, "Иван", "тип", " "},
	}
	for _, body := range bodies {
		for _, f := range fields {
			z := packBody([]byte(body), f)
			got, err := unpackBody(z, f)
			require.NoError(t, err)
			require.Equal(t, body, string(got), "fields %q", f)
		}
	}
}
