package ledger

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/payout"
)

// hookCase is a webhook as the tests of migration 0163 write it.
type hookCase struct {
	id, typ, session, sessStatus, payout, payStatus, recorded string
	batch                                                     any // nil: no ref_batch given
	row                                                       any
}

// hookCases are webhooks with every status the bank documents, statuses it
// does not (kept as text, also one that spells a code), with and without
// a batch, and bodies packed with and without their fields.
var hookCases = func() []hookCase {
	hex := "4be89a9c3004ad17f1fa98cc7ab5db6b49d0460c5aa95a21d862c6cb0e026c91"
	now := formatTime(time.Date(2026, 12, 1, 17, 54, 16, 874107603, time.UTC))
	return []hookCase{
		{hex, "payment_finished", "ps_1", "accepted", "po_2", "succeeded", now, "B-1", 1},
		{"h1", "payment_finished", "ps_3", "cancelled", "po_04", "failed", "2026-12-01T17:54:16Z", "B-1", 2},
		{"h2", "ready_to_confirm", "ps_5", "in_progress", "po_-8", "pending", now, "B-2", 1},
		{"h3", "action_required", "ps_7", "created", "po_8", "in_progress", "1969-12-31T23:59:59.999999999Z", "B-2", 2},
		{"h4", "payment_refunded", "ps_9", "error", "", "", "", "", nil},
		{"h5", "payment_finished", "ps_010", "ACCEPTED", "po_9223372036854775807", "3", "0001-01-01T00:00:00.000000000Z", nil, nil},
		{strings.ToUpper(hex), "new_type", "", "3", "po_99999999999999999999", "weird status", "2026-02-30T00:00:00.000000000Z", "B-3", 7},
		{"h6", "payment_finished", "ps_-12", "", "PO_13", "succeeded", now, "", 5},
	}
}()

func insertHookCases(t *testing.T, ex interface {
	Exec(string, ...any) (sql.Result, error)
}) {
	t.Helper()
	now := formatTime(time.Date(2026, 12, 1, 17, 54, 16, 874107603, time.UTC))
	for i, c := range hookCases {
		_, err := ex.Exec(`INSERT INTO bank_events (hook_id, type, session_id, session_status, payout_id, payout_status,
			amount_minor, currency, fee_minor, fee_currency, error_code, error_text, ref_batch, ref_row, ref_reference,
			stream_seq, received_at, recorded_at, body, body_z)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'RUB', ?, 'RUB', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.id, c.typ, c.session, c.sessStatus, c.payout, c.payStatus, 10000+i, i%2, []string{"", "E1"}[i%2],
			[]string{"", "why"}[i%2], c.batch, c.row, "R-"+strings.Repeat("x", i), i+1, now, c.recorded,
			[]string{"body", ""}[i%2], []any{nil, []byte{1, 2, 3}}[i%2])
		require.NoError(t, err, i)
	}
}

func dumpHooks(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}) [][]any {
	t.Helper()
	out := queryAll(t, q, `SELECT hook_id, type, session_id, session_status, payout_id, payout_status, amount_minor, currency,
		fee_minor, fee_currency, error_code, error_text, ref_batch, ref_row, ref_reference, stream_seq, received_at, recorded_at,
		body, body_z FROM bank_events ORDER BY stream_seq`)
	require.Len(t, out, len(hookCases))
	return out
}

// Migration 0163 keeps every webhook as it read: the batch by its key
// (the empty id as 0, also when a ledger had interned it under another
// key), the statuses by their codes or as text; inserted through the view
// or by the ledger's writer afterwards, the same again.
func TestHookEventsKeys(t *testing.T) {
	ctx := context.Background()
	path, old := ledgerBefore(t, "migrations/0163")
	insertHookCases(t, old)
	// A ledger that had '' as a batch key (no writer does so): its moves
	// read the same, by the key 0.
	_, err := old.Exec(`INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, gen, attempt)
		VALUES ('B-1', 1, 'received', 'queued', '2026-12-01T17:54:16.874107603Z', 'ledger', 1, 0),
		('', 1, 'received', 'queued', '2026-12-01T17:54:16.874107603Z', 'ledger', 1, 0)`)
	require.NoError(t, err)
	before := dumpHooks(t, old)
	moves := queryAll(t, old, `SELECT * FROM transitions ORDER BY id`)
	require.NoError(t, old.Close())

	db, w := openMigrated(t, path)
	require.Equal(t, before, dumpHooks(t, db.r), "migrated, the same")
	require.Equal(t, moves, queryAll(t, db.r, `SELECT * FROM transitions ORDER BY id`), "the transitions too")
	var empty int64
	require.NoError(t, db.r.QueryRow(`SELECT k FROM batch_keys WHERE batch_id = ''`).Scan(&empty))
	require.Zero(t, empty, "'' is the key 0")
	codes := queryAll(t, db.r, `SELECT typeof(sid) || typeof(ss) || typeof(pid) || typeof(ps) || typeof(rec) || typeof(bk)
		FROM hook_events ORDER BY stream_seq`)
	require.Equal(t, [][]any{{"integerintegerintegerintegerintegerinteger"}, {"integerintegertextintegertextinteger"},
		{"integerintegerintegerintegerintegerinteger"}, {"integerintegerintegerintegertextinteger"},
		{"integerintegertexttexttextinteger"}, {"texttextintegertexttextinteger"}, {"texttexttexttexttextinteger"},
		{"integertexttextintegerintegerinteger"}}, codes)

	// Inserted through the view now: the same.
	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM bank_events`)
		return err
	}))
	var left int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM hook_events`).Scan(&left))
	require.Zero(t, left, "deleted through the view")
	require.NoError(t, w.Do(ctx, func(tx *Tx) error { insertHookCases(t, tx); return nil }))
	require.Equal(t, before, dumpHooks(t, db.r), "inserted through the view, the same")
}

// recordHook writes hook_events as the view's trigger does.
func TestHooksWrittenDirectly(t *testing.T) {
	s, _ := newService(t)
	db := s.db
	ctx := context.Background()
	tx := &Tx{db: db, ctx: ctx, Now: db.Now()}
	received := time.Date(2026, 12, 1, 17, 54, 16, 874107603, time.UTC)
	cols := `type, session_id, session_status, payout_id, payout_status, amount_minor, currency, fee_minor, fee_currency,
		error_code, error_text, ref_batch, ref_row, ref_reference, received_at, recorded_at, body, body_z`
	for i, c := range hookCases {
		ev := bankEvent{HookID: "direct-" + c.id, Type: c.typ, SessionID: c.session, SessionStatus: c.sessStatus,
			PayoutID: c.payout, PayoutStatus: c.payStatus, Amount: &bank131.Amount{Amount: int64(100 + i), Currency: "rub"},
			Seq: uint64(100 + i), ReceivedAt: received, Body: []byte(`{"type":"` + c.typ + `"}`)}
		if b, ok := c.batch.(string); ok && b != "" {
			ev.Ref = &payout.BankRef{Batch: b, Row: c.row.(int), Reference: "R-1"}
		}
		require.NoError(t, s.recordHook(tx, ev), i)
		var batch, ref string
		var row any
		if ev.Ref != nil {
			batch, row, ref = ev.Ref.Batch, ev.Ref.Row, ev.Ref.Reference
		}
		var body []byte
		require.NoError(t, db.r.QueryRow(`SELECT body_z FROM bank_events WHERE hook_id = ?`, ev.HookID).Scan(&body))
		_, err := db.wc.ExecContext(ctx, `INSERT INTO bank_events (hook_id, `+cols+`, stream_seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'RUB', NULL, '', '', '', ?, ?, ?, ?, ?, '', ?, ?)`,
			"view-"+c.id, c.typ, c.session, c.sessStatus, c.payout, c.payStatus, 100+i, batch, row, ref,
			formatTime(received), formatTime(tx.Now), body, 1000+i)
		require.NoError(t, err, i)
		require.Equal(t,
			queryAll(t, db.r, `SELECT `+cols+` FROM bank_events WHERE hook_id = ?`, "view-"+c.id),
			queryAll(t, db.r, `SELECT `+cols+` FROM bank_events WHERE hook_id = ?`, ev.HookID), i)
		require.Equal(t,
			queryAll(t, db.r, `SELECT sid, typeof(sid), ss, typeof(ss), pid, typeof(pid), ps, typeof(ps), bk, rec, typeof(rec)
				FROM hook_events WHERE id = (SELECT max(id) FROM hook_events)`),
			queryAll(t, db.r, `SELECT sid, typeof(sid), ss, typeof(ss), pid, typeof(pid), ps, typeof(ps), bk, rec, typeof(rec)
				FROM hook_events WHERE id = (SELECT max(id) - 1 FROM hook_events)`), i)
		got, err := db.HookBody(ctx, ev.HookID)
		require.NoError(t, err)
		require.Equal(t, ev.Body, got, "the body reads back")
	}
}

// The reads of webhooks by batch, row, session and id keep their indexes
// through the view (migration 0163): the batch's key by batch_keys' unique
// index, then the webhooks by the key; the report's finishing webhooks
// from hook_events_finished alone (readHooks' query).
func TestHookEventsPlans(t *testing.T) {
	s, _ := newService(t)
	const cols = `e.session_id, e.type, e.payout_status, e.amount_minor, e.currency, e.error_code, e.stream_seq, e.recorded_at`
	for _, c := range []struct{ query, want string }{
		{finishingHooks, // readHooks' (migration 0173: by the type's code)
			`SEARCH b USING COVERING INDEX sqlite_autoindex_batch_keys_1 (batch_id=?)
SEARCH e USING COVERING INDEX hook_events_finished (bk=? AND ref_row>? AND ref_row<?)
SEARCH b USING COVERING INDEX sqlite_autoindex_batch_keys_1 (batch_id=?)
SEARCH b USING COVERING INDEX sqlite_autoindex_batch_keys_1 (batch_id=?)
SEARCH s USING COVERING INDEX sess_row (bk=? AND row_no>? AND row_no<?)
SEARCH e USING COVERING INDEX hook_events_finished (bk=?)`},
		{`SELECT max(stream_seq) FROM hook_events WHERE sid = ?1 AND ty = ?2`, // schedulePoll's
			`SEARCH hook_events USING INDEX hook_events_session (sid=?)`},
		{`SELECT 1 FROM bank_events e WHERE e.ref_batch = ?1 AND e.ref_row = ?2`,
			`SEARCH b USING COVERING INDEX sqlite_autoindex_batch_keys_1 (batch_id=?)
SEARCH e USING COVERING INDEX hook_events_ref (bk=? AND ref_row=?)`},
		{`SELECT count(*) FROM hook_events WHERE ` + batchEvents,
			`SEARCH main.batch_keys USING COVERING INDEX sqlite_autoindex_batch_keys_1 (batch_id=?)
SEARCH hook_events USING INDEX hook_events_ref (bk=?)
SEARCH b USING COVERING INDEX sqlite_autoindex_batch_keys_1 (batch_id=?)
SEARCH s USING COVERING INDEX sess_row (bk=?)
SEARCH hook_events USING INDEX hook_events_session (sid=?)`},
	} {
		var steps []string
		for _, r := range queryAll(t, s.db.r, `EXPLAIN QUERY PLAN `+c.query, "B-1", 1, 2) {
			if d := r[3].(string); strings.HasPrefix(d, "SEARCH") || strings.HasPrefix(d, "SCAN") {
				steps = append(steps, d)
			}
		}
		require.Equal(t, c.want, strings.Join(steps, "\n"), c.query)
	}
}

// HookBody reads a webhook of a file migrated before 0163 (an archive
// opened read-only is never migrated) as it reads one of this schema.
func TestHookBodyBefore0163(t *testing.T) {
	path, old := ledgerBefore(t, "migrations/0163")
	body := []byte(`{"type":"payment_finished","session":{"id":"ps_1","payments":[{"id":"po_2",` +
		`"metadata":{"payrun":"B-1/3","reference":"R-9"}}]}}`)
	z := packBody(body, bodyFields("B-1", sql.NullInt64{Int64: 3, Valid: true}, "ps_1", "po_2", "R-9"))
	require.Equal(t, byte(packedFieldsV1), z[0])
	_, err := old.Exec(`INSERT INTO bank_events (hook_id, type, session_id, payout_id, ref_batch, ref_row, ref_reference,
		stream_seq, received_at, recorded_at, body_z) VALUES ('h1', 'payment_finished', 'ps_1', 'po_2', 'B-1', 3, 'R-9', 1,
		'2026-12-01T17:54:16.874107603Z', '2026-12-01T17:54:16.874107603Z', ?)`, z)
	require.NoError(t, err)
	require.NoError(t, old.Close())
	adb, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer adb.Close()
	got, err := adb.HookBody(context.Background(), "h1")
	require.NoError(t, err)
	require.Equal(t, body, got)

	db, err := Open(path)
	require.NoError(t, err)
	defer db.Close()
	got, err = db.HookBody(context.Background(), "h1")
	require.NoError(t, err)
	require.Equal(t, body, got, "migrated, the same")
}
