// A row that would take its open batch's total in one currency past 64
// bits is not recorded: the batch is rejected with the reason (rev6).

package ledger

import (
	"fmt"

	"github.com/payrun/payrun/internal/reconcile"
)

// batchSums is what a group of intake messages knows of its open batches'
// recorded amounts per currency: batch_counts' when the group first meets
// a batch and currency, plus the rows the group records.
type batchSums map[batchCurrency]int64

type batchCurrency struct{ batch, currency string }

// fitting returns how many of run (rows of one open batch) can be recorded
// before one would take the batch's total in its currency past 64 bits,
// and counts them in. A row recorded already (a redelivery) adds nothing:
// before a row is refused the total is read again from the rows.
func (s batchSums) fitting(tx *Tx, run []intakeMsg) (int, error) {
	// The run's rows are of one batch and most often of one currency: its
	// total is kept here between rows, not looked up in the map per row.
	var k batchCurrency
	var v int64
	for n := range run {
		r := run[n].Row
		if n == 0 || r.Amount.Currency != k.currency {
			if n > 0 {
				s[k] = v
			}
			k = batchCurrency{r.Batch, r.Amount.Currency}
			var ok bool
			if v, ok = s[k]; !ok {
				var err error
				if v, err = countedAmount(tx, k); err != nil {
					return 0, err
				}
				s[k] = v
			}
		}
		if sum, ok := addMinor(v, r.Amount.Minor); ok {
			v = sum
			continue
		}
		s[k] = v
		if n > 0 {
			return n, nil // the rows before it go in first; it is looked at again after them
		}
		// The exact total, from the rows recorded (this group's included).
		var recorded bool
		if err := tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM rows WHERE batch_id = ? AND row_no = ?)`, r.Batch, r.Row).
			Scan(&recorded); err != nil {
			return 0, fmt.Errorf("read row %s/%d: %w", r.Batch, r.Row, err)
		}
		if recorded {
			return 1, nil // a repeat: insertRows compares it, nothing is added
		}
		if err := tx.QueryRow(`SELECT coalesce(sum(amount_minor), 0) FROM rows WHERE batch_id = ? AND currency = ?`,
			k.batch, k.currency).Scan(&v); err != nil {
			return 0, fmt.Errorf("sum rows of %s: %w", k.batch, err)
		}
		s[k] = v
		if sum, ok := addMinor(v, r.Amount.Minor); ok {
			s[k] = sum
			return 1, nil
		}
		return 0, nil
	}
	s[k] = v
	return len(run), nil
}

// countedAmount is batch_counts' amount of a batch in a currency, over
// every state.
func countedAmount(tx *Tx, k batchCurrency) (int64, error) {
	rows, err := tx.Query(`SELECT amount_minor FROM batch_counts WHERE batch_id = ? AND currency = ?`, k.batch, k.currency)
	if err != nil {
		return 0, fmt.Errorf("read counts of %s: %w", k.batch, err)
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return 0, fmt.Errorf("read counts of %s: %w", k.batch, err)
		}
		var ok bool
		if total, ok = addMinor(total, v); !ok {
			return 0, fmt.Errorf("counts of %s in %s sum past 64 bits", k.batch, k.currency)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read counts of %s: %w", k.batch, err)
	}
	return total, nil
}

// addMinor is a+b, and whether it fits in 64 bits.
func addMinor(a, b int64) (int64, bool) {
	s := a + b
	return s, !(b > 0 && s < a || b < 0 && s > a)
}

// overflowRow keeps a row that would take its open batch's total past 64
// bits out of the ledger: an exception on the batch says so, and the
// batch's manifest rejects the batch (compareManifestFacts).
func overflowRow(tx *Tx, m *intakeMsg, res *intakeResult) error {
	r := m.Row
	res.Invalid++
	// A message's exception is keyed by its stream sequence; the rows of a
	// chunk share it, so a chunk's later rows add their number (the first
	// keeps the message's key: one row message's, as before chunks).
	key := fmt.Sprint(m.Seq)
	if m.part > 0 {
		key = fmt.Sprintf("%d/%d", m.Seq, r.Row)
	}
	_, err := openException(tx, reconcile.IntakeInvalid, key, r.Batch, r.Row,
		fmt.Sprintf("intake message %d: row %d of batch %s would take the batch's total in %s past 64 bits; it is not recorded and the batch is rejected",
			m.Seq, r.Row, r.Batch, r.Amount.Currency))
	return err
}
