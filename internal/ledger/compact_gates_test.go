package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
)

// The sessions and gate checks of a ledger migrated before 0160 and 0161
// read the same after them, through the views, value for value, and so do
// those inserted through the views afterwards: each compact form, and the
// text kept where a value has none (odd times, roles, statuses, decisions,
// sources, ids, observed texts).
func TestCompactSessionsAndGates(t *testing.T) {
	ctx := context.Background()
	path, old := ledgerBefore(t, "migrations/0160")
	var err error
	// Rows for the sessions' foreign key in the old table.
	_, err = old.Exec(`PRAGMA foreign_keys = OFF`)
	require.NoError(t, err)

	const hex = "4be89a9c3004ad17f1fa98cc7ab5db6b49d0460c5aa95a21d862c6cb0e026c91"
	now := formatTime(time.Date(2026, 12, 1, 17, 54, 16, 874107603, time.UTC))
	card, err := json.Marshal(ledgerapi.Observed{Amount: money.New(10100, "RUB"), Recipient: "Ivan Petrov", Token: "tok_1"})
	require.NoError(t, err)
	fx, err := json.Marshal(ledgerapi.Observed{Amount: money.New(357912, "RUB"), Last4: "4242", FXRate: "0.0111",
		Commission: &money.Amount{Minor: 2500, Currency: "RUB"}, Source: &money.Amount{Minor: 357913, Currency: "RUB"},
		Destination: &money.Amount{Minor: 4000, Currency: "EUR"}})
	require.NoError(t, err)
	odd := []struct{ at, role, status, decision, source, hook, hookType, worker, observed string }{
		{now, "row", "succeeded", "confirm", "webhook", hex, "ready_to_confirm", "w-1", string(card)},
		{now, "abandoned", "", "cancel", "processor", "", "", "", string(fx)},
		{now, "foreign", "ready_to_confirm", "ignore", "status", strings.ToUpper(hex), "new_type", "w-2", `{}`},
		{"", "cancelled", "weird", "wait", "", hex[:63], "", "", ""},
		{"0001-01-01T00:00:00.000000000Z", "", "failed", "maybe", "mystery", "old", "", "w-1", "not json \x03 with a phrase byte"},
		{"1969-12-31T23:59:59.999999999Z", "someone", "in_doubt", "confirm", "operator", "", "", "", `{"amount":{"minor":1,"currency":"RUB"}}` + "\x01"},
		{"2026-02-30T00:00:00.000000000Z", "row", "returned", "cancel", "report", "", "", "", `{"amount":{"minor":1,"currency":"RUB"},"x":"\"},"}`},
		{"2026-12-01T17:54:16Z", "row", "queued", "confirm", "sweeper", "", "", "", `[1,2]`},
	}
	insertAll := func(ex interface {
		Exec(string, ...any) (sql.Result, error)
	}, batch string) {
		for i, o := range odd {
			_, err := ex.Exec(`INSERT INTO sessions (session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, batch+"-ps_"+o.at+"_"+string(rune('a'+i)), batch, i+1, i, o.role, o.status, o.at, now)
			require.NoError(t, err, i)
			_, err = ex.Exec(`INSERT INTO gate_checks (batch_id, row_no, session_id, payout_id, decision, reason, observed,
				confirm_info, tcn, source, hook_id, hook_type, worker, at, hook_seq) VALUES (?, ?, 'ps_1', 'po_2', ?, 'why', ?, '{"c":1}',
				'tcn-1', ?, ?, ?, ?, ?, ?)`, batch, i+1, o.decision, o.observed, o.source, o.hook, o.hookType, o.worker, o.at, i)
			require.NoError(t, err, i)
		}
		// The gate's and the old writer's form: the columns not named read ''.
		_, err := ex.Exec(`INSERT INTO gate_checks (batch_id, row_no, session_id, decision, observed, at)
			VALUES (?, 99, 'ps_9', 'confirm', '{}', ?)`, batch, now)
		require.NoError(t, err)
	}
	insertAll(old, "B-1")
	insertAll(old, "B-2")
	before := dumpSessionsAndGates(t, old)
	require.NoError(t, old.Close())

	db, w := openMigrated(t, path)
	require.Equal(t, before, dumpSessionsAndGates(t, db.r), "migrated, the same")
	var texts int
	require.NoError(t, db.r.QueryRow(`SELECT (SELECT count(*) FROM sess WHERE typeof(first) = 'text')
		+ (SELECT count(*) FROM gates WHERE typeof(t) = 'text')`).Scan(&texts))
	require.Equal(t, 2*2*5, texts, "the times without an exact integer kept as text")
	var kept int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM gates WHERE typeof(observed) = 'text'`).Scan(&kept))
	require.Equal(t, 2*2, kept, "an observed text holding a phrase's byte kept as text")
	var compact int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM gates WHERE typeof(observed) = 'blob' AND length(observed) < 40
		AND hook_type <> 0 AND typeof(hook) = 'blob' AND typeof(src) = 'integer' AND typeof(decision) = 'integer'`).Scan(&compact))
	require.Equal(t, 2, compact, "the card's observed JSON, hook id, source and decision compact")

	// Inserted through the views now: the same as the old tables gave.
	require.NoError(t, w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM sessions`)
		if err == nil {
			_, err = tx.Exec(`DELETE FROM gate_checks`)
		}
		return err
	}))
	var left int
	require.NoError(t, db.r.QueryRow(`SELECT (SELECT count(*) FROM sess) + (SELECT count(*) FROM gates)`).Scan(&left))
	require.Zero(t, left, "deleted through the views")
	require.NoError(t, w.Do(ctx, func(tx *Tx) error { insertAll(tx, "B-1"); insertAll(tx, "B-2"); return nil }))
	require.Equal(t, before, dumpSessionsAndGates(t, db.r), "inserted through the views, the same")
}

// TestGatesWrittenDirectly: recordSession and recordGate write sess and
// gates directly; what they write is what the views' triggers write for
// the same values, value for value and type for type, and the views read
// it back as given.
func TestGatesWrittenDirectly(t *testing.T) {
	s, _ := newService(t)
	db := s.db
	ctx := context.Background()
	tx := &Tx{db: db, ctx: ctx, Now: db.Now()}
	at := formatTime(tx.Now)
	const hex = "4be89a9c3004ad17f1fa98cc7ab5db6b49d0460c5aa95a21d862c6cb0e026c91"
	observed := []ledgerapi.Observed{
		{Amount: money.New(10100, "RUB"), Recipient: "Ivan Petrov", Token: "tok_1"},
		{Amount: money.New(10100, "RUB"), Last4: "4242"},
		{Amount: money.New(357912, "RUB"), Recipient: `a "},"token":" b`, Last4: "4242", FXRate: "0.0111",
			Commission: &money.Amount{Minor: 2500, Currency: "RUB"}, Source: &money.Amount{Minor: 357913, Currency: "RUB"},
			Destination: &money.Amount{Minor: 4000, Currency: "EUR"}},
		{Recipient: "\x03 odd"},
	}
	cases := []struct {
		role, status string
		decision     ledgerapi.Decision
		source       ledgerapi.Source
		hook, typ    string
	}{
		{roleRow, "succeeded", ledgerapi.DecisionConfirm, ledgerapi.SourceWebhook, hex, "ready_to_confirm"},
		{roleCancelled, "ready_to_confirm", ledgerapi.DecisionCancel, ledgerapi.SourceProcessor, "", ""},
		{roleForeign, "", ledgerapi.DecisionWait, ledgerapi.Source("elsewhere"), "hook-1", "another_type"},
		{"", "payout_started", ledgerapi.Decision("later"), ledgerapi.SourceStatus, strings.ToUpper(hex), ""},
	}
	sessCols := `bk, attempt, role, typeof(role), status, typeof(status), first, typeof(first), updated`
	gateCols := `bk, row_no, session_id, payout_id, decision, typeof(decision), reason, observed, typeof(observed), confirm_info,
		tcn, src, typeof(src), hook, typeof(hook), hook_type, worker, t, typeof(t), hook_seq`
	read := func(q string, n int, arg any) []any {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, db.r.QueryRow(q, arg).Scan(ptrs...))
		return vals
	}
	for i, c := range cases {
		viaView, direct := 2*i+1, 2*i+2
		obs, err := json.Marshal(observed[i])
		require.NoError(t, err)
		_, err = db.wc.ExecContext(ctx, `INSERT INTO sessions (session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at)
			VALUES (?, 'B-direct', ?, 2, ?, ?, ?, ?)`, "ps_v"+string(rune('a'+i)), viaView, c.role, c.status, at, at)
		require.NoError(t, err)
		require.NoError(t, recordSession(tx, "ps_d"+string(rune('a'+i)), "B-direct", direct, 2, c.role, c.status))
		require.Equal(t, read(`SELECT `+sessCols+` FROM sess WHERE row_no = ?`, 9, viaView),
			read(`SELECT `+sessCols+` FROM sess WHERE row_no = ?`, 9, direct), c.role)

		_, err = db.wc.ExecContext(ctx, `INSERT INTO gate_checks (batch_id, row_no, session_id, payout_id, decision, reason, observed,
			confirm_info, tcn, source, hook_id, hook_type, worker, at, hook_seq) VALUES ('B-direct', ?, 'ps_1', 'po_2', ?, 'why', ?,
			'{"c":1}', 'tcn-1', ?, ?, ?, 'w-1', ?, 7)`, viaView, string(c.decision), string(obs), string(c.source), c.hook, c.typ, at)
		require.NoError(t, err)
		r := &rowRec{Batch: "B-direct", Row: direct}
		g := &ledgerapi.GateRequest{SessionID: "ps_1", PayoutID: "po_2", Observed: observed[i], ConfirmInfo: json.RawMessage(`{"c":1}`),
			TCN: "tcn-1", Worker: "w-1", Evidence: ledgerapi.Evidence{Source: c.source, HookID: c.hook, HookType: c.typ, HookSeq: 7}}
		require.NoError(t, s.recordGate(tx, r, g, c.decision, "why"))
		v, d := read(`SELECT `+gateCols+` FROM gates WHERE row_no = ?`, 20, viaView), read(`SELECT `+gateCols+` FROM gates WHERE row_no = ?`, 20, direct)
		require.Equal(t, int64(viaView), v[1])
		v[1] = d[1]
		require.Equal(t, v, d, string(c.decision))

		var decision, gotObs, source, hookID, hookType, worker, gotAt string
		require.NoError(t, db.r.QueryRow(`SELECT decision, observed, source, hook_id, hook_type, worker, at FROM gate_checks
			WHERE batch_id = 'B-direct' AND row_no = ?`, direct).Scan(&decision, &gotObs, &source, &hookID, &hookType, &worker, &gotAt))
		require.Equal(t, []string{string(c.decision), string(obs), string(c.source), c.hook, c.typ, "w-1", at},
			[]string{decision, gotObs, source, hookID, hookType, worker, gotAt})
		var role, status, first string
		require.NoError(t, db.r.QueryRow(`SELECT role, last_status, first_seen FROM sessions WHERE batch_id = 'B-direct' AND row_no = ?`,
			direct).Scan(&role, &status, &first))
		require.Equal(t, []string{c.role, c.status, at}, []string{role, status, first})
	}
	// The codes in Go are move_names' (migration 0140).
	for name, k := range stateKeys {
		var got string
		require.NoError(t, db.r.QueryRow(`SELECT name FROM move_names WHERE k = ?`, k).Scan(&got))
		require.Equal(t, name, got)
	}
	for src, k := range sourceKeys {
		var got string
		require.NoError(t, db.r.QueryRow(`SELECT name FROM move_names WHERE k = ?`, k).Scan(&got))
		require.Equal(t, string(src), got)
	}
}

// dumpSessionsAndGates reads every session and gate check as the old
// tables had them.
func dumpSessionsAndGates(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}) [][]any {
	t.Helper()
	var out [][]any
	for _, query := range []string{
		`SELECT session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at FROM sessions ORDER BY session_id`,
		`SELECT id, batch_id, row_no, session_id, payout_id, decision, reason, observed, confirm_info, tcn, source, hook_id,
			hook_type, worker, at, hook_seq FROM gate_checks ORDER BY id`,
	} {
		out = append(out, queryAll(t, q, query)...)
	}
	require.NotEmpty(t, out)
	return out
}

// BenchmarkSessionAndGateWrites: what one paid two-step payout writes of
// sessions and gate checks (the session adopted, then its status twice,
// one gate decision), into the tables as they were before 0160 and 0161
// (their statements as they were) and into sess and gates (recordSession,
// recordGate), in one transaction of b.N payouts.
func BenchmarkSessionAndGateWrites(b *testing.B) {
	obs := ledgerapi.Observed{Amount: money.New(10100, "RUB"), Recipient: "Ivan Petrov", Token: "tok_f1"}
	const hookID = "3c86cdd4b7b51b0b21f06c6f1f830a11eb2d051b6423ca12a636dc6f440df1ac"
	for _, c := range []struct{ name, upTo string }{{"tables0159", "migrations/0160"}, {"compact", "migrations/9999"}} {
		b.Run(c.name, func(b *testing.B) {
			raw := rawLedgerBefore(b, c.upTo)
			conn, err := raw.Conn(context.Background())
			require.NoError(b, err)
			defer conn.Close()
			_, err = conn.ExecContext(context.Background(), `BEGIN`)
			require.NoError(b, err)
			db := &DB{wc: conn, stmts: map[string]*sql.Stmt{}}
			defer func() {
				for _, s := range db.stmts {
					s.Close()
				}
			}()
			tx := &Tx{db: db, ctx: context.Background(), Now: newClock().Now()}
			s := &Service{}
			// The statements as they were before 0160 and 0161.
			oldSession := func(session, batch string, row, attempt int, role, status string) {
				now := formatTime(tx.Now)
				_, err := tx.Exec(`INSERT INTO sessions (session_id, batch_id, row_no, attempt, role, last_status, first_seen, updated_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET
					role = CASE WHEN excluded.role = '' THEN role ELSE excluded.role END,
					last_status = CASE WHEN excluded.last_status = '' THEN last_status ELSE excluded.last_status END,
					updated_at = excluded.updated_at
					WHERE batch_id = excluded.batch_id AND row_no = excluded.row_no`, session, batch, row, attempt, role, status, now, now)
				require.NoError(b, err)
			}
			oldGate := func(r *rowRec, g *ledgerapi.GateRequest, decision ledgerapi.Decision, reason string) {
				obs, _ := json.Marshal(g.Observed)
				_, err := tx.Exec(`INSERT INTO gate_checks (batch_id, row_no, session_id, payout_id, decision, reason, observed,
					confirm_info, tcn, source, hook_id, hook_type, worker, at, hook_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					r.Batch, r.Row, g.SessionID, g.PayoutID, string(decision), reason, string(obs), string(g.ConfirmInfo), g.TCN,
					string(g.Evidence.Source), g.Evidence.HookID, g.Evidence.HookType, g.Worker, formatTime(tx.Now), int64(g.Evidence.HookSeq))
				require.NoError(b, err)
			}
			const batch = "b133b0bf4be6354cbccdd"
			cpu0 := processCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				session := fmt.Sprintf("ps_%d", 157901000000+i)
				r := &rowRec{Batch: batch, Row: i + 1}
				g := &ledgerapi.GateRequest{SessionID: session, PayoutID: "po_1", Observed: obs, Worker: "w-test",
					Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookID: hookID, HookType: "ready_to_confirm", HookSeq: uint64(i)}}
				if c.name == "tables0159" {
					oldSession(session, batch, i+1, 0, roleRow, "")
					oldSession(session, batch, i+1, 0, "", "payout_started")
					oldGate(r, g, ledgerapi.DecisionConfirm, "")
					oldSession(session, batch, i+1, 0, "", "succeeded")
					continue
				}
				require.NoError(b, recordSession(tx, session, batch, i+1, 0, roleRow, ""))
				require.NoError(b, recordSession(tx, session, batch, i+1, 0, "", "payout_started"))
				require.NoError(b, s.recordGate(tx, r, g, ledgerapi.DecisionConfirm, ""))
				require.NoError(b, recordSession(tx, session, batch, i+1, 0, "", "succeeded"))
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/payout")
			_, err = conn.ExecContext(context.Background(), `COMMIT`)
			require.NoError(b, err)
		})
	}
}
