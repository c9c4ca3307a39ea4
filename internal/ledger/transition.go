package ledger

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// maxStartResends is how many times one attempt's start is sent again
// after a poll found that it never reached its session.
const maxStartResends = 5

// startStates are the states that begin new work at the bank; a cancelled
// batch refuses them.
var startStates = []payout.State{payout.StateQueued, payout.StateClaimed, payout.StateQuoted,
	payout.StateOpening, payout.StateStarting}

// sendingStates are the states whose call the processor fences with
// Transition.Sending: claimed (bpa/calculate), opening (session/create,
// session/init/payout, multi/init/payment) and starting
// (session/start/payout).
var sendingStates = []payout.State{payout.StateClaimed, payout.StateOpening, payout.StateStarting}

// sending records that the call of a row's current step is about to
// leave; the guards above (gen, attempt, a cancelled batch or row, a hold)
// already passed, so the processor may send. At opening and starting the
// send is kept (rows.sent_at): a single-request payout that recorded one
// may have reached the bank.
func (s *Service) sending(tx *Tx, r *rowRec, t *ledgerapi.Transition) (*ledgerapi.TransitionReply, error) {
	if t.To != r.State || !slices.Contains(sendingStates, r.State) {
		return &ledgerapi.TransitionReply{Row: apiRow(tx, r),
			Error: ledgerapi.Errorf(ledgerapi.CodeIllegal, "row is %s: a send is recorded only at claimed, opening or starting, for the row's own state", r.State)}, nil
	}
	now := formatTime(tx.Now)
	if r.State != payout.StateClaimed {
		if _, err := tx.Exec(`UPDATE rows SET sent_at = ?, updated_at = ? WHERE batch_id = ? AND row_no = ?`, now, now, r.Batch, r.Row); err != nil {
			return nil, fmt.Errorf("record sending of %s/%d: %w", r.Batch, r.Row, err)
		}
	}
	ev := t.Evidence
	if ev.Detail == "" {
		ev.Detail = "sending the call of key " + r.IdemKey
	}
	if err := logTransition(tx, r, r.State, r.State, r.Gen, r.Attempt, ev, t.Worker, r.SessionID, "", r.IdemKey, "", ""); err != nil {
		return nil, err
	}
	r, err := loadRow(tx, r.Batch, r.Row)
	if err != nil {
		return nil, err
	}
	return &ledgerapi.TransitionReply{Applied: true, Row: apiRow(tx, r)}, nil
}

// sessionRole is how a session the ledger recorded relates to its row.
const (
	roleRow       = "row"       // the row's session
	roleAbandoned = "abandoned" // a new attempt replaced it
	roleForeign   = "foreign"   // it reported something for a row that has another session
	roleCancelled = "cancelled" // the gate told a processor to cancel it
)

// recordSession remembers a session of a row (first sighting wins the
// attempt; the role and last status follow the latest news). It writes
// the sessions view's table directly, encoded as the view's trigger would
// (migration 0160; an upsert cannot go through a view).
func recordSession(tx *Tx, session, batch string, row, attempt int, role, status string) error {
	if err := internKeys(tx, batch); err != nil {
		return fmt.Errorf("record session %s: %w", session, err)
	}
	now := timeKey(tx.Now)
	_, err := tx.Exec(`INSERT INTO sess (session_id, bk, row_no, attempt, role, status, first, updated)
		VALUES (?1, (SELECT k FROM batch_keys WHERE batch_id = ?2), ?3, ?4, ?5, ?6, ?7, ?7)
		ON CONFLICT (session_id) DO UPDATE SET
		role = CASE WHEN excluded.role = '' THEN role ELSE excluded.role END,
		status = CASE WHEN excluded.status = '' THEN status ELSE excluded.status END,
		updated = excluded.updated
		WHERE bk = excluded.bk AND row_no = excluded.row_no`, session, batch, row, attempt, roleKey(role), stateKey(status), now)
	if err != nil {
		return fmt.Errorf("record session %s: %w", session, err)
	}
	return nil
}

// roleKey is a session's role as sess stores it (migration 0160).
func roleKey(role string) any {
	switch role {
	case roleRow:
		return 1
	case roleAbandoned:
		return 2
	case roleForeign:
		return 3
	case roleCancelled:
		return 4
	}
	return role
}

// sessionOwner returns the row and role the ledger recorded for a session.
func sessionOwner(tx *Tx, session string) (batch string, row int, role string, err error) {
	err = tx.QueryRow(`SELECT batch_id, row_no, role FROM sessions WHERE session_id = ?`, session).Scan(&batch, &row, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, "", nil
	}
	return batch, row, role, err
}

// transition applies one Transition in tx. Refusals come back as the
// reply's Error (and may still record evidence); err is an internal
// failure that rolls the request back.
func (s *Service) transition(tx *Tx, t *ledgerapi.Transition) (*ledgerapi.TransitionReply, error) {
	if _, ok := payout.Next[t.To]; !ok {
		return &ledgerapi.TransitionReply{Error: ledgerapi.Errorf(ledgerapi.CodeInvalid, "unknown state %q", t.To)}, nil
	}
	if t.To == payout.StateConfirming {
		return &ledgerapi.TransitionReply{Error: ledgerapi.Errorf(ledgerapi.CodeIllegal, "confirming is reached only through the gate")}, nil
	}
	if t.Evidence.Source == "" {
		t.Evidence.Source = ledgerapi.SourceProcessor
	}
	batch, rowNo := t.Batch, t.Row
	if batch == "" {
		if t.SessionID == "" {
			return &ledgerapi.TransitionReply{Error: ledgerapi.Errorf(ledgerapi.CodeInvalid, "a transition needs batch and row, or a session")}, nil
		}
		var err error
		if batch, rowNo, err = rowBySession(tx, t.SessionID); errors.Is(err, errNotFound) {
			return &ledgerapi.TransitionReply{Error: ledgerapi.Errorf(ledgerapi.CodeNotFound, "no row has session %s", t.SessionID)}, nil
		} else if err != nil {
			return nil, err
		}
	}
	r, err := loadRow(tx, batch, rowNo)
	if errors.Is(err, errNotFound) {
		return &ledgerapi.TransitionReply{Error: ledgerapi.Errorf(ledgerapi.CodeNotFound, "no row %s/%d", batch, rowNo)}, nil
	}
	if err != nil {
		return nil, err
	}
	reply := func(e *ledgerapi.Error) *ledgerapi.TransitionReply {
		return &ledgerapi.TransitionReply{Row: apiRow(tx, r), Error: e}
	}

	// Guards.
	if len(t.Expect) > 0 && !slices.Contains(t.Expect, r.State) {
		return reply(ledgerapi.Errorf(ledgerapi.CodeStale, "row is %s, expected %v", r.State, t.Expect)), nil
	}
	if t.Attempt != 0 && t.Attempt != r.Attempt {
		return reply(ledgerapi.Errorf(ledgerapi.CodeStale, "row is at attempt %d, request is for attempt %d", r.Attempt, t.Attempt)), nil
	}
	if t.Gen != 0 && t.Gen != r.Gen {
		return reply(ledgerapi.Errorf(ledgerapi.CodeStale, "row is at gen %d, request is for gen %d", r.Gen, t.Gen)), nil
	}
	if t.WalletShort {
		return s.walletShort(tx, r, t)
	}
	if r.BatchStatus == payout.BatchCancelled && slices.Contains(startStates, t.To) {
		return reply(ledgerapi.Errorf(ledgerapi.CodeIllegal, "batch %s is cancelled: nothing new starts", r.Batch)), nil
	}
	if r.Stop == stopCancel && slices.Contains(startStates, t.To) {
		return reply(ledgerapi.Errorf(ledgerapi.CodeIllegal, "row %d was cancelled: nothing new starts", r.Row)), nil
	}
	if r.onHold() && slices.Contains(startStates, t.To) {
		return reply(ledgerapi.Errorf(ledgerapi.CodeIllegal, "row %d is on hold: nothing new starts until it is resumed", r.Row)), nil
	}

	if t.Sending {
		return s.sending(tx, r, t)
	}

	// A session the row does not own never changes the row.
	if t.SessionID != "" {
		foreign, err := s.foreignSession(tx, r, t.SessionID, t.NewAttempt)
		if err != nil {
			return nil, err
		}
		if foreign != "" {
			if err := s.recordForeign(tx, r, t.SessionID, t.To, t.PayoutID, t.Evidence); err != nil {
				return nil, err
			}
			return reply(ledgerapi.Errorf(ledgerapi.CodeForeignSession, "%s", foreign)), nil
		}
	}

	if r.State == t.To && !t.NewAttempt && !selfMove(r, t) {
		// A repeat: merge facts that agree, refuse facts that do not.
		if msg := disagree(r, t); msg != "" {
			return reply(ledgerapi.Errorf(ledgerapi.CodeConflict, "row already %s: %s", r.State, msg)), nil
		}
		if err := mergeFacts(tx, r, t); err != nil {
			return nil, err
		}
		if r, err = loadRow(tx, batch, rowNo); err != nil {
			return nil, err
		}
		return &ledgerapi.TransitionReply{Applied: false, Row: apiRow(tx, r)}, nil
	}
	if r.State == payout.StatePayoutStarted && t.To == payout.StateStarting && r.Resends >= maxStartResends {
		// A start that never reached its session is sent again a few
		// times per attempt, no more: a bank that keeps the key of a start
		// it refused would answer every repeat the same way.
		return reply(ledgerapi.Errorf(ledgerapi.CodeConflict, "the start of attempt %d was sent again %d times; the bank's word or the stall exception settles the row",
			r.Attempt, r.Resends)), nil
	}
	if !payout.CanMove(r.State, t.To) {
		if t.To == payout.StateSucceeded && (r.State == payout.StateFailed || r.State == payout.StateCancelled) {
			detail := fmt.Sprintf("the bank reports row %d (%s) paid (session %s) but the ledger recorded it %s",
				r.Row, r.Reference, t.SessionID, r.State)
			if _, err := openException(tx, reconcile.PaidAfterCancel, fmt.Sprintf("%s/%d", r.Batch, r.Row), r.Batch, r.Row, detail); err != nil {
				return nil, err
			}
			s.log.Error("row paid after the ledger finished it", logkey.Batch, r.Batch, logkey.Row, r.Row,
				logkey.Reference, r.Reference, logkey.State, r.State, logkey.Session, t.SessionID)
		}
		return reply(ledgerapi.Errorf(ledgerapi.CodeIllegal, "row is %s; %s → %s is not allowed", r.State, r.State, t.To)), nil
	}
	if t.NewAttempt && r.ConfirmSession != "" {
		return reply(ledgerapi.Errorf(ledgerapi.CodeIllegal, "session %s holds the confirm; no new attempt", r.ConfirmSession)), nil
	}
	if err := s.apply(tx, r, t); err != nil {
		return nil, err
	}
	if r, err = loadRow(tx, batch, rowNo); err != nil {
		return nil, err
	}
	return &ledgerapi.TransitionReply{Applied: true, Row: apiRow(tx, r)}, nil
}

// selfMove reports whether t is a real move within the same state (a
// self-loop of payout.Next such as claimed → claimed by another worker, or
// opening → opening with a new idempotency key) rather than a repeat.
func selfMove(r *rowRec, t *ledgerapi.Transition) bool {
	if !payout.CanMove(r.State, r.State) {
		return false
	}
	return (t.IdemKey != "" && t.IdemKey != r.IdemKey) || (t.Worker != "" && t.Worker != r.Worker) ||
		t.Quote != nil || (t.ActionURL != "" && t.ActionURL != r.ActionURL) || t.To == payout.StateQueued
}

// disagree compares a repeat's facts with the recorded ones.
func disagree(r *rowRec, t *ledgerapi.Transition) string {
	switch {
	case t.PayoutID != "" && r.PayoutID != "" && t.PayoutID != r.PayoutID:
		return fmt.Sprintf("payout %s ≠ recorded %s", t.PayoutID, r.PayoutID)
	case t.To == payout.StateFailed && t.ErrorCode != "" && r.ErrorCode != "" && t.ErrorCode != r.ErrorCode:
		return fmt.Sprintf("error %s ≠ recorded %s", t.ErrorCode, r.ErrorCode)
	case t.Paid != nil && r.Paid != nil && *t.Paid != *r.Paid:
		return fmt.Sprintf("paid %s ≠ recorded %s", t.Paid, r.Paid)
	}
	return ""
}

// mergeFacts fills facts a repeat brings that the row did not have yet.
func mergeFacts(tx *Tx, r *rowRec, t *ledgerapi.Transition) error {
	set := func(col string, cur, v string) error {
		if v == "" || cur != "" {
			return nil
		}
		_, err := tx.Exec(`UPDATE rows SET `+col+` = ?, updated_at = ? WHERE batch_id = ? AND row_no = ?`, v, formatTime(tx.Now), r.Batch, r.Row)
		return err
	}
	for _, f := range []struct{ col, cur, v string }{
		{"payout_id", r.PayoutID, t.PayoutID}, {"error_code", r.ErrorCode, t.ErrorCode}, {"reason", r.Reason, t.Reason},
		{"tcn", r.TCN, t.TCN}, {"action_url", r.ActionURL, t.ActionURL},
	} {
		if err := set(f.col, f.cur, f.v); err != nil {
			return fmt.Errorf("merge %s of %s/%d: %w", f.col, r.Batch, r.Row, err)
		}
	}
	if t.SessionID != "" && r.SessionID == "" {
		if err := adoptSession(tx, r, t.SessionID); err != nil {
			return err
		}
	}
	if err := recordCardLast4(tx, r, t.CardLast4); err != nil {
		return err
	}
	if t.Fee != nil && r.Fee == nil {
		if _, err := tx.Exec(`UPDATE rows SET fee_minor = ?, fee_currency = ? WHERE batch_id = ? AND row_no = ?`,
			t.Fee.Minor, t.Fee.Currency, r.Batch, r.Row); err != nil {
			return fmt.Errorf("merge fee of %s/%d: %w", r.Batch, r.Row, err)
		}
	}
	if t.Paid != nil && r.Paid == nil {
		if _, err := tx.Exec(`UPDATE rows SET paid_minor = ?, paid_currency = ? WHERE batch_id = ? AND row_no = ?`,
			t.Paid.Minor, t.Paid.Currency, r.Batch, r.Row); err != nil {
			return fmt.Errorf("merge paid of %s/%d: %w", r.Batch, r.Row, err)
		}
	}
	return nil
}

// insertQuote records a transfer's quote for the row's attempt and returns
// its id (the caller points rows.quote_id at it).
func insertQuote(tx *Tx, r *rowRec, attempt int, q *ledgerapi.Quote) (int64, error) {
	res, err := tx.Exec(`INSERT INTO quotes (batch_id, row_no, attempt, source_minor, source_currency, dest_minor, dest_currency,
		transfer_fee_minor, sms_fee_minor, fee_currency, payment_minor, payment_currency, fx_rate, quantity, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.Batch, r.Row, attempt,
		q.Source.Minor, upper(q.Source.Currency), q.Destination.Minor, upper(q.Destination.Currency),
		q.TransferFee.Minor, q.SMSFee.Minor, upper(firstNonEmpty(q.TransferFee.Currency, q.SMSFee.Currency, q.Source.Currency)),
		q.Payment.Minor, upper(q.Payment.Currency), q.FXRate, q.Quantity, formatTime(tx.Now))
	if err != nil {
		return 0, fmt.Errorf("record quote of %s/%d: %w", r.Batch, r.Row, err)
	}
	id, _ := res.LastInsertId()
	return id, nil
}

// adoptSession makes session the row's session.
func adoptSession(tx *Tx, r *rowRec, session string) error {
	if _, err := tx.Exec(`UPDATE rows SET session_id = ? WHERE batch_id = ? AND row_no = ?`, session, r.Batch, r.Row); err != nil {
		return fmt.Errorf("adopt session %s for %s/%d: %w", session, r.Batch, r.Row, err)
	}
	r.SessionID = session
	return recordSession(tx, session, r.Batch, r.Row, r.Attempt, roleRow, "")
}

// foreignSession decides whether session is foreign to row r: it names a
// session other than the row's session and confirm session, or one the
// ledger recorded as abandoned, cancelled or another row's. It returns why,
// or "".
func (s *Service) foreignSession(tx *Tx, r *rowRec, session string, newAttempt bool) (string, error) {
	if session == r.SessionID || session == r.ConfirmSession {
		return "", nil
	}
	batch, row, role, err := sessionOwner(tx, session)
	if err != nil {
		return "", fmt.Errorf("look up session %s: %w", session, err)
	}
	switch {
	case batch != "" && (batch != r.Batch || row != r.Row):
		return fmt.Sprintf("session %s belongs to row %s/%d", session, batch, row), nil
	case role == roleAbandoned || role == roleCancelled || role == roleForeign:
		return fmt.Sprintf("session %s was %s for this row", session, role), nil
	case r.SessionID != "" && !newAttempt:
		return fmt.Sprintf("session %s is not the row's session %s", session, r.SessionID), nil
	}
	return "", nil
}

// recordForeign keeps the evidence of a foreign session's news and opens
// an exception when the bank says that session paid: two bank operations
// for one row.
func (s *Service) recordForeign(tx *Tx, r *rowRec, session string, to payout.State, payoutID string, ev ledgerapi.Evidence) error {
	// A session of another row keeps its owner (recordSession changes only its own row's sessions).
	if err := recordSession(tx, session, r.Batch, r.Row, r.Attempt, roleForeign, string(to)); err != nil {
		return err
	}
	s.log.Warn("foreign session ignored", logkey.Batch, r.Batch, logkey.Row, r.Row, logkey.Reference, r.Reference,
		logkey.Session, session, "to", to, logkey.HookID, ev.HookID)
	if to != payout.StateSucceeded {
		return nil
	}
	detail := fmt.Sprintf("two bank operations for one row: session %s (payout %s) reports row %d (%s) paid, but the row's session is %s (confirm %s)",
		session, payoutID, r.Row, r.Reference, r.SessionID, r.ConfirmSession)
	if ev.HookID != "" {
		detail += "; webhook " + ev.HookID
	}
	_, err := openException(tx, reconcile.TwoOperations, fmt.Sprintf("%s/%d/%s", r.Batch, r.Row, session), r.Batch, r.Row, detail)
	return err
}

// apply moves row r as t asks, logs the transition and keeps the batch's
// counters.
func (s *Service) apply(tx *Tx, r *rowRec, t *ledgerapi.Transition) error {
	now := formatTime(tx.Now)
	gen, attempt := r.Gen, r.Attempt
	if t.To == payout.StateQueued {
		gen++ // a new job goes out; older jobs are dropped by processors
	}
	if t.NewAttempt {
		attempt++
		if r.SessionID != "" {
			if err := recordSession(tx, r.SessionID, r.Batch, r.Row, r.Attempt, roleAbandoned, ""); err != nil {
				return err
			}
			if _, err := tx.Exec(`UPDATE rows SET session_id = '' WHERE batch_id = ? AND row_no = ?`, r.Batch, r.Row); err != nil {
				return fmt.Errorf("abandon session of %s/%d: %w", r.Batch, r.Row, err)
			}
			r.SessionID = ""
		}
	}
	r.Attempt = attempt
	if t.SessionID != "" && r.SessionID == "" {
		if err := adoptSession(tx, r, t.SessionID); err != nil {
			return err
		}
	}
	var quoteID any
	if t.Quote != nil {
		id, err := insertQuote(tx, r, attempt, t.Quote)
		if err != nil {
			return err
		}
		quoteID = id
	}
	feeMinor, feeCur := optAmount(t.Fee)
	paidMinor, paidCur := optAmount(t.Paid)
	if _, err := tx.Exec(`UPDATE rows SET state = ?, gen = ?, attempt = ?, moved_at = ?, updated_at = ?, polls = 0, next_poll_at = NULL,
		payout_id = CASE WHEN ? = '' THEN payout_id ELSE ? END,
		idem_key = CASE WHEN ? = '' THEN idem_key ELSE ? END,
		worker = CASE WHEN ? = '' THEN worker ELSE ? END,
		quote_id = coalesce(?, quote_id),
		error_code = CASE WHEN ? = '' THEN error_code ELSE ? END,
		reason = CASE WHEN ? = '' THEN reason ELSE ? END,
		action_url = CASE WHEN ? = '' THEN action_url ELSE ? END,
		tcn = CASE WHEN ? = '' THEN tcn ELSE ? END,
		fee_minor = coalesce(?, fee_minor), fee_currency = CASE WHEN ? = '' THEN fee_currency ELSE ? END,
		paid_minor = coalesce(?, paid_minor), paid_currency = CASE WHEN ? = '' THEN paid_currency ELSE ? END
		WHERE batch_id = ? AND row_no = ?`,
		string(t.To), gen, attempt, now, now,
		t.PayoutID, t.PayoutID, t.IdemKey, t.IdemKey, t.Worker, t.Worker, quoteID,
		t.ErrorCode, t.ErrorCode, t.Reason, t.Reason, t.ActionURL, t.ActionURL, t.TCN, t.TCN,
		feeMinor, feeCur, feeCur, paidMinor, paidCur, paidCur, r.Batch, r.Row); err != nil {
		return fmt.Errorf("move %s/%d to %s: %w", r.Batch, r.Row, t.To, err)
	}
	var err error
	switch {
	case t.NewAttempt:
		_, err = tx.Exec(`UPDATE rows SET sent_at = '', resends = 0 WHERE batch_id = ? AND row_no = ?`, r.Batch, r.Row)
	case r.State == payout.StatePayoutStarted && t.To == payout.StateStarting:
		_, err = tx.Exec(`UPDATE rows SET sent_at = ?, resends = resends + 1 WHERE batch_id = ? AND row_no = ?`, now, r.Batch, r.Row)
	}
	if err != nil {
		return fmt.Errorf("record the send of %s/%d: %w", r.Batch, r.Row, err)
	}
	if err := logTransition(tx, r, r.State, t.To, gen, attempt, t.Evidence, t.Worker, firstNonEmpty(t.SessionID, r.SessionID),
		t.PayoutID, t.IdemKey, t.ErrorCode, t.Reason); err != nil {
		return err
	}
	if t.SessionID != "" && (t.To.Terminal() || t.To == payout.StatePayoutStarted || t.To == payout.StateConfirmed) {
		if err := recordSession(tx, t.SessionID, r.Batch, r.Row, attempt, "", string(t.To)); err != nil {
			return err
		}
	}
	if err := s.afterMove(tx, r, r.State, t.To); err != nil {
		return err
	}
	if !r.State.Terminal() {
		if err := s.breaker(tx, r, t.To, t.ErrorCode); err != nil {
			return err
		}
	}
	if err := s.reconcileMove(tx, r, t); err != nil {
		return err
	}
	if gen != r.Gen {
		tx.After(func() { wake(s.kick) })
	}
	s.log.Debug("row moved", logkey.Batch, r.Batch, logkey.Row, r.Row, logkey.Reference, r.Reference,
		"from", r.State, "to", t.To, "gen", gen)
	return nil
}

// afterMove keeps the batch's counters and closes exceptions a terminal
// state settles.
func (s *Service) afterMove(tx *Tx, r *rowRec, from, to payout.State) error {
	if !to.Terminal() || from.Terminal() {
		return nil
	}
	if _, err := tx.Exec(`UPDATE batches SET rows_terminal = rows_terminal + 1 WHERE id = ?`, r.Batch); err != nil {
		return fmt.Errorf("count terminal rows of %s: %w", r.Batch, err)
	}
	if err := closeExceptions(tx, r.Batch, r.Row, "row "+string(to), reconcile.InDoubt, reconcile.StalledAtBank, reconcile.UnreadableHook); err != nil {
		return err
	}
	return finishBatch(tx, r.Batch)
}

// logTransition appends one entry to the transitions log.
func logTransition(tx *Tx, r *rowRec, from, to payout.State, gen, attempt int, ev ledgerapi.Evidence,
	worker, session, payoutID, idemKey, errorCode, reason string) error {
	if _, err := tx.Exec(`INSERT INTO transitions (batch_id, row_no, from_state, to_state, at, source, worker, gen, attempt,
		session_id, payout_id, idem_key, error_code, reason, hook_id, hook_type, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Batch, r.Row, string(from), string(to), formatTime(tx.Now), string(ev.Source), worker, gen, attempt,
		session, payoutID, idemKey, errorCode, reason, ev.HookID, ev.HookType, ev.Detail); err != nil {
		return fmt.Errorf("log transition of %s/%d: %w", r.Batch, r.Row, err)
	}
	return nil
}

func optAmount(a *money.Amount) (any, string) {
	if a == nil {
		return nil, ""
	}
	return a.Minor, upper(a.Currency)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// recordCardLast4 keeps the last four digits of the card behind a token or
// widget row (the bank's token/info), once: rows.last4, and the row's
// destination shows them ("token …ad44 (card …4242)"; a widget row's
// "card …4242" as its recipient link records it). What is not four digits
// by the one card masker is dropped.
func recordCardLast4(tx *Tx, r *rowRec, last4 string) error {
	last4 = cardmask.LastFour(last4)
	if last4 == "" || r.Last4 != "" || (r.Method != payout.MethodToken && r.Method != payout.MethodEncryptedCard) {
		return nil
	}
	dest := r.Destination + " (card …" + last4 + ")"
	if r.Destination == "" {
		dest = "card …" + last4
	}
	if _, err := tx.Exec(`UPDATE rows SET last4 = ?, destination = ?, updated_at = ? WHERE batch_id = ? AND row_no = ? AND last4 = ''`,
		last4, dest, formatTime(tx.Now), r.Batch, r.Row); err != nil {
		return fmt.Errorf("record the card of %s/%d: %w", r.Batch, r.Row, err)
	}
	r.Last4, r.Destination = last4, dest
	return nil
}
