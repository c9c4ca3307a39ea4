package processor

import (
	"context"
	"errors"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
)

// The calls of a pay job that take a row to the bank (bpa/calculate,
// session/create, session/init/payout, multi/init/payment,
// session/start/payout), each fenced after the limiter, and what the
// processor makes of their answers: the step machine of job.go asks for
// them.

// fail records a final refusal by the bank.
func (r *run) fail(ctx context.Context, method string, err error) error {
	code := bank131.ErrorCode(err)
	if code == "" {
		code = "request_refused"
	}
	r.log.Warn("bank refused the row", "method", method, "code", code, logkey.Error, err)
	// Only from the state the call was made in: a refusal of a repeated
	// call must not fail a row the bank moved on meanwhile.
	return r.move(ctx, ledgerapi.Transition{To: payout.StateFailed, Expect: []payout.State{r.st.State}, ErrorCode: code,
		Reason: bank131.Reason(code), Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor, Detail: method + ": " + err.Error()}})
}

// walletShort records the bank's insufficient_wallet_balance answer to the
// row's call: the bank did not pay, the recipient is not at fault. The
// ledger puts the row back in the queue with a new attempt (new keys: the
// refused ones are not sent again) and holds the batch as
// waiting_for_funds until the wallet covers it.
func (r *run) walletShort(ctx context.Context, method string, err error) error {
	r.log.Warn("our wallet at the bank is short; the row waits for a top-up", "method", method, logkey.Error, err)
	return r.move(ctx, ledgerapi.Transition{To: payout.StateQueued, Expect: []payout.State{r.st.State}, WalletShort: true,
		ErrorCode: bank131.CodeWalletShort, Reason: walletShortReason,
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor, Detail: method + ": " + err.Error()}})
}

// walletShortReason is what a row waiting for a top-up says.
const walletShortReason = "Our wallet at the bank did not cover this payout and its fee: waiting for the wallet to be topped up (not the recipient's fault)."

// quote asks bpa/calculate for a transfer's FX quote and records it.
func (r *run) quote(ctx context.Context) error {
	req, err := calculation(r.row)
	if err != nil {
		return r.move(ctx, ledgerapi.Transition{To: payout.StateFailed, ErrorCode: "invalid_row", Reason: err.Error()})
	}
	var q *bank131.CalculateResponse
	class, err := r.fencedCall(ctx, "bpa/calculate", func(ctx context.Context) (err error) {
		q, err = r.bank().Calculate(ctx, req)
		return err
	})
	if errors.Is(err, errStopSend) {
		_, err := r.stopped(payout.StateClaimed)
		return err
	}
	if errors.Is(err, errNoCheck) {
		return later(err)
	}
	switch class {
	case bank131.ClassOK:
		return r.move(ctx, ledgerapi.Transition{To: payout.StateQuoted, Expect: []payout.State{payout.StateClaimed}, Quote: quoteOf(q)})
	case bank131.ClassFinal:
		return r.fail(ctx, "bpa/calculate", err)
	}
	// A quote moves no money: whatever happened, ask again later.
	return later(err)
}

// open sends the call recorded by the opening intent, with its key.
func (r *run) open(ctx context.Context) (bool, error) {
	st := r.st
	key := st.IdemKey
	switch {
	case r.row.Method == payout.MethodTransfer:
		if key == "" {
			key = transferKey(st.Batch, st.Row, st.Attempt)
		}
		return r.openTransfer(ctx, key)
	case r.singleRequest():
		return r.openSingle(ctx, singleKey(st.Batch, st.Row, st.Attempt))
	}
	if key == "" {
		key = createKey(st.Batch, st.Row, st.Attempt)
	}
	return r.openTwoStep(ctx, key)
}

// openTwoStep creates an empty session with the amount and our metadata.
// No money moves at session/create, so an unknown outcome only costs a new
// attempt: the orphan session never gets a payout.
func (r *run) openTwoStep(ctx context.Context, key string) (bool, error) {
	req := bank131.CreateSessionRequest{AmountDetails: ptr(bank131.AmountOf(r.row.Amount)), Metadata: r.metadata()}
	var resp *bank131.SessionResponse
	class, err := r.fencedCall(ctx, "session/create", func(ctx context.Context) (err error) {
		resp, err = r.bank().CreateSession(ctx, req, bank131.WithIdempotencyKey(key))
		return err
	})
	if errors.Is(err, errStopSend) {
		return r.stopped(payout.StateOpening)
	}
	if errors.Is(err, errNoCheck) {
		return false, later(err)
	}
	switch class {
	case bank131.ClassOK:
		return false, r.move(ctx, ledgerapi.Transition{To: payout.StateSessionOpen, Expect: []payout.State{payout.StateOpening}, SessionID: resp.Session.ID})
	case bank131.ClassFinal:
		return false, r.fail(ctx, "session/create", err)
	case bank131.ClassWalletShort:
		return true, r.walletShort(ctx, "session/create", err)
	case bank131.ClassUnknown, bank131.ClassConflict:
		r.log.Info("session/create outcome unknown; opening a new attempt", "class", class.String(), logkey.Error, err)
		return false, r.newAttempt(ctx, createKey)
	}
	return false, later(err)
}

// newAttempt asks the ledger for a new attempt whose intent carries the next
// key; the old attempt's session, if it exists, is cancelled at the gate.
func (r *run) newAttempt(ctx context.Context, key func(string, int, int) string) error {
	st := r.st
	return r.move(ctx, ledgerapi.Transition{To: payout.StateOpening, Expect: []payout.State{payout.StateOpening},
		NewAttempt: true, IdemKey: key(st.Batch, st.Row, st.Attempt+1),
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor, Detail: "outcome of attempt unknown; new attempt"}})
}

// openSingle pays a card row with one session/init/payout call. Its key
// never changes; an unknown outcome makes the row in_doubt until the bank's
// webhook (our metadata names the row), session/status or daily report
// settles it.
func (r *run) openSingle(ctx context.Context, key string) (bool, error) {
	method, err := r.method()
	if err != nil {
		return false, err
	}
	req := bank131.InitPayoutRequest{PaymentMethod: method, AmountDetails: ptr(bank131.AmountOf(r.row.Amount)),
		ParticipantDetails: recipient(r.row), Metadata: r.metadata()}
	var resp *bank131.SessionResponse
	class, err := r.fencedCall(ctx, "session/init/payout", func(ctx context.Context) (err error) {
		// Nothing stops this payout once sent, and the limiter may have
		// held it for a while: the batch may have been cancelled, or the
		// row handed to newer work, since the intent was recorded: the
		// fence (fencedCall) asks the ledger first.
		resp, err = r.bank().InitPayout(ctx, req, bank131.WithIdempotencyKey(key))
		return err
	})
	if errors.Is(err, errStopSend) {
		return r.stopped(payout.StateOpening)
	}
	if errors.Is(err, errNoCheck) {
		return false, later(err)
	}
	switch class {
	case bank131.ClassOK:
		return false, r.opened(ctx, resp)
	case bank131.ClassFinal:
		return false, r.fail(ctx, "session/init/payout", err)
	case bank131.ClassWalletShort:
		return true, r.walletShort(ctx, "session/init/payout", err)
	case bank131.ClassUnknown, bank131.ClassConflict:
		r.log.Warn("session/init/payout outcome unknown; row in doubt until the bank tells", "class", class.String(), logkey.Error, err)
		return true, r.move(ctx, ledgerapi.Transition{To: payout.StateInDoubt, Expect: []payout.State{payout.StateOpening},
			Reason:   "The bank may have received this payout; waiting for its confirmation before doing anything else.",
			Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor, Detail: "session/init/payout: " + err.Error()}})
	}
	return false, later(err)
}

// openTransfer starts a cross-border transfer (multi/init/payment). An
// unknown outcome keeps the row opening: the same key is sent again on the
// next delivery, and a ready_to_confirm naming the row adopts its session.
func (r *run) openTransfer(ctx context.Context, key string) (bool, error) {
	req, err := transferRequest(r.row)
	if err != nil {
		return false, r.move(ctx, ledgerapi.Transition{To: payout.StateFailed, ErrorCode: "invalid_row", Reason: err.Error()})
	}
	req.Metadata = r.metadata()
	var resp *bank131.SessionResponse
	class, err := r.fencedCall(ctx, "bpa/session/multi/init/payment", func(ctx context.Context) (err error) {
		resp, err = r.bank().MultiInitPayment(ctx, req, bank131.WithIdempotencyKey(key))
		return err
	})
	if errors.Is(err, errStopSend) {
		return r.stopped(payout.StateOpening)
	}
	if errors.Is(err, errNoCheck) {
		return false, later(err)
	}
	switch class {
	case bank131.ClassOK:
		return false, r.opened(ctx, resp)
	case bank131.ClassFinal:
		return false, r.fail(ctx, "bpa/session/multi/init/payment", err)
	case bank131.ClassConflict:
		// The bank has a session under this key but did not tell us which:
		// a new attempt; the old session is cancelled at the gate unless it
		// is adopted first.
		return false, r.newAttempt(ctx, transferKey)
	}
	return false, later(err)
}

// start starts the payout in the row's session. No money moves before
// session/confirm, and the key makes a repeat harmless: an unknown outcome
// is recorded as started, and webhooks or session/status tell the rest.
func (r *run) start(ctx context.Context) (bool, error) {
	st := r.st
	method, err := r.method()
	if err != nil {
		return false, err
	}
	key := st.IdemKey
	if key == "" {
		key = startKey(st.Batch, st.Row, st.Attempt)
	}
	req := bank131.StartPayoutRequest{SessionID: st.SessionID, PaymentMethod: method, ParticipantDetails: recipient(r.row), Metadata: r.metadata()}
	var resp *bank131.SessionResponse
	class, err := r.fencedCall(ctx, "session/start/payout", func(ctx context.Context) (err error) {
		resp, err = r.bank().StartPayout(ctx, req, bank131.WithIdempotencyKey(key))
		return err
	})
	if errors.Is(err, errStopSend) {
		return r.stopped(payout.StateStarting)
	}
	if errors.Is(err, errNoCheck) {
		return false, later(err)
	}
	if bank131.IsWrongState(err) {
		return r.startWrongState(ctx, err)
	}
	switch class {
	case bank131.ClassOK:
		return true, r.move(ctx, ledgerapi.Transition{To: payout.StatePayoutStarted, Expect: []payout.State{payout.StateStarting},
			SessionID: st.SessionID, PayoutID: payoutID(resp.Session)})
	case bank131.ClassFinal:
		return false, r.fail(ctx, "session/start/payout", err)
	case bank131.ClassWalletShort:
		return true, r.walletShort(ctx, "session/start/payout", err)
	case bank131.ClassUnknown, bank131.ClassConflict:
		return true, r.move(ctx, ledgerapi.Transition{To: payout.StatePayoutStarted, Expect: []payout.State{payout.StateStarting},
			SessionID: st.SessionID, Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceProcessor, Detail: "session/start/payout outcome unknown: " + err.Error()}})
	}
	return false, later(err)
}

// method is the payout method of a domestic row. A missing or wrong card
// key is this processor's configuration, not the row's fault: the job is
// handed back, so a processor holding the key may take it (and it becomes
// a dead letter if none ever does).
func (r *run) method() (*bank131.PaymentMethod, error) {
	m, err := domesticMethod(r.row, r.p.cfg.Opener)
	if err != nil {
		r.log.Error("cannot build the payout", logkey.Error, err)
		return nil, later(err)
	}
	return m, nil
}

// opened records a session opened with its payout in one call
// (session/init/payout, multi/init/payment).
func (r *run) opened(ctx context.Context, resp *bank131.SessionResponse) error {
	return r.move(ctx, ledgerapi.Transition{To: payout.StatePayoutStarted, Expect: []payout.State{payout.StateOpening},
		SessionID: resp.Session.ID, PayoutID: payoutID(resp.Session)})
}

func payoutID(s *bank131.Session) string {
	if p := s.Payout(); p != nil {
		return p.ID
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
