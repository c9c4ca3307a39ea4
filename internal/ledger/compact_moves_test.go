package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// TestMovesWrittenDirectly: the writers that log many moves at once write
// moves directly (keysForMoves, movesSelect); what they write is what the
// view's trigger writes for the same transition, value for value and type
// for type, and the view reads it back as given. A detail that is not one
// of the fixed ones is its move's note, never a word in move_names.
func TestMovesWrittenDirectly(t *testing.T) {
	db := openDB(t, t.TempDir(), newClock())
	ctx := context.Background()
	tx := &Tx{db: db, ctx: ctx, Now: db.Now()}
	at := formatTime(tx.Now)
	cases := []struct {
		name                              string
		from, to, session, worker, detail string
		source                            ledgerapi.Source
	}{
		{"release", "received", "queued", "", "", "released", ledgerSource},
		{"cancel by a person", "queued", "cancelled", "", "dave", "cancelled by dave: the payee asked; ticket 7 from carol", ledgerapi.SourceOperator},
		{"resume", "claimed", "claimed", "ps_1", "", "resumed by erin; a new pay job", ledgerapi.SourceOperator},
		{"odd state and source", "someday", "queued", "", "w-9", "", ledgerapi.Source("elsewhere")},
	}
	cols := `bk, fs, typeof(fs), ts, typeof(ts), t, typeof(t), src, typeof(src), worker, gen, attempt, session_id, payout_id,
		idem, typeof(idem), error_code, reason, hook, typeof(hook), hook_type, detail, note`
	read := func(row int) []any {
		vals := make([]any, 23)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, db.r.QueryRow(`SELECT `+cols+` FROM moves m JOIN batch_keys b ON b.k = m.bk
			WHERE b.batch_id = 'B-direct' AND m.row_no = ?`, row).Scan(ptrs...))
		return vals
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			viaView, direct := 2*i+1, 2*i+2
			_, err := db.wc.ExecContext(ctx, `INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt,
				session_id, reason, detail) VALUES ('B-direct', ?, ?, ?, ?, ?, ?, 3, 1, ?, '', ?)`,
				viaView, c.from, c.to, at, string(c.source), c.worker, c.session, c.detail)
			require.NoError(t, err)
			keys, err := keysForMoves(tx, "B-direct", tx.Now, c.source, c.worker, c.detail)
			require.NoError(t, err)
			_, err = tx.Exec(movesInsert+movesSelect("?7", "?8", "gen", "session_id")+
				` FROM (SELECT ?9 AS row_no, 3 AS gen, 1 AS attempt, ?10 AS session_id)`,
				append(keys, c.from, c.to, direct, c.session)...)
			require.NoError(t, err)
			require.Equal(t, read(viaView), read(direct))

			var from, to, gotAt, source, worker, session, detail string
			require.NoError(t, db.r.QueryRow(`SELECT from_state, to_state, at, source, worker, session_id, detail
				FROM transitions WHERE batch_id = 'B-direct' AND row_no = ?`, direct).
				Scan(&from, &to, &gotAt, &source, &worker, &session, &detail))
			require.Equal(t, []string{c.from, c.to, at, string(c.source), c.worker, c.session, c.detail},
				[]string{from, to, gotAt, source, worker, session, detail})
		})
	}
	var interned int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM move_names WHERE name LIKE '%carol%' OR name LIKE '%erin%'`).Scan(&interned))
	require.Zero(t, interned, "a person's text is no word")
	var note string
	require.NoError(t, db.r.QueryRow(`SELECT note FROM moves WHERE note LIKE '%carol%' LIMIT 1`).Scan(&note))
	require.Contains(t, note, "the payee asked")
}

// BenchmarkTransitionsInsertMoves: an INSERT … SELECT of 100 000
// transitions of one batch (a release) into the 0139 table, through the
// 0140 view (its trigger runs once per row) and into moves as the release
// writes them (keysForMoves, movesSelect), measured in the same run.
// Short sanity run: go test -run '^$' -bench TransitionsInsertMoves -benchtime 1x.
func BenchmarkTransitionsInsertMoves(b *testing.B) {
	const n = 100_000
	for _, c := range []struct{ name, upTo string }{{"table0139", "migrations/0140"}, {"view0141", "migrations/9999"},
		{"moves", "migrations/9999"}} {
		b.Run(c.name, func(b *testing.B) {
			raw := rawLedgerBefore(b, c.upTo)
			conn, err := raw.Conn(context.Background())
			require.NoError(b, err)
			defer conn.Close()
			db := &DB{wc: conn, stmts: map[string]*sql.Stmt{}}
			defer func() {
				for _, s := range db.stmts {
					s.Close()
				}
			}()
			now := newClock().Now()
			at := formatTime(now)
			series := fmt.Sprintf(`WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < %d)`, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				batch := fmt.Sprintf("B-%d", i)
				if c.name != "moves" {
					_, err := conn.ExecContext(context.Background(), `INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt, reason, detail)
						`+series+` SELECT ?, k, 'received', 'queued', ?, 'ledger', '', 1, 0, '', 'released' FROM s`, batch, at)
					require.NoError(b, err)
					continue
				}
				tx := &Tx{db: db, ctx: context.Background(), Now: now}
				keys, err := keysForMoves(tx, batch, now, ledgerSource, "", "released")
				require.NoError(b, err)
				_, err = tx.Exec(movesInsert+movesSelect("'received'", "'queued'", "gen + 1", "''")+
					` FROM (`+series+` SELECT k AS row_no, 0 AS gen, 0 AS attempt FROM s)`, keys...)
				require.NoError(b, err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/transition")
		})
	}
}
