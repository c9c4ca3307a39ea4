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
// again, in order, before anything later; an ack-all of a later message
// can never acknowledge a message that was not recorded.
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
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       5 * time.Minute,
		MaxAckPending: 8 * s.cfg.IntakeBatch,
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

// intakeGroup is a parsed group of intake messages and the last message to ack.
type intakeGroup struct {
	msgs []intakeMsg
	last jetstream.Msg
	all  []jetstream.Msg
}

// runIntake reads the intake stream in order, one group at a time: a
// reader fills groups of up to IntakeBatch messages and parses them while
// the previous group commits; each group is recorded in one transaction and
// acknowledged after the commit. A failure stops the pipeline without
// acking anything later (redelivery makes a retry safe) and starts over.
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
	mc, err := c.Messages(jetstream.PullMaxMessages(2*s.cfg.IntakeBatch), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("consume intake: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		mc.Stop()
	}()

	// Reader: one goroutine pulls messages into a channel.
	in := make(chan jetstream.Msg, 2*s.cfg.IntakeBatch)
	readErr := make(chan error, 1)
	go func() {
		defer close(in)
		for {
			m, err := mc.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					readErr <- err
				}
				return
			}
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Batcher: groups and parses; the committer below records.
	groups := make(chan *intakeGroup, 1)
	go func() {
		defer close(groups)
		for {
			m, ok := <-in
			if !ok {
				return
			}
			g := &intakeGroup{all: []jetstream.Msg{m}}
		fill:
			for len(g.all) < s.cfg.IntakeBatch {
				select {
				case m, ok := <-in:
					if !ok {
						break fill
					}
					g.all = append(g.all, m)
				default:
					break fill
				}
			}
			g.msgs = parseGroup(g.all)
			g.last = g.all[len(g.all)-1]
			g.all = nil // the messages' buffers are garbage while the group commits
			select {
			case groups <- g:
			case <-ctx.Done():
				return
			}
		}
	}()

	for {
		var g *intakeGroup
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
		var res *intakeResult
		err := s.w.Do(ctx, func(tx *Tx) error {
			var err error
			res, err = s.recordIntake(tx, g.msgs)
			return err
		})
		if err != nil {
			return fmt.Errorf("record intake: %w", err)
		}
		if err := g.last.Ack(); err != nil {
			s.log.Warn("ack intake", logkey.Error, err) // redelivery is a no-op
		}
		s.logIntake(res)
		if len(res.Accepted) > 0 {
			wake(s.release)
		}
	}
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
// cost after SQLite's, and the single writer must not wait for it.
func parseGroup(all []jetstream.Msg) []intakeMsg {
	out := make([]intakeMsg, len(all))
	workers := min(runtime.GOMAXPROCS(0)-1, len(all)/parseShare)
	if workers <= 1 {
		for i, m := range all {
			parseInto(&out[i], m)
		}
		return out
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
	return out
}

// parseInto parses m into out, with a row's values for the INSERT.
func parseInto(out *intakeMsg, m jetstream.Msg) {
	*out = parseIntake(m)
	if out.Row != nil {
		out.values = rowValues(out)
	}
}

// parseShare is the fewest messages worth a goroutine of their own.
const parseShare = 64

// parseIntake reads one intake message: a row or a manifest.
func parseIntake(m jetstream.Msg) intakeMsg {
	var out intakeMsg
	if seq, ok := streamSeq(m.Reply()); ok {
		out.Seq = seq
	} else if md, err := m.Metadata(); err == nil {
		out.Seq = md.Sequence.Stream
	}
	data := m.Data()
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

// streamSeq reads a JetStream message's stream sequence from its ack
// subject ($JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.… , or
// with a domain and an account hash after ACK) without the allocations of
// Metadata, which were a tenth of the intake's work outside SQLite. ok is
// false for any other form (Metadata decides then).
func streamSeq(reply string) (uint64, bool) {
	const prefix = "$JS.ACK."
	if !strings.HasPrefix(reply, prefix) {
		return 0, false
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
		return 0, false
	}
	var t string
	switch {
	case n == 7: // stream, consumer, delivered, stream seq, consumer seq, time, pending
		t = tok[3]
	case n >= 9: // domain, account hash, then as above (and a token more)
		t = tok[5]
	default:
		return 0, false
	}
	seq, err := strconv.ParseUint(t, 10, 64)
	return seq, err == nil
}
