package ledger

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/queue"
)

// intakeConsumer (re)creates the ledger's durable consumer on
// PAYRUN_INTAKE so that it delivers from the message after the intake
// cursor, which is committed in SQLite together with the rows. A message
// the previous run received but did not commit is therefore delivered
// again, in order, before anything later.
//
// Decision: the consumer acknowledges nothing (AckNone). The cursor in
// SQLite is the only record of what the ledger has, every start and every
// failure makes the consumer anew from it, and the stream keeps its
// messages by limits, not by acks; an acked consumer only made the server
// keep a pending entry per message (up to 32 000) and write them all into
// its state on every flush: 0.27 of 7.1 CPU-seconds of a 200k-row intake
// in encodeConsumerState alone (bench/README.md, "r4"). Without acks the
// server never redelivers, so the delivery sequence of the messages is
// 1, 2, 3…: runIntake stops at a gap instead of recording past a message
// it did not get.
func (s *Service) intakeConsumer(ctx context.Context) (jetstream.Consumer, error) {
	var cursor uint64
	if err := s.db.r.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM cursors WHERE name = ?`, cursorIntake).Scan(&cursor); err != nil {
		return nil, fmt.Errorf("read intake cursor: %w", err)
	}
	if err := s.js.DeleteConsumer(ctx, queue.StreamIntake, queue.ConsumerLedgerIntake); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("reset consumer %s: %w", queue.ConsumerLedgerIntake, err)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       queue.ConsumerLedgerIntake,
		Description:   "ledger: records every row and manifest",
		AckPolicy:     jetstream.AckNonePolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: queue.IntakePrefix + ">",
	}
	if cursor > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = cursor + 1
	}
	c, err := s.js.CreateOrUpdateConsumer(ctx, queue.StreamIntake, cfg)
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", queue.ConsumerLedgerIntake, err)
	}
	return c, nil
}

// cursorIntake names the intake stream's cursor.
const cursorIntake = "intake"

// intakeStats is what the intake pipeline spent its time on, summed over
// groups since the service started: the committer's wait for a parsed
// group (the single writer idle on the intake's account), its time in the
// writer, and the batcher's wait for messages and its parse.
// Benchmarks report them (BenchmarkIntake: writer-wait-ms and the like).
type intakeStats struct {
	groups, msgs      atomic.Int64
	wait, record, ack atomic.Int64 // nanoseconds, the committer's
	fetchWait, parse  atomic.Int64 // nanoseconds, the batcher's
	// The parts of record, nanoseconds (recordIntake's; record less their
	// sum is the writer's own: BEGIN, savepoints, the COMMIT's fsync):
	// the INSERTs, the triggers' drop and restore, the batch checks
	// (ensureBatch, the 64-bit sums), counting, the guard, the seal, the
	// exceptions and conflicts, the cursor; fn is recordIntake's whole.
	insert, triggers, batches, count, guard, seal, other, cursor, fn atomic.Int64
	// refProbes counts the guard's reference lookups in SQLite (the
	// filter's maybes).
	refProbes atomic.Int64
	// sealKept counts the seals made from the intake's kept answers
	// (intake_seal.go), not from the batch's rows.
	sealKept atomic.Int64
}

// since adds the time since t0 to v and returns now.
func since(v *atomic.Int64, t0 time.Time) time.Time {
	t := time.Now()
	v.Add(int64(t.Sub(t0)))
	return t
}

// intakeGroup is a parsed group of intake messages, or why the pipeline
// stops before it.
type intakeGroup struct {
	msgs []intakeMsg
	all  []jetstream.Msg
	err  error
}

// runIntake reads the intake stream in order, one group at a time: a
// reader fills groups of up to IntakeBatch rows and parses them while
// the previous group commits; each group is recorded in one transaction
// with the cursor. A failure, or a gap in the deliveries, stops the
// pipeline before anything later is recorded and starts over from the
// cursor (a message recorded already is a no-op when delivered again).
func (s *Service) runIntake(ctx context.Context, c jetstream.Consumer) {
	log := s.log.With(logkey.Component, "intake")
	for ctx.Err() == nil {
		err := s.intakeOnce(ctx, c)
		if ctx.Err() != nil {
			return
		}
		log.Error("intake stopped; restarting from the cursor", logkey.Error, err)
		for {
			if !sleep(ctx, time.Second) {
				return
			}
			if c, err = s.intakeConsumer(ctx); err == nil {
				break
			}
			log.Error("intake consumer", logkey.Error, err)
		}
	}
}

func (s *Service) intakeOnce(ctx context.Context, c jetstream.Consumer) error {
	// The client buffers up to two groups' worth of bytes (a message of one
	// row is ~0.5 KB, a chunk of intake.ChunkRows rows ~30 KB): a count of
	// messages would buffer 64 times the rows in chunks.
	mc, err := c.Messages(jetstream.PullMaxBytes(max(2*s.cfg.IntakeBatch*intakeRowBytes, 2*intake.MaxChunkBytes)), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("consume intake: %w", err)
	}
	var watch sync.WaitGroup
	defer watch.Wait() // after cancel below
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lose := testLoseDelivery
	go func() {
		<-ctx.Done()
		mc.Stop()
	}()

	// Reader: one goroutine pulls messages into a channel, holding at
	// most two groups' rows in it (a chunk counts its rows: 2·IntakeBatch
	// chunks would be 64 times the rows).
	in := make(chan jetstream.Msg, 2*s.cfg.IntakeBatch)
	budget := int64(2 * s.cfg.IntakeBatch)
	var queued atomic.Int64         // rows in in
	roomy := make(chan struct{}, 1) // the batcher took rows from in
	taken := func(m jetstream.Msg) int {
		n := intake.MessageRows(m.Data())
		if queued.Add(-int64(n)) < budget {
			select {
			case roomy <- struct{}{}:
			default:
			}
		}
		return n
	}
	readErr := make(chan error, 1)
	var inNext atomic.Bool // the reader waits in Next
	var got atomic.Uint64  // messages Next returned (the consumer is new: its deliveries start at 1)
	go func() {
		defer close(in)
		for {
			inNext.Store(true)
			m, err := mc.Next()
			inNext.Store(false)
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					select {
					case readErr <- err:
					default: // watchDeliveries stopped the pipeline first
					}
				}
				return
			}
			if lose != nil && lose(m) {
				continue
			}
			got.Add(1)
			for queued.Load() >= budget {
				select {
				case <-roomy:
				case <-ctx.Done():
					return
				}
			}
			queued.Add(int64(intake.MessageRows(m.Data())))
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	watch.Add(1)
	go func(idle time.Duration) {
		defer watch.Done()
		watchDeliveries(ctx, c, idle, &inNext, &got, readErr)
	}(intakeIdleCheck)

	// Batcher: groups and parses; the committer below records.
	groups := make(chan *intakeGroup, 1)
	go func() {
		defer close(groups)
		st := &s.stats
		var delivered uint64 // the last message's delivery sequence
		for {
			t0 := time.Now()
			m, ok := <-in
			if !ok {
				return
			}
			t1 := time.Now()
			st.fetchWait.Add(int64(t1.Sub(t0)))
			// A group holds up to IntakeBatch rows (a chunk counts its
			// rows) in whole messages: a chunk is recorded in one
			// transaction, never half.
			g := &intakeGroup{all: []jetstream.Msg{m}}
			rows := taken(m)
		fill:
			for rows < s.cfg.IntakeBatch {
				select {
				case m, ok := <-in:
					if !ok {
						break fill
					}
					g.all = append(g.all, m)
					rows += taken(m)
				default:
					break fill
				}
			}
			g.msgs = parseGroup(g.all)
			st.parse.Add(int64(time.Since(t1)))
			g.all = nil // the messages' buffers are garbage while the group commits
			if err := nextDeliveries(g.msgs, &delivered); err != nil {
				g = &intakeGroup{err: err} // nothing of this group is recorded; what came before is
			}
			select {
			case groups <- g:
			case <-ctx.Done():
				return
			}
		}
	}()

	st := &s.stats
	for {
		var g *intakeGroup
		t0 := time.Now()
		select {
		case g = <-groups:
		case err := <-readErr:
			return fmt.Errorf("read intake: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
		if g == nil {
			select {
			case err := <-readErr:
				return fmt.Errorf("read intake: %w", err)
			default:
				return errors.New("intake closed")
			}
		}
		if g.err != nil {
			return g.err
		}
		t1 := time.Now()
		st.wait.Add(int64(t1.Sub(t0)))
		var res *intakeResult
		err := s.w.Do(ctx, func(tx *Tx) error {
			var err error
			res, err = s.recordIntake(tx, g.msgs)
			return err
		})
		if err != nil {
			return fmt.Errorf("record intake: %w", err)
		}
		st.record.Add(int64(time.Since(t1)))
		st.groups.Add(1)
		st.msgs.Add(int64(len(g.msgs)))
		s.logIntake(res)
		if len(res.Accepted) > 0 {
			wake(s.release)
		}
	}
}

// intakeRowBytes is what the intake's pull budgets a row at.
const intakeRowBytes = 1 << 10

// intakeIdleCheck is how long the intake's reader waits for a message
// before watchDeliveries asks the consumer whether it delivered more.
var intakeIdleCheck = 10 * time.Second

// testLoseDelivery, when set by a test, loses the messages it returns
// true for between the consumer and the pipeline, as a reconnect does.
var testLoseDelivery func(jetstream.Msg) bool

// watchDeliveries catches messages lost on the way to the intake at the
// end of the stream, where no later delivery shows the gap
// (nextDeliveries): with no acknowledgements nothing is delivered again,
// and a message in flight when the connection was replaced (a reconnect:
// nats.go issues a new pull request silently) never arrives. When the
// reader got nothing for a tick of idle (intakeIdleCheck) and waits in
// Next, and the consumer says it delivered more messages than the reader
// got, the pipeline stops with an error on errs and starts over from the
// cursor (runIntake). A message
// still on the wire makes a false alarm at worst: starting over is safe.
func watchDeliveries(ctx context.Context, c jetstream.Consumer, idle time.Duration, inNext *atomic.Bool, got *atomic.Uint64, errs chan<- error) {
	t := time.NewTicker(idle)
	defer t.Stop()
	prev := got.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := got.Load()
		quiet := n == prev && inNext.Load() // nothing came for a whole tick, and the reader waits
		prev = n
		if !quiet {
			continue
		}
		info, err := c.Info(ctx)
		if err != nil {
			continue // the server away: heartbeats and reconnects decide
		}
		if info.Delivered.Consumer > n && got.Load() == n && inNext.Load() {
			select {
			case errs <- fmt.Errorf("the intake consumer delivered %d messages and the intake got %d: lost on the way", info.Delivered.Consumer, n):
			default:
			}
			return
		}
	}
}

// nextDeliveries checks that msgs are the deliveries that follow the
// delivery sequence *last (0 before the consumer's first), and moves *last
// to the last of them. A gap means the pipeline did not get a message (the
// consumer never delivers one twice): recording past it would move the
// cursor over a row the ledger does not have.
func nextDeliveries(msgs []intakeMsg, last *uint64) error {
	for i := range msgs {
		if msgs[i].part > 0 {
			continue // a chunk's row after its first: the same delivery
		}
		if d := msgs[i].delivered; d != *last+1 {
			return fmt.Errorf("intake delivery %d (stream message %d) after delivery %d: a message is missing", d, msgs[i].Seq, *last)
		}
		*last++
	}
	return nil
}

func (s *Service) logIntake(res *intakeResult) {
	for _, b := range res.Accepted {
		s.log.Info("batch sealed: manifest matches", logkey.Batch, b)
	}
	for _, b := range res.Rejected {
		s.log.Warn("batch rejected: manifest does not match", logkey.Batch, b, "reason", res.Reasons[b])
	}
	if res.Conflicts > 0 || res.Invalid > 0 {
		s.log.Warn("intake conflicts", "conflicts", res.Conflicts, "invalid", res.Invalid)
	}
}

// parseGroup parses a group of intake messages, in order, spreading the
// work over the machine's cores: JSON decoding is the intake's largest
// cost after SQLite's, and the single writer must not wait for it. A chunk
// of rows (intake.IsChunk) gives one intakeMsg per row, in the chunk's
// order, all with the chunk's sequences.
func parseGroup(all []jetstream.Msg) []intakeMsg {
	out := make([]intakeMsg, len(all))
	workers := min(runtime.GOMAXPROCS(0)-1, len(all)/parseShare)
	if workers <= 1 {
		for i, m := range all {
			parseInto(&out[i], m)
		}
		return flatten(out)
	}
	var wg sync.WaitGroup
	per := (len(all) + workers - 1) / workers
	for lo := 0; lo < len(all); lo += per {
		hi := min(lo+per, len(all))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				parseInto(&out[i], all[i])
			}
		})
	}
	wg.Wait()
	return flatten(out)
}

// flatten puts the rows of the group's chunks in the place of their
// messages.
func flatten(out []intakeMsg) []intakeMsg {
	n, chunks := 0, false
	for i := range out {
		if out[i].rows != nil {
			n += len(out[i].rows)
			chunks = true
		} else {
			n++
		}
	}
	if !chunks {
		return out
	}
	flat := make([]intakeMsg, 0, n)
	for i := range out {
		if out[i].rows != nil {
			flat = append(flat, out[i].rows...)
		} else {
			flat = append(flat, out[i])
		}
	}
	return flat
}

// parseInto parses m into out, with a row's values for the INSERT; a
// chunk's rows go into out.rows.
func parseInto(out *intakeMsg, m jetstream.Msg) {
	*out = parseIntake(m)
	if out.Row != nil {
		out.values = rowValues(out)
	}
}

// parseShare is the fewest messages worth a goroutine of their own.
const parseShare = 64

// parseIntake reads one intake message: a row, a chunk of rows or a
// manifest.
func parseIntake(m jetstream.Msg) intakeMsg {
	var out intakeMsg
	if seq, dseq, ok := ackSeqs(m.Reply()); ok {
		out.Seq, out.delivered = seq, dseq
	} else if md, err := m.Metadata(); err == nil {
		out.Seq, out.delivered = md.Sequence.Stream, md.Sequence.Consumer
	}
	data := m.Data()
	if intake.IsChunk(data) {
		// A chunk is told by its data, whatever its headers say: a row
		// message never begins so.
		parseChunk(&out, data)
		return out
	}
	out.Digest = sha256.Sum256(data)
	kind := m.Headers().Get(queue.HeaderKind)
	if kind == "" {
		if strings.HasSuffix(m.Subject(), ".manifest") {
			kind = "manifest"
		} else {
			kind = "row"
		}
	}
	switch kind {
	case "manifest":
		man, err := intake.DecodeManifest(data)
		if err != nil {
			out.Invalid = err.Error()
			return out
		}
		out.Manifest = man
		out.Raw = data
	default:
		r, err := parseRow(data)
		if err != nil {
			out.Invalid = err.Error()
			return out
		}
		out.Row = r
	}
	return out
}

// parseChunk reads a chunk of rows (intake.SplitChunk) into out.rows: one
// intakeMsg per row, with the chunk's sequences, the SHA-256 of the row's
// own message and its values for the INSERT. A chunk is all or nothing:
// if its framing is wrong, or any of its rows is not a row message, not of
// the chunk's batch or not the row its place in the chunk says, out is the
// whole message invalid, naming the row, and none of its rows is recorded
// (the batch's manifest then finds them missing and rejects the batch, as
// it does for an invalid row message).
func parseChunk(out *intakeMsg, data []byte) {
	rows, invalid := chunkRows(out, data)
	if invalid != "" {
		// The whole message is invalid: its digest is the message's (its
		// rows' are their own, and none of them is recorded).
		out.Invalid, out.Digest = invalid, sha256.Sum256(data)
		return
	}
	out.rows = rows
}

// chunkRows is parseChunk's reading of the rows, or why the chunk is
// invalid.
func chunkRows(out *intakeMsg, data []byte) ([]intakeMsg, string) {
	c, err := intake.SplitChunk(data)
	if err != nil {
		return nil, err.Error()
	}
	rows := make([]intakeMsg, len(c.Rows))
	for i, msg := range c.Rows {
		no := c.First + i
		r, err := parseRow(msg)
		if err != nil {
			return nil, fmt.Sprintf("chunk of rows %d+%d, row %d: %v", c.First, len(c.Rows), no, err)
		}
		if r.Row != no {
			return nil, fmt.Sprintf("chunk of rows %d+%d holds row %d in the place of row %d", c.First, len(c.Rows), r.Row, no)
		}
		if i > 0 && r.Batch != rows[0].Row.Batch {
			return nil, fmt.Sprintf("chunk of rows %d+%d: row %d is of batch %s, row %d of %s", c.First, len(c.Rows), no, r.Batch, c.First, rows[0].Row.Batch)
		}
		p := &rows[i]
		p.Seq, p.delivered, p.part = out.Seq, out.delivered, i
		p.Digest = sha256.Sum256(msg)
		p.Row = r
		p.values = rowValues(p)
	}
	return rows, ""
}

// ackSeqs reads a JetStream message's stream and consumer (delivery)
// sequences from its ack subject ($JS.ACK.<stream>.<consumer>.<delivered
// count>.<stream seq>.<consumer seq>.…, or with a domain and an account
// hash after ACK) without the allocations of Metadata, which were a tenth
// of the intake's work outside SQLite. ok is false for any other form
// (Metadata decides then).
func ackSeqs(reply string) (seq, dseq uint64, ok bool) {
	const prefix = "$JS.ACK."
	if !strings.HasPrefix(reply, prefix) {
		return 0, 0, false
	}
	var tok [12]string
	n := 0
	rest := reply[len(prefix):]
	for n < len(tok) {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			tok[n] = rest
			n++
			rest = ""
			break
		}
		tok[n] = rest[:i]
		n++
		rest = rest[i+1:]
	}
	if rest != "" {
		return 0, 0, false
	}
	var i int
	switch {
	case n == 7: // stream, consumer, delivered, stream seq, consumer seq, time, pending
		i = 3
	case n >= 9: // domain, account hash, then as above (and a token more)
		i = 5
	default:
		return 0, 0, false
	}
	seq, err := strconv.ParseUint(tok[i], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	dseq, err = strconv.ParseUint(tok[i+1], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return seq, dseq, true
}
