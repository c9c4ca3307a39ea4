package ledger

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// intakeResult counts what one group of intake messages did.
type intakeResult struct {
	Recorded, Duplicates, Conflicts, Invalid int
	Accepted, Rejected                       []string // batch ids
	Reasons                                  map[string]string
}

// recordIntake records a group of intake messages, in order, in tx. The
// rows it records go through the duplicate guard before their batch can
// be sealed (guard.go).
func (s *Service) recordIntake(tx *Tx, msgs []intakeMsg) (*intakeResult, error) {
	st := &s.stats
	tStart := time.Now()
	defer since(&st.fn, tStart)
	res := &intakeResult{Reasons: map[string]string{}}
	open := map[string]openBatch{}
	fresh := s.fresh[:0] // rows recorded in this group, in the stream's order, for the guard
	defer func() {
		clear(fresh[:cap(fresh)]) // keeps no row alive
		s.fresh = fresh[:0]
	}()
	// The insert triggers the intake does the work of itself are dropped
	// before its first INSERT and put back before anything else reads or
	// writes rows (intakeTriggers).
	// A failure returns with them dropped: the writer rolls the operation's
	// savepoint back, and the schema with it.
	var dropped *droppedTriggers
	flush := func() error {
		t0 := time.Now()
		counts := dropped.has(triggerCountsInsert)
		if err := dropped.restore(tx); err != nil {
			return err
		}
		dropped = nil
		t0 = since(&st.triggers, t0)
		// Counted before the guard: a hold moves a row's count (the update trigger).
		if err := countRows(tx, fresh, func(b string) bool { return open[b].countsByInsert || counts }); err != nil {
			return err
		}
		t0 = since(&st.count, t0)
		if _, err := s.guard(tx, fresh, false); err != nil {
			return err
		}
		since(&st.guard, t0)
		fresh = fresh[:0]
		return nil
	}
	sums := batchSums{}
	seals := &sealAccs{s: s} // the seal's answers kept as rows go in (intake_seal.go)
	var last uint64
	for i := 0; i < len(msgs); i++ {
		m := &msgs[i]
		last = max(last, m.Seq)
		switch {
		case m.Invalid != "":
			t0 := time.Now()
			res.Invalid++
			if _, err := openException(tx, reconcile.IntakeInvalid, fmt.Sprint(m.Seq), "", 0,
				fmt.Sprintf("intake message %d: %s", m.Seq, m.Invalid)); err != nil {
				return nil, err
			}
			since(&st.other, t0)
		case m.Row != nil:
			t0 := time.Now()
			b, ok := open[m.Row.Batch]
			if !ok {
				var err error
				if b, err = ensureBatch(tx, m.Row.Batch); err != nil {
					return nil, err
				}
				if b.created {
					seals.start(m.Row.Batch)
				}
				open[m.Row.Batch] = b
			}
			if !b.sealed {
				// A run of rows of the same open batch goes in as one multi-row INSERT.
				j := i + 1
				// Its rows share the method and currency too: the statement
				// binds them once (rowInsertQuery).
				for j < len(msgs) && j-i < insertChunk && msgs[j].Row != nil && msgs[j].Row.Batch == m.Row.Batch &&
					msgs[j].Row.Method == m.Row.Method && msgs[j].Row.Amount.Currency == m.Row.Amount.Currency {
					j++
				}
				// The run stops before a row that would take its batch's
				// total past 64 bits (batch_counts cannot hold it, and the
				// group would fail on every delivery): that row is not
				// recorded, and the batch's manifest rejects it.
				k, err := sums.fitting(tx, msgs[i:j])
				if err != nil {
					return nil, err
				}
				t0 = since(&st.batches, t0)
				if k == 0 {
					seals.drop(m.Row.Batch) // a row not recorded
					if err := overflowRow(tx, m, res); err != nil {
						return nil, err
					}
					since(&st.other, t0)
					continue
				}
				j = i + k
				for k := i + 1; k < j; k++ {
					last = max(last, msgs[k].Seq)
				}
				if dropped == nil {
					if dropped, err = dropIntakeTriggers(tx); err != nil {
						return nil, err
					}
					t0 = since(&st.triggers, t0)
				}
				n := len(fresh)
				if fresh, err = insertRows(tx, msgs[i:j], res, fresh); err != nil {
					return nil, err
				}
				t0 = since(&st.insert, t0)
				if len(fresh)-n == j-i {
					seals.add(msgs[i:j])
				} else {
					seals.drop(m.Row.Batch) // some were recorded already
				}
				since(&st.seal, t0)
				i = j - 1
				continue
			}
			if err := sealedRow(tx, m, res); err != nil {
				return nil, err
			}
			since(&st.other, t0)
		case m.Manifest != nil:
			if err := flush(); err != nil {
				return nil, err
			}
			t0 := time.Now()
			if b, err := ensureBatch(tx, m.Manifest.Batch); err != nil {
				return nil, err
			} else if b.created {
				seals.start(m.Manifest.Batch)
			}
			accepted, reason, err := s.checkManifest(tx, m, seals)
			if err != nil {
				return nil, err
			}
			since(&st.seal, t0)
			delete(open, m.Manifest.Batch)
			if reason != "" {
				res.Rejected = append(res.Rejected, m.Manifest.Batch)
				res.Reasons[m.Manifest.Batch] = reason
			} else if accepted {
				res.Accepted = append(res.Accepted, m.Manifest.Batch)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	seals.commit(tx)
	t0 := time.Now()
	defer since(&st.cursor, t0)
	if _, err := tx.Exec(`INSERT INTO cursors (name, seq) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)`, cursorIntake, int64(last)); err != nil {
		return nil, fmt.Errorf("advance intake cursor: %w", err)
	}
	return res, nil
}

// openBatch is what the intake knows of a batch whose messages arrive.
type openBatch struct {
	sealed  bool // its manifest arrived
	created bool // ensureBatch made its record
	// countsByInsert (batches.counts_by_insert): the intake counts the
	// batch's rows in batch_counts itself (countRows), not the insert
	// trigger: every batch the intake made since migration 0120.
	countsByInsert bool
}

// ensureBatch creates the batch record on its first message and reports
// whether the batch was sealed (its manifest arrived) already.
func ensureBatch(tx *Tx, batch string) (openBatch, error) {
	var b openBatch
	res, err := tx.Exec(`INSERT INTO batches (id, status, first_seen_at, counts_by_insert) VALUES (?, ?, ?, 1) ON CONFLICT (id) DO NOTHING`,
		batch, payout.BatchReceiving, formatTime(tx.Now))
	if err != nil {
		return b, fmt.Errorf("record batch %s: %w", batch, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		b.created = true
	}
	if err := tx.QueryRow(`SELECT manifest_digest IS NOT NULL, counts_by_insert FROM batches WHERE id = ?`, batch).
		Scan(&b.sealed, &b.countsByInsert); err != nil {
		return b, fmt.Errorf("read batch %s: %w", batch, err)
	}
	return b, nil
}

// countRows adds rows just recorded (received, neither held nor on hold
// yet) to their batches' rows_recorded and, for the batches byInsert
// names, to batch_counts: one UPSERT per batch and currency for a group,
// where the insert trigger of the other batches makes one per row (a
// quarter of the SQLite side of intake, issue 17).
func countRows(tx *Tx, rows []guardRow, byInsert func(batch string) bool) error {
	type key struct{ batch, currency string }
	type count struct {
		rows   int
		amount int64
	}
	var keys []key
	sums := map[key]*count{}
	recorded := map[string]int{}
	var batches []string
	upsert := func(k key, c *count) error {
		if _, err := tx.Exec(`INSERT INTO batch_counts (batch_id, state, currency, rows, amount_minor, held, on_hold)
			VALUES (?, ?, ?, ?, ?, 0, 0) ON CONFLICT (batch_id, state, currency) DO UPDATE SET rows = rows + excluded.rows,
			amount_minor = amount_minor + excluded.amount_minor`, k.batch, string(payout.StateReceived), k.currency,
			c.rows, c.amount); err != nil {
			return fmt.Errorf("count rows of %s: %w", k.batch, err)
		}
		*c = count{}
		return nil
	}
	var cur *count
	var curKey key
	for i := range rows {
		r := &rows[i]
		if _, ok := recorded[r.batch]; !ok {
			batches = append(batches, r.batch)
		}
		recorded[r.batch]++
		if !byInsert(r.batch) {
			continue
		}
		if k := (key{r.batch, r.amount.Currency}); cur == nil || k != curKey {
			if cur = sums[k]; cur == nil {
				cur = &count{}
				sums[k] = cur
				keys = append(keys, k)
			}
			curKey = k
		}
		if a := r.amount.Minor; a > 0 && cur.amount > math.MaxInt64-a || a < 0 && cur.amount < math.MinInt64-a {
			// Past 64 bits: SQLite adds (and refuses) as the trigger did.
			if err := upsert(curKey, cur); err != nil {
				return err
			}
		}
		cur.rows++
		cur.amount += r.amount.Minor
	}
	for _, k := range keys {
		if c := sums[k]; c.rows > 0 {
			if err := upsert(k, c); err != nil {
				return err
			}
		}
	}
	for _, b := range batches {
		if _, err := tx.Exec(`UPDATE batches SET rows_recorded = rows_recorded + ? WHERE id = ?`, recorded[b], b); err != nil {
			return fmt.Errorf("count rows of %s: %w", b, err)
		}
	}
	return nil
}

// sealedRow handles a row message of a batch whose manifest arrived: a
// new row is never recorded (it could never be paid), it is kept as a
// conflict with an exception; a recorded row is compared (see
// compareRecorded). Rows of open batches go in through insertRows.
func sealedRow(tx *Tx, m *intakeMsg, res *intakeResult) error {
	r := m.Row
	var recorded recordedDigests
	err := tx.QueryRow(`SELECT digest, row_digest FROM rows WHERE batch_id = ? AND row_no = ?`, r.Batch, r.Row).
		Scan(&recorded.digest, &recorded.rowDigest)
	if errors.Is(err, sql.ErrNoRows) {
		res.Conflicts++
		detail := fmt.Sprintf("row %d (intake seq %d) arrived after the batch's manifest; it is not recorded and never paid", r.Row, m.Seq)
		if err := recordConflict(tx, m, nil, detail); err != nil {
			return err
		}
		_, err := openException(tx, reconcile.LateRow, fmt.Sprintf("%s/%d/%x", r.Batch, r.Row, m.Digest[:8]), r.Batch, 0, detail)
		return err
	}
	if err != nil {
		return fmt.Errorf("read row %s/%d: %w", r.Batch, r.Row, err)
	}
	conflict, err := compareRecorded(tx, m, recorded)
	if conflict {
		res.Conflicts++
	} else {
		res.Duplicates++
	}
	return err
}

// recordedDigests are a recorded row's digests: of its message, and the
// keyed one it carried (nil for a row ingested before public-key sealing).
type recordedDigests struct {
	digest, rowDigest []byte
}

// identity is coalesce(row_digest, digest): what a row seen again is
// compared with.
func (r recordedDigests) identity() []byte {
	if r.rowDigest != nil {
		return r.rowDigest
	}
	return r.digest
}

// compareRecorded compares a row message with the row the ledger recorded
// by their identities (the keyed digests of the plaintext fields, which a
// re-ingest sealed anew keeps; the SHA-256 of the message for rows written
// before): the same data is a duplicate and a no-op; different data is a
// conflict, kept with an exception, which fails the batch's manifest check
// (or stands as the exception once the batch is sealed).
func compareRecorded(tx *Tx, m *intakeMsg, recorded recordedDigests) (conflict bool, err error) {
	if bytes.Equal(recorded.identity(), m.identity()) {
		return false, nil
	}
	r := m.Row
	detail := fmt.Sprintf("row %d arrived again (intake seq %d) with different data", r.Row, m.Seq)
	if err := recordConflict(tx, m, recorded.digest, detail); err != nil {
		return true, err
	}
	_, err = openException(tx, reconcile.RowConflict, fmt.Sprintf("%s/%d/%x", r.Batch, r.Row, m.Digest[:8]), r.Batch, r.Row, detail)
	return true, err
}

// insertChunk is how many rows one INSERT statement carries.
const insertChunk = 50

// rowInsertArgs is how many parameters each row of rowInsertQuery has
// (rowValues); the time (?1), the state (?2), the batch (?3), the method
// (?4) and the currency (?5) are bound once per statement, so a row's own
// method and currency (rowShared) are never bound: each bind is a cgo call
// and a copy, ~0.7k instructions.
const (
	rowInsertArgs  = 18
	rowInsertFirst = 6 // the first row's first parameter
)

// rowShared marks rowValues' values that every row of one statement
// shares and the statement binds once: the method (?4), the currency (?5).
var rowShared = [rowInsertArgs]bool{3: true, 5: true}

// rowInsertText marks rowValues' NOT NULL text values, which the INSERT
// reads as coalesce(?N, the empty text), so that the writer need not bind them when
// they are "" (Tx.execRaw's sparse binding); the others are integers,
// never "", or NULL when absent (payee, row_digest, card_fingerprint).
var rowInsertText = [rowInsertArgs]bool{2: true, 3: true, 5: true, 6: true, 7: true, 8: true, 9: true, 10: true, 12: true, 13: true}

// rowInsertQueries holds rowInsertQuery's statements by row count;
// rowInsertOnce inserts one row unless it is there already.
var (
	rowInsertQueries [insertChunk + 1]string
	rowInsertOnce    string
)

func init() {
	for n := 1; n <= insertChunk; n++ {
		var q strings.Builder
		q.WriteString(`INSERT INTO rows (batch_id, row_no, line, reference, method, amount_minor, currency,
	recipient, destination, bin, last4, dest_hash, payee, meta, description, intake_seq, digest, row_digest, card_fingerprint,
	received_at, state, moved_at, updated_at, card_wait) VALUES `)
		for i := 0; i < n; i++ {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?3, ")
			for k := 0; k < rowInsertArgs; k++ {
				switch n := rowInsertFirst + i*rowInsertArgs + k; {
				case k == 3:
					q.WriteString("coalesce(?4, ''), ")
				case k == 5:
					q.WriteString("coalesce(?5, ''), ")
				case rowInsertText[k]:
					fmt.Fprintf(&q, "coalesce(?%d, ''), ", n)
				default:
					fmt.Fprintf(&q, "?%d, ", n)
				}
			}
			// card_wait as the rows_card_wait trigger sets it (migration 0110,
			// intakeTriggers): an encrypted_card row without a destination
			// hash waits for its card. The method is read as the column
			// reads it: unbound ("") it is NULL, and card_wait is NOT NULL.
			fmt.Fprintf(&q, "?1, ?2, ?1, ?1, coalesce(?4, '') = 'encrypted_card' AND coalesce(?%d, '') = '')", rowInsertFirst+i*rowInsertArgs+10)
		}
		rowInsertQueries[n] = q.String()
	}
	rowInsertOnce = rowInsertQueries[1] + " ON CONFLICT (batch_id, row_no) DO NOTHING"
}

// rowInsertQuery is the statement that inserts n rows of one batch, one
// method and one currency (1 ≤ n ≤ insertChunk); it fails, inserting
// none, when one of them is recorded already.
func rowInsertQuery(n int) string { return rowInsertQueries[n] }

// rowValues are a row message's values for rowInsertQuery, after the
// statement's own: driver values already (int64, string, []byte, nil), so
// that database/sql converts and boxes nothing in the writer. The intake
// makes them while it parses a group, off the writer's core
// (parseGroup).
func rowValues(m *intakeMsg) []any {
	r := m.Row
	return []any{int64(r.Row), int64(r.Line), r.Reference, string(r.Method), r.Amount.Minor, r.Amount.Currency,
		r.Recipient, r.Destination, r.BIN, r.Last4, r.DestHash, r.Payee, r.Meta, r.Description, int64(m.Seq), m.Digest[:],
		r.RowDigest, nullString(r.Fingerprint)}
}

// insertArgs binds msgs' rows (of one batch, method and currency) for
// rowInsertQuery(len(msgs)), in the writer's buffer (the writer
// goroutine's only).
func insertArgs(tx *Tx, msgs []intakeMsg) ([]any, error) {
	first := msgs[0].Row
	args := append(tx.db.insertArgs[:0], formatTime(tx.Now), string(payout.StateReceived), first.Batch, string(first.Method),
		first.Amount.Currency)
	for i := range msgs {
		r := msgs[i].Row
		if r.Batch != first.Batch || r.Method != first.Method || r.Amount.Currency != first.Amount.Currency {
			tx.db.insertArgs = args
			return nil, fmt.Errorf("row %d (%s, %s, %s) in one statement with row %d (%s, %s, %s)",
				r.Row, r.Batch, r.Method, r.Amount.Currency, first.Row, first.Batch, first.Method, first.Amount.Currency)
		}
		v := msgs[i].values
		if v == nil {
			v = rowValues(&msgs[i])
		}
		n := len(args)
		args = append(args, v...)
		for k, shared := range rowShared {
			if shared {
				args[n+k] = nil // the statement's ?4 and ?5
			}
		}
	}
	tx.db.insertArgs = args
	return args, nil
}

// insertRows records rows of one open batch with one statement and appends
// those it recorded to fresh. When some were recorded already (a message
// delivered again), the statement inserts nothing and each row goes in on
// its own, so that exactly the new ones are known; one recorded before is
// compared with the recorded row: the same data is a duplicate, different
// data a conflict.
func insertRows(tx *Tx, msgs []intakeMsg, res *intakeResult, fresh []guardRow) ([]guardRow, error) {
	args, err := insertArgs(tx, msgs)
	if err == nil {
		_, err = tx.execRaw(rowInsertQuery(len(msgs)), args, true)
	}
	clear(tx.db.insertArgs) // the buffer keeps no row alive
	switch {
	case err == nil:
		res.Recorded += len(msgs)
		for i := range msgs {
			fresh = append(fresh, newGuardRow(&msgs[i]))
		}
		return fresh, nil
	case !isRecordedAlready(err):
		return fresh, fmt.Errorf("record rows of %s: %w", msgs[0].Row.Batch, err)
	}
	for i := range msgs {
		m := &msgs[i]
		args, err := insertArgs(tx, msgs[i:i+1])
		var out sql.Result
		if err == nil {
			out, err = tx.Exec(rowInsertOnce, args...)
		}
		clear(tx.db.insertArgs)
		if err != nil {
			return fresh, fmt.Errorf("record row %s/%d: %w", m.Row.Batch, m.Row.Row, err)
		}
		if n, _ := out.RowsAffected(); n == 1 {
			res.Recorded++
			fresh = append(fresh, newGuardRow(m))
			continue
		}
		var recorded recordedDigests
		if err := tx.QueryRow(`SELECT digest, row_digest FROM rows WHERE batch_id = ? AND row_no = ?`, m.Row.Batch, m.Row.Row).
			Scan(&recorded.digest, &recorded.rowDigest); err != nil {
			return fresh, fmt.Errorf("read row %s/%d: %w", m.Row.Batch, m.Row.Row, err)
		}
		conflict, err := compareRecorded(tx, m, recorded)
		if err != nil {
			return fresh, err
		}
		if conflict {
			res.Conflicts++
		} else {
			res.Duplicates++
		}
	}
	return fresh, nil
}

// isRecordedAlready says err is the rows table's primary key refusing a row.
func isRecordedAlready(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && e.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
}

// newGuardRow is a row just recorded, as the guard checks it.
func newGuardRow(m *intakeMsg) guardRow {
	r := m.Row
	return guardRow{batch: r.Batch, row: r.Row, reference: r.Reference, payee: r.Payee, amount: r.Amount, seq: m.Seq, hashes: r.guard}
}

// recordConflict keeps a row message the ledger did not record as a row.
func recordConflict(tx *Tx, m *intakeMsg, recorded []byte, detail string) error {
	if _, err := tx.Exec(`INSERT INTO row_conflicts (batch_id, row_no, intake_seq, digest, recorded_digest, detail, at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, m.Row.Batch, m.Row.Row, int64(m.Seq), m.Digest[:], recorded,
		detail, formatTime(tx.Now)); err != nil {
		return fmt.Errorf("record conflict %s/%d: %w", m.Row.Batch, m.Row.Row, err)
	}
	return nil
}
