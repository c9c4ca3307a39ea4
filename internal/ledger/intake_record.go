package ledger

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
	res := &intakeResult{Reasons: map[string]string{}}
	sealed := map[string]bool{}
	added := map[string]int{}
	var fresh []guardRow // rows recorded in this group, in the stream's order, for the guard
	flush := func() error {
		for b, n := range added {
			if _, err := tx.Exec(`UPDATE batches SET rows_recorded = rows_recorded + ? WHERE id = ?`, n, b); err != nil {
				return fmt.Errorf("count rows of %s: %w", b, err)
			}
		}
		clear(added)
		if _, err := s.guard(tx, fresh, false); err != nil {
			return err
		}
		fresh = fresh[:0]
		return nil
	}
	var last uint64
	for i := 0; i < len(msgs); i++ {
		m := &msgs[i]
		last = max(last, m.Seq)
		switch {
		case m.Invalid != "":
			res.Invalid++
			if _, err := openException(tx, reconcile.IntakeInvalid, fmt.Sprint(m.Seq), "", 0,
				fmt.Sprintf("intake message %d: %s", m.Seq, m.Invalid)); err != nil {
				return nil, err
			}
		case m.Row != nil:
			done, ok := sealed[m.Row.Batch]
			if !ok {
				var err error
				if done, err = ensureBatch(tx, m.Row.Batch); err != nil {
					return nil, err
				}
				sealed[m.Row.Batch] = done
			}
			if !done {
				// A run of rows of the same open batch goes in as one multi-row INSERT.
				j := i + 1
				for j < len(msgs) && j-i < insertChunk && msgs[j].Row != nil && msgs[j].Row.Batch == m.Row.Batch {
					j++
				}
				for k := i + 1; k < j; k++ {
					last = max(last, msgs[k].Seq)
				}
				n, err := insertRows(tx, msgs[i:j], res)
				if err != nil {
					return nil, err
				}
				added[m.Row.Batch] += n
				if fresh, err = freshRows(tx, fresh, msgs[i:j], n); err != nil {
					return nil, err
				}
				i = j - 1
				continue
			}
			if err := sealedRow(tx, m, res); err != nil {
				return nil, err
			}
		case m.Manifest != nil:
			if err := flush(); err != nil {
				return nil, err
			}
			if _, err := ensureBatch(tx, m.Manifest.Batch); err != nil {
				return nil, err
			}
			accepted, reason, err := s.checkManifest(tx, m)
			if err != nil {
				return nil, err
			}
			delete(sealed, m.Manifest.Batch)
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
	if _, err := tx.Exec(`INSERT INTO cursors (name, seq) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)`, cursorIntake, int64(last)); err != nil {
		return nil, fmt.Errorf("advance intake cursor: %w", err)
	}
	return res, nil
}

// freshRows adds to fresh the rows of msgs that insertRows recorded now (n
// of them): all of them, or, when some were there already, those whose
// recorded message is this one.
func freshRows(tx *Tx, fresh []guardRow, msgs []intakeMsg, n int) ([]guardRow, error) {
	for i := range msgs {
		m := &msgs[i]
		r := m.Row
		if n < len(msgs) {
			var seq int64
			if err := tx.QueryRow(`SELECT intake_seq FROM rows WHERE batch_id = ? AND row_no = ?`, r.Batch, r.Row).Scan(&seq); err != nil {
				return nil, fmt.Errorf("read row %s/%d: %w", r.Batch, r.Row, err)
			}
			if uint64(seq) != m.Seq {
				continue // recorded before
			}
		}
		fresh = append(fresh, guardRow{batch: r.Batch, row: r.Row, reference: r.Reference, payee: r.Payee, amount: r.Amount, seq: m.Seq})
	}
	return fresh, nil
}

// ensureBatch creates the batch record on its first message and reports
// whether the batch was sealed (its manifest arrived) already.
func ensureBatch(tx *Tx, batch string) (sealed bool, err error) {
	if _, err := tx.Exec(`INSERT INTO batches (id, status, first_seen_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		batch, payout.BatchReceiving, formatTime(tx.Now)); err != nil {
		return false, fmt.Errorf("record batch %s: %w", batch, err)
	}
	if err := tx.QueryRow(`SELECT manifest_digest IS NOT NULL FROM batches WHERE id = ?`, batch).Scan(&sealed); err != nil {
		return false, fmt.Errorf("read batch %s: %w", batch, err)
	}
	return sealed, nil
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

// rowInsertArgs is how many parameters each row of rowInsertQuery binds;
// the time (?1) and the state (?2) are bound once per statement.
const rowInsertArgs = 19

// rowInsertQueries holds rowInsertQuery's statements by row count.
var rowInsertQueries [insertChunk + 1]string

func init() {
	for n := 1; n <= insertChunk; n++ {
		var q strings.Builder
		q.WriteString(`INSERT INTO rows (batch_id, row_no, line, reference, method, amount_minor, currency,
	recipient, destination, bin, last4, dest_hash, payee, meta, description, intake_seq, digest, row_digest, card_fingerprint,
	received_at, state, moved_at, updated_at) VALUES `)
		for i := 0; i < n; i++ {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteByte('(')
			for k := 0; k < rowInsertArgs; k++ {
				fmt.Fprintf(&q, "?%d, ", 3+i*rowInsertArgs+k)
			}
			q.WriteString("?1, ?2, ?1, ?1)")
		}
		q.WriteString(" ON CONFLICT (batch_id, row_no) DO NOTHING")
		rowInsertQueries[n] = q.String()
	}
}

// rowInsertQuery is the statement that inserts n rows (1 ≤ n ≤ insertChunk).
func rowInsertQuery(n int) string { return rowInsertQueries[n] }

// insertRows records rows of one open batch with one statement and returns
// how many were new. When some already existed, each is compared with the
// recorded row: the same data is a duplicate, different data a conflict.
func insertRows(tx *Tx, msgs []intakeMsg, res *intakeResult) (int, error) {
	args := make([]any, 0, 2+rowInsertArgs*len(msgs))
	args = append(args, formatTime(tx.Now), string(payout.StateReceived))
	for i := range msgs {
		m := &msgs[i]
		r := m.Row
		args = append(args, r.Batch, r.Row, r.Line, r.Reference, string(r.Method), r.Amount.Minor, r.Amount.Currency,
			r.Recipient, r.Destination, r.BIN, r.Last4, r.DestHash, r.Payee, r.Meta, r.Description, int64(m.Seq), m.Digest[:],
			r.RowDigest, nullString(r.Fingerprint))
	}
	out, err := tx.Exec(rowInsertQuery(len(msgs)), args...)
	if err != nil {
		return 0, fmt.Errorf("record rows of %s: %w", msgs[0].Row.Batch, err)
	}
	n64, _ := out.RowsAffected()
	n := int(n64)
	res.Recorded += n
	if n == len(msgs) {
		return n, nil
	}
	conflicts := 0
	for i := range msgs {
		m := &msgs[i]
		var recorded recordedDigests
		if err := tx.QueryRow(`SELECT digest, row_digest FROM rows WHERE batch_id = ? AND row_no = ?`, m.Row.Batch, m.Row.Row).
			Scan(&recorded.digest, &recorded.rowDigest); err != nil {
			return 0, fmt.Errorf("read row %s/%d: %w", m.Row.Batch, m.Row.Row, err)
		}
		conflict, err := compareRecorded(tx, m, recorded)
		if err != nil {
			return 0, err
		}
		if conflict {
			conflicts++
		}
	}
	res.Conflicts += conflicts
	res.Duplicates += len(msgs) - n - conflicts
	return n, nil
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
