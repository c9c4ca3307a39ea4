package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

// After a restore. The replica of ledger.db (Litestream) runs up to about
// a second behind: a ledger restored from it may lack the last moments
// before its disk was lost. What those moments recorded is rebuilt from
// what outlives the disk:
//
//   - rows and manifests: the intake cursor is in the database, so an
//     older cursor delivers the lost messages again; recording is
//     idempotent by digest;
//   - jobs: a job lost with the tail is published again (its message id
//     dedups one still in the stream), the sweeper re-enqueues rows that
//     stop moving, and each step of a processor repeats the bank call with
//     the key the ledger recorded (docs/ARCHITECTURE.md, idempotency keys);
//   - the bank's answers: every verified webhook is in PAYRUN_HOOKS. The
//     ledger-hooks consumer does not deliver again what it acknowledged, so
//     the first run after a restore replays the stream from an hour before
//     the restored database's last write (replayMargin), recording each
//     webhook again (a no-op for those it has) before the API, the release
//     and the sweeper start. A webhook naming a row (our metadata) with a
//     session the restored row does not know means the lost tail had taken
//     the row to the bank: the row adopts that session and becomes in_doubt
//     (adoptReplayed), so it is never driven into a second session, and the
//     bank's word (polls of session/status, webhooks, the daily report)
//     settles it. A transfer whose quote was lost too gets a fresh one at
//     the gate (GateRequest.Quote), and its polls name the ready_to_confirm
//     to handle again (Job.HookSeq): docs/ARCHITECTURE.md, "After a restore".
//
// What no replay brings back is written nowhere else: a person's decision
// (an approval, a cancellation) taken in the lost second must be taken
// again; the audit log shows where it ends.

// replayMargin is how far before the restored database's last write the
// hooks are replayed: a webhook is recorded within moments of being
// stored, or redelivered for at most MaxDeliver (20) × AckWait (1 min).
const replayMargin = time.Hour

// RecordRestore marks the database at db as restored from replica: the
// next Start replays the streams before serving. It returns the restored
// database's last write.
func (db *DB) RecordRestore(ctx context.Context, replica string) (time.Time, error) {
	return db.RecordRestoreBy(ctx, replica, auth.HostActor(""))
}

// RecordRestoreBy is RecordRestore by a person (`ledger restore`: the
// host's user), who is named in the audit entry it writes with the
// restore's record, in one transaction.
func (db *DB) RecordRestoreBy(ctx context.Context, replica string, by auth.Actor) (time.Time, error) {
	tx, err := db.wc.BeginTx(ctx, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("record the restore: %w", err)
	}
	defer tx.Rollback()
	var last sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT max(t) FROM (
		SELECT max(at) AS t FROM transitions
		UNION ALL SELECT max(recorded_at) FROM bank_events)`).Scan(&last)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the restored ledger's last write: %w", err)
	}
	now := time.Now().UTC()
	lastWrite := now
	if last.Valid && last.String != "" {
		lastWrite = parseTime(last.String)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO restores (restored_at, replica, last_write) VALUES (?, ?, ?)`,
		formatTime(now), replica, formatTime(lastWrite)); err != nil {
		return time.Time{}, fmt.Errorf("record the restore: %w", err)
	}
	if by.Name == "" {
		by = auth.HostActor("")
	}
	e := auth.NewEntry(by, auth.ActRestore, auth.OutcomeOK)
	e.Target = replica
	e.Detail = "restored; its last write was at " + lastWrite.Format(time.RFC3339Nano) +
		": decisions taken after it are not in this record and the audit log ends there before this entry"
	if err := writeAudit(sqlTxAudit{ctx, tx}, now, e); err != nil {
		return time.Time{}, fmt.Errorf("record the restore: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return time.Time{}, fmt.Errorf("record the restore: %w", err)
	}
	return lastWrite, nil
}

// pendingRestore returns the restore not yet replayed, if any.
func (s *Service) pendingRestore(ctx context.Context) (id int64, lastWrite time.Time, ok bool, err error) {
	var lw string
	err = s.db.r.QueryRowContext(ctx, `SELECT id, last_write FROM restores WHERE replayed_at IS NULL ORDER BY id LIMIT 1`).Scan(&id, &lw)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("read restores: %w", err)
	}
	return id, parseTime(lw), true, nil
}

// replayAfterRestore replays PAYRUN_HOOKS after a restore (see above),
// up to the stream's last message when it starts, then marks the restore
// replayed. Nothing else of the service runs yet.
func (s *Service) replayAfterRestore(ctx context.Context) error {
	id, lastWrite, ok, err := s.pendingRestore(ctx)
	if err != nil || !ok {
		return err
	}
	log := s.log.With(logkey.Component, "restore")
	from := lastWrite.Add(-replayMargin)
	info, err := s.js.Stream(ctx, queue.StreamHooks)
	if err != nil {
		return fmt.Errorf("replay hooks after restore: %w", err)
	}
	si, err := info.Info(ctx)
	if err != nil {
		return fmt.Errorf("replay hooks after restore: %w", err)
	}
	end := si.State.LastSeq
	var seen, adopted int
	if end > 0 {
		c, err := s.js.OrderedConsumer(ctx, queue.StreamHooks, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{queue.HooksPrefix + ">"},
			DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
			OptStartTime:   &from,
		})
		if err != nil {
			return fmt.Errorf("replay hooks after restore: %w", err)
		}
	read:
		for {
			batch, err := c.Fetch(500, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				return fmt.Errorf("replay hooks after restore: %w", err)
			}
			var evs []bankEvent
			last := uint64(0)
			for m := range batch.Messages() {
				evs = append(evs, parseHook(m))
				if md, err := m.Metadata(); err == nil {
					last = md.Sequence.Stream
				}
			}
			if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("replay hooks after restore: %w", err)
			}
			if len(evs) > 0 {
				n := 0
				if err := s.w.Do(ctx, func(tx *Tx) error {
					n = 0
					for _, ev := range evs {
						if err := s.recordHook(tx, ev); err != nil {
							return err
						}
						ok, err := s.adoptReplayed(tx, ev)
						if err != nil {
							return err
						}
						if ok {
							n++
						}
					}
					return nil
				}); err != nil {
					return fmt.Errorf("replay hooks after restore: %w", err)
				}
				seen += len(evs)
				adopted += n
			}
			if len(evs) == 0 || last >= end {
				break read
			}
		}
	}
	if err := s.w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE restores SET replayed_at = ? WHERE id = ?`, formatTime(tx.Now), id)
		return err
	}); err != nil {
		return fmt.Errorf("mark restore replayed: %w", err)
	}
	log.Warn("restored ledger: webhooks replayed", "from", from, "to_seq", end, "webhooks", seen, "rows_in_doubt", adopted)
	return nil
}

// adoptReplayed handles a replayed webhook that names a live row with a
// session the row does not know (and no other row or role claims): the
// lost tail had taken the row to the bank in that session. The row adopts
// it and becomes in_doubt — never retried, settled by the bank's word. It
// reports whether it did.
func (s *Service) adoptReplayed(tx *Tx, ev bankEvent) (bool, error) {
	if ev.Ref == nil || ev.SessionID == "" {
		return false, nil
	}
	r, err := loadRow(tx, ev.Ref.Batch, ev.Ref.Row)
	if errors.Is(err, errNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if r.State.Terminal() || r.SessionID != "" || r.ConfirmSession != "" {
		return false, nil
	}
	switch r.State {
	case payout.StateReceived, payout.StateScheduled, payout.StateAwaitingApproval, payout.StateQueued,
		payout.StateClaimed, payout.StateQuoted, payout.StateOpening, payout.StateInDoubt:
	default:
		return false, nil
	}
	batch, row, role, err := sessionOwner(tx, ev.SessionID)
	if err != nil {
		return false, err
	}
	if (batch != "" && (batch != r.Batch || row != r.Row)) || role == roleAbandoned || role == roleCancelled || role == roleForeign {
		return false, nil
	}
	from := r.State
	if err := adoptSession(tx, r, ev.SessionID); err != nil {
		return false, err
	}
	now := formatTime(tx.Now)
	if _, err := tx.Exec(`UPDATE rows SET state = ?, moved_at = ?, updated_at = ?, polls = 0, next_poll_at = NULL
		WHERE batch_id = ? AND row_no = ?`, string(payout.StateInDoubt), now, now, r.Batch, r.Row); err != nil {
		return false, fmt.Errorf("restore: %s/%d in doubt: %w", r.Batch, r.Row, err)
	}
	detail := fmt.Sprintf("restored ledger: webhook %s (%s) names session %s for this row, which the restored record lacks; in doubt until the bank's word", ev.HookID, ev.Type, ev.SessionID)
	if err := logTransition(tx, r, from, payout.StateInDoubt, r.Gen, r.Attempt,
		ledgerapi.Evidence{Source: ledgerapi.SourceLedger, HookID: ev.HookID, HookType: ev.Type, Detail: detail},
		"", ev.SessionID, ev.PayoutID, "", "", ""); err != nil {
		return false, err
	}
	s.log.Warn("restored ledger: row adopts a session the bank named", logkey.Batch, r.Batch, logkey.Row, r.Row,
		logkey.Reference, r.Reference, "from", from, logkey.Session, ev.SessionID, logkey.HookID, ev.HookID)
	return true, nil
}

// QuickCheck runs SQLite's quick_check on the database.
func (db *DB) QuickCheck(ctx context.Context) error {
	var res string
	if err := db.wc.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res); err != nil {
		return fmt.Errorf("check ledger %s: %w", db.path, err)
	}
	if res != "ok" {
		return fmt.Errorf("ledger %s is damaged: %s", db.path, res)
	}
	return nil
}
