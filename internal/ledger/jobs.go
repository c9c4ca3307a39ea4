package ledger

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

// jobMsg builds the message of a job.
func jobMsg(j ledgerapi.Job, msgID string) *nats.Msg {
	data, _ := json.Marshal(j)
	return &nats.Msg{Subject: queue.JobSubject(j.Batch), Data: data, Header: nats.Header{
		jetstream.MsgIDHeader: []string{msgID},
		queue.HeaderBatch:     []string{j.Batch},
		queue.HeaderRow:       []string{strconv.Itoa(j.Row)},
	}}
}

// PollMsgID is the Nats-Msg-Id of the n-th poll job of a row's gen.
func PollMsgID(batch string, row, gen, n int, since time.Time) string {
	return queue.JobMsgID(batch, row, gen) + ":p" + strconv.Itoa(n) + "@" + strconv.FormatInt(since.UnixMilli(), 10)
}

// pendingJob is a row whose current pay job JetStream has not acknowledged.
type pendingJob struct {
	job ledgerapi.Job
	fut jetstream.PubAckFuture
	seq uint64 // its PAYRUN_JOBS sequence, from the acknowledgement
}

// runPublisher publishes the pay job of every row whose gen is ahead of its
// acknowledged job (a release, a re-enqueue, a return to the queue) and
// records each acknowledgement. It runs at start (republishing what a
// previous run did not see acknowledged), when woken, and every few
// seconds. The job's Nats-Msg-Id makes a republish within the dedup
// window a no-op; after it, a duplicate job is dropped by the processor's
// gen and state checks.
func (s *Service) runPublisher(ctx context.Context) {
	log := s.log.With(logkey.Component, "publisher")
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		for ctx.Err() == nil {
			n, err := s.publishPending(ctx)
			if err != nil {
				log.Error("publish jobs", logkey.Error, err)
				break
			}
			if n == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-tick.C:
		}
	}
}

// publishPending publishes one chunk of pending jobs and waits for their
// acknowledgements; it returns how many it published.
func (s *Service) publishPending(ctx context.Context) (int, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT batch_id, row_no, gen, intake_seq, digest FROM rows
		WHERE job_gen < gen AND state NOT IN ('succeeded', 'failed', 'cancelled', 'returned')
		ORDER BY batch_id, row_no LIMIT 5000`)
	if err != nil {
		return 0, fmt.Errorf("find pending jobs: %w", err)
	}
	var pending []*pendingJob
	for rows.Next() {
		var j ledgerapi.Job
		var seq int64
		var digest []byte
		if err := rows.Scan(&j.Batch, &j.Row, &j.Gen, &seq, &digest); err != nil {
			rows.Close()
			return 0, fmt.Errorf("find pending jobs: %w", err)
		}
		j.Kind, j.IntakeSeq, j.RowDigest = ledgerapi.JobPay, uint64(seq), hex.EncodeToString(digest)
		pending = append(pending, &pendingJob{job: j})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find pending jobs: %w", err)
	}
	if len(pending) == 0 {
		return 0, nil
	}
	for _, p := range pending {
		p.fut, err = s.js.PublishMsgAsync(jobMsg(p.job, queue.JobMsgID(p.job.Batch, p.job.Row, p.job.Gen)),
			jetstream.WithStallWait(30*time.Second))
		if err != nil {
			break
		}
	}
	var acked []*pendingJob
	for _, p := range pending {
		if p.fut == nil {
			continue
		}
		select {
		case ack := <-p.fut.Ok():
			p.seq = ack.Sequence
			acked = append(acked, p)
		case err := <-p.fut.Err():
			s.log.Warn("job publish failed; will retry", logkey.Batch, p.job.Batch, logkey.Row, p.job.Row, logkey.Error, err)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if len(acked) > 0 {
		err := s.w.Do(context.WithoutCancel(ctx), func(tx *Tx) error {
			for _, p := range acked {
				// SET reads the old job_gen: the sequence follows the newest gen.
				if _, err := tx.Exec(`UPDATE rows SET job_seq = CASE WHEN ? >= job_gen THEN ? ELSE job_seq END,
					job_gen = max(job_gen, ?) WHERE batch_id = ? AND row_no = ?`,
					p.job.Gen, p.seq, p.job.Gen, p.job.Batch, p.job.Row); err != nil {
					return fmt.Errorf("mark job published: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	if err != nil {
		return len(acked), fmt.Errorf("publish job: %w", err)
	}
	if len(acked) < len(pending) {
		return len(acked), fmt.Errorf("%d of %d jobs not acknowledged", len(pending)-len(acked), len(pending))
	}
	return len(acked), nil
}

// publishPolls sends poll jobs after the transaction that counted them
// committed. They are not tracked: a lost poll is followed by the next one.
func (s *Service) publishPolls(jobs []ledgerapi.Job, ids []string) {
	if s.js == nil {
		return
	}
	for i, j := range jobs {
		fut, err := s.js.PublishMsgAsync(jobMsg(j, ids[i]))
		if err != nil {
			s.log.Warn("poll job not published", logkey.Batch, j.Batch, logkey.Row, j.Row, logkey.Error, err)
			continue
		}
		go func() {
			select {
			case <-fut.Ok():
			case err := <-fut.Err():
				s.log.Warn("poll job not published", logkey.Batch, j.Batch, logkey.Row, j.Row, logkey.Error, err)
			}
		}()
	}
}

// schedulePoll counts a poll of row r, sets its next poll time and returns
// the job with its message id; the caller publishes after the commit.
func (s *Service) schedulePoll(tx *Tx, r *rowRec) (ledgerapi.Job, string, error) {
	n := r.Polls + 1
	wait := s.cfg.PollAfter << min(n, 20)
	if wait > s.cfg.PollMax || wait <= 0 {
		wait = s.cfg.PollMax
	}
	next := tx.Now.Add(wait)
	if _, err := tx.Exec(`UPDATE rows SET polls = ?, next_poll_at = ? WHERE batch_id = ? AND row_no = ?`,
		n, formatTime(next), r.Batch, r.Row); err != nil {
		return ledgerapi.Job{}, "", fmt.Errorf("schedule poll of %s/%d: %w", r.Batch, r.Row, err)
	}
	j := ledgerapi.Job{Kind: ledgerapi.JobPoll, Batch: r.Batch, Row: r.Row, Gen: r.Gen, IntakeSeq: r.IntakeSeq,
		RowDigest: hex.EncodeToString(r.Digest), SessionID: firstNonEmpty(r.ConfirmSession, r.SessionID)}
	if r.Method == payout.MethodTransfer && j.SessionID != "" {
		// session/status lacks the confirm_information a transfer's confirm
		// echoes: the poll names the webhook that carried it.
		var seq sql.NullInt64
		// By hook_events_session, the id and the type as it stores them
		// (migrations 0163, 0173).
		if err := tx.QueryRow(`SELECT max(stream_seq) FROM hook_events WHERE sid = ? AND ty = ?`,
			bankIDKey(j.SessionID, "ps_"), hookTypeKey(string(bank131.HookReadyToConfirm))).Scan(&seq); err != nil {
			return ledgerapi.Job{}, "", fmt.Errorf("schedule poll of %s/%d: %w", r.Batch, r.Row, err)
		}
		if seq.Valid && seq.Int64 > 0 {
			j.HookSeq = uint64(seq.Int64)
		}
	}
	// The count restarts at every move, so the id also names the move it
	// follows: a poll after a later move is never taken for a duplicate.
	return j, PollMsgID(r.Batch, r.Row, r.Gen, n, parseTime(r.MovedAt)), nil
}
