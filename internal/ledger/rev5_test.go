package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// rev5 (reviewer) tests of q1 (intake without row triggers, sparse binds)
// and q3 (driver-level reads, reused rows, TimeText).

// TestRev5IntakeRedeliveredGroupRowByRow: a group delivered again with a
// new row goes row by row with the triggers dropped; the new row still
// waits for its card, every row is counted once, and the triggers are back.
func TestRev5IntakeRedeliveredGroupRowByRow(t *testing.T) {
	s, _ := newService(t)
	before := rowsTriggers(t, s)
	b := makeRows("rev5-redeliver", []*payout.Row{
		{Reference: "R5-1", Method: payout.MethodToken, Amount: money.New(1000, "RUB"), FullName: "Ivan Petrov", CardToken: "tok_r5_1"},
		{Reference: "R5-2", Method: payout.MethodEncryptedCard, Amount: money.New(2000, "RUB"), FullName: "Olga Smirnova"},
		{Reference: "R5-3", Method: payout.MethodToken, Amount: money.New(3000, "RUB"), FullName: "Anna Petrova", CardToken: "tok_r5_3"},
	})
	msgs := b.msgs(1)
	res := record(t, s, msgs[:1])
	require.Equal(t, 1, res.Recorded)
	res = record(t, s, msgs[:3]) // row 1 again, rows 2 and 3 new: the multi-row INSERT fails, row by row
	require.Equal(t, 2, res.Recorded)
	require.Equal(t, 1, res.Duplicates)
	require.Equal(t, before, rowsTriggers(t, s))
	var wait int
	require.NoError(t, s.db.r.QueryRow(`SELECT card_wait FROM rows WHERE batch_id = ? AND row_no = 2`, b.ID).Scan(&wait))
	require.Equal(t, 1, wait, "the widget row recorded row by row waits for its card")
	require.NoError(t, s.db.r.QueryRow(`SELECT sum(card_wait) FROM rows WHERE batch_id = ?`, b.ID).Scan(&wait))
	require.Equal(t, 1, wait)
	var n, amount, recorded int64
	require.NoError(t, s.db.r.QueryRow(`SELECT sum(rows), sum(amount_minor) FROM batch_counts WHERE batch_id = ?`, b.ID).Scan(&n, &amount))
	require.NoError(t, s.db.r.QueryRow(`SELECT rows_recorded FROM batches WHERE id = ?`, b.ID).Scan(&recorded))
	require.Equal(t, int64(3), n)
	require.Equal(t, int64(6000), amount)
	require.Equal(t, int64(3), recorded)
	res = record(t, s, msgs[3:]) // the manifest
	require.Equal(t, []string{b.ID}, res.Accepted)
	require.Equal(t, before, rowsTriggers(t, s))
}

// TestRev5IntakeFailedGroupsKeepTriggers: a group failing at any point
// (mid-group error, panic) leaves the schema as it was, and the next group
// records normally with the writer's cached statements.
func TestRev5IntakeFailedGroupsKeepTriggers(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	before := rowsTriggers(t, s)
	for i, fail := range []func(){func() { panic("boom") }, func() {}} {
		b := uniqueBatch(4, fmt.Sprintf("rev5-fail-%d", i))
		err := s.w.Do(ctx, func(tx *Tx) error {
			if _, err := s.recordIntake(tx, b.msgs(100)[:2]); err != nil {
				return err
			}
			d, err := dropIntakeTriggers(tx) // dropped again, as mid-group
			if err != nil {
				return err
			}
			require.Len(t, d.names, 2)
			fail()
			return errors.New("fail mid-group")
		})
		require.Error(t, err)
		require.Equal(t, before, rowsTriggers(t, s))
		res := record(t, s, b.msgs(100)[:4])
		require.Equal(t, 4, res.Recorded)
		var n int64
		require.NoError(t, s.db.r.QueryRow(`SELECT sum(rows) FROM batch_counts WHERE batch_id = ?`, b.ID).Scan(&n))
		require.Equal(t, int64(4), n)
	}
}

// TestRev5IntakeKeepsNullColumnsNull: columns the intake does not set, and
// those it sets NULL when absent, are NULL, never ” (coalesce is only on
// NOT NULL text).
func TestRev5IntakeKeepsNullColumnsNull(t *testing.T) {
	s, _ := newService(t)
	b := makeRows("rev5-nulls", []*payout.Row{
		{Reference: "N-1", Method: payout.MethodCard, Amount: money.New(100, "RUB"), FullName: "Ivan Petrov",
			Card: &payout.Card{Sealed: "c2VhbGVk", BIN: "424242", Last4: "4242"}},
		{Reference: "N-2", Method: payout.MethodEncryptedCard, Amount: money.New(200, "RUB"), FullName: ""},
	})
	require.Equal(t, 2, record(t, s, b.msgs(1)[:2]).Recorded)
	for row := 1; row <= 2; row++ {
		for _, c := range []string{"quote_id", "fee_minor", "paid_minor", "next_poll_at", "payee", "row_digest", "card_fingerprint"} {
			var got string
			require.NoError(t, s.db.r.QueryRow(`SELECT quote(`+c+`) FROM rows WHERE batch_id = ? AND row_no = ?`, b.ID, row).Scan(&got))
			require.Equal(t, "NULL", got, "row %d %s", row, c)
		}
	}
}

// TestRev5ReportRowsDoNotLeak: the one report.Row laid out into and the
// note read into for every row carry nothing from one row to the next.
func TestRev5ReportRowsDoNotLeak(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	b := makeRows("rev5-leak", []*payout.Row{
		{Reference: "L-1", Method: payout.MethodToken, Amount: money.New(100, "RUB"), FullName: "Ivan Petrov", CardToken: "tok_l1",
			Description: "bonus", Meta: map[string]string{"dept": "it"}},
		{Reference: "L-2", Method: payout.MethodToken, Amount: money.New(200, "RUB"), FullName: "Anna Petrova", CardToken: "tok_l2"},
		{Reference: "L-3", Method: payout.MethodToken, Amount: money.New(300, "RUB"), FullName: "Olga Smirnova", CardToken: "tok_l3",
			Meta: map[string]string{"team": "x"}},
	})
	res := record(t, s, b.msgs(1))
	require.Equal(t, []string{b.ID}, res.Accepted)
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE rows SET fee_minor = 7, fee_currency = 'RUB', paid_minor = 100, paid_currency = 'RUB',
			error_code = 'E1', reason = 'why', tcn = 'TCN1', action_url = 'https://x/3ds', session_id = 'ps_1', payout_id = 'po_1'
			WHERE batch_id = ? AND row_no = 1`, b.ID)
		return err
	}))
	rep, err := s.db.Report(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, rep.Rows, 3)
	r1, r2, r3 := rep.Rows[0], rep.Rows[1], rep.Rows[2]
	require.Equal(t, "bonus", r1.Description)
	require.Equal(t, map[string]string{"dept": "it"}, r1.Meta)
	require.NotEmpty(t, r1.Fee)
	require.Equal(t, "TCN1", r1.TCN)
	require.Equal(t, "ps_1", r1.BankSession)
	for i, r := range rep.Rows[1:] {
		require.Empty(t, r.Description, "row %d", i+2)
		require.Empty(t, r.Fee, "row %d", i+2)
		require.Empty(t, r.FeeCurrency, "row %d", i+2)
		require.Empty(t, r.TCN, "row %d", i+2)
		require.Empty(t, r.ActionURL, "row %d", i+2)
		require.Empty(t, r.ErrorCode, "row %d", i+2)
		require.Empty(t, r.BankSession, "row %d", i+2)
		require.Empty(t, r.BankPayout, "row %d", i+2)
		require.Empty(t, r.Held, "row %d", i+2)
		require.Empty(t, r.Exceptions, "row %d", i+2)
	}
	require.Empty(t, r2.Meta)
	require.Equal(t, map[string]string{"team": "x"}, r3.Meta)
}

// TestRev5EachRawErrorsAndCancel: a read ended by its callback's error or
// its context mid-stream gives its connection back usable; the pool's
// connections are never shared (run with -race to see).
func TestRev5EachRawErrorsAndCancel(t *testing.T) {
	s, _ := newService(t)
	b := uniqueBatch(120, "rev5-raw")
	require.Equal(t, 120, record(t, s, b.msgs(1)[:120]).Recorded)
	q := `SELECT row_no, reference, payee, fee_minor FROM rows WHERE batch_id = ? ORDER BY row_no`
	stop := errors.New("stop")
	for i := 0; i < 20; i++ {
		n := 0
		err := eachRaw(context.Background(), s.db.r, q, []any{b.ID}, func(rawRow) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		ctx, cancel := context.WithCancel(context.Background())
		n = 0
		err = eachRaw(ctx, s.db.r, q, []any{b.ID}, func(rawRow) error {
			if n++; n == 5 {
				cancel()
			}
			return nil
		})
		cancel()
		require.ErrorIs(t, err, context.Canceled)
		require.Less(t, n, 120)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c rawCheck
			n := 0
			err := eachRaw(context.Background(), s.db.r, q, []any{b.ID}, func(v rawRow) error {
				n++
				if c.int(v, 0) != int64(n) || c.text(v, 1) == "" || c.text(v, 3) != "" {
					return fmt.Errorf("row %d read as %v", n, v.v)
				}
				return c.err
			})
			if err == nil && n != 120 {
				err = fmt.Errorf("%d rows", n)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 0, s.db.r.Stats().InUse)
	// A value of another type is an error, not a zero.
	var c rawCheck
	require.NoError(t, eachRaw(context.Background(), s.db.r, `SELECT 1.5, NULL, x'00'`, nil, func(v rawRow) error {
		require.Equal(t, int64(0), c.int(v, 0))
		require.Equal(t, "", c.text(v, 1))
		require.Equal(t, "\x00", c.text(v, 2))
		return nil
	}))
	require.ErrorContains(t, c.err, "column 1")
}

// TestRev5TimeTextMatchesFormat: TimeText writes what time.Format of its
// layout writes, for any time.
func TestRev5TimeTextMatchesFormat(t *testing.T) {
	east := time.FixedZone("east", 14*3600)
	west := time.FixedZone("west", -(12*3600 + 30*60 + 17))
	for _, tm := range []time.Time{
		time.Date(2026, 12, 1, 23, 59, 59, 999999999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, east), // not the zero time: the year before in UTC
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(999, 3, 4, 5, 6, 7, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, west), // 10000 in UTC
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 0, 30, 0, 0, west),
		time.Date(2026, 2, 28, 23, 30, 0, 0, east),
		time.Unix(0, 0),
		time.Unix(-1, -1),
		time.Date(2026, 11, 25, 9, 0, 0, 0, time.Local).Add(123456789),
	} {
		want := ""
		if !tm.IsZero() {
			want = tm.UTC().Format("2006-01-02T15:04:05Z")
		}
		require.Equal(t, want, reconcile.TimeText(tm), "%v", tm)
	}
	require.Equal(t, "", reconcile.TimeText(time.Time{}))
	require.Equal(t, "", reconcile.TimeText(time.Time{}.In(east)))
}

// rev5CountsMatchRows fails unless batch_counts holds exactly what the rows
// table does, for every batch.
func rev5CountsMatchRows(t *testing.T, s *Service) {
	t.Helper()
	var differ int
	require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM (
		SELECT batch_id, state, currency, count(*), sum(amount_minor), sum(held), sum(stop = 'hold') FROM rows GROUP BY 1, 2, 3
		EXCEPT SELECT batch_id, state, currency, rows, amount_minor, held, on_hold FROM batch_counts WHERE rows <> 0)`).Scan(&differ))
	require.Zero(t, differ, "batch_counts differ from the rows")
	require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM (
		SELECT batch_id, state, currency, rows, amount_minor, held, on_hold FROM batch_counts WHERE rows <> 0
		EXCEPT SELECT batch_id, state, currency, count(*), sum(amount_minor), sum(held), sum(stop = 'hold') FROM rows GROUP BY 1, 2, 3)`).Scan(&differ))
	require.Zero(t, differ, "batch_counts count rows that are not there")
	require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM batches b
		WHERE b.rows_recorded <> (SELECT count(*) FROM rows r WHERE r.batch_id = b.id)`).Scan(&differ))
	require.Zero(t, differ, "rows_recorded differs from the rows")
}

// TestRev5IntakeMixedGroupCounts: one group with rows of a batch made
// before counts_by_insert (its rows counted by the trigger the intake
// drops), rows of a new batch, an invalid message, a manifest in the
// middle and rows of a third batch after it, then the same group again:
// batch_counts and rows_recorded hold every row once.
func TestRev5IntakeMixedGroupCounts(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	before := rowsTriggers(t, s)
	old, fresh, third := uniqueBatch(3, "rev5-old"), uniqueBatch(4, "rev5-new"), uniqueBatch(2, "rev5-third")
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO batches (id, status, first_seen_at) VALUES (?, ?, ?)`, old.ID, payout.BatchReceiving, formatTime(tx.Now))
		return err
	}))
	om, fm, tm := old.msgs(1), fresh.msgs(10), third.msgs(20)
	var group []intakeMsg
	group = append(group, om[0], fm[0], fm[1])
	group = append(group, intakeMsg{Seq: 30, Invalid: "not a message"})
	group = append(group, om[1], om[2], fm[2], fm[3], fm[4]) // fm[4]: fresh's manifest
	group = append(group, tm[0], tm[1], om[3])               // om[3]: old's manifest
	res := record(t, s, group)
	require.Equal(t, 9, res.Recorded)
	require.ElementsMatch(t, []string{old.ID, fresh.ID}, res.Accepted)
	require.Equal(t, before, rowsTriggers(t, s))
	rev5CountsMatchRows(t, s)
	res = record(t, s, group) // delivered again
	require.Equal(t, 0, res.Recorded)
	require.Equal(t, before, rowsTriggers(t, s))
	rev5CountsMatchRows(t, s)
	res = record(t, s, tm[2:])
	require.Equal(t, []string{third.ID}, res.Accepted)
	rev5CountsMatchRows(t, s)
}

// TestRev5IntakeRestoresOddTriggerText: a trigger whose text has odd
// whitespace, comments, quoting and case is put back byte for byte, and
// still works for another inserter.
func TestRev5IntakeRestoresOddTriggerText(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		if _, err := tx.db.wc.ExecContext(tx.ctx, `DROP TRIGGER rows_card_wait`); err != nil {
			return err
		}
		_, err := tx.db.wc.ExecContext(tx.ctx, "create \t trigger IF NOT EXISTS \"rows_card_wait\"\n\tAFTER  INSERT ON main.\"rows\" -- a comment; with a semicolon\n"+
			"  WHEN NEW.method = 'encrypted_card' /* 'x' ; */ AND NEW.dest_hash = ''\nBEGIN\n  UPDATE rows SET card_wait = 1\n   WHERE batch_id = NEW.batch_id AND row_no = NEW.row_no;\nEND")
		return err
	}))
	tempTriggers := func() string {
		var out []string
		require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
			rows, err := tx.db.wc.QueryContext(tx.ctx, `SELECT name || ': ' || sql FROM sqlite_temp_master WHERE type = 'trigger' UNION ALL
				SELECT name || ': ' || sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'rows' ORDER BY 1`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var x string
				if err := rows.Scan(&x); err != nil {
					return err
				}
				out = append(out, x)
			}
			return rows.Err()
		}))
		return strings.Join(out, "\n")
	}
	before := tempTriggers()
	require.Contains(t, before, "-- a comment")
	b := widgetBatch("rev5-odd")
	res := record(t, s, b.msgs(1)[:2])
	require.Equal(t, 2, res.Recorded)
	require.Equal(t, before, tempTriggers())
	var wait int
	require.NoError(t, s.db.r.QueryRow(`SELECT card_wait FROM rows WHERE batch_id = ? AND row_no = 1`, b.ID).Scan(&wait))
	require.Equal(t, 1, wait)
	rev5CountsMatchRows(t, s)
}

// TestRev5ReadsDuringIntakeSchemaChanges: reports and driver-level reads
// on the read pool (multi-thread mode) while intake groups commit, each
// dropping and re-creating the triggers (a schema change per commit):
// no read fails or reads a row wrong.
func TestRev5ReadsDuringIntakeSchemaChanges(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	done := uniqueBatch(60, "rev5-read")
	require.Equal(t, []string{done.ID}, record(t, s, done.msgs(1)).Accepted)
	want, err := s.db.Report(ctx, done.ID)
	require.NoError(t, err)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				rep, err := s.db.Report(ctx, done.ID)
				if err == nil && (len(rep.Rows) != len(want.Rows) || rep.Rows[59].Reference != want.Rows[59].Reference) {
					err = fmt.Errorf("report of %d rows", len(rep.Rows))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	seq := uint64(1000)
	for i := 0; i < 30; i++ {
		b := uniqueBatch(40, fmt.Sprintf("rev5-during-%d", i))
		msgs := b.msgs(seq)
		seq += uint64(len(msgs))
		res := record(t, s, msgs)
		require.Equal(t, 40, res.Recorded)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	rev5CountsMatchRows(t, s)
}

// TestRev5IntakeDropsMainTriggersOnly: the intake reads its triggers from
// main's schema and must drop those: an unqualified DROP TRIGGER drops a
// TEMP trigger of the same name first (SQLite searches temp before main),
// and putting main's back then fails every intake group ("trigger
// rows_card_wait already exists").
func TestRev5IntakeDropsMainTriggersOnly(t *testing.T) {
	s, _ := newService(t)
	before := rowsTriggers(t, s)
	require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
		_, err := tx.db.wc.ExecContext(tx.ctx, `CREATE TEMP TRIGGER rows_card_wait AFTER INSERT ON main.rows BEGIN SELECT 1; END`)
		return err
	}))
	b := widgetBatch("rev5-temp")
	require.Equal(t, 2, record(t, s, b.msgs(1)[:2]).Recorded)
	require.Equal(t, before, rowsTriggers(t, s))
	rev5CountsMatchRows(t, s)
}

// TestRev5IntakeRowWithoutMethod: the ledger's intake did not refuse a
// row message without a method (intake.DecodeRow checked the batch, the
// row number and the amount only; it now refuses it, so the row is
// refused alone as an invalid message). With the method left unbound (sparse
// binding), the INSERT's card_wait, ?M = 'encrypted_card' AND ..., is NULL
// and card_wait is NOT NULL: the whole group failed, and a group that
// fails is delivered again and fails again (the intake stops). The row
// must be recorded (card_wait 0), as it was before, or refused alone.
func TestRev5IntakeRowWithoutMethod(t *testing.T) {
	s, _ := newService(t)
	b := makeRows("rev5-nomethod", []*payout.Row{
		{Reference: "M-1", Method: payout.MethodToken, Amount: money.New(100, "RUB"), FullName: "Ivan Petrov", CardToken: "tok_m1"},
		{Reference: "M-2", Method: "", Amount: money.New(200, "RUB"), FullName: "Anna Petrova"},
	})
	var res *intakeResult
	err := s.w.Do(context.Background(), func(tx *Tx) error {
		var err error
		res, err = s.recordIntake(tx, b.msgs(1)[:2])
		return err
	})
	require.NoError(t, err, "one row without a method fails its whole group")
	require.Equal(t, 2, res.Recorded+res.Invalid)
	var wait int
	if res.Recorded == 2 {
		require.NoError(t, s.db.r.QueryRow(`SELECT card_wait FROM rows WHERE batch_id = ? AND row_no = 2`, b.ID).Scan(&wait))
		require.Zero(t, wait)
	}
	rev5CountsMatchRows(t, s)
}
