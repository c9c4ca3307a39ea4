package processor

import (
	"context"
	"fmt"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/ratelimit"
)

// session/status is the bank's word on a session when no webhook says it:
// a late webhook (poll), and every call the bank answers
// session_wrong_state ("Cannot perform a transaction in this status",
// developer.131.ru/en/reference/errors): the call did not fit the
// session's state, so the processor reads session/status and acts on the
// state it shows (issue 14) instead of failing the row or doubting it.
// Such an answer comes when an earlier send of the same call went through
// and this one is a new request to the bank (a key it no longer keeps, a
// repeat after a crash): start, confirm, cancel.

// readStatus asks session/status about session through the limiter.
func (p *Processor) readStatus(ctx context.Context, bank *bank131.Client, session string) (*bank131.SessionResponse, bank131.Class, error) {
	var resp *bank131.SessionResponse
	class, err := p.call(ctx, "session/status", ratelimit.High, func(ctx context.Context) (err error) {
		resp, err = bank.Status(ctx, session)
		return err
	})
	return resp, class, err
}

// statusEvent is the event a session/status answer stands for: the
// webhook the bank would send about the state it shows (typ "" when the
// state asks nothing of payrun: created, or a payout in progress).
func statusEvent(resp *bank131.SessionResponse, detail string) event {
	s := resp.Session
	ev := event{session: s, confirmInfo: resp.ConfirmInformation,
		evidence: ledgerapi.Evidence{Source: ledgerapi.SourceStatus, Detail: detail + string(s.Status)}}
	po := s.Payout()
	switch {
	case s.Status == bank131.SessionAccepted, s.Status == bank131.SessionCancelled, po != nil && po.Status.Final():
		ev.typ = bank131.HookPaymentFinished
	case s.NextAction == bank131.NextActionConfirm:
		ev.typ = bank131.HookReadyToConfirm
	case s.RedirectURL() != "":
		ev.typ = bank131.HookActionRequired
	}
	return ev
}

// startWrongState handles session_wrong_state to the row's
// session/start/payout: the session is no longer created. A payout in it
// means an earlier start of this attempt reached the bank: the row's payout
// started (with its id), and what the bank shows of it beyond that
// (ready_to_confirm, a final word) goes the webhook's way. A session that
// ended without a payout (cancelled) fails the row as the bank's final
// word says. The job ends: only the bank moves the row now.
func (r *run) startWrongState(ctx context.Context, callErr error) (bool, error) {
	st := r.st
	r.log.Info("session/start/payout: the session is in another state; reading session/status", logkey.Session, st.SessionID, logkey.Error, callErr)
	resp, class, err := r.p.readStatus(ctx, r.bank(), st.SessionID)
	if class != bank131.ClassOK {
		return false, later(fmt.Errorf("session/start/payout answered session_wrong_state; session/status: %w", err))
	}
	s, po := resp.Session, resp.Session.Payout()
	detail := "session/start/payout answered session_wrong_state; session/status: "
	if po == nil && s.Status != bank131.SessionCancelled {
		// The bank shows the session without a payout yet refused the
		// start: ask again later (the same start, the same key).
		return false, later(fmt.Errorf("session %s is %s without a payout, yet the start was refused: %w", s.ID, s.Status, callErr))
	}
	if po != nil {
		if err := r.move(ctx, ledgerapi.Transition{To: payout.StatePayoutStarted, Expect: []payout.State{payout.StateStarting},
			SessionID: st.SessionID, PayoutID: po.ID,
			Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceStatus, Detail: detail + "payout " + po.ID + " " + string(po.Status)}}); err != nil {
			return true, err
		}
	}
	ev := statusEvent(resp, detail)
	if ev.typ == "" {
		return true, nil
	}
	return true, r.p.apply(ctx, ev)
}

// confirmWrongState handles session_wrong_state to session/confirm: the
// session no longer waits for it. Past confirmation, an earlier confirm of
// ours went through (only a confirm moves a session on from
// ready_to_confirm; a cancel or a timeout ends it cancelled): the row is
// confirmed. A final word is the webhook's; a session still waiting for
// the confirm is asked again (the webhook comes back, the gate answers
// confirm for the same session, the same key).
func (h *hookRun) confirmWrongState(ctx context.Context, key string, callErr error) error {
	s := h.ev.session
	h.log.Info("session/confirm: the session is in another state; reading session/status", logkey.Error, callErr)
	resp, class, err := h.p.readStatus(ctx, h.bank(), s.ID)
	if class != bank131.ClassOK {
		return later(fmt.Errorf("session/confirm answered session_wrong_state; session/status: %w", err))
	}
	ev := statusEvent(resp, "session/confirm answered session_wrong_state; session/status: ")
	hs := &hookRun{p: h.p, ev: ev, st: h.st, log: h.log}
	switch ev.typ {
	case bank131.HookPaymentFinished:
		return hs.finished(ctx)
	case bank131.HookReadyToConfirm:
		return later(fmt.Errorf("session %s still waits for its confirm: %w", s.ID, callErr))
	case bank131.HookActionRequired:
		return hs.move(ctx, ledgerapi.Transition{To: payout.StateActionRequired, IdemKey: key, ActionURL: resp.Session.RedirectURL()})
	}
	return hs.move(ctx, ledgerapi.Transition{To: payout.StateConfirmed, IdemKey: key})
}

// cancelWrongState handles session_wrong_state to session/cancel: the
// session can no longer be cancelled. Its final word, if it has one, is
// recorded as the webhook's would be; otherwise the webhooks, polls and the
// gate settle it as before.
func (h *hookRun) cancelWrongState(ctx context.Context, callErr error) error {
	s := h.ev.session
	h.log.Info("session/cancel: the session is in another state; reading session/status", logkey.Error, callErr)
	resp, class, err := h.p.readStatus(ctx, h.bank(), s.ID)
	if class != bank131.ClassOK {
		return later(fmt.Errorf("session/cancel answered session_wrong_state; session/status: %w", err))
	}
	ev := statusEvent(resp, "session/cancel answered session_wrong_state; session/status: ")
	if ev.typ != bank131.HookPaymentFinished {
		return nil
	}
	return (&hookRun{p: h.p, ev: ev, st: h.st, log: h.log}).finished(ctx)
}
