package processor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/ratelimit"
)

// maxSteps bounds the transitions one pay job makes; a row needs at most
// six on its way to the bank, more only when attempts are renewed.
const maxSteps = 16

// errDrop ends a job without retrying: the row moved on or belongs to a
// newer job.
var errDrop = errors.New("drop job")

// handleJob handles one message of PAYRUN_JOBS.
func (p *Processor) handleJob(ctx context.Context, msg jetstream.Msg) error {
	var job ledgerapi.Job
	if err := json.Unmarshal(msg.Data(), &job); err != nil || job.Batch == "" || job.Row < 1 {
		p.log.Error("job is not readable; dropped", logkey.Error, err, "subject", msg.Subject())
		return nil
	}
	var err error
	switch job.Kind {
	case ledgerapi.JobPoll:
		err = p.poll(ctx, msg, job)
	case ledgerapi.JobPay, "":
		err = p.pay(ctx, msg, job)
	case ledgerapi.JobHook:
		err = p.replay(ctx, job)
	default:
		p.log.Warn("unknown job kind; dropped", "kind", job.Kind, logkey.Batch, job.Batch, logkey.Row, job.Row)
		return nil
	}
	if errors.Is(err, errDrop) {
		return nil
	}
	return err
}

// progress is what a job needs of its JetStream message while it works:
// to signal progress before each step, so the message is not redelivered
// meanwhile (jetstream.Msg).
type progress interface{ InProgress() error }

// run is one pay job at work on one row.
type run struct {
	p   *Processor
	msg progress
	job ledgerapi.Job
	st  *ledgerapi.RowState
	row *payout.Row
	log *slog.Logger
}

// pay drives a row from wherever it stands up to the point where only the
// bank can move it (payout started, in doubt, or final).
func (p *Processor) pay(ctx context.Context, msg progress, job ledgerapi.Job) error {
	st, err := p.ledger.Get(ctx, ledgerapi.RowRequest{Batch: job.Batch, Row: job.Row})
	if err != nil {
		if ledgerapi.IsCode(err, ledgerapi.CodeNotFound) {
			p.log.Error("job for a row the ledger does not know; dropped", logkey.Batch, job.Batch, logkey.Row, job.Row)
			return errDrop
		}
		return later(fmt.Errorf("read row %s/%d: %w", job.Batch, job.Row, err))
	}
	if job.Gen < st.Gen || st.State.Terminal() {
		return errDrop
	}
	// One pay job per row at a time in this process: a second delivery of
	// the job (JetStream handed it out again while it waited in this
	// process's buffer) is handed back, not worked on beside the first,
	// whose ack would then remove the job while the first still works.
	key := rowKey(job.Batch, job.Row)
	if _, dup := p.busy.LoadOrStore(key, struct{}{}); dup {
		return later(fmt.Errorf("row %s/%d: a job of this row is at work in this processor", job.Batch, job.Row))
	}
	defer p.busy.Delete(key)
	defer p.heartbeat(msg)()
	r := &run{p: p, msg: msg, job: job, st: st,
		log: p.log.With(logkey.Batch, st.Batch, logkey.Row, st.Row, logkey.Reference, st.Reference)}
	row, err := p.loadRow(ctx, st)
	if err != nil {
		r.log.Error("cannot read the row's intake message", logkey.Error, err)
		return later(err)
	}
	r.row = row
	for i := 0; i < maxSteps; i++ {
		done, err := r.step(ctx)
		if err != nil || done {
			return err
		}
		_ = msg.InProgress()
	}
	return later(fmt.Errorf("row %s/%d still in %s after %d steps", st.Batch, st.Row, r.st.State, maxSteps))
}

// heartbeat signals progress on a job's message every third of AckWait
// until the returned func is called. While the worker lives (a step may
// wait on the rate limiter longer than AckWait) JetStream neither hands
// the job to another worker nor drops it, and the ledger's sweeper, which
// sees the job still in PAYRUN_JOBS, leaves its row alone; when the worker
// dies the signals stop and JetStream delivers the job again after
// AckWait.
func (p *Processor) heartbeat(msg progress) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(p.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// loadRow reads the row from PAYRUN_INTAKE by its sequence and checks it is
// the message the ledger recorded. A chunk of rows (intake.IsChunk) holds
// the row among others: the row's own message is found in it by number
// and checked the same way (its SHA-256 is the ledger's digest).
func (p *Processor) loadRow(ctx context.Context, st *ledgerapi.RowState) (*payout.Row, error) {
	m, err := p.intake.GetMsg(ctx, st.IntakeSeq)
	if err != nil {
		return nil, fmt.Errorf("get intake message %d: %w", st.IntakeSeq, err)
	}
	// A resubmitted row pays from its parent's message: the message keeps
	// its own identity (its sealed card number is bound to it), and every
	// call to the bank names the ledger's row (run.metadata, the keys).
	batch, n := st.Batch, st.Row
	if st.IntakeBatch != "" {
		batch, n = st.IntakeBatch, st.IntakeRow
	}
	data := m.Data
	if intake.IsChunk(data) {
		if data, err = intake.ChunkRow(data, n); err != nil {
			return nil, fmt.Errorf("intake message %d, row %s/%d: %w", st.IntakeSeq, batch, n, err)
		}
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != st.RowDigest {
		return nil, fmt.Errorf("intake message %d does not match the ledger's digest", st.IntakeSeq)
	}
	msg, err := intake.DecodeRow(data)
	if err != nil {
		return nil, fmt.Errorf("decode intake message %d: %w", st.IntakeSeq, err)
	}
	row := &msg.Row // its meta is not needed to pay
	if row.Batch != batch || row.Index != n {
		return nil, fmt.Errorf("intake message %d is row %s/%d, not %s/%d", st.IntakeSeq, row.Batch, row.Index, batch, n)
	}
	// A widget row uploaded without its card: the recipient entered it
	// through their recipient link, and the ledger holds it.
	if row.Method == payout.MethodEncryptedCard && row.Encrypted == nil && st.Card != nil {
		c := *st.Card
		row.Encrypted = &c
	}
	return row, nil
}

// metadata is what the bank echoes about the row: the ledger's row (for a
// resubmitted row not the one its intake message names).
func (r *run) metadata() json.RawMessage {
	return payout.BankRef{Batch: r.st.Batch, Row: r.st.Row, Reference: r.row.Reference}.Metadata()
}

// singleRequest reports whether the row is paid with one
// session/init/payout call. Once the opening intent is recorded its key
// says which flow the row took, whatever this processor's --card-flow: a
// processor configured otherwise resumes the row the way it started.
func (r *run) singleRequest() bool {
	if r.row.Method != payout.MethodCard {
		return false
	}
	if r.st.State == payout.StateOpening && r.st.IdemKey != "" {
		return r.st.IdemKey == singleKey(r.st.Batch, r.st.Row, r.st.Attempt)
	}
	return r.p.cfg.CardFlow == CardSingleRequest
}

func (r *run) bank() *bank131.Client { return r.p.bankFor(r.row.Method == payout.MethodCard) }

// step makes one move from the row's current state. done reports that the
// job has nothing more to do.
func (r *run) step(ctx context.Context) (done bool, err error) {
	st := r.st
	b, n, a := st.Batch, st.Row, st.Attempt
	if st.BatchStatus == payout.BatchCancelled || st.Cancelled {
		return r.cancelled(ctx)
	}
	if st.OnHold {
		// Nothing new starts: the job ends here and the resume sends a new one.
		r.log.Info("row on hold; job ends until it is resumed", logkey.State, st.State)
		return true, nil
	}
	switch st.State {
	case payout.StateQueued:
		return false, r.move(ctx, ledgerapi.Transition{To: payout.StateClaimed, Expect: []payout.State{payout.StateQueued}})
	case payout.StateClaimed:
		switch {
		case r.row.Method == payout.MethodTransfer:
			return false, r.quote(ctx)
		case r.singleRequest():
			return false, r.move(ctx, ledgerapi.Transition{To: payout.StateOpening, Expect: []payout.State{payout.StateClaimed}, IdemKey: singleKey(b, n, a)})
		default:
			return false, r.move(ctx, ledgerapi.Transition{To: payout.StateOpening, Expect: []payout.State{payout.StateClaimed}, IdemKey: createKey(b, n, a)})
		}
	case payout.StateQuoted:
		return false, r.move(ctx, ledgerapi.Transition{To: payout.StateOpening, Expect: []payout.State{payout.StateQuoted}, IdemKey: transferKey(b, n, a)})
	case payout.StateOpening:
		return r.open(ctx)
	case payout.StateSessionOpen:
		return false, r.move(ctx, ledgerapi.Transition{To: payout.StateStarting, Expect: []payout.State{payout.StateSessionOpen}, IdemKey: startKey(b, n, a), SessionID: st.SessionID})
	case payout.StateStarting:
		return r.start(ctx)
	}
	// payout_started, confirming, confirmed, action_required, in_doubt:
	// only the bank moves the row now (webhooks, polls); final: nothing.
	return true, nil
}

// cancelled settles a row of a cancelled batch that stands before the bank
// could pay it: nothing new is sent. Every flow but single-request needs our
// session/confirm before money moves (and the gate cancels any session
// that reaches ready_to_confirm for a finished row), so such a row is
// cancelled. So is a single-request row at opening that never recorded a
// send; one that did may have reached the bank (a crash between the send
// and its answer): it is in doubt until the bank's webhook,
// session/status or daily report tells.
func (r *run) cancelled(ctx context.Context) (bool, error) {
	st := r.st
	switch st.State {
	case payout.StateOpening, payout.StateSessionOpen, payout.StateStarting:
	default:
		return true, nil // before opening the ledger cancelled it; later only the bank moves it
	}
	what, code := "batch", "batch_cancelled"
	if st.Cancelled && st.BatchStatus != payout.BatchCancelled {
		what, code = "row", "row_cancelled"
	}
	if st.State == payout.StateOpening && r.singleRequest() && st.Sent {
		return true, r.move(ctx, ledgerapi.Transition{To: payout.StateInDoubt, Expect: []payout.State{payout.StateOpening},
			Reason:   "The " + what + " was cancelled while this payout's request may already have reached the bank; waiting for the bank's word.",
			Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor, Detail: what + " cancelled at opening (session/init/payout)"}})
	}
	return true, r.move(ctx, ledgerapi.Transition{To: payout.StateCancelled, Expect: []payout.State{st.State},
		ErrorCode: code, Reason: "The " + what + " was cancelled before this payout was confirmed.",
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor, Detail: what + " cancelled at " + string(st.State)}})
}

// fence records in the ledger, just before each send of a call that opens
// or starts work at the bank (after the limiter let it go: bpa/calculate,
// session/create, session/init/payout, multi/init/payment,
// session/start/payout), that the call is about to leave. The ledger
// refuses when the batch or the row was cancelled or put on hold, or the
// row handed to newer work, meanwhile; then nothing is sent
// (errStopSend). At opening the record also tells a cancelled batch later
// whether a single-request payout could have reached the bank.
func (r *run) fence(ctx context.Context, call string) error {
	reply, err := r.p.ledger.Transition(ctx, ledgerapi.Transition{Batch: r.st.Batch, Row: r.st.Row, To: r.st.State,
		Expect: []payout.State{r.st.State}, Gen: r.job.Gen, Attempt: r.st.Attempt, Sending: true, Worker: r.p.cfg.Worker,
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor, Detail: "sending " + call}})
	if err != nil {
		var lerr *ledgerapi.Error
		if errors.As(err, &lerr) && lerr.Code != ledgerapi.CodeInternal {
			if reply != nil && reply.Row != nil {
				r.st = reply.Row
			}
			return errStopSend
		}
		return fmt.Errorf("%w: %w", errNoCheck, err)
	}
	r.st = reply.Row
	return nil
}

// fencedCall makes a call that opens or starts work at the bank through
// the limiter, behind the row's fence (callFenced).
func (r *run) fencedCall(ctx context.Context, method string, fn func(context.Context) error) (bank131.Class, error) {
	return r.p.callFenced(ctx, method, ratelimit.Low, func(ctx context.Context) error { return r.fence(ctx, method) }, fn)
}

// stopped ends a step whose fence refused the send: the next step settles
// a cancelled row or ends the job of a row on hold; a row that moved to
// newer work drops the job.
func (r *run) stopped(state payout.State) (bool, error) {
	r.log.Info("row changed before its call was sent", logkey.State, r.st.State, "batch_status", r.st.BatchStatus,
		"on_hold", r.st.OnHold, "cancelled", r.st.Cancelled)
	if r.st.State == state && r.st.Gen == r.job.Gen {
		return false, nil
	}
	return true, errDrop
}

// errStopSend stops a send loop: the row changed under it. errNoCheck
// stops it too: the ledger could not say, so nothing is sent now.
var (
	errStopSend = errors.New("row changed; nothing sent")
	errNoCheck  = errors.New("record the send in the ledger")
)

// move asks the ledger for a transition guarded by the job's generation and
// the row's attempt, and adopts the row the ledger answers with.
func (r *run) move(ctx context.Context, t ledgerapi.Transition) error {
	t.Batch, t.Row, t.Gen, t.Worker = r.st.Batch, r.st.Row, r.job.Gen, r.p.cfg.Worker
	if t.Attempt == 0 {
		t.Attempt = r.st.Attempt
	}
	if t.Evidence.Source == "" {
		t.Evidence.Source = ledgerapi.SourceProcessor
	}
	reply, err := r.p.ledger.Transition(ctx, t)
	countTransition(t.To, reply, err)
	if err == nil {
		r.log.Debug("row moved", logkey.State, r.st.State, "to", t.To)
		r.st = reply.Row
		return nil
	}
	var lerr *ledgerapi.Error
	if !errors.As(err, &lerr) {
		return later(fmt.Errorf("ledger transition to %s: %w", t.To, err))
	}
	switch lerr.Code {
	case ledgerapi.CodeStale, ledgerapi.CodeForeignSession, ledgerapi.CodeNotFound:
		r.log.Info("row belongs to newer work; job dropped", "to", t.To, "code", lerr.Code)
		return errDrop
	case ledgerapi.CodeIllegal, ledgerapi.CodeConflict:
		// The row moved meanwhile (a webhook, a cancellation): continue
		// from where it stands now.
		if reply != nil && reply.Row != nil {
			r.log.Info("row moved meanwhile", "to", t.To, logkey.State, reply.Row.State, "code", lerr.Code)
			if reply.Row.State == r.st.State {
				return errDrop
			}
			r.st = reply.Row
			return nil
		}
		return errDrop
	}
	return later(fmt.Errorf("ledger transition to %s: %w", t.To, err))
}

// countTransition feeds payrun_ledger_transitions_total.
func countTransition(to payout.State, reply *ledgerapi.TransitionReply, err error) {
	result := "applied"
	switch {
	case err != nil:
		result = "refused"
	case reply != nil && !reply.Applied:
		result = "repeat"
	}
	metrics.Transitions.WithLabelValues(string(to), result).Inc()
}
