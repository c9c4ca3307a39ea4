package ledger

import (
	"fmt"

	"github.com/payrun/payrun/internal/payout"
)

// Rows the bank knows and this ledger does not (rev11). A ledger restored
// from a backup older than some of its work lacks what it did after the
// backup; the restore's replay (restore.go) records the bank's webhooks
// again, but a webhook that names a row the restored record does not have
// (a child batch resubmitted after the backup; an intake batch the replay
// comes before, recorded again from the intake stream only after it) has no
// row to adopt its session then. Two paths would pay such a row again:
//
//   - the same row made again (the intake delivers the batch again; the
//     same resubmit asked again makes the same child id): released as new,
//     its first two-step key meets the bank's idempotency_key_already_exists
//     and the processor opens a new attempt, a second session, while the
//     bank may have confirmed the first. adoptNamed adopts the session the
//     bank named before the batch's first release, as the replay would
//     have: the row is in_doubt until the bank's word.
//   - the same reference under another row (another selection resubmitted
//     makes another child id; a corrected re-export uploaded after the
//     restore): the guard's repeat query sees only rows, and the parent's
//     row is failed. orphanRepeats names, by reference, the rows of batches
//     this ledger does not have that the bank's webhooks name, so the guard
//     holds such a row as a repeat.

// adoptNamed adopts, for the rows of batch not yet released, the sessions
// the bank's recorded webhooks name (adoptReplayed); it returns how many
// rows it adopted. Called in the transaction of a batch's first release.
func (s *Service) adoptNamed(tx *Tx, batch string) (int, error) {
	rows, err := tx.Query(`SELECT hook_id, type, session_id, payout_id, ref_row FROM bank_events
		WHERE ref_batch = ? AND session_id <> '' ORDER BY stream_seq`, batch)
	if err != nil {
		return 0, fmt.Errorf("webhooks naming %s before its release: %w", batch, err)
	}
	var evs []bankEvent
	for rows.Next() {
		ev := bankEvent{Ref: &payout.BankRef{Batch: batch}}
		if err := rows.Scan(&ev.HookID, &ev.Type, &ev.SessionID, &ev.PayoutID, &ev.Ref.Row); err != nil {
			rows.Close()
			return 0, fmt.Errorf("webhooks naming %s before its release: %w", batch, err)
		}
		evs = append(evs, ev)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("webhooks naming %s before its release: %w", batch, err)
	}
	n := 0
	for _, ev := range evs {
		ok, err := s.adoptReplayed(tx, ev)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// orphanRepeats lists, by reference, the rows of batches this ledger does
// not have that the bank's webhooks recorded since name (our metadata
// carries the reference): each as the earlier row a new row with that
// reference repeats, paid when a webhook says its payout succeeded, else
// in doubt. Batches are never deleted here (an archived one keeps its
// row in batches), so a batch the ledger does not have is one it lost.
func orphanRepeats(tx *Tx, since string) (map[string]*earlierRow, error) {
	rows, err := tx.Query(`SELECT ref_batch, ref_row, ref_reference, max(payout_status = 'succeeded'), max(recorded_at)
		FROM bank_events WHERE ref_batch IN (SELECT k.batch_id FROM batch_keys k WHERE NOT EXISTS (SELECT 1 FROM batches b WHERE b.id = k.batch_id))
		AND ref_reference <> '' AND recorded_at >= ? GROUP BY ref_batch, ref_row, ref_reference`, since)
	if err != nil {
		return nil, fmt.Errorf("read webhooks of batches the ledger lacks: %w", err)
	}
	defer rows.Close()
	out := map[string]*earlierRow{}
	for rows.Next() {
		e := &earlierRow{kind: HoldRepeat, state: payout.StateInDoubt, unknown: true}
		var paid bool
		if err := rows.Scan(&e.batch, &e.no, &e.reference, &paid, &e.movedAt); err != nil {
			return nil, fmt.Errorf("read webhooks of batches the ledger lacks: %w", err)
		}
		if paid {
			e.state = payout.StateSucceeded
		}
		if o := out[e.reference]; o == nil || e.better(o) {
			out[e.reference] = e
		}
	}
	return out, rows.Err()
}
