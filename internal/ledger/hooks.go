package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/reconcile"
)

// bankEvent is a verified webhook reduced to the facts the ledger keeps.
type bankEvent struct {
	HookID        string
	Type          string
	SessionID     string
	SessionStatus string
	PayoutID      string
	PayoutStatus  string
	Amount        *bank131.Amount
	Fee           *bank131.Amount
	ErrorCode     string
	ErrorText     string
	Ref           *payout.BankRef
	Seq           uint64
	ReceivedAt    time.Time
	Body          []byte
	// Unreadable is why bank131.ParseWebhook refused the body ("" when it
	// read it): such a webhook is kept whole, opens an exception naming
	// its row, and the row is polled.
	Unreadable string
}

// parseHook reads a message of PAYRUN_HOOKS. hookrelay verified the body
// before publishing it; unparseable bodies are still kept as evidence.
func parseHook(m jetstream.Msg) bankEvent {
	// hookrelay masks a card number in the body's strings before
	// publishing; a body an older relay published is masked here, so none
	// is recorded (the id stays the one the message carries).
	body, _ := cardmask.RedactJSON(m.Data())
	ev := bankEvent{Body: body, HookID: m.Headers().Get(jetstream.MsgIDHeader), Type: m.Headers().Get(queue.HeaderHookType)}
	if ev.HookID == "" {
		sum := sha256.Sum256(body)
		ev.HookID = hex.EncodeToString(sum[:])
	}
	if md, err := m.Metadata(); err == nil {
		ev.Seq = md.Sequence.Stream
		ev.ReceivedAt = md.Timestamp
	}
	if t, err := time.Parse(time.RFC3339Nano, m.Headers().Get(queue.HeaderReceived)); err == nil {
		ev.ReceivedAt = t
	}
	w, err := bank131.ParseWebhook(body)
	if err != nil {
		ev.Unreadable = cardmask.Redact(err.Error())
		c := bank131.ScanWebhook(body)
		if c.Type != "" {
			ev.Type = c.Type
		}
		ev.SessionID = c.SessionID
		for _, m := range c.Metadata {
			if ref, err := payout.ParseBankRef(m); err == nil {
				ev.Ref = &ref
				break
			}
		}
		return ev
	}
	ev.Type = string(w.Type)
	fillFromSession(&ev, w.Session)
	return ev
}

// fillFromSession copies a session's facts (its first payout, or its first
// incoming payment for a transfer) into ev.
func fillFromSession(ev *bankEvent, ss *bank131.Session) {
	if ss == nil {
		return
	}
	ev.SessionID, ev.SessionStatus = ss.ID, string(ss.Status)
	if ss.Error != nil {
		ev.ErrorCode, ev.ErrorText = ss.Error.Code, ss.Error.Description
	}
	var meta []byte
	if p := ss.Payout(); p != nil {
		ev.PayoutID, ev.PayoutStatus, ev.Amount, meta = p.ID, string(p.Status), p.AmountDetails, p.Metadata
		if p.Amounts != nil && p.Amounts.Fee != nil {
			ev.Fee = p.Amounts.Fee.MerchantFee
		}
		if p.Error != nil {
			ev.ErrorCode, ev.ErrorText = p.Error.Code, p.Error.Description
		}
	}
	if ap := ss.AcquiringPayments(); len(ap) > 0 {
		a := ap[0]
		if ev.PayoutID == "" {
			ev.PayoutID, ev.PayoutStatus, ev.Amount = a.ID, string(a.Status), a.AmountDetails
			if a.Error != nil && ev.ErrorCode == "" {
				ev.ErrorCode, ev.ErrorText = a.Error.Code, a.Error.Description
			}
		}
		if len(meta) == 0 {
			meta = a.Metadata
		}
	}
	if len(meta) > 0 {
		if ref, err := payout.ParseBankRef(meta); err == nil {
			ev.Ref = &ref
		}
	}
}

// hooksConsumer creates or updates the ledger's durable consumer on PAYRUN_HOOKS.
func (s *Service) hooksConsumer(ctx context.Context) (jetstream.Consumer, error) {
	c, err := s.js.CreateOrUpdateConsumer(ctx, queue.StreamHooks, jetstream.ConsumerConfig{
		Durable:       queue.ConsumerLedgerHooks,
		Description:   "ledger: records every verified webhook as evidence",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxDeliver:    20,
		MaxAckPending: 10000,
		FilterSubject: queue.HooksPrefix + ">",
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", queue.ConsumerLedgerHooks, err)
	}
	return c, nil
}

// runHooks records webhooks in groups; each message is acked after its
// group committed. A webhook already recorded (same hook id) is a no-op.
func (s *Service) runHooks(ctx context.Context, c jetstream.Consumer) {
	consumeGroups(ctx, s, c, "hooks", 200, func(tx *Tx, msgs []jetstream.Msg) error {
		for _, m := range msgs {
			if err := s.recordHook(tx, parseHook(m)); err != nil {
				return err
			}
		}
		return nil
	})
}

// recordHook stores a bank event and checks it against the row it names:
// a paid session that is not the row's session is a second bank operation
// for the row.
func (s *Service) recordHook(tx *Tx, ev bankEvent) error {
	var amount, fee any
	var cur, feeCur string
	if ev.Amount != nil {
		amount, cur = ev.Amount.Amount, upper(ev.Amount.Currency)
	}
	if ev.Fee != nil {
		fee, feeCur = ev.Fee.Amount, upper(ev.Fee.Currency)
	}
	var refBatch, refRef string
	var refRow any
	var refRowN sql.NullInt64
	if ev.Ref != nil {
		refBatch, refRow, refRef = ev.Ref.Batch, ev.Ref.Row, ev.Ref.Reference
		refRowN = sql.NullInt64{Int64: int64(ev.Ref.Row), Valid: true}
	}
	// bank_events is a view (migrations 0141, 0163, 0173); its table, with
	// the id, the type, the statuses, the batch, the bank's ids and both
	// times in their compact forms (the batch's key: 0 is '').
	if refBatch != "" {
		if err := internKeys(tx, refBatch); err != nil {
			return fmt.Errorf("record webhook %s: %w", ev.HookID, err)
		}
	}
	// The id is unique by the trigger hook_events_unique (migration 0170:
	// the index holds its first 8 bytes): a webhook recorded before is
	// found by the index and skipped, as ON CONFLICT DO NOTHING did.
	res, err := tx.Exec(`INSERT INTO hook_events (h, ty, sid, ss, pid, ps,
		amount_minor, currency, fee_minor, fee_currency, error_code, error_text, bk, ref_row, ref_reference,
		stream_seq, received, rec, body, body_z) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
		(SELECT k FROM batch_keys WHERE batch_id = ?13), ?14, ?15, ?16, ?17, ?18, '', ?19
		WHERE NOT EXISTS (SELECT 1 FROM hook_events WHERE `+hookByID("?1")+`)`,
		hookKey(ev.HookID), hookTypeKey(ev.Type), bankIDKey(ev.SessionID, "ps_"), sessionStatusKey(ev.SessionStatus),
		bankIDKey(ev.PayoutID, "po_"),
		payoutStatusKey(ev.PayoutStatus), amount, cur, fee, feeCur,
		ev.ErrorCode, ev.ErrorText, refBatch, refRow, refRef, int64(ev.Seq), timeKey(ev.ReceivedAt), timeKey(tx.Now),
		packBody(ev.Body, bodyFields(refBatch, refRowN, ev.SessionID, ev.PayoutID, refRef)))
	if err != nil {
		return fmt.Errorf("record webhook %s: %w", ev.HookID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // recorded before
	}
	if ev.Ref != nil {
		// The row's moves and gate checks written before the webhook was
		// recorded name it by its id: by hook_events' id from now on
		// (migration 0171).
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("record webhook %s: %w", ev.HookID, err)
		}
		for _, t := range []string{"moves", "gates"} {
			if _, err := tx.Exec(`UPDATE `+t+` SET hook = ?1 WHERE bk = (SELECT k FROM batch_keys WHERE batch_id = ?2)
				AND row_no = ?3 AND hook = ?4`, id, refBatch, ev.Ref.Row, hookKey(ev.HookID)); err != nil {
				return fmt.Errorf("record webhook %s: refer to it from %s: %w", ev.HookID, t, err)
			}
		}
	}
	// Which row does it concern?
	batch, row := refBatch, 0
	if ev.Ref != nil {
		row = ev.Ref.Row
	} else if ev.SessionID != "" {
		if b, r, err := rowBySession(tx, ev.SessionID); err == nil {
			batch, row = b, r
		}
	}
	if ev.Unreadable != "" {
		return s.unreadableHook(tx, ev, batch, row)
	}
	if batch == "" {
		return nil
	}
	r, err := loadRow(tx, batch, row)
	if errors.Is(err, errNotFound) {
		_, err := openException(tx, reconcile.UnmatchedHook, ev.HookID, batch, 0,
			fmt.Sprintf("webhook %s (%s, session %s) names row %s/%d, which the ledger does not know", ev.HookID, ev.Type, ev.SessionID, batch, row))
		return err
	}
	if err != nil {
		return err
	}
	if ev.SessionID == "" || ev.SessionID == r.SessionID || ev.SessionID == r.ConfirmSession {
		return nil
	}
	paid := bank131.WebhookType(ev.Type) == bank131.HookPaymentFinished && bank131.PayoutStatus(ev.PayoutStatus) == bank131.PayoutSucceeded
	if r.SessionID == "" && r.ConfirmSession == "" {
		return nil // the row has no session yet: a processor adopts or refuses it
	}
	if !paid {
		return nil
	}
	return s.recordForeign(tx, r, ev.SessionID, payout.StateSucceeded, ev.PayoutID,
		ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookID: ev.HookID, HookType: ev.Type})
}

// unreadableHook handles a verified webhook payrun could not read (kept
// whole in bank_events already): never dropped silently, it opens an
// exception naming the row it is about (by its metadata, else its session
// id) and the row is polled with session/status, which settles it.
func (s *Service) unreadableHook(tx *Tx, ev bankEvent, batch string, row int) error {
	what := fmt.Sprintf("webhook %s (type %q, session %q) could not be read: %s; it is kept in the ledger", ev.HookID, ev.Type, ev.SessionID, ev.Unreadable)
	s.log.Error("verified webhook not understood; kept, the row is polled", logkey.HookID, ev.HookID, logkey.HookType, ev.Type,
		logkey.Session, ev.SessionID, logkey.Batch, batch, logkey.Row, row, logkey.Error, ev.Unreadable)
	if batch == "" {
		_, err := openException(tx, reconcile.UnreadableHook, ev.HookID, "", 0, what+"; it names no row payrun knows: look it up at the bank")
		return err
	}
	r, err := loadRow(tx, batch, row)
	if errors.Is(err, errNotFound) {
		_, err := openException(tx, reconcile.UnreadableHook, ev.HookID, batch, 0, fmt.Sprintf("%s; it names row %s/%d, which the ledger does not know", what, batch, row))
		return err
	}
	if err != nil {
		return err
	}
	if r.State.Terminal() {
		_, err := openException(tx, reconcile.UnreadableHook, ev.HookID, r.Batch, r.Row,
			fmt.Sprintf("%s; row %d (%s) is already %s: check the webhook against it", what, r.Row, r.Reference, r.State))
		return err
	}
	if _, err := openException(tx, reconcile.UnreadableHook, ev.HookID, r.Batch, r.Row,
		fmt.Sprintf("%s; row %d (%s) is polled with session/status", what, r.Row, r.Reference)); err != nil {
		return err
	}
	j, id, err := s.schedulePoll(tx, r)
	if err != nil {
		return err
	}
	if j.SessionID == "" {
		j.SessionID = ev.SessionID
	}
	id += ":u" + ev.HookID
	tx.After(func() { s.publishPolls([]ledgerapi.Job{j}, []string{id}) })
	return nil
}
