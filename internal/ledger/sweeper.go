package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// liveStates is the WHERE term of the rows_live partial index, repeated
// verbatim so SQLite uses the index.
const liveStates = `r.state IN ('queued', 'claimed', 'quoted', 'opening', 'session_open', 'starting',
                    'payout_started', 'confirming', 'confirmed', 'action_required', 'in_doubt')`

// beforeBank are states whose row stopped moving before the bank has a
// payout: re-enqueued with gen+1 when stuck.
var beforeBank = map[payout.State]bool{
	payout.StateQueued: true, payout.StateClaimed: true, payout.StateQuoted: true,
	payout.StateOpening: true, payout.StateSessionOpen: true, payout.StateStarting: true,
}

// waitingForBank are states whose row waits for the bank's news: polled
// when its webhook is late.
var waitingForBank = map[payout.State]bool{
	payout.StatePayoutStarted: true, payout.StateConfirming: true, payout.StateConfirmed: true,
	payout.StateActionRequired: true, payout.StateInDoubt: true,
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Requeued, Polled, Doubts, Stalled int
}

func (s *Service) runSweeper(ctx context.Context) {
	tick := time.NewTicker(s.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("sweep", logkey.Error, err)
		}
	}
}

// Sweep runs the sweeper once: re-enqueue rows stuck before the bank, poll
// rows whose webhook is late, and open an exception for rows in doubt, or
// waiting at the bank, past the deadline. In-doubt rows are never
// re-enqueued.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	s.compactPayees()
	var res SweepResult
	for {
		var n SweepResult
		err := s.w.Do(ctx, func(tx *Tx) error {
			var err error
			n, err = s.sweepOnce(tx, 500)
			return err
		})
		if err != nil {
			return res, err
		}
		res.Requeued += n.Requeued
		res.Polled += n.Polled
		res.Doubts += n.Doubts
		res.Stalled += n.Stalled
		if n.Requeued+n.Polled == 0 {
			break
		}
	}
	if res.Requeued > 0 {
		wake(s.kick)
	}
	return res, nil
}

// sweepOnce handles up to limit rows of each kind in tx.
func (s *Service) sweepOnce(tx *Tx, limit int) (SweepResult, error) {
	var res SweepResult
	now := tx.Now
	pick := func(where string, args ...any) ([]*rowRec, error) {
		rows, err := tx.Query(`SELECT `+rowColumns+rowFrom+`WHERE `+liveStates+` AND `+where+` ORDER BY r.moved_at LIMIT ?`,
			append(args, limit)...)
		if err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		defer rows.Close()
		var out []*rowRec
		for rows.Next() {
			r, err := scanRow(rows)
			if err != nil {
				return nil, fmt.Errorf("sweep: %w", err)
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}

	// Stuck before the bank: a new gen and a new pay job.
	// Rows on hold wait for their resume, which re-enqueues them.
	stuck, err := pick(`r.state IN ('queued', 'claimed', 'quoted', 'opening', 'session_open', 'starting') AND r.moved_at < ?
		AND r.stop <> 'hold' AND (SELECT b.hold_source FROM batches b WHERE b.id = r.batch_id) = ''`,
		formatTime(now.Add(-s.cfg.StuckAfter)))
	if err != nil {
		return res, err
	}
	for _, r := range stuck {
		since := now.Sub(parseTime(r.MovedAt)).Round(time.Second)
		gen := r.Gen + 1
		if _, err := tx.Exec(`UPDATE rows SET gen = ?, moved_at = ?, updated_at = ? WHERE batch_id = ? AND row_no = ?`,
			gen, formatTime(now), formatTime(now), r.Batch, r.Row); err != nil {
			return res, fmt.Errorf("re-enqueue %s/%d: %w", r.Batch, r.Row, err)
		}
		if err := logTransition(tx, r, r.State, r.State, gen, r.Attempt,
			ledgerapi.Evidence{Source: ledgerapi.SourceSweeper, Detail: fmt.Sprintf("no progress for %s; re-enqueued as gen %d", since, gen)},
			"", r.SessionID, "", "", "", ""); err != nil {
			return res, err
		}
		s.log.Warn("row stuck; re-enqueued", logkey.Batch, r.Batch, logkey.Row, r.Row, logkey.Reference, r.Reference,
			logkey.State, r.State, "gen", gen)
		res.Requeued++
	}

	// Waiting for the bank, its webhook late: a poll job, at a growing interval.
	waiting, err := pick(`r.state IN ('payout_started', 'confirming', 'confirmed', 'action_required', 'in_doubt')
		AND r.moved_at < ? AND (r.next_poll_at IS NULL OR r.next_poll_at <= ?)
		AND (r.session_id <> '' OR r.confirm_session <> '')`,
		formatTime(now.Add(-s.cfg.PollAfter)), formatTime(now))
	if err != nil {
		return res, err
	}
	var jobs []ledgerapi.Job
	var ids []string
	for _, r := range waiting {
		j, id, err := s.schedulePoll(tx, r)
		if err != nil {
			return res, err
		}
		jobs, ids = append(jobs, j), append(ids, id)
		s.log.Info("webhook late; poll", logkey.Batch, r.Batch, logkey.Row, r.Row, logkey.Reference, r.Reference,
			logkey.State, r.State, logkey.Session, j.SessionID, "poll", r.Polls+1)
		res.Polled++
	}
	if len(jobs) > 0 {
		tx.After(func() { s.publishPolls(jobs, ids) })
	}

	// At the bank past the deadline with no final word (a start the bank
	// never acted on, a webhook and every poll lost): an exception, once
	// per row and attempt, so no row waits unseen; the polls go on.
	n, err := s.openOverdue(tx, pick, reconcile.StalledAtBank, `r.state IN ('payout_started', 'confirming', 'confirmed', 'action_required')`,
		now.Add(-s.cfg.StallAfter), "row without a final word from the bank past its deadline", func(r *rowRec) string {
			return fmt.Sprintf("row %d (%s) has waited at the bank in %s since %s, session %q, without a final word; polls go on, and the bank's daily report or support settles it",
				r.Row, r.Reference, r.State, r.MovedAt, firstNonEmpty(r.ConfirmSession, r.SessionID))
		})
	if err != nil {
		return res, err
	}
	res.Stalled += n

	// In doubt past the deadline: an exception (once per row), never a retry.
	n, err = s.openOverdue(tx, pick, reconcile.InDoubt, `r.state = 'in_doubt'`, now.Add(-s.cfg.DoubtDeadline),
		"row in doubt past its deadline", func(r *rowRec) string {
			return fmt.Sprintf("row %d (%s) in doubt past its deadline: since %s, session %q; only the bank's evidence (webhook, session/status, daily report) can settle it",
				r.Row, r.Reference, r.MovedAt, firstNonEmpty(r.ConfirmSession, r.SessionID))
		})
	if err != nil {
		return res, err
	}
	res.Doubts += n
	return res, nil
}

// openOverdue opens an exception of category, once per row and attempt,
// for the rows in states (a condition on r) that have not moved since
// before; it returns how many it opened.
func (s *Service) openOverdue(tx *Tx, pick func(where string, args ...any) ([]*rowRec, error), category reconcile.Category, states string,
	before time.Time, msg string, detail func(*rowRec) string) (int, error) {
	rows, err := pick(states+` AND r.moved_at < ? AND NOT EXISTS (SELECT 1 FROM exceptions e
		WHERE e.key = '`+string(category)+`:' || r.batch_id || '/' || r.row_no || '/' || r.attempt)`, formatTime(before))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		opened, err := openException(tx, category, fmt.Sprintf("%s/%d/%d", r.Batch, r.Row, r.Attempt), r.Batch, r.Row, detail(r))
		if err != nil {
			return n, err
		}
		if opened {
			s.log.Error(msg, logkey.Batch, r.Batch, logkey.Row, r.Row, logkey.Reference, r.Reference, logkey.State, r.State)
			n++
		}
	}
	return n, nil
}

// compactPayees drops, once a day, the payee index's entries older than
// the duplicate window.
func (s *Service) compactPayees() {
	s.gidxMu.Lock()
	defer s.gidxMu.Unlock()
	now := s.db.Now()
	if d := dayNumber(now); s.gidx != nil && d != s.gidxDay {
		s.gidx.payees.compact(now.Add(-s.cfg.DuplicateWindow))
		s.gidxDay = d
	}
}
