package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/logkey"
)

// consumeGroups reads an explicitly acked consumer in groups of up to max
// messages, records each group with fn in one write transaction and acks
// its messages after the commit (or naks them when it failed). It runs
// until ctx ends, reconnecting after errors.
func consumeGroups(ctx context.Context, s *Service, c jetstream.Consumer, name string, max int,
	fn func(tx *Tx, msgs []jetstream.Msg) error) {
	log := s.log.With(logkey.Component, name)
	for ctx.Err() == nil {
		mc, err := c.Messages(jetstream.PullMaxMessages(2*max), jetstream.PullExpiry(5*time.Second))
		if err != nil {
			log.Error("consume", logkey.Error, err)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		stop := context.AfterFunc(ctx, mc.Stop)
		in := make(chan jetstream.Msg, max)
		go func() {
			defer close(in)
			for {
				m, err := mc.Next()
				if err != nil {
					if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
						log.Warn("read", logkey.Error, err)
					}
					return
				}
				in <- m
			}
		}()
		for m := range in {
			group := []jetstream.Msg{m}
		fill:
			for len(group) < max {
				select {
				case m, ok := <-in:
					if !ok {
						break fill
					}
					group = append(group, m)
				default:
					break fill
				}
			}
			err := s.w.Do(context.WithoutCancel(ctx), func(tx *Tx) error { return fn(tx, group) })
			for _, m := range group {
				if err != nil {
					m.NakWithDelay(time.Second)
				} else {
					m.Ack()
				}
			}
			if err != nil {
				log.Error("record", logkey.Error, err, "count", len(group))
			}
		}
		stop()
		mc.Stop()
		if !sleep(ctx, 200*time.Millisecond) {
			return
		}
	}
}
