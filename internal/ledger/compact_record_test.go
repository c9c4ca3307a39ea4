package ledger

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// Ids that share their first 8 bytes with hookCases' (the hex one's 8
// bytes, a text id's 8 characters): migration 0170 indexes only those.
var (
	hookTwinHex  = hookCases[0].id[:16] + strings.Repeat("0", 48)
	hookTwinText = "h1234567-twin"
)

// insertHookTwins writes, through bank_events, webhooks whose ids share
// their first 8 bytes with another's: hookCases[0]'s and each other's.
func insertHookTwins(t *testing.T, ex interface {
	Exec(string, ...any) (sql.Result, error)
}) {
	t.Helper()
	for i, id := range []string{hookTwinHex, "h1234567-one", hookTwinText} {
		_, err := ex.Exec(`INSERT INTO bank_events (hook_id, type, session_id, payout_id, ref_batch, ref_row, ref_reference,
			stream_seq, received_at, recorded_at, body) VALUES (?, 'payment_finished', ?, 'po_2', 'B-1', ?, 'R-9', ?,
			'2026-12-01T17:54:16.874107603Z', '2026-12-01T17:54:16.874107603Z', ?)`,
			id, "ps_"+string(rune('1'+i)), 10+i, 100+i, `{"twin":"`+id+`"}`)
		require.NoError(t, err, id)
	}
}

// Migration 0170 keeps every webhook, with its id and values, and the
// id's uniqueness: an id already recorded is refused by the trigger as the
// UNIQUE did, while two ids that share the indexed 8 bytes are both kept,
// found, read and deleted each by its own id.
func TestHookIDPrefix(t *testing.T) {
	ctx := context.Background()
	path, old := ledgerBefore(t, "migrations/0170")
	insertHookCases(t, old)
	insertHookTwins(t, old)
	const dump = `SELECT * FROM bank_events ORDER BY stream_seq`
	before := queryAll(t, old, dump)
	ids := queryAll(t, old, `SELECT id, h FROM hook_events ORDER BY id`)
	require.Len(t, ids, len(hookCases)+3)
	require.NoError(t, old.Close())

	db, w := openMigrated(t, path)
	require.Equal(t, before, queryAll(t, db.r, dump), "migrated, the same")
	require.Equal(t, ids, queryAll(t, db.r, `SELECT id, h FROM hook_events ORDER BY id`), "the same ids")
	var unique int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM pragma_index_list('hook_events') WHERE "unique"`).Scan(&unique))
	require.Zero(t, unique, "no unique index on the whole id")

	// An id recorded before is refused, through the view and directly, as a UNIQUE refused it.
	for _, id := range []string{hookCases[0].id, hookTwinHex, "h1", hookTwinText} {
		err := w.Do(ctx, func(tx *Tx) error {
			_, err := tx.Exec(`INSERT INTO bank_events (hook_id, type, stream_seq, received_at, recorded_at)
				VALUES (?, 'x', 1, '', '')`, id)
			return err
		})
		require.ErrorContains(t, err, "UNIQUE constraint failed: hook_events.h", id)
		err = w.Do(ctx, func(tx *Tx) error {
			_, err := tx.Exec(`UPDATE hook_events SET h = ? WHERE h = 'h2'`, hookKey(id))
			return err
		})
		require.ErrorContains(t, err, "UNIQUE constraint failed: hook_events.h", id)
	}
	// Each twin is found by its own id.
	for _, id := range []string{hookTwinHex, "h1234567-one", hookTwinText} {
		got, err := db.HookBody(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, `{"twin":"`+id+`"}`, string(got), id)
	}
	got, err := db.HookBody(ctx, hookCases[0].id)
	require.NoError(t, err)
	require.Equal(t, "body", string(got))
	_, err = db.HookBody(ctx, hookCases[0].id[:16]+strings.Repeat("1", 48))
	require.ErrorIs(t, err, errNotFound, "a third id of the same prefix is not one of them")

	// Deleted through the view: that id only.
	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM bank_events WHERE hook_id = ?`, hookTwinText)
		return err
	}))
	require.Equal(t, [][]any{{"h1234567-one"}}, queryAll(t, db.r, `SELECT hook_id FROM bank_events WHERE hook_id GLOB 'h1234567*'`))
	require.Len(t, queryAll(t, db.r, `SELECT 1 FROM hook_events WHERE typeof(h) = 'blob' AND substr(h, 1, 8) = ?`,
		hookKey(hookTwinHex).([]byte)[:8]), 2)
}

// recordHook records a webhook once: delivered again it is skipped (no
// second row, no error), and a new id that shares the first 8 bytes of a
// recorded one is recorded beside it.
func TestRecordHookByIDPrefix(t *testing.T) {
	s, _ := newService(t)
	db := s.db
	ctx := context.Background()
	tx := &Tx{db: db, ctx: ctx, Now: db.Now()}
	at := time.Date(2026, 12, 1, 17, 54, 16, 874107603, time.UTC)
	for i, id := range []string{hookCases[0].id, hookTwinHex, hookCases[0].id, "h1234567-one", hookTwinText, hookTwinText} {
		ev := bankEvent{HookID: id, Type: "payment_finished", SessionID: "ps_1", PayoutID: "po_2", PayoutStatus: "succeeded",
			Amount: &bank131.Amount{Amount: 100, Currency: "rub"}, Seq: uint64(1 + i), ReceivedAt: at,
			Ref: &payout.BankRef{Batch: "B-1", Row: 1 + i, Reference: "R-1"}, Body: []byte(`{"id":"` + id + `"}`)}
		require.NoError(t, s.recordHook(tx, ev), i)
	}
	require.Equal(t, [][]any{{hookCases[0].id, int64(1)}, {hookTwinHex, int64(2)}, {"h1234567-one", int64(4)},
		{hookTwinText, int64(5)}}, queryAll(t, db.r, `SELECT hook_id, stream_seq FROM hook_events ORDER BY id`),
		"each id once, as first delivered")
	for _, id := range []string{hookCases[0].id, hookTwinHex, "h1234567-one", hookTwinText} {
		got, err := db.HookBody(ctx, id)
		require.NoError(t, err)
		require.Equal(t, `{"id":"`+id+`"}`, string(got))
	}
	// Every lookup by id goes through the prefix index.
	for _, q := range []string{
		`SELECT 1 FROM hook_events WHERE ` + hookByID("?1"),
		`SELECT e.body FROM hook_events e JOIN batch_keys b ON b.k = e.bk WHERE substr(e.h, 1, 8) = substr(?1, 1, 8) AND e.h = ?1`,
	} {
		plan := queryAll(t, db.r, `EXPLAIN QUERY PLAN `+q, hookKey(hookTwinHex))
		require.Contains(t, plan[0][3], "USING INDEX hook_events_h (<expr>=?)", q)
	}
}

// Migration 0171: a move or gate check names a webhook the ledger holds
// for its row by hook_events' id, any other as before; the views read
// every one as before. Written afterwards through the views, by
// recordGate, or before the webhook is recorded (recordHook puts the id
// in), the same; a webhook deleted gives its id back.
func TestHookRefs(t *testing.T) {
	ctx := context.Background()
	const hexA = "4be89a9c3004ad17f1fa98cc7ab5db6b49d0460c5aa95a21d862c6cb0e026c91"
	hexN := strings.Repeat("ab", 32)
	path, old := ledgerBefore(t, "migrations/0171")
	hook := func(ex interface {
		Exec(string, ...any) (sql.Result, error)
	}, id, batch string, row, seq int) {
		_, err := ex.Exec(`INSERT INTO bank_events (hook_id, type, session_id, ref_batch, ref_row, stream_seq, received_at,
			recorded_at, body) VALUES (?, 'payment_finished', 'ps_1', ?, ?, ?, '2026-12-01T17:54:16.874107603Z',
			'2026-12-01T17:54:16.874107603Z', 'body')`, id, batch, row, seq)
		require.NoError(t, err, id)
	}
	move := func(ex interface {
		Exec(string, ...any) (sql.Result, error)
	}, row int, id string) {
		_, err := ex.Exec(`INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt,
			session_id, payout_id, idem_key, error_code, reason, hook_id, hook_type, detail) VALUES ('B-1', ?, 'payout_started',
			'succeeded', '2026-12-01T17:54:16.874107603Z', 'webhook', 'w-1', 1, 0, 'ps_1', 'po_2', '', '', '', ?, 'payment_finished', '')`,
			row, id)
		require.NoError(t, err, id)
	}
	gate := func(ex interface {
		Exec(string, ...any) (sql.Result, error)
	}, row int, id string) {
		_, err := ex.Exec(`INSERT INTO gate_checks (batch_id, row_no, session_id, payout_id, decision, reason, observed,
			confirm_info, tcn, source, hook_id, hook_type, worker, at, hook_seq) VALUES ('B-1', ?, 'ps_1', 'po_2', 'confirm', '', '{}',
			'', '', 'webhook', ?, 'ready_to_confirm', 'w-1', '2026-12-01T17:54:16.874107603Z', 0)`, row, id)
		require.NoError(t, err, id)
	}
	hook(old, hexA, "B-1", 1, 1)
	hook(old, "t-1", "B-1", 1, 2)
	hook(old, "t-2", "", 0, 3) // names no row
	for _, id := range []string{hexA, "t-1", "t-2", strings.ToUpper(hexA), "unknown", ""} {
		move(old, 1, id)
		gate(old, 1, id)
	}
	move(old, 2, hexA) // another row's webhook
	gate(old, 2, hexA)
	const dumpT = `SELECT * FROM transitions ORDER BY id`
	const dumpG = `SELECT * FROM gate_checks ORDER BY id`
	beforeT, beforeG := queryAll(t, old, dumpT), queryAll(t, old, dumpG)
	require.NoError(t, old.Close())

	db, w := openMigrated(t, path)
	require.Equal(t, beforeT, queryAll(t, db.r, dumpT), "migrated, the same")
	require.Equal(t, beforeG, queryAll(t, db.r, dumpG), "migrated, the same")
	const forms = `SELECT typeof(hook) FROM %s ORDER BY id`
	want := [][]any{{"integer"}, {"integer"}, {"text"}, {"text"}, {"text"}, {"text"}, {"blob"}}
	require.Equal(t, want, queryAll(t, db.r, strings.Replace(forms, "%s", "moves", 1)), "by the id: row 1's recorded webhooks")
	require.Equal(t, want, queryAll(t, db.r, strings.Replace(forms, "%s", "gates", 1)))

	// Through the views and by recordGate now: the same forms.
	s := NewService(db, testConfig())
	defer s.Close()
	tx := &Tx{db: db, ctx: ctx, Now: db.Now()}
	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		move(tx, 1, hexA)
		gate(tx, 1, hexA)
		move(tx, 2, "t-1")
		return nil
	}))
	r := &rowRec{Batch: "B-1", Row: 1}
	require.NoError(t, s.recordGate(tx, r, &ledgerapi.GateRequest{SessionID: "ps_1", Worker: "w-1",
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookID: "t-1", HookType: "ready_to_confirm"}}, ledgerapi.DecisionConfirm, ""))
	require.NoError(t, s.recordGate(tx, &rowRec{Batch: "B-1", Row: 2}, &ledgerapi.GateRequest{SessionID: "ps_1", Worker: "w-1",
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookID: hexA, HookType: "ready_to_confirm"}}, ledgerapi.DecisionConfirm, ""))
	require.Equal(t, [][]any{{"integer", hexA}, {"text", "t-1"}},
		queryAll(t, db.r, `SELECT typeof(m.hook), t.hook_id FROM moves m JOIN transitions t ON t.id = m.id WHERE m.id > 7 ORDER BY m.id`))
	require.Equal(t, [][]any{{"integer", hexA}, {"integer", "t-1"}, {"blob", hexA}},
		queryAll(t, db.r, `SELECT typeof(g.hook), c.hook_id FROM gates g JOIN gate_checks c ON c.id = g.id WHERE g.id > 7 ORDER BY g.id`))

	// A move and a gate check written before their webhook is recorded:
	// by the id once recordHook records it; another row's stays.
	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		move(tx, 1, hexN)
		gate(tx, 1, hexN)
		move(tx, 3, hexN)
		return nil
	}))
	require.NoError(t, s.recordHook(tx, bankEvent{HookID: hexN, Type: "payment_finished", SessionID: "ps_1", Seq: 9,
		Ref: &payout.BankRef{Batch: "B-1", Row: 1, Reference: "R-1"}, Body: []byte(`{}`)}))
	require.Equal(t, [][]any{{"integer", hexN}, {"blob", hexN}},
		queryAll(t, db.r, `SELECT typeof(m.hook), t.hook_id FROM moves m JOIN transitions t ON t.id = m.id WHERE t.hook_id = ? ORDER BY m.id`, hexN))
	require.Equal(t, [][]any{{"integer", hexN}},
		queryAll(t, db.r, `SELECT typeof(g.hook), c.hook_id FROM gates g JOIN gate_checks c ON c.id = g.id WHERE c.hook_id = ?`, hexN))

	// A webhook deleted: its moves and gate checks keep its id, as bytes.
	beforeT, beforeG = queryAll(t, db.r, dumpT), queryAll(t, db.r, dumpG)
	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM bank_events WHERE hook_id IN (?, 't-1')`, hexA)
		return err
	}))
	require.Equal(t, beforeT, queryAll(t, db.r, dumpT), "the same after the webhooks went")
	require.Equal(t, beforeG, queryAll(t, db.r, dumpG), "the same after the webhooks went")
	var ints int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM moves m WHERE typeof(hook) = 'integer'
		AND NOT EXISTS (SELECT 1 FROM hook_events e WHERE e.id = m.hook)`).Scan(&ints))
	require.Zero(t, ints, "no move names a webhook that is gone")
}

// Migration 0172 keeps every move's idempotency key as it read: the
// processor's forms by their codes, any other as before; inserted through
// the view afterwards, the same codes and the same text.
func TestMovesIdemCodes(t *testing.T) {
	ctx := context.Background()
	path, old := ledgerBefore(t, "migrations/0172")
	cases := []struct{ session, key, form string }{
		{"", "B-1/1/a0/create", "integer"},
		{"ps_7", "B-1/1/a0/start", "integer"},
		{"", "B-1/1/a12/init", "integer"},
		{"", "B-1/1/init", "integer"},
		{"ps_3230448", "B-1/1/ps_3230448/confirm", "integer"},
		{"ps_3230448", "B-1/1/ps_3230448/cancel", "integer"},
		{"ps_9", "B-1/1/ps_3230448/confirm", "blob"}, // another session's
		{"ps_09", "B-1/1/ps_09/confirm", "blob"},     // a session kept as text
		{"", "B-1/1/a01/create", "blob"},
		{"", "B-1/1/a-1/start", "blob"},
		{"", "B-1/1/a/create", "blob"},
		{"", "B-1/1/a99999999999999999999/create", "blob"},
		{"", "B-1/1/a9223372036854775807/create", "blob"},
		{"", "B-1/1/a1152921504606846975/create", "blob"},
		{"", "B-1/1/a123/start ", "blob"},
		{"", "B-1/1/a5/cancel", "blob"},
		{"", "B-1/1/", "blob"},
		{"", "B-1/10/a0/create", "text"}, // another row's
		{"", "other-key", "text"},
		{"", "", "text"},
	}
	insert := func(ex interface {
		Exec(string, ...any) (sql.Result, error)
	}) {
		for i, c := range cases {
			_, err := ex.Exec(`INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt,
				session_id, payout_id, idem_key, error_code, reason, hook_id, hook_type, detail) VALUES ('B-1', 1, 'claimed',
				'opening', '2026-12-01T17:54:16.874107603Z', 'processor', 'w-1', 1, 0, ?, '', ?, '', '', '', '', '')`, c.session, c.key)
			require.NoError(t, err, i)
		}
	}
	insert(old)
	const dump = `SELECT batch_id, row_no, session_id, idem_key FROM transitions ORDER BY id`
	before := queryAll(t, old, dump)
	require.NoError(t, old.Close())

	db, w := openMigrated(t, path)
	require.Equal(t, before, queryAll(t, db.r, dump), "migrated, the same")
	forms := queryAll(t, db.r, `SELECT typeof(idem), idem FROM moves ORDER BY id`)
	for i, c := range cases {
		require.Equal(t, c.form, forms[i][0], c.key)
	}
	require.Equal(t, []any{int64(1), int64(2), int64(12*8 + 3), int64(4), int64(5), int64(6)},
		[]any{forms[0][1], forms[1][1], forms[2][1], forms[3][1], forms[4][1], forms[5][1]})

	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM transitions`)
		if err == nil {
			insert(tx)
		}
		return err
	}))
	require.Equal(t, before, queryAll(t, db.r, dump), "inserted through the view, the same")
	require.Equal(t, forms, queryAll(t, db.r, `SELECT typeof(idem), idem FROM moves ORDER BY id`), "and stored the same")
}

// Migration 0173 keeps every webhook's type as it read (the bank's four
// types by their codes, any other as text); recordHook and the view's
// trigger write the same; readHooks reads the same finishing webhooks from
// a file before it (through bank_events) and after (by the code).
func TestHookTypeCodes(t *testing.T) {
	ctx := context.Background()
	for _, typ := range []bank131.WebhookType{bank131.HookReadyToConfirm, bank131.HookPaymentFinished,
		bank131.HookPaymentRefunded, bank131.HookActionRequired} {
		require.IsType(t, 0, hookTypeKey(string(typ)), typ)
	}
	path, old := ledgerBefore(t, "migrations/0173")
	insertHookCases(t, old)
	insertHookTwins(t, old)
	// A finishing webhook that names no batch, found by its session.
	_, err := old.Exec(`INSERT INTO sessions (session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at)
		VALUES ('ps_9', 'B-1', 4, 0, 'row', '', '2026-12-01T17:54:16.874107603Z', '2026-12-01T17:54:16.874107603Z')`)
	require.NoError(t, err)
	const dump = `SELECT * FROM bank_events ORDER BY stream_seq`
	before := queryAll(t, old, dump)
	read := func(d *sql.DB, batch string) []chunkHook {
		sc := &batchScan{q: d, batch: batch}
		hooks, err := sc.readHooks(ctx, 0, 100)
		require.NoError(t, err)
		return hooks
	}
	hooksBefore := map[string][]chunkHook{}
	for _, b := range []string{"B-1", "B-2", "B-3"} {
		hooksBefore[b] = read(old, b)
	}
	require.Len(t, hooksBefore["B-1"], 2+3+1, "B-1's finishing webhooks: two, the twins, the one by session")
	require.NoError(t, old.Close())

	adb, err := OpenReadOnly(path) // never migrated: read through bank_events
	require.NoError(t, err)
	require.Equal(t, hooksBefore["B-1"], read(adb.r, "B-1"), "readHooks on a file before 0173")
	require.NoError(t, adb.Close())

	db, w := openMigrated(t, path)
	require.Equal(t, before, queryAll(t, db.r, dump), "migrated, the same")
	for b, want := range hooksBefore {
		require.Equal(t, want, read(db.r, b), b)
	}
	require.Equal(t, [][]any{{"integer", int64(1), "ready_to_confirm"}, {"integer", int64(2), "payment_finished"},
		{"integer", int64(3), "payment_refunded"}, {"integer", int64(4), "action_required"}, {"text", "new_type", "new_type"}},
		queryAll(t, db.r, `SELECT DISTINCT typeof(ty), ty, type FROM hook_events ORDER BY typeof(ty), ty`))

	// Written again through the view and by recordHook: the same.
	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM bank_events`)
		if err == nil {
			insertHookCases(t, tx)
			insertHookTwins(t, tx)
		}
		return err
	}))
	require.Equal(t, before, queryAll(t, db.r, dump), "inserted through the view, the same")
	s := NewService(db, testConfig())
	defer s.Close()
	tx := &Tx{db: db, ctx: ctx, Now: db.Now()}
	for i, typ := range []string{"ready_to_confirm", "payment_finished", "payment_refunded", "action_required", "new_type", "2"} {
		require.NoError(t, s.recordHook(tx, bankEvent{HookID: "typed-" + typ, Type: typ, Seq: uint64(500 + i), Body: []byte(`{}`)}))
	}
	require.Equal(t, [][]any{{"integer", int64(1)}, {"integer", int64(2)}, {"integer", int64(3)}, {"integer", int64(4)},
		{"text", "new_type"}, {"text", "2"}},
		queryAll(t, db.r, `SELECT typeof(ty), ty FROM hook_events WHERE stream_seq >= 500 ORDER BY stream_seq`))
	require.Equal(t, [][]any{{"payment_finished"}}, queryAll(t, db.r, `SELECT type FROM bank_events WHERE hook_id = 'typed-payment_finished'`))
}

// Migration 0174 keeps every gate check's session and payout ids as they
// read, the bank's forms as integers; the view's trigger writes the same.
func TestGatesIDs(t *testing.T) {
	ctx := context.Background()
	path, old := ledgerBefore(t, "migrations/0174")
	ids := []struct {
		session, payout string
		form            string
	}{{"ps_1", "po_2", "integerinteger"}, {"ps_3230448", "", "integertext"}, {"ps_01", "po_0", "textinteger"},
		{"ps_", "po_x", "texttext"}, {"PS_5", "po_-3", "textinteger"}, {"ps_99999999999999999999", "po_1.5", "texttext"},
		{"ps_ 7", "po_7 ", "texttext"}, {"", "po_9223372036854775807", "textinteger"}}
	insert := func(ex interface {
		Exec(string, ...any) (sql.Result, error)
	}) {
		for i, c := range ids {
			_, err := ex.Exec(`INSERT INTO gate_checks (batch_id, row_no, session_id, payout_id, decision, reason, observed,
				confirm_info, tcn, source, hook_id, hook_type, worker, at, hook_seq) VALUES ('B-1', ?, ?, ?, 'confirm', '', '{}',
				'', '', 'webhook', '', '', 'w-1', '2026-12-01T17:54:16.874107603Z', 0)`, i+1, c.session, c.payout)
			require.NoError(t, err, i)
		}
	}
	insert(old)
	const dump = `SELECT * FROM gate_checks ORDER BY id`
	before := queryAll(t, old, dump)
	require.NoError(t, old.Close())

	db, w := openMigrated(t, path)
	require.Equal(t, before, queryAll(t, db.r, dump), "migrated, the same")
	forms := func() []string {
		var out []string
		for _, r := range queryAll(t, db.r, `SELECT typeof(session_id) || typeof(payout_id) FROM gates ORDER BY id`) {
			out = append(out, r[0].(string))
		}
		return out
	}
	var want []string
	for _, c := range ids {
		want = append(want, c.form)
	}
	require.Equal(t, want, forms())
	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM gate_checks`)
		if err == nil {
			insert(tx)
		}
		return err
	}))
	require.Equal(t, want, forms(), "through the view, the same forms")
	require.Equal(t, len(before), len(queryAll(t, db.r, dump)))
}

// Migration 0175 keeps every move's time as it read, relative to its
// batch's t0 (the batch's first move's); a time kept as text stays text.
// Written afterwards through the view (a new batch's t0 its first move's
// time) and by a release (keysForMoves), the same times.
func TestMovesTimeOffset(t *testing.T) {
	ctx := context.Background()
	path, old := ledgerBefore(t, "migrations/0175")
	times := []string{"2026-12-01T17:54:16.874107603Z", "2026-12-01T17:54:16.000000001Z", "2026-12-03T17:54:16.874107603Z",
		"2026-11-01T00:00:00.000000000Z", "1970-01-01T00:00:00.000000000Z", "", "2026-12-01T17:54:16Z",
		"2026-02-30T00:00:00.000000000Z", "2262-01-01T00:00:00.000000000Z"}
	insert := func(ex interface {
		Exec(string, ...any) (sql.Result, error)
	}, batch string) {
		for i, at := range times {
			_, err := ex.Exec(`INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt,
				session_id, payout_id, idem_key, error_code, reason, hook_id, hook_type, detail) VALUES (?, ?, 'claimed',
				'opening', ?, 'processor', 'w-1', 1, 0, '', '', '', '', '', '', '', '')`, batch, i+1, at)
			require.NoError(t, err, at)
		}
	}
	insert(old, "B-1")
	insert(old, "B-2")
	const dump = `SELECT * FROM transitions ORDER BY id`
	before := queryAll(t, old, dump)
	require.NoError(t, old.Close())

	db, w := openMigrated(t, path)
	require.Equal(t, before, queryAll(t, db.r, dump), "migrated, the same")
	first := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	require.Equal(t, [][]any{{"", int64(0)}, {"B-1", first}, {"B-2", first}},
		queryAll(t, db.r, `SELECT batch_id, t0 FROM batch_keys ORDER BY k`), "t0: each batch's first move")
	require.Equal(t, [][]any{{"integer", int64(6)}, {"text", int64(3)}},
		queryAll(t, db.r, `SELECT typeof(t), count(*) FROM moves WHERE bk = 1 GROUP BY 1 ORDER BY 1`))

	// A new batch through the view: its t0 the first move's time; its
	// moves' times a few bytes.
	require.NoError(t, w.Do(ctx, func(tx *Tx) error { insert(tx, "B-3"); return nil }))
	got := queryAll(t, db.r, `SELECT from_state, to_state, at FROM transitions WHERE batch_id = 'B-3' ORDER BY id`)
	want := queryAll(t, db.r, `SELECT from_state, to_state, at FROM transitions WHERE batch_id = 'B-1' ORDER BY id`)
	require.Equal(t, want, got, "through the view, the same times")
	t0 := time.Date(2026, 12, 1, 17, 54, 16, 874107603, time.UTC).UnixNano()
	require.Equal(t, [][]any{{t0, int64(0)}}, queryAll(t, db.r, `SELECT b.t0, m.t FROM batch_keys b JOIN moves m ON m.bk = b.k
		WHERE b.batch_id = 'B-3' AND m.row_no = 1`))

	// A release's moves (movesSelect with keysForMoves' time): the same
	// time read back, relative to the batch's t0.
	at := time.Date(2026, 12, 1, 18, 0, 0, 123456789, time.UTC)
	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		tx.Now = at
		for _, batch := range []string{"B-3", "B-new"} {
			keys, err := keysForMoves(tx, batch, at, "ledger", "", "released")
			if err != nil {
				return err
			}
			if _, err := tx.Exec(movesInsert+movesSelect("'received'", "'queued'", "1", "''")+
				` FROM (SELECT 1 AS row_no, 0 AS attempt)`, keys...); err != nil {
				return err
			}
		}
		return nil
	}))
	require.Equal(t, [][]any{{"B-3", formatTime(at), at.UnixNano() - t0}, {"B-new", formatTime(at), int64(0)}},
		queryAll(t, db.r, `SELECT t.batch_id, t.at, m.t FROM transitions t JOIN moves m ON m.id = t.id WHERE t.detail = 'released' ORDER BY t.id`))
}
