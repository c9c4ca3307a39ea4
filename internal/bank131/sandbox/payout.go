package sandbox

import (
	"encoding/json"
	"fmt"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/logkey"
)

// The payout session state machine (shared/bank131-api.md §8.3):
//
//	create ─▶ created ─start─▶ in_progress/in_progress ─(Processing)─▶ in_progress/pending, next_action confirm  [ready_to_confirm]
//	   ─confirm─▶ in_progress/in_progress ─(Settle)─▶ accepted/succeeded | cancelled/failed  [payment_finished]
//	   ─cancel─▶ (answer shows pending) ─(Settle)─▶ cancelled/failed  [payment_finished]
//	   ─(ConfirmTimeout)─▶ cancelled/failed confirm_timeout  [payment_finished]
//
// single-request: start ─(Processing)─▶ final. auto-confirm: start
// ─(Processing)─▶ confirmed by the bank ─(Settle)─▶ final. A failed payout
// leaves the session cancelled (Modes.FailedSession); the session-error
// trigger shows session "error" with a failed payout first and resolves to
// accepted/succeeded after ErrorResolve (Modes.SessionError). A call that
// does not fit the state is answered session_wrong_state
// (Modes.WrongStateCode).

// sessionVersion is the version whose names a session's webhooks use.
func sessionVersion(v string) string {
	if v == "v2" {
		return "v2"
	}
	return "v1"
}

// answer renders sess for the caller's API version.
func (s *Server) answer(sess *session, version string) ([]byte, *apiError) {
	b, err := marshal(sessionAnswer{Status: "ok", Session: s.view(sess, sessionVersion(version), false)})
	if err != nil {
		return nil, newAPIError(bank131.CodeInternal, "render session: %v", err)
	}
	return b, nil
}

// emit sends a webhook with the session's current state. Caller holds s.mu.
func (s *Server) emit(sess *session, typ bank131.WebhookType, ci json.RawMessage, details *bank131.WebhookDetails) {
	body, err := marshal(hookBody{Type: typ, Session: s.view(sess, sess.version, true), ConfirmInformation: ci, Details: details})
	if err == nil {
		body, err = s.hookForm(body)
	}
	if err != nil {
		s.log.Error("render webhook", logkey.Session, sess.id, logkey.Error, err)
		return
	}
	s.hooks.send(&hook{session: sess.id, typ: typ, body: body})
}

// lookup finds a session of the caller's project. Caller holds s.mu.
func (s *Server) lookup(c *call, id string) (*session, *apiError) {
	if id == "" {
		return nil, invalid("session_id is required")
	}
	sess, ok := s.sessions[id]
	if !ok || sess.project != c.project {
		return nil, newAPIError(s.cfg.Modes.UnknownSession, "session %s not found", id)
	}
	s.noteCall(sess, c)
	return sess, nil
}

func (s *Server) newSession(c *call) *session {
	now := s.now()
	sess := &session{
		id: s.newID("ps_"), project: c.project, version: sessionVersion(c.version),
		status: bank131.SessionCreated, createdAt: now, updatedAt: now,
	}
	s.sessions[sess.id] = sess
	s.order = append(s.order, sess)
	s.noteCall(sess, c)
	return sess
}

func pick(v1, v2 *bank131.PaymentMethod) *bank131.PaymentMethod {
	if v1 != nil {
		return v1
	}
	return v2
}

func (s *Server) handleCreate(c *call) ([]byte, *apiError) {
	var req bank131.CreateSessionRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if req.AmountDetails != nil {
		if err := checkAmount(req.AmountDetails); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.newSession(c)
	sess.method = pick(req.PaymentMethod, req.PayoutDetails)
	sess.amount = req.AmountDetails
	sess.participants = req.ParticipantDetails
	sess.customer = req.Customer
	sess.metadata = req.Metadata
	return s.answer(sess, c.version)
}

// payoutSpec is what a payout is started with.
type payoutSpec struct {
	method       *bank131.PaymentMethod
	amount       *bank131.Amount
	participants *bank131.ParticipantDetails
	customer     *bank131.Customer
	metadata     json.RawMessage
}

// admit validates a payout and applies the call-time triggers. Caller
// holds s.mu.
func (s *Server) admit(c *call, p payoutSpec) (outcome, *apiError) {
	if err := checkPayoutMethod(p.method, p.participants, s.cfg.Modes.EncryptedCardName == modeRequired); err != nil {
		return outcome{}, err
	}
	if err := checkAmount(p.amount); err != nil {
		return outcome{}, err
	}
	reject, out := decide([]*bank131.PaymentMethod{p.method}, p.amount.Amount)
	if reject != "" {
		return outcome{}, newAPIError(reject, "%s", bank131.Reason(reject))
	}
	if err := s.failOnce(c, p.amount.Amount, p.metadata); err != nil {
		return outcome{}, err
	}
	// Refunds happen to Russian bank accounts only, never FPS (DOC-refunds).
	out.refund = out.refund && refundable(p.method)
	w := s.wallets[c.project.Name]
	if w.balance-w.reserved < s.need(p.amount.Amount) {
		if s.cfg.Modes.WalletShortAt == modeCall {
			return outcome{}, newAPIError(bank131.CodeWalletShort, "the balance does not have enough funds for the payout and its fee")
		}
		out.walletShort = true
		if out.failCode == "" {
			out.failCode = bank131.CodeWalletShort
		}
	}
	return out, nil
}

// need is what a domestic payout of amount takes from the wallet.
func (s *Server) need(amount int64) int64 { return amount + s.cfg.Fee.Fee(amount) }

// refundable reports whether the bank may return a payout to this method:
// a Russian bank account, not by FPS.
func refundable(m *bank131.PaymentMethod) bool {
	if m == nil || m.BankAccount == nil {
		return false
	}
	st := m.BankAccount.SystemType
	if st == "" {
		st = m.SystemType
	}
	return st == bank131.SystemRU
}

// failOnce implements the "once" triggers (AmountInternalOnce and the
// like): the first call per project, amount and metadata is answered with the
// trigger's code, later calls go through.
func (s *Server) failOnce(c *call, amount int64, metadata json.RawMessage) *apiError {
	code, ok := onceTriggers[amount]
	if !ok {
		return nil
	}
	key := fmt.Sprintf("%s\x00%d\x00%s", c.project.Name, amount, metadata)
	if s.failedOnce[key] {
		return nil
	}
	s.failedOnce[key] = true
	return newAPIError(code, "%s (trigger %d: first attempt)", bank131.Reason(code), amount)
}

// startPayout puts the payout into the session and schedules its life.
// Caller holds s.mu and has admitted p.
func (s *Server) startPayout(sess *session, p payoutSpec, out outcome) {
	now := s.now()
	m, kind, last4 := s.shown(p.method)
	sess.payout = &payoutRec{
		id: s.newID("po_"), status: bank131.PayoutInProgress, createdAt: now,
		method: m, kind: kind, last4: last4, amount: *p.amount,
		participants: p.participants, customer: p.customer, metadata: p.metadata,
		fast: p.method.BankAccount != nil && p.method.BankAccount.RU != nil && p.method.BankAccount.RU.IsFast,
	}
	sess.status = bank131.SessionInProgress
	sess.outcome = out
	sess.touch(now)
	if !out.walletShort {
		s.reserve(sess, s.need(p.amount.Amount)) // admit checked that it is covered
	}
	if out.stuck {
		return
	}
	switch sess.project.Mode {
	case ModeSingleRequest:
		s.after(s.cfg.Timing.Processing, sess, s.finish)
	case ModeAutoConfirm:
		s.after(s.cfg.Timing.Processing, sess, func(sess *session) {
			sess.confirmAt = s.now()
			sess.touch(sess.confirmAt)
			s.after(s.cfg.Timing.Settle, sess, s.finish)
		})
	default:
		s.after(s.cfg.Timing.Processing, sess, s.readyToConfirm)
	}
}

func (s *Server) handleStart(c *call) ([]byte, *apiError) {
	var req bank131.StartPayoutRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.lookup(c, req.SessionID)
	if err != nil {
		return nil, err
	}
	if sess.status != bank131.SessionCreated || sess.payout != nil || sess.xfer != nil {
		return nil, s.wrongState("session %s is %s: a payout can only be started in a created session", sess.id, sess.status)
	}
	p := payoutSpec{
		method: pick(req.PaymentMethod, req.PayoutDetails), amount: req.AmountDetails,
		participants: req.ParticipantDetails, customer: req.Customer, metadata: req.Metadata,
	}
	if p.method == nil {
		p.method = sess.method
	}
	if p.amount == nil {
		p.amount = sess.amount
	}
	if p.participants == nil {
		p.participants = sess.participants
	}
	if p.customer == nil {
		p.customer = sess.customer
	}
	if p.metadata == nil {
		p.metadata = sess.metadata
	}
	out, err := s.admit(c, p)
	if err != nil {
		return nil, err
	}
	s.startPayout(sess, p, out)
	return s.answer(sess, c.version)
}

func (s *Server) handleInit(c *call) ([]byte, *apiError) {
	var req bank131.InitPayoutRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	p := payoutSpec{
		method: pick(req.PaymentMethod, req.PayoutDetails), amount: req.AmountDetails,
		participants: req.ParticipantDetails, customer: req.Customer, metadata: req.Metadata,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.admit(c, p)
	if err != nil {
		return nil, err
	}
	sess := s.newSession(c)
	sess.metadata = req.Metadata
	s.startPayout(sess, p, out)
	return s.answer(sess, c.version)
}

// readyToConfirm: the payout waits for the partner's decision.
func (s *Server) readyToConfirm(sess *session) {
	sess.payout.status = bank131.PayoutPending
	sess.next = bank131.NextActionConfirm
	sess.touch(s.now())
	s.emit(sess, bank131.HookReadyToConfirm, nil, nil)
	s.after(s.cfg.Timing.ConfirmTimeout, sess, func(sess *session) {
		s.log.Info("confirmation timed out", logkey.Session, sess.id)
		s.cancelDone(sess, bank131.CodeConfirmTimeout)
	})
}

type confirmRequest struct {
	SessionID          string          `json:"session_id"`
	ConfirmInformation json.RawMessage `json:"confirm_information"`
}

func (s *Server) handleConfirm(c *call) ([]byte, *apiError) {
	var req confirmRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.lookup(c, req.SessionID)
	if err != nil {
		return nil, err
	}
	sess.confirmCalls++
	if sess.xfer != nil {
		return s.confirmTransfer(c, sess, req.ConfirmInformation)
	}
	if sess.payout == nil || sess.payout.status != bank131.PayoutPending || sess.next != bank131.NextActionConfirm || sess.cancelling {
		return nil, s.wrongState("session %s is not waiting for confirmation (session %s)", sess.id, sess.status)
	}
	sess.confirmsAccepted++
	now := s.now()
	sess.payout.status = bank131.PayoutInProgress
	sess.next = ""
	sess.confirmAt = now
	sess.touch(now)
	s.after(s.cfg.Timing.Settle, sess, s.finish)
	return s.answer(sess, c.version)
}

func (s *Server) handleCancel(c *call) ([]byte, *apiError) {
	var req bank131.SessionRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.lookup(c, req.SessionID)
	if err != nil {
		return nil, err
	}
	switch {
	case sess.status == bank131.SessionCancelled || sess.cancelling:
		if s.cfg.Modes.RepeatCancel == modeSessionWrongState {
			return nil, s.wrongState("session %s is already cancelled", sess.id)
		}
		return s.answer(sess, c.version) // repeated cancel: nothing more to do
	case sess.status == bank131.SessionCreated && sess.payout == nil:
		now := s.now()
		sess.status = bank131.SessionCancelled
		sess.finished = now
		sess.touch(now)
		return s.answer(sess, c.version)
	case sess.next == bank131.NextActionConfirm:
		// The answer still shows the session as it was (as in the bank's
		// examples); the cancel takes effect one settle delay later.
		answer, aerr := s.answer(sess, c.version)
		sess.cancelling = true
		sess.touch(s.now())
		s.after(s.cfg.Timing.Settle, sess, func(sess *session) { s.cancelDone(sess, "") })
		return answer, aerr
	}
	return nil, s.wrongState("session %s cannot be cancelled now (session %s)", sess.id, sess.status)
}

// cancelDone ends a session cancelled by the partner (code "") or by a
// timeout (code set). Caller holds s.mu.
func (s *Server) cancelDone(sess *session, code string) {
	now := s.now()
	var e *bank131.Error
	if code != "" {
		e = &bank131.Error{Code: code, Description: bank131.Reason(code)}
	}
	if a := sess.acq; a != nil && !a.status.Final() {
		a.status, a.err, a.finished, a.updatedAt = bank131.PayoutFailed, e, now, now
	}
	if p := sess.payout; p != nil && !p.status.Final() {
		p.status, p.err, p.finished = bank131.PayoutFailed, e, now
	}
	s.settleWallet(sess, false)
	sess.status = bank131.SessionCancelled
	sess.next = ""
	sess.cancelling = false
	sess.finished = now
	sess.touch(now)
	if sess.payout != nil && (code != "" || !s.cfg.NoFinishedOnCancel) {
		s.emit(sess, bank131.HookPaymentFinished, nil, nil)
	}
}

// finish decides the payout's final status from the session's outcome.
// Caller holds s.mu.
func (s *Server) finish(sess *session) {
	now := s.now()
	p := sess.payout
	switch out := sess.outcome; {
	case out.sessionError:
		p.status = bank131.PayoutFailed
		p.err = &bank131.Error{Code: bank131.CodeInternal, Description: bank131.Reason(bank131.CodeInternal)}
		sess.status = bank131.SessionError
		sess.err = &bank131.Error{Code: bank131.CodeInternal, Description: "the result is not final; contact support"}
		sess.touch(now)
		s.emit(sess, bank131.HookPaymentFinished, nil, nil)
		switch s.cfg.Modes.SessionError {
		case modeSucceeds:
			s.after(s.cfg.Timing.ErrorResolve, sess, func(sess *session) {
				sess.err, sess.payout.err = nil, nil
				s.succeed(sess)
			})
		case modeFails:
			s.after(s.cfg.Timing.ErrorResolve, sess, func(sess *session) {
				sess.err = nil
				s.payoutFailed(sess, bank131.CodeInternal)
			})
		}
	case out.failCode != "":
		s.payoutFailed(sess, out.failCode)
	default:
		s.succeed(sess)
	}
}

// failedStatus is the session's status after its payout failed: the bank
// does not say (shared/bank131-api.md §9 item 6), Modes.FailedSession
// chooses.
func (s *Server) failedStatus() bank131.SessionStatus {
	switch s.cfg.Modes.FailedSession {
	case modeAccepted:
		return bank131.SessionAccepted
	case modeError:
		return bank131.SessionError
	}
	return bank131.SessionCancelled
}

// payoutFailed fails a domestic payout with code. Caller holds s.mu.
func (s *Server) payoutFailed(sess *session, code string) {
	now := s.now()
	p := sess.payout
	p.status = bank131.PayoutFailed
	p.err = &bank131.Error{Code: code, Description: bank131.Reason(code)}
	p.finished = now
	s.settleWallet(sess, false)
	sess.status = s.failedStatus()
	sess.finished = now
	sess.touch(now)
	s.emit(sess, bank131.HookPaymentFinished, nil, nil)
}

// succeed pays the payout. Caller holds s.mu.
func (s *Server) succeed(sess *session) {
	now := s.now()
	p := sess.payout
	p.status = bank131.PayoutSucceeded
	p.finished = now
	if sess.xfer != nil {
		p.fee = sess.xfer.quote.fee
	} else {
		p.fee = s.cfg.Fee.Fee(p.amount.Amount)
	}
	s.settleWallet(sess, true)
	sess.status = bank131.SessionAccepted
	sess.finished = now
	sess.touch(now)
	s.emit(sess, bank131.HookPaymentFinished, nil, nil)
	if sess.outcome.refund {
		s.afterAlways(s.cfg.Timing.Refund, sess, s.refund)
	}
}

// refund returns a succeeded payout (payment_refunded). Caller holds s.mu.
func (s *Server) refund(sess *session) {
	now := s.now()
	p := sess.payout
	amount := p.amount
	p.refunds = append(p.refunds, bank131.Refund{
		ID: s.newID("rf_"), Status: "accepted",
		CreatedAt: bank131.NewTime(now), FinishedAt: bank131.NewTime(now), AmountDetails: &amount,
	})
	// The returned money comes back to the wallet; the fee is the bank's.
	s.wallets[sess.project.Name].balance += amount.Amount
	sess.touch(now)
	s.emit(sess, bank131.HookPaymentRefunded, nil, nil)
}

func (s *Server) handleStatus(c *call) ([]byte, *apiError) {
	var req bank131.SessionRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.lookup(c, req.SessionID)
	if err != nil {
		return nil, err
	}
	return s.answer(sess, c.version)
}
