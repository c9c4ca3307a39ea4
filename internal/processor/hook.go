package processor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/ratelimit"
)

// event is what the bank said about a session, from a verified webhook or a
// session/status answer; both take the same path.
type event struct {
	typ         bank131.WebhookType
	session     *bank131.Session
	confirmInfo []byte
	tcn         string
	evidence    ledgerapi.Evidence
}

// handleHook handles one verified webhook from PAYRUN_HOOKS.
func (p *Processor) handleHook(ctx context.Context, msg jetstream.Msg) error {
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	return p.hook(ctx, msg.Data(), msg.Headers().Get(jetstream.MsgIDHeader), seq)
}

// replay handles a hook job: the webhook at the job's sequence in
// PAYRUN_HOOKS again, as it came (a ready_to_confirm the gate told to wait
// while the row was on hold, asked again on resume).
func (p *Processor) replay(ctx context.Context, job ledgerapi.Job) error {
	m, err := p.hooks.GetMsg(ctx, job.HookSeq)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			p.log.Warn("hook job: the webhook is gone from the stream; dropped", logkey.Batch, job.Batch, logkey.Row, job.Row, "seq", job.HookSeq)
			return nil
		}
		return later(fmt.Errorf("get webhook %d: %w", job.HookSeq, err))
	}
	return p.hook(ctx, m.Data, m.Header.Get(jetstream.MsgIDHeader), m.Sequence)
}

// hook handles a verified webhook's body (seq: its sequence in
// PAYRUN_HOOKS).
func (p *Processor) hook(ctx context.Context, body []byte, id string, seq uint64) error {
	w, err := bank131.ParseWebhook(body)
	if err != nil {
		// The ledger keeps it whole, opens an exception naming the row
		// and has the row polled: session/status settles it.
		p.log.Warn("verified webhook not understood; the ledger keeps it and polls its row", logkey.HookID, id, logkey.Error, cardmask.Redact(err.Error()))
		return nil
	}
	if !w.Type.Known() {
		// Kept by the ledger as evidence; nothing for a processor to do.
		return nil
	}
	if id == "" {
		sum := sha256.Sum256(body)
		id = hex.EncodeToString(sum[:])
	}
	ev := event{typ: w.Type, session: w.Session, confirmInfo: w.ConfirmInformation,
		evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookID: id, HookType: string(w.Type), HookSeq: seq}}
	if w.Details != nil && w.Details.TCNCodeEncoded != "" {
		if tcn, err := w.TCN(); err == nil {
			ev.tcn = tcn
		}
	}
	return p.apply(ctx, ev)
}

// apply moves the row an event is about.
func (p *Processor) apply(ctx context.Context, ev event) error {
	st, err := p.rowOf(ctx, ev.session)
	if err != nil {
		return err
	}
	if st == nil {
		p.log.Info("bank event for a session payrun does not know; ignored", logkey.Session, ev.session.ID, logkey.HookType, ev.typ)
		return nil
	}
	h := &hookRun{p: p, ev: ev, st: st,
		log: p.log.With(logkey.Batch, st.Batch, logkey.Row, st.Row, logkey.Reference, st.Reference, logkey.Session, ev.session.ID)}
	switch ev.typ {
	case bank131.HookReadyToConfirm:
		return h.readyToConfirm(ctx)
	case bank131.HookActionRequired:
		return h.actionRequired(ctx)
	case bank131.HookPaymentFinished:
		return h.finished(ctx)
	case bank131.HookPaymentRefunded:
		return h.move(ctx, ledgerapi.Transition{To: payout.StateReturned, Reason: "The recipient's bank returned the payout."})
	}
	return nil
}

// rowOf finds the row a session belongs to: by our metadata, which every
// session we open carries, else by the session id the ledger recorded.
// nil, nil means the session is not ours.
func (p *Processor) rowOf(ctx context.Context, s *bank131.Session) (*ledgerapi.RowState, error) {
	req := ledgerapi.RowRequest{SessionID: s.ID}
	if ref, ok := refOf(s); ok {
		req = ledgerapi.RowRequest{Batch: ref.Batch, Row: ref.Row}
	}
	st, err := p.ledger.Get(ctx, req)
	if err != nil {
		if ledgerapi.IsCode(err, ledgerapi.CodeNotFound) {
			return nil, nil
		}
		return nil, later(fmt.Errorf("read row of session %s: %w", s.ID, err))
	}
	return st, nil
}

func refOf(s *bank131.Session) (payout.BankRef, bool) {
	var metas [][]byte
	for _, po := range s.Payouts() {
		metas = append(metas, po.Metadata)
	}
	for _, ap := range s.AcquiringPayments() {
		metas = append(metas, ap.Metadata)
	}
	for _, m := range metas {
		if len(m) == 0 {
			continue
		}
		if ref, err := payout.ParseBankRef(m); err == nil {
			return ref, true
		}
	}
	return payout.BankRef{}, false
}

type hookRun struct {
	p   *Processor
	ev  event
	st  *ledgerapi.RowState
	log *slog.Logger
	// moved is the row as the ledger answered a move this event applied
	// (nil: none did, a repeat or a refusal).
	moved *ledgerapi.RowState
}

func (h *hookRun) bank() *bank131.Client { return h.p.bankFor(h.st.Method == payout.MethodCard) }

// move records what the bank said. Refusals mean the row already knows
// better (a duplicate, a reordered webhook, a foreign session): nothing to
// do. Only an unreachable ledger hands the event back.
func (h *hookRun) move(ctx context.Context, t ledgerapi.Transition) error {
	t.Batch, t.Row, t.SessionID, t.Worker, t.Evidence = h.st.Batch, h.st.Row, h.ev.session.ID, h.p.cfg.Worker, h.ev.evidence
	reply, err := h.p.ledger.Transition(ctx, t)
	countTransition(t.To, reply, err)
	if err == nil {
		if reply.Applied {
			h.log.Debug("row moved by the bank", "to", t.To, logkey.HookType, h.ev.typ)
			h.moved = reply.Row
		}
		return nil
	}
	var lerr *ledgerapi.Error
	if errors.As(err, &lerr) {
		state := payout.State("")
		if reply != nil && reply.Row != nil {
			state = reply.Row.State
		}
		h.log.Info("bank event not applied", "to", t.To, "code", lerr.Code, logkey.State, state, logkey.HookType, h.ev.typ)
		if lerr.Code == ledgerapi.CodeInternal {
			return later(err)
		}
		return nil
	}
	return later(fmt.Errorf("ledger transition to %s: %w", t.To, err))
}

// readyToConfirm asks the gate and confirms or cancels the session.
func (h *hookRun) readyToConfirm(ctx context.Context) error {
	s := h.ev.session
	g := ledgerapi.GateRequest{Batch: h.st.Batch, Row: h.st.Row, SessionID: s.ID, PayoutID: payoutID(s),
		Observed: observe(h.ev), ConfirmInfo: h.ev.confirmInfo, TCN: h.ev.tcn, Worker: h.p.cfg.Worker, Evidence: h.ev.evidence}
	if h.st.Method == payout.MethodTransfer && h.st.Quote == nil && !h.st.State.Terminal() {
		q, err := h.requote(ctx)
		if err != nil {
			return err
		}
		g.Quote = q
	}
	reply, err := h.p.ledger.Gate(ctx, g)
	if err != nil {
		if ledgerapi.IsCode(err, ledgerapi.CodeNotFound) || ledgerapi.IsCode(err, ledgerapi.CodeIllegal) {
			h.log.Info("gate: nothing to do", logkey.Error, err)
			return nil
		}
		return later(fmt.Errorf("gate: %w", err))
	}
	switch reply.Decision {
	case ledgerapi.DecisionConfirm:
		return h.confirm(ctx)
	case ledgerapi.DecisionCancel:
		h.log.Warn("gate cancels the session", "reason", cardmask.Redact(reply.Reason))
		return h.cancel(ctx)
	case ledgerapi.DecisionWait:
		h.log.Info("gate: on hold; the session waits until the row is resumed")
	}
	return nil
}

// requote fetches a quote for a transfer whose row has none: its session
// was adopted after a restore whose replica lacked the quote. The gate
// records it and checks the bank's amounts against it, as it would have
// against the lost one. Should the bank refuse the calculation, the gate
// goes without a quote (and cancels the session); any other failure hands
// the webhook back.
func (h *hookRun) requote(ctx context.Context) (*ledgerapi.Quote, error) {
	row, err := h.p.loadRow(ctx, h.st)
	if err != nil {
		return nil, later(err)
	}
	req, err := calculation(row)
	if err != nil {
		h.log.Warn("no quote for the gate", logkey.Error, err)
		return nil, nil
	}
	var q *bank131.CalculateResponse
	class, err := h.p.call(ctx, "bpa/calculate", ratelimit.High, func(ctx context.Context) (err error) {
		q, err = h.bank().Calculate(ctx, req)
		return err
	})
	switch class {
	case bank131.ClassOK:
		h.log.Info("transfer without a quote (adopted after a restore): a new quote for the gate")
		return quoteOf(q), nil
	case bank131.ClassFinal:
		h.log.Warn("bpa/calculate refused; the gate goes without a quote", logkey.Error, err)
		return nil, nil
	}
	return nil, later(fmt.Errorf("bpa/calculate for the gate: %w", err))
}

// observe is what the bank shows it is about to pay.
func observe(ev event) ledgerapi.Observed {
	var o ledgerapi.Observed
	po := ev.session.Payout()
	if po == nil {
		return o
	}
	if po.AmountDetails != nil {
		o.Amount = po.AmountDetails.Money()
	}
	if m := po.Method(); m != nil && m.Card != nil {
		o.Last4 = m.Card.Last4
		if m.Card.TokenizedCard != nil {
			o.Token = m.Card.TokenizedCard.Token
		}
	}
	if pd := po.ParticipantDetails; pd != nil && pd.Recipient != nil {
		o.Recipient = pd.Recipient.FullName
	}
	if ci, err := bank131.ParseConfirmInformation(ev.confirmInfo); err == nil && len(ci.Exchanges) > 0 {
		x := ci.Exchanges[0]
		o.FXRate = x.FXRate
		src, dst := x.Source.Money(), x.Destination.Money()
		o.Source, o.Destination = &src, &dst
		if x.Commission != nil {
			c := x.Commission.Money()
			o.Commission = &c
		}
	}
	return o
}

// confirm sends session/confirm with the confirm_information exactly as
// the bank sent it. Only the session the gate recorded gets here.
func (h *hookRun) confirm(ctx context.Context) error {
	s := h.ev.session
	key := confirmKey(h.st.Batch, h.st.Row, s.ID)
	var resp *bank131.SessionResponse
	class, err := h.p.call(ctx, "session/confirm", ratelimit.High, func(ctx context.Context) (err error) {
		resp, err = h.bank().Confirm(ctx, s.ID, h.ev.confirmInfo, bank131.WithIdempotencyKey(key))
		return err
	})
	if bank131.IsWrongState(err) {
		return h.confirmWrongState(ctx, key, err)
	}
	switch class {
	case bank131.ClassOK:
		t := ledgerapi.Transition{To: payout.StateConfirmed, IdemKey: key}
		if url := resp.Session.RedirectURL(); url != "" {
			t = ledgerapi.Transition{To: payout.StateActionRequired, IdemKey: key, ActionURL: url}
		}
		return h.move(ctx, t)
	case bank131.ClassWalletShort:
		// The bank refused to pay: our wallet is short. The row waits for a
		// top-up with a new attempt; this session is abandoned.
		h.log.Warn("session/confirm: our wallet at the bank is short; the row waits for a top-up", logkey.Error, err)
		return h.move(ctx, ledgerapi.Transition{To: payout.StateQueued, WalletShort: true, ErrorCode: bank131.CodeWalletShort, Reason: walletShortReason})
	case bank131.ClassConflict:
		// The bank has this confirm already (a repeat after a crash).
		return h.move(ctx, ledgerapi.Transition{To: payout.StateConfirmed, IdemKey: key})
	case bank131.ClassFinal:
		// The bank refused the confirm. Whether an earlier confirm of ours
		// went through only the bank can tell: in doubt until it does.
		h.log.Warn("session/confirm refused; row in doubt until the bank's final word", logkey.Error, err)
		return h.move(ctx, ledgerapi.Transition{To: payout.StateInDoubt, ErrorCode: bank131.ErrorCode(err),
			Reason: "The bank refused the confirmation; waiting for the bank's final status."})
	}
	// Not acted on, or unknown: the webhook comes back, the gate answers
	// confirm again for the same session, and the same key makes a repeat
	// harmless.
	return later(fmt.Errorf("session/confirm: %w", err))
}

// cancel cancels a session the gate refused. The ledger already recorded
// why; a failed cancel is retried, the bank's own confirm timeout is the
// last resort.
func (h *hookRun) cancel(ctx context.Context) error {
	s := h.ev.session
	key := cancelKey(h.st.Batch, h.st.Row, s.ID)
	class, err := h.p.call(ctx, "session/cancel", ratelimit.High, func(ctx context.Context) error {
		_, err := h.bank().Cancel(ctx, s.ID, bank131.WithIdempotencyKey(key))
		return err
	})
	if bank131.IsWrongState(err) {
		return h.cancelWrongState(ctx, err)
	}
	switch class {
	case bank131.ClassOK, bank131.ClassConflict, bank131.ClassFinal:
		if err != nil {
			h.log.Info("session/cancel answered with an error", logkey.Error, err)
		}
		return nil
	}
	return later(fmt.Errorf("session/cancel: %w", err))
}

// actionRequired records the 3-D Secure link the sender must open.
func (h *hookRun) actionRequired(ctx context.Context) error {
	url := h.ev.session.RedirectURL()
	if url == "" {
		h.log.Warn("action_required without a link")
	}
	return h.move(ctx, ledgerapi.Transition{To: payout.StateActionRequired, ActionURL: url})
}

// finished records the bank's final word on the payout; a token or
// widget row it finished then asks token/info for its card (cards.go).
func (h *hookRun) finished(ctx context.Context) error {
	if err := h.final(ctx); err != nil {
		return err
	}
	if h.moved != nil {
		h.p.queueCardFill(h.moved)
	}
	return nil
}

// final records the bank's final word on the payout.
func (h *hookRun) final(ctx context.Context) error {
	s := h.ev.session
	po := s.Payout()
	switch {
	case s.Status == bank131.SessionError:
		// Not final: the bank is still working on it. A poll settles it.
		h.log.Warn("session in error at the bank; waiting", "code", errCode(s.Error))
		return nil
	case po != nil && po.Status == bank131.PayoutSucceeded:
		t := ledgerapi.Transition{To: payout.StateSucceeded, PayoutID: po.ID}
		if po.AmountDetails != nil {
			t.Paid = ptr(po.AmountDetails.Money())
		}
		if po.Amounts != nil && po.Amounts.Fee != nil && po.Amounts.Fee.MerchantFee != nil {
			t.Fee = ptr(po.Amounts.Fee.MerchantFee.Money())
		}
		return h.move(ctx, t)
	case po != nil && po.Status == bank131.PayoutFailed, s.Status == bank131.SessionCancelled:
		code := ""
		if po != nil {
			code = errCode(po.Error)
		}
		if code == "" {
			code = errCode(s.Error)
		}
		if code == "" && s.Status == bank131.SessionCancelled {
			code = "session_cancelled"
		}
		if bank131.DiagnoseCode(code) == bank131.ClassWalletShort {
			// Not paid, and not for the recipient's reasons: our wallet
			// is short. The row waits for a top-up with a new attempt.
			h.log.Warn("payout failed: our wallet at the bank is short; the row waits for a top-up")
			return h.move(ctx, ledgerapi.Transition{To: payout.StateQueued, WalletShort: true, ErrorCode: code, Reason: walletShortReason})
		}
		t := ledgerapi.Transition{To: payout.StateFailed, ErrorCode: code, Reason: bank131.Reason(code)}
		if code == "session_cancelled" {
			t.Reason = "The payout was cancelled at the bank before it was confirmed."
		}
		if po != nil {
			t.PayoutID = po.ID
		}
		return h.move(ctx, t)
	}
	h.log.Info("payment_finished without a final payout status; waiting", logkey.State, s.Status)
	return nil
}

func errCode(e *bank131.Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}

// poll asks session/status about a row whose webhook is late and feeds the
// answer through the same path as a webhook.
func (p *Processor) poll(ctx context.Context, msg progress, job ledgerapi.Job) error {
	st, err := p.ledger.Get(ctx, ledgerapi.RowRequest{Batch: job.Batch, Row: job.Row})
	if err != nil {
		if ledgerapi.IsCode(err, ledgerapi.CodeNotFound) {
			return nil
		}
		return later(err)
	}
	session := job.SessionID
	if session == "" {
		session = st.SessionID
	}
	if session == "" || st.State.Terminal() || job.Gen < st.Gen {
		return nil // nothing to ask, or a poll of older work
	}
	resp, class, err := p.readStatus(ctx, p.bankFor(st.Method == payout.MethodCard), session)
	switch class {
	case bank131.ClassOK:
	case bank131.ClassFinal:
		p.log.Warn("session/status refused", logkey.Batch, st.Batch, logkey.Row, st.Row, logkey.Session, session, logkey.Error, err)
		return nil
	default:
		return later(err)
	}
	s := resp.Session
	ev := event{session: s, confirmInfo: resp.ConfirmInformation,
		evidence: ledgerapi.Evidence{Source: ledgerapi.SourceStatus, Detail: "session/status: " + string(s.Status)}}
	po := s.Payout()
	switch {
	case s.Status == bank131.SessionAccepted, s.Status == bank131.SessionCancelled,
		po != nil && po.Status.Final():
		ev.typ = bank131.HookPaymentFinished
	case s.NextAction == bank131.NextActionConfirm:
		if st.Method == payout.MethodTransfer && len(ev.confirmInfo) == 0 {
			// A transfer is confirmed only with the webhook's
			// confirm_information. The session still waits for our
			// decision, which was lost (a restored ledger) or never taken:
			// the ready_to_confirm the ledger recorded is handled again.
			if job.HookSeq > 0 {
				return p.replay(ctx, job)
			}
			return nil
		}
		ev.typ = bank131.HookReadyToConfirm
	case s.RedirectURL() != "":
		ev.typ = bank131.HookActionRequired
	case s.Status == bank131.SessionCreated && po == nil && st.State == payout.StatePayoutStarted && session == st.SessionID &&
		st.IdemKey == startKey(st.Batch, st.Row, st.Attempt):
		return p.startNeverArrived(ctx, msg, job, st)
	default:
		return nil
	}
	return p.apply(ctx, ev)
}

// startNeverArrived handles a row recorded as started whose session the
// bank still shows empty: the session/start/payout whose outcome was
// unknown never reached it. The row goes back to starting and the same
// start is sent again, in the same session with the same key: had the
// first one arrived meanwhile, the bank treats this one as its repeat, so
// the row never has two sessions that could pay. A cancelled batch refuses
// the move, and the row waits for its stall exception.
func (p *Processor) startNeverArrived(ctx context.Context, msg progress, job ledgerapi.Job, st *ledgerapi.RowState) error {
	log := p.log.With(logkey.Batch, st.Batch, logkey.Row, st.Row, logkey.Session, st.SessionID)
	_, err := p.ledger.Transition(ctx, ledgerapi.Transition{Batch: st.Batch, Row: st.Row, To: payout.StateStarting,
		Expect: []payout.State{payout.StatePayoutStarted}, Gen: st.Gen, Attempt: st.Attempt, SessionID: st.SessionID,
		IdemKey: st.IdemKey, Worker: p.cfg.Worker,
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceStatus, Detail: "session/status: " + st.SessionID + " created, no payout: the start never reached it; sent again"}})
	if err != nil {
		if errors.As(err, new(*ledgerapi.Error)) {
			log.Info("session without its payout; the ledger keeps the row", logkey.Error, err)
			return nil
		}
		return later(err)
	}
	log.Warn("session without its payout: the start never reached the bank; sending it again")
	return p.pay(ctx, msg, ledgerapi.Job{Kind: ledgerapi.JobPay, Batch: st.Batch, Row: st.Row, Gen: st.Gen,
		IntakeSeq: job.IntakeSeq, RowDigest: job.RowDigest})
}
