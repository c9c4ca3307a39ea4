package ledger

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// TestIntakeRecordsEveryValue reads back, in SQLite's own quoting, every
// value the intake's INSERT binds (rowValues), for rows whose optional
// values are empty, absent or set: an empty text is recorded as the empty text (the
// writer leaves it unbound and the INSERT reads coalesce(?N, the empty text)), an
// absent value as NULL, anything else as it is.
func TestIntakeRecordsEveryValue(t *testing.T) {
	s, _ := newService(t)
	b := makeRows("values", []*payout.Row{
		{Reference: "V-1", Method: payout.MethodCard, Amount: money.New(100, "RUB"), FullName: "Ivan Petrov",
			Card: &payout.Card{Sealed: "c2VhbGVk", BIN: "424242", Last4: "4242"}},
		{Reference: "V-2", Method: payout.MethodToken, Amount: money.New(200, "RUB"), FullName: "Anna Petrova",
			CardToken: "tok_2", Description: "bonus", Meta: map[string]string{"dept": "it"}},
		{Reference: "V-3", Method: payout.MethodToken, Amount: money.New(300, "RUB"), FullName: "", CardToken: "tok_3"},
	})
	msgs := b.msgs(1)
	msgs[0].Row.RowDigest = make([]byte, 32)
	msgs[0].Row.Fingerprint = strings.Repeat("ab", 16)
	msgs[0].Row.Payee = []byte{1, 2, 3}
	msgs[2].Row.Recipient, msgs[2].Row.Destination, msgs[2].Row.Meta = "", "", ""
	res := record(t, s, msgs)
	require.Equal(t, 3, res.Recorded)

	quote := func(v any) string {
		switch v := v.(type) {
		case nil:
			return "NULL"
		case int64:
			return strconv.FormatInt(v, 10)
		case string:
			return "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case []byte:
			if v == nil {
				return "NULL"
			}
			return "X'" + strings.ToUpper(hex.EncodeToString(v)) + "'"
		}
		panic(fmt.Sprintf("%T", v))
	}
	cols := []string{"row_no", "line", "reference", "method", "amount_minor", "currency", "recipient", "destination", "bin",
		"last4", "dest_hash", "payee", "meta", "description", "intake_seq", "digest", "row_digest", "card_fingerprint"}
	require.Len(t, cols, rowInsertArgs)
	for i := range 3 {
		want := rowValues(&msgs[i])
		for k, c := range cols {
			var got string
			require.NoError(t, s.db.r.QueryRow(`SELECT quote(`+c+`) FROM rows WHERE batch_id = ? AND row_no = ?`, b.ID, i+1).Scan(&got))
			require.Equal(t, quote(want[k]), got, "row %d %s", i+1, c)
		}
	}
	// Exactly the NOT NULL text columns are read as coalesce(?N, ''): a
	// nullable one keeps its NULL, any other "" would fail the insert.
	for k, c := range cols {
		var typ string
		var notNull bool
		require.NoError(t, s.db.r.QueryRow(`SELECT type, "notnull" FROM pragma_table_info('rows') WHERE name = ?`, c).Scan(&typ, &notNull))
		require.Equal(t, typ == "TEXT" && notNull, rowInsertText[k], "column %s (%s, not null %v)", c, typ, notNull)
	}
}

// TestIntakeKeepsInsertTriggers: the intake drops the insert triggers
// whose work it does only inside its own operation; afterwards, and after
// a group that failed, they are there as they were, and an insert by
// anything else still sets card_wait and counts the row.
func TestIntakeKeepsInsertTriggers(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	triggers := func() string { return rowsTriggers(t, s) }
	before := triggers()
	require.Contains(t, before, triggerCardWait)
	require.Contains(t, before, triggerCountsInsert)

	b := widgetBatch("triggers")
	msgs := b.msgs(1)
	res := record(t, s, msgs[:len(msgs)-1])
	require.Equal(t, 2, res.Recorded)
	require.Equal(t, before, triggers())
	var wait int
	require.NoError(t, s.db.r.QueryRow(`SELECT card_wait FROM rows WHERE batch_id = ? AND row_no = 1`, b.ID).Scan(&wait))
	require.Equal(t, 1, wait, "the intake's widget row without its card waits for it")

	// A group that fails after its INSERT rolls back with the triggers in place.
	bad := uniqueBatch(3, "triggers-bad")
	err := s.w.Do(ctx, func(tx *Tx) error {
		if _, err := s.recordIntake(tx, bad.msgs(10)[:3]); err != nil {
			return err
		}
		return errors.New("fail the group")
	})
	require.Error(t, err)
	require.Equal(t, before, triggers())

	// Another inserter's row (as a resubmit's or a test seed's) still goes through them.
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`INSERT INTO batches (id, status, first_seen_at) VALUES ('other', 'received', ?)`, formatTime(tx.Now)); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO rows (batch_id, row_no, reference, method, amount_minor, currency, intake_seq, digest,
			received_at, state, moved_at, updated_at) VALUES ('other', 1, 'O-1', 'encrypted_card', 500, 'RUB', 99, x'00', ?1, 'received', ?1, ?1)`,
			formatTime(tx.Now))
		return err
	}))
	var rows int
	require.NoError(t, s.db.r.QueryRow(`SELECT card_wait FROM rows WHERE batch_id = 'other'`).Scan(&wait))
	require.NoError(t, s.db.r.QueryRow(`SELECT rows FROM batch_counts WHERE batch_id = 'other' AND state = 'received'`).Scan(&rows))
	require.Equal(t, 1, wait)
	require.Equal(t, 1, rows)
}

// The rows of one batch with methods and currencies mixed, in runs and
// one by one, go in with their own method and currency (a statement binds
// those once for its run), card_wait set by their own method, and counted
// per currency.
func TestIntakeMixedMethodsAndCurrencies(t *testing.T) {
	s, _ := newService(t)
	type want struct {
		method   payout.Method
		currency string
	}
	var rows []*payout.Row
	var wants []want
	for i, w := range []want{
		{payout.MethodCard, "RUB"}, {payout.MethodCard, "RUB"}, {payout.MethodToken, "RUB"}, {payout.MethodToken, "USD"},
		{payout.MethodEncryptedCard, "USD"}, {payout.MethodEncryptedCard, "USD"}, {payout.MethodCard, "RUB"},
		{payout.MethodToken, "RUB"}, {payout.MethodEncryptedCard, "RUB"}, {payout.MethodToken, "USD"},
	} {
		r := &payout.Row{Reference: fmt.Sprintf("M-%d", i+1), Method: w.method, Amount: money.New(int64(100*(i+1)), w.currency),
			FullName: "Ivan Petrov"}
		switch w.method {
		case payout.MethodCard:
			r.Card = &payout.Card{Sealed: "c2VhbGVk", BIN: "424242", Last4: "4242"}
		case payout.MethodToken:
			r.CardToken = fmt.Sprintf("tok_%d", i)
		}
		rows, wants = append(rows, r), append(wants, w)
	}
	b := makeRows("mixed", rows)
	msgs := b.msgs(1)
	res := record(t, s, msgs[:len(msgs)-1])
	require.Equal(t, len(rows), res.Recorded)
	sums := map[string]int64{}
	for i, w := range wants {
		var method, currency string
		var wait bool
		require.NoError(t, s.db.r.QueryRow(`SELECT method, currency, card_wait FROM rows WHERE batch_id = ? AND row_no = ?`, b.ID, i+1).
			Scan(&method, &currency, &wait))
		require.Equal(t, string(w.method), method, "row %d", i+1)
		require.Equal(t, w.currency, currency, "row %d", i+1)
		require.Equal(t, w.method == payout.MethodEncryptedCard, wait, "row %d", i+1)
		sums[w.currency] += int64(100 * (i + 1))
	}
	for cur, sum := range sums {
		var got int64
		require.NoError(t, s.db.r.QueryRow(`SELECT amount_minor FROM batch_counts WHERE batch_id = ? AND state = 'received' AND currency = ?`,
			b.ID, cur).Scan(&got))
		require.Equal(t, sum, got, cur)
	}
	require.NoError(t, s.db.VerifyCounts(context.Background()))
}
