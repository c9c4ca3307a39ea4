package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/reconcile"
)

// maxDeliveriesAdvisory is the part of JetStream's MAX_DELIVERIES advisory
// the ledger reads.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// deadConsumer creates or updates the ledger's durable consumer on PAYRUN_DEAD.
func (s *Service) deadConsumer(ctx context.Context) (jetstream.Consumer, error) {
	c, err := s.js.CreateOrUpdateConsumer(ctx, queue.StreamDead, jetstream.ConsumerConfig{
		Durable:       queue.ConsumerLedgerDead,
		Description:   "ledger: turns dead letters into exceptions",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 1000,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", queue.ConsumerLedgerDead, err)
	}
	return c, nil
}

// runDead turns every max-deliveries advisory into an exception on the
// row whose job or webhook could not be delivered.
func (s *Service) runDead(ctx context.Context, c jetstream.Consumer) {
	consumeGroups(ctx, s, c, "dead", 50, func(tx *Tx, msgs []jetstream.Msg) error {
		for _, m := range msgs {
			if err := s.recordDead(tx, m.Data()); err != nil {
				return err
			}
		}
		return nil
	})
}

// fetchOriginal reads the message an advisory is about by its sequence.
func (s *Service) fetchOriginal(adv maxDeliveriesAdvisory) ([]byte, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, adv.Stream)
	if err != nil {
		return nil, fmt.Sprintf("stream %s: %v", adv.Stream, err)
	}
	msg, err := st.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, "the message is gone from the stream"
		}
		return nil, fmt.Sprintf("read message: %v", err)
	}
	return msg.Data, ""
}

// recordDead opens the exception for one advisory.
func (s *Service) recordDead(tx *Tx, data []byte) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(data, &adv); err != nil || adv.Stream == "" {
		_, err := openException(tx, reconcile.DeadLetter, fmt.Sprintf("unreadable/%x", sha8(data)), "", 0,
			"a dead-letter advisory could not be read")
		return err
	}
	// The original is read by sequence (a direct get, one round trip).
	orig, gone := s.fetchOriginal(adv)
	key := fmt.Sprintf("%s/%d", adv.Stream, adv.StreamSeq)
	base := fmt.Sprintf("%s message %d exhausted %d deliveries on consumer %s", adv.Stream, adv.StreamSeq, adv.Deliveries, adv.Consumer)
	if orig == nil {
		_, err := openException(tx, reconcile.DeadLetter, key, "", 0, base+"; "+gone)
		return err
	}
	switch adv.Stream {
	case queue.StreamJobs:
		var j ledgerapi.Job
		if err := json.Unmarshal(orig, &j); err != nil || j.Batch == "" {
			_, err := openException(tx, reconcile.DeadLetter, key, "", 0, base+"; not a job")
			return err
		}
		ref := ""
		if r, err := loadRow(tx, j.Batch, j.Row); err == nil {
			ref = r.Reference
			s.log.Error("dead letter", logkey.Batch, j.Batch, logkey.Row, j.Row, logkey.Reference, r.Reference, logkey.State, r.State)
		}
		_, err := openException(tx, reconcile.DeadLetter, key, j.Batch, j.Row,
			fmt.Sprintf("%s job (gen %d) for row %d (%s) could not be processed: %s", j.Kind, j.Gen, j.Row, ref, base))
		return err
	case queue.StreamHooks:
		ev := bankEvent{Body: orig}
		batch, row := "", 0
		if w, err := bank131.ParseWebhook(orig); err == nil {
			ev.Type = string(w.Type)
			fillFromSession(&ev, w.Session)
		}
		if ev.Ref != nil {
			batch, row = ev.Ref.Batch, ev.Ref.Row
		} else if ev.SessionID != "" {
			if b, r, err := rowBySession(tx, ev.SessionID); err == nil {
				batch, row = b, r
			}
		}
		if batch != "" {
			if _, err := loadRow(tx, batch, row); err != nil {
				batch, row = "", 0
			}
		}
		_, err := openException(tx, reconcile.DeadLetter, key, batch, row,
			fmt.Sprintf("%s webhook for session %s could not be processed: %s", ev.Type, ev.SessionID, base))
		return err
	}
	_, err := openException(tx, reconcile.DeadLetter, key, "", 0, base)
	return err
}

func sha8(b []byte) []byte {
	h := HashDestination(string(b))
	return []byte(h[:16])
}
