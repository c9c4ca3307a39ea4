// The publisher's window of acknowledgements: barriers, their spans, and
// what is published again when a span does not add up (see publisher).

package ingest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/queue"
)

// barrier is a row published with an acknowledgement, and the rows
// published without one since the previous barrier.
type barrier struct {
	fut  jetstream.PubAckFuture
	span []*nats.Msg
}

// publish sends msg: with a reply subject when it is a barrier (or must
// be one), else without, first waiting for the oldest barrier while the
// window is full.
func (p *publisher) publish(ctx context.Context, msg *nats.Msg, isBarrier bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish rows: %w", err)
	}
	rows := msgRows(msg)
	for p.inflight >= p.window && p.n > 0 {
		if err := p.waitOldest(ctx); err != nil {
			return err
		}
	}
	if !p.started || p.ackEvery == 1 || p.inflight+rows >= p.window || len(p.pending)+1 >= 2*p.ackEvery {
		isBarrier = true
	}
	p.started = true
	p.inflight += rows
	lose := false
	if testLoseRow != nil {
		// Asked of every row, a chunk's each (tests act at a row); only a
		// message without a reply is lost.
		first, _ := strconv.Atoi(msg.Header.Get(queue.HeaderRow))
		for row := first; row < first+rows; row++ {
			lose = testLoseRow(row) || lose
		}
	}
	if !isBarrier {
		p.pending = append(p.pending, msg)
		if lose {
			return nil
		}
		if err := p.js.Conn().PublishMsg(msg); err != nil {
			return fmt.Errorf("publish row %s: %w", msg.Header.Get(queue.HeaderRow), err)
		}
		return nil
	}
	fut, err := p.js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute))
	if err != nil {
		return fmt.Errorf("publish row %s: %w", msg.Header.Get(queue.HeaderRow), err)
	}
	p.ring[(p.head+p.n)%len(p.ring)] = barrier{fut: fut, span: p.pending}
	p.pending = nil
	p.n++
	return nil
}

func (p *publisher) drain(ctx context.Context) error {
	for p.n > 0 {
		if err := p.waitOldest(ctx); err != nil {
			return err
		}
	}
	return nil
}

// waitOldest waits for the oldest barrier's acknowledgement and counts its
// span (see publisher); a failed barrier is retried synchronously (its
// message id makes a retry safe) and its span published again.
func (p *publisher) waitOldest(ctx context.Context) error {
	b := p.ring[p.head]
	p.ring[p.head] = barrier{}
	p.head = (p.head + 1) % len(p.ring)
	p.n--
	spanRows, rows := 0, msgRows(b.fut.Msg())
	for _, m := range b.span {
		spanRows += msgRows(m)
	}
	p.inflight -= spanRows + rows
	ack, failed, err := p.ackOf(ctx, b.fut)
	if err != nil {
		return err
	}
	// A duplicate answer to our own retry is our barrier, stored before its
	// first answer was lost (a server restart, a leader change).
	ours := !ack.Duplicate || failed
	if len(b.span) > 0 {
		if !failed && !ack.Duplicate && p.lastSeq != 0 && ack.Sequence-p.lastSeq-p.resentUpTo(ack.Sequence) == uint64(len(b.span))+1 {
			p.published += spanRows
			p.rows.Add(int64(spanRows))
		} else {
			var lo uint64 // the span's range of sequences, when the barrier is ours
			if ours {
				lo = p.lastSeq
			}
			if err := p.resend(ctx, b.span, lo, ack.Sequence); err != nil {
				return err
			}
		}
	}
	if !ours {
		// A concurrent upload of the same file stored this row first; its
		// sequence is that upload's.
		p.skipped += rows
		p.lastSeq = 0
	} else {
		p.published += rows
		p.resentUpTo(ack.Sequence)
		p.lastSeq = ack.Sequence
	}
	p.rows.Add(int64(rows))
	return nil
}

// resentUpTo forgets our resent rows' sequences at or below seq and
// returns how many there were after lastSeq.
func (p *publisher) resentUpTo(seq uint64) uint64 {
	var n uint64
	keep := p.resent[:0]
	for _, s := range p.resent {
		switch {
		case s > seq:
			keep = append(keep, s)
		case s > p.lastSeq:
			n++
		}
	}
	p.resent = keep
	return n
}

// resend publishes a span's rows again, each with an acknowledgement. A
// row counts as published by this upload when it is stored now, or when
// it was stored in the span's range of sequences (lo, hi], which ends
// with our barrier (lo is 0 when the barrier is not ours): the rows of a
// span ask for no acknowledgement, and another upload of the same file
// stores them there only if its barrier for the span is answered as a
// duplicate, so that upload does not count them (only a row lost by the
// server and a foreign message in its place could count one twice; the
// count is a report, the rows are stored once).
func (p *publisher) resend(ctx context.Context, span []*nats.Msg, lo, hi uint64) error {
	futs := make([]jetstream.PubAckFuture, len(span))
	for i, msg := range span {
		fut, err := p.js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute))
		if err != nil {
			return fmt.Errorf("publish row %s: %w", msg.Header.Get(queue.HeaderRow), err)
		}
		futs[i] = fut
	}
	for _, fut := range futs {
		ack, _, err := p.ackOf(ctx, fut)
		if err != nil {
			return err
		}
		rows := msgRows(fut.Msg())
		p.resends += rows
		if ack.Duplicate && !(lo != 0 && lo < ack.Sequence && ack.Sequence <= hi) {
			p.skipped += rows
		} else if ack.Duplicate {
			p.published += rows // our span's message, stored without an acknowledgement
		} else {
			p.published += rows
			p.resent = append(p.resent, ack.Sequence)
		}
		p.rows.Add(int64(rows))
	}
	return nil
}

// msgRows is how many rows a row message or chunk carries.
func msgRows(m *nats.Msg) int { return intake.MessageRows(m.Data) }

// ackTimeout is how long an acknowledgement is waited for before the
// message is published again (its id makes that safe): a reply lost in a
// stream leader's change is never answered, and an asynchronous publish
// has no deadline of its own unless its JetStream context was made with
// one (rev4's TestRev4ClusterLeaderChange hung until its context ended).
var ackTimeout = 15 * time.Second

// ackOf waits for fut's acknowledgement; on an error or no answer within
// ackTimeout it publishes the message again synchronously (retried true).
func (p *publisher) ackOf(ctx context.Context, fut jetstream.PubAckFuture) (ack *jetstream.PubAck, retried bool, err error) {
	timer := time.NewTimer(ackTimeout)
	defer timer.Stop()
	var cause error
	select {
	case ack = <-fut.Ok():
		return ack, false, nil
	case cause = <-fut.Err():
	case <-timer.C:
		cause = fmt.Errorf("no acknowledgement in %s", ackTimeout)
	case <-ctx.Done():
		return nil, false, fmt.Errorf("publish rows: %w", ctx.Err())
	}
	if ack, err = p.retry(ctx, fut.Msg(), cause); err != nil {
		return nil, true, err
	}
	return ack, true, nil
}

func (p *publisher) retry(ctx context.Context, msg *nats.Msg, cause error) (*jetstream.PubAck, error) {
	row := msg.Header.Get(queue.HeaderRow)
	for attempt := 1; attempt <= 3; attempt++ {
		p.log.Warn("row publish failed; retrying", logkey.Row, row, logkey.Error, cause)
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ack, err := p.js.PublishMsg(tctx, msg)
		cancel()
		if err == nil {
			return ack, nil
		}
		cause = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("publish row %s: %w", row, ctx.Err())
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("publish row %s: %w", row, cause)
}
