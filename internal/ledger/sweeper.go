package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/reconcile"
)

// jobSeqStates is the WHERE term of the rows_job_seq partial index, the
// same states as beforeBankStates, so SQLite uses the index.
const jobSeqStates = `state IN ` + beforeBankStates

// waitingStates is the WHERE term of the rows_waiting partial index (rows
// waiting for the bank's word), repeated verbatim so SQLite uses it: every
// pick of a sweep is of such rows.
const waitingStates = `r.state IN ('payout_started', 'confirming', 'confirmed', 'action_required', 'in_doubt')`

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
	q, err := s.jobQueue(ctx)
	if err != nil {
		// The queue cannot be read: no row is taken for stuck this time
		// (first 0: no sequence is below it); polls and deadlines go on.
		s.log.Warn("sweep: cannot read the queue; nothing re-enqueued this time", logkey.Error, err)
		q = &jobQueue{}
	}
	for {
		var n SweepResult
		err := s.w.Do(ctx, func(tx *Tx) error {
			var err error
			n, err = s.sweepOnce(tx, q, 500)
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
	// A few lines per sweep, not one per row (each row is at debug).
	if res.Requeued > 0 {
		metrics.Requeued.Add(float64(res.Requeued))
		s.log.Warn("rows stuck before the bank, their jobs gone from "+queue.StreamJobs+"; re-enqueued", "rows", res.Requeued)
		wake(s.kick)
	}
	if res.Polled > 0 {
		s.log.Info("webhooks late; polls sent", "rows", res.Polled)
	}
	return res, nil
}

// sweepOnce handles up to limit rows of each kind in tx (pick: rows
// waiting for the bank; pickStuck: rows before it); q is the state
// of PAYRUN_JOBS (nil: the service has no queue).
func (s *Service) sweepOnce(tx *Tx, q *jobQueue, limit int) (SweepResult, error) {
	var res SweepResult
	now := tx.Now
	pick := func(where string, args ...any) ([]*rowRec, error) {
		rows, err := tx.Query(`SELECT `+rowColumns+rowFrom+`WHERE `+waitingStates+` AND `+where+` ORDER BY r.moved_at LIMIT ?`,
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
	stuck, err := s.pickStuck(tx, q, limit)
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
		detail := fmt.Sprintf("no progress for %s; re-enqueued as gen %d", since, gen)
		if q != nil {
			detail = fmt.Sprintf("no progress for %s and its job (PAYRUN_JOBS %d) is gone; re-enqueued as gen %d", since, r.jobSeq, gen)
		}
		if err := logTransition(tx, &r.rowRec, r.State, r.State, gen, r.Attempt,
			ledgerapi.Evidence{Source: ledgerapi.SourceSweeper, Detail: detail},
			"", r.SessionID, "", "", "", ""); err != nil {
			return res, err
		}
		s.log.Debug("row stuck; re-enqueued", logkey.Batch, r.Batch, logkey.Row, r.Row, logkey.Reference, r.Reference,
			logkey.State, r.State, "gen", gen, "job_seq", r.jobSeq)
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
		s.log.Debug("webhook late; poll", logkey.Batch, r.Batch, logkey.Row, r.Row, logkey.Reference, r.Reference,
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

// jobQueue is what the sweeper reads of PAYRUN_JOBS to tell a lost job
// from one that waits its turn: the stream's first sequence (a work queue
// drops every message below it: acknowledged, expired or purged) and the
// sequences deleted inside it (acknowledged out of order, or deleted by
// hand), with those whose deliveries ran out (a dead-letter exception):
// JetStream will not hand them out again. Anything else is still there: it
// waits in line, or a worker holds it (its InProgress heartbeats keep it,
// and if the worker dies JetStream delivers it again after AckWait), so
// its row is not stuck whatever its age.
type jobQueue struct {
	first uint64
	gone  []uint64
	// reset: the stream's last sequence is below one the ledger recorded
	// before reading it, so PAYRUN_JOBS was deleted and made again and
	// every sequence above its last is gone too.
	reset bool
	last  uint64
}

// goneJSON is the gone sequences as a JSON array, for json_each.
func (q *jobQueue) goneJSON() string {
	b, _ := json.Marshal(q.gone)
	if q.gone == nil {
		return "[]"
	}
	return string(b)
}

// jobQueue reads the state of PAYRUN_JOBS (one stream-info request); nil
// when the service has no queue (tests that drive it directly), and then
// a row's age alone decides.
func (s *Service) jobQueue(ctx context.Context) (*jobQueue, error) {
	if s.js == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The highest sequence recorded, read before the stream (the index).
	var recorded sql.NullInt64
	if err := s.db.r.QueryRowContext(ctx, `SELECT max(job_seq) FROM rows WHERE `+jobSeqStates).Scan(&recorded); err != nil {
		return nil, fmt.Errorf("sweep: read job sequences: %w", err)
	}
	st, err := s.js.Stream(ctx, queue.StreamJobs)
	if err != nil {
		return nil, fmt.Errorf("sweep: look up %s: %w", queue.StreamJobs, err)
	}
	info, err := st.Info(ctx, jetstream.WithDeletedDetails(true))
	if err != nil {
		return nil, fmt.Errorf("sweep: read %s: %w", queue.StreamJobs, err)
	}
	q := &jobQueue{first: info.State.FirstSeq, gone: info.State.Deleted, last: info.State.LastSeq}
	if info.State.Msgs == 0 {
		q.first = info.State.LastSeq + 1
	}
	if recorded.Valid && uint64(recorded.Int64) > q.last {
		q.reset = true
		s.log.Warn(queue.StreamJobs+" was made again: the jobs of its sequences above its last are gone", "last", q.last,
			"recorded", recorded.Int64)
	}
	// Dead-letter keys are "dead_letter:PAYRUN_JOBS/<seq>" (recordDead);
	// '0' follows '/', so the range is the prefix, on the key's index.
	prefix := string(reconcile.DeadLetter) + ":" + queue.StreamJobs + "/"
	rows, err := s.db.r.QueryContext(ctx, `SELECT key FROM exceptions WHERE key >= ? AND key < ?`,
		prefix, strings.TrimSuffix(prefix, "/")+"0")
	if err != nil {
		return nil, fmt.Errorf("sweep: read dead jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			return nil, fmt.Errorf("sweep: read dead jobs: %w", err)
		}
		if seq, err := strconv.ParseUint(strings.TrimPrefix(key, prefix), 10, 64); err == nil && seq >= q.first {
			q.gone = append(q.gone, seq)
		}
	}
	return q, rows.Err()
}

// stuckRow is a row the sweeper re-enqueues, with its job's sequence.
type stuckRow struct {
	rowRec
	jobSeq uint64
}

// withJobSeq scans a row and then its job_seq.
type withJobSeq struct {
	s   scanner
	seq *uint64
}

func (w withJobSeq) Scan(dest ...any) error { return w.s.Scan(append(dest, w.seq)...) }

// pickStuck returns up to limit rows stuck before the bank: not moved for
// StuckAfter, not on hold, and (with a queue) whose acknowledged job is
// gone from PAYRUN_JOBS. A row whose job is not acknowledged yet is the
// publisher's (it publishes again). Without a queue the age alone decides.
// The rows_job_seq index finds the rows below the first sequence or among
// the gone ones without reading the line that waits.
func (s *Service) pickStuck(tx *Tx, q *jobQueue, limit int) ([]*stuckRow, error) {
	common := jobSeqStates + ` AND r.moved_at < ?
		AND r.stop <> 'hold' AND (SELECT b.hold_source FROM batches b WHERE b.id = r.batch_id) = ''`
	cutoff := formatTime(tx.Now.Add(-s.cfg.StuckAfter))
	type cond struct {
		where string
		arg   any
	}
	conds := []cond{{"", nil}}
	if q != nil {
		// Two searches of the index rather than one OR, which SQLite
		// answers by scanning every row in line.
		conds = []cond{{` AND r.job_gen = r.gen AND r.job_seq < ?`, q.first}}
		if len(q.gone) > 0 {
			conds = append(conds, cond{` AND r.job_gen = r.gen AND r.job_seq IN (SELECT value FROM json_each(?))`, q.goneJSON()})
		}
		if q.reset {
			conds = append(conds, cond{` AND r.job_gen = r.gen AND r.job_seq > ?`, q.last})
		}
	}
	var out []*stuckRow
	seen := map[rowKey]bool{}
	for _, c := range conds {
		args := []any{cutoff}
		if c.arg != nil {
			args = append(args, c.arg)
		}
		rows, err := tx.Query(`SELECT `+rowColumns+`, r.job_seq`+rowFrom+`WHERE `+common+c.where+` LIMIT ?`, append(args, limit-len(out))...)
		if err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		for rows.Next() {
			var seq uint64
			r, err := scanRow(withJobSeq{rows, &seq})
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("sweep: %w", err)
			}
			if k := (rowKey{batch: r.Batch, row: r.Row}); !seen[k] {
				seen[k] = true
				out = append(out, &stuckRow{rowRec: *r, jobSeq: seq})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}

// rowKey names one row.
type rowKey struct {
	batch string
	row   int
}
