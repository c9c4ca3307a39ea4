package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// gate decides whether a session at ready_to_confirm may be confirmed; see
// ledgerapi.GateRequest for the rules. It is the only code that sets a
// row's confirm session.
func (s *Service) gate(tx *Tx, g *ledgerapi.GateRequest) (*ledgerapi.GateReply, error) {
	if g.SessionID == "" {
		return &ledgerapi.GateReply{Error: ledgerapi.Errorf(ledgerapi.CodeInvalid, "the gate needs a session")}, nil
	}
	if g.Evidence.Source == "" {
		g.Evidence.Source = ledgerapi.SourceWebhook
	}
	batch, rowNo := g.Batch, g.Row
	if batch == "" {
		var err error
		if batch, rowNo, err = rowBySession(tx, g.SessionID); errors.Is(err, errNotFound) {
			return &ledgerapi.GateReply{Error: ledgerapi.Errorf(ledgerapi.CodeNotFound, "no row has session %s", g.SessionID)}, nil
		} else if err != nil {
			return nil, err
		}
	}
	r, err := loadRow(tx, batch, rowNo)
	if errors.Is(err, errNotFound) {
		return &ledgerapi.GateReply{Error: ledgerapi.Errorf(ledgerapi.CodeNotFound, "no row %s/%d", batch, rowNo)}, nil
	}
	if err != nil {
		return nil, err
	}
	// answer records the decision and replies; decide also marks a
	// cancelled session so it never reaches confirm later.
	answer := func(decision ledgerapi.Decision, reason string) (*ledgerapi.GateReply, error) {
		if err := s.recordGate(tx, r, g, decision, reason); err != nil {
			return nil, err
		}
		if r2, err := loadRow(tx, r.Batch, r.Row); err == nil {
			r = r2
		}
		// A confirm is every paid row's: at debug; a cancel is news.
		level := slog.LevelDebug
		if decision == ledgerapi.DecisionCancel {
			level = slog.LevelInfo
		}
		s.log.Log(context.Background(), level, "gate", logkey.Batch, r.Batch, logkey.Row, r.Row, logkey.Reference, r.Reference,
			logkey.Session, g.SessionID, "decision", decision, "reason", cardmask.Redact(reason))
		return &ledgerapi.GateReply{Decision: decision, Reason: reason, Row: apiRow(tx, r)}, nil
	}
	decide := func(decision ledgerapi.Decision, reason string) (*ledgerapi.GateReply, error) {
		if decision == ledgerapi.DecisionCancel {
			if err := recordSession(tx, g.SessionID, r.Batch, r.Row, r.Attempt, roleCancelled, "ready_to_confirm"); err != nil {
				return nil, err
			}
		}
		return answer(decision, reason)
	}

	// 1. The session that holds the confirm: a repeat.
	if r.ConfirmSession != "" && r.ConfirmSession == g.SessionID {
		if r.State == payout.StateConfirming && r.cancelled() {
			// The bank still waits for a decision, so the confirm we
			// recorded may never have landed: cancel instead of repeating
			// it. Had it landed, the bank refuses the cancel and its final
			// word settles the row; the session keeps its role.
			what := "batch"
			if r.BatchStatus != payout.BatchCancelled {
				what = "row"
			}
			return answer(ledgerapi.DecisionCancel, what+" cancelled before the confirm was known to reach the bank")
		}
		if r.State == payout.StateConfirming && r.onHold() {
			// Nothing new is sent while on hold, a repeated confirm neither:
			// the resume asks again.
			return answer(ledgerapi.DecisionWait, "on hold; asked again when resumed")
		}
		if r.State == payout.StateConfirming {
			return decide(ledgerapi.DecisionConfirm, "repeat: this session holds the confirm")
		}
		return decide(ledgerapi.DecisionIgnore, fmt.Sprintf("row is already %s with this session", r.State))
	}
	// 2. Another session holds the confirm.
	if r.ConfirmSession != "" {
		return decide(ledgerapi.DecisionCancel, fmt.Sprintf("session %s already holds the row's confirm", r.ConfirmSession))
	}
	// 3. A session recorded for another row, or abandoned / cancelled before.
	if owner, ownerRow, role, err := sessionOwner(tx, g.SessionID); err != nil {
		return nil, fmt.Errorf("look up session %s: %w", g.SessionID, err)
	} else if owner != "" && (owner != r.Batch || ownerRow != r.Row) {
		return decide(ledgerapi.DecisionCancel, fmt.Sprintf("session %s belongs to row %s/%d", g.SessionID, owner, ownerRow))
	} else if role == roleAbandoned || role == roleCancelled || role == roleForeign {
		return decide(ledgerapi.DecisionCancel, fmt.Sprintf("session %s was %s for this row", g.SessionID, role))
	}
	// 4. A finished row confirms nothing.
	if r.State.Terminal() {
		return decide(ledgerapi.DecisionCancel, fmt.Sprintf("row is %s", r.State))
	}
	// 5. The row's session, or adoption by a row that opened without one.
	if r.SessionID != g.SessionID {
		if r.SessionID != "" {
			return decide(ledgerapi.DecisionCancel, fmt.Sprintf("session %s is not the row's session %s", g.SessionID, r.SessionID))
		}
		if r.State != payout.StateOpening {
			return decide(ledgerapi.DecisionCancel, fmt.Sprintf("row is %s without a session; session %s is not its", r.State, g.SessionID))
		}
		if err := adoptSession(tx, r, g.SessionID); err != nil {
			return nil, err
		}
	}
	// 6. A cancelled batch or row: cancel at the bank, and the row with it.
	if r.cancelled() {
		reason, code := "batch cancelled", "batch_cancelled"
		if r.BatchStatus == payout.BatchCancelled {
			if _, why, err := batchStatus(tx, r.Batch); err == nil && why != "" {
				reason += " (" + why + ")"
			}
		} else {
			reason, code = "row cancelled", "row_cancelled"
			var by, why string
			if err := tx.QueryRow(`SELECT stop_by, stop_reason FROM rows WHERE batch_id = ? AND row_no = ?`, r.Batch, r.Row).Scan(&by, &why); err == nil {
				reason = "row cancelled by " + by + ": " + why
			}
		}
		if payout.CanMove(r.State, payout.StateCancelled) {
			if err := s.gateMove(tx, r, g, payout.StateCancelled, code, reason); err != nil {
				return nil, err
			}
		}
		return decide(ledgerapi.DecisionCancel, reason)
	}
	// 6b. On hold: the session waits at ready_to_confirm (until resumed, or
	// the bank's confirm timeout ends it); the resume asks again.
	if r.onHold() {
		return answer(ledgerapi.DecisionWait, "on hold; asked again when resumed")
	}
	if !payout.CanMove(r.State, payout.StateConfirming) {
		return &ledgerapi.GateReply{Row: apiRow(tx, r),
			Error: ledgerapi.Errorf(ledgerapi.CodeIllegal, "row is %s; the gate opens from opening, starting, payout_started or in_doubt", r.State)}, nil
	}
	// 7. What the bank is about to pay must be what the row says.
	var quote *ledgerapi.Quote
	if r.QuoteID.Valid {
		if quote, err = quoteByID(tx, r.QuoteID.Int64); err != nil {
			return nil, err
		}
	} else if r.Method == payout.MethodTransfer && g.Quote != nil {
		// No quote recorded: the session was adopted after a restore whose
		// replica lacked it. The processor fetched a fresh one; the bank's
		// amounts must match it as they would have matched the lost one.
		id, err := insertQuote(tx, r, r.Attempt, g.Quote)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(`UPDATE rows SET quote_id = ? WHERE batch_id = ? AND row_no = ?`, id, r.Batch, r.Row); err != nil {
			return nil, fmt.Errorf("record quote of %s/%d: %w", r.Batch, r.Row, err)
		}
		r.QuoteID.Int64, r.QuoteID.Valid = id, true
		quote = g.Quote
	}
	if problems := s.compare(r, quote, &g.Observed); len(problems) > 0 {
		reason := strings.Join(problems, "; ")
		if err := s.gateMove(tx, r, g, payout.StateFailed, "gate_mismatch", reason); err != nil {
			return nil, err
		}
		if _, err := openException(tx, reconcile.GateMismatch, fmt.Sprintf("%s/%d/%s", r.Batch, r.Row, g.SessionID), r.Batch, r.Row,
			fmt.Sprintf("session %s cancelled at the gate: %s", g.SessionID, reason)); err != nil {
			return nil, err
		}
		return decide(ledgerapi.DecisionCancel, reason)
	}
	// 8. Confirm: recorded before the reply.
	if _, err := tx.Exec(`UPDATE rows SET confirm_session = ? WHERE batch_id = ? AND row_no = ?`, g.SessionID, r.Batch, r.Row); err != nil {
		return nil, fmt.Errorf("record confirm session of %s/%d: %w", r.Batch, r.Row, err)
	}
	r.ConfirmSession = g.SessionID
	if err := s.gateMove(tx, r, g, payout.StateConfirming, "", ""); err != nil {
		return nil, err
	}
	return decide(ledgerapi.DecisionConfirm, "")
}

// gateMove moves the row as the gate decided, with the request as evidence.
func (s *Service) gateMove(tx *Tx, r *rowRec, g *ledgerapi.GateRequest, to payout.State, code, reason string) error {
	return s.apply(tx, r, &ledgerapi.Transition{
		Batch: r.Batch, Row: r.Row, SessionID: g.SessionID, To: to, PayoutID: g.PayoutID, TCN: g.TCN,
		Worker: g.Worker, ErrorCode: code, Reason: reason, Evidence: g.Evidence,
	})
}

// recordGate keeps every gate decision with what the bank showed. It
// writes the gate_checks view's table directly, encoded as the view's
// trigger would (migration 0161).
func (s *Service) recordGate(tx *Tx, r *rowRec, g *ledgerapi.GateRequest, decision ledgerapi.Decision, reason string) error {
	obs, _ := json.Marshal(g.Observed)
	fail := func(err error) error { return fmt.Errorf("record gate check of %s/%d: %w", r.Batch, r.Row, err) }
	if err := internKeys(tx, r.Batch, g.Worker, g.Evidence.HookType); err != nil {
		return fail(err)
	}
	var src any = string(g.Evidence.Source)
	if k, ok := sourceKeys[g.Evidence.Source]; ok {
		src = k
	}
	// The bank's ids as integers where they read back the same (migration
	// 0174); the webhook by hook_events' id when the ledger holds it for
	// this row (0171), else by its id.
	if _, err := tx.Exec(`INSERT INTO gates (bk, row_no, session_id, payout_id, decision, reason, observed, confirm_info, tcn, src,
		hook, hook_type, worker, t, hook_seq) VALUES ((SELECT k FROM batch_keys WHERE batch_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
		`+hookRef("?11", "(SELECT k FROM batch_keys WHERE batch_id = ?1)", "?2")+`,
		CASE WHEN ?12 = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = ?12) END,
		CASE WHEN ?13 = '' THEN 0 ELSE (SELECT k FROM move_names WHERE name = ?13) END, ?14, ?15)`,
		r.Batch, r.Row, bankIDKey(g.SessionID, "ps_"), bankIDKey(g.PayoutID, "po_"), gateDecisionKey(decision), reason, observedKey(string(obs)), string(g.ConfirmInfo),
		g.TCN, src, hookKey(g.Evidence.HookID), g.Evidence.HookType, g.Worker, timeKey(tx.Now), int64(g.Evidence.HookSeq)); err != nil {
		return fail(err)
	}
	return nil
}

// compare lists every way what the bank shows differs from the row (and,
// for transfers, from the recorded quote).
func (s *Service) compare(r *rowRec, q *ledgerapi.Quote, o *ledgerapi.Observed) []string {
	var out []string
	if r.Method != payout.MethodTransfer {
		if o.Amount.Currency == "" || o.Amount.Minor == 0 {
			out = append(out, "the bank shows no amount")
		} else if !sameAmount(o.Amount, r.Amount) {
			out = append(out, fmt.Sprintf("amount at the bank %s ≠ row %s", norm(o.Amount), r.Amount))
		}
	} else {
		out = append(out, s.compareTransfer(r, q, o)...)
	}
	if o.Last4 != "" && r.Last4 != "" && o.Last4 != r.Last4 {
		out = append(out, fmt.Sprintf("card …%s at the bank ≠ row's …%s", o.Last4, r.Last4))
	}
	if o.Token != "" && r.DestHash != "" && HashDestination(o.Token) != r.DestHash {
		out = append(out, "card token at the bank differs from the row's")
	}
	if o.Recipient != "" && r.Recipient != "" && !sameName(o.Recipient, r.Recipient) {
		out = append(out, fmt.Sprintf("recipient %q at the bank ≠ row's %q", o.Recipient, r.Recipient))
	}
	return out
}

// compareTransfer checks a cross-border transfer against its quote: the
// side in the row's currency must equal the row's amount exactly; the rate
// the bank's amounts imply (destination ÷ source) must be within
// FXToleranceBps of the quote's, and the commission within the commission
// tolerance of the quote's fees. The rate is compared through the amounts
// because the bank writes fx_rate in different directions in bpa/calculate
// (source per destination) and confirm_information (destination per source).
func (s *Service) compareTransfer(r *rowRec, q *ledgerapi.Quote, o *ledgerapi.Observed) []string {
	if q == nil {
		return []string{"no quote recorded for the transfer"}
	}
	if o.Source == nil || o.Destination == nil {
		return []string{"the bank shows no exchange (confirm_information)"}
	}
	var out []string
	src, dst := norm(*o.Source), norm(*o.Destination)
	qs, qd := norm(q.Source), norm(q.Destination)
	switch r.Amount.Currency {
	case qs.Currency:
		// Forward rate: the bank rounds the destination to whole minor
		// units and recomputes the source from it, so the source may
		// differ from the row's amount by what one destination minor unit
		// costs (seed 003: 3 579.12 RUB asked, 3 579.13 RUB quoted).
		step := int64(1)
		if qd.Minor > 0 {
			step = (qs.Minor + qd.Minor - 1) / qd.Minor
		}
		if !roundedFrom(qs, r.Amount, step) {
			out = append(out, fmt.Sprintf("quote source %s ≠ row %s", qs, r.Amount))
		}
		if !roundedFrom(src, r.Amount, step) {
			out = append(out, fmt.Sprintf("source at the bank %s ≠ row %s", src, r.Amount))
		}
	case qd.Currency:
		if !sameAmount(qd, r.Amount) {
			out = append(out, fmt.Sprintf("quote destination %s ≠ row %s", qd, r.Amount))
		}
		if !sameAmount(dst, r.Amount) {
			out = append(out, fmt.Sprintf("destination at the bank %s ≠ row %s", dst, r.Amount))
		}
	default:
		out = append(out, fmt.Sprintf("row currency %s is neither side of the quote (%s → %s)", r.Amount.Currency, qs.Currency, qd.Currency))
	}
	if src.Currency != qs.Currency || dst.Currency != qd.Currency {
		out = append(out, fmt.Sprintf("exchange %s → %s at the bank ≠ quote %s → %s", src.Currency, dst.Currency, qs.Currency, qd.Currency))
		return out
	}
	if src.Minor <= 0 || qs.Minor <= 0 || qd.Minor <= 0 {
		out = append(out, "exchange amounts at the bank or in the quote are not positive")
		return out
	}
	bank := new(big.Rat).SetFrac64(dst.Minor, src.Minor)
	quoted := new(big.Rat).SetFrac64(qd.Minor, qs.Minor)
	if !within(bank, quoted, s.cfg.FXToleranceBps, 0) {
		out = append(out, fmt.Sprintf("FX rate at the bank %s ≠ quote %s beyond %d bp (%s → %s vs %s → %s)",
			bank.FloatString(6), quoted.FloatString(6), s.cfg.FXToleranceBps, src, dst, qs, qd))
	}
	if o.Commission != nil {
		c := norm(*o.Commission)
		fees := q.TransferFee.Minor + q.SMSFee.Minor
		feeCur := upper(firstNonEmpty(q.TransferFee.Currency, q.SMSFee.Currency, qs.Currency))
		if c.Currency != feeCur {
			out = append(out, fmt.Sprintf("commission at the bank %s is not in the quote's fee currency %s", c, feeCur))
		} else if !within(new(big.Rat).SetInt64(c.Minor), new(big.Rat).SetInt64(fees), s.cfg.CommissionToleranceBps, s.cfg.CommissionToleranceMinor) {
			out = append(out, fmt.Sprintf("commission at the bank %s ≠ quoted fees %s beyond tolerance", c, money.Amount{Minor: fees, Currency: feeCur}))
		}
	}
	return out
}

// within reports whether |got − want| ≤ max(want × bps / 10000, abs).
func within(got, want *big.Rat, bps, abs int64) bool {
	diff := new(big.Rat).Sub(got, want)
	diff.Abs(diff)
	lim := new(big.Rat).Mul(new(big.Rat).Abs(want), big.NewRat(bps, 10000))
	if a := new(big.Rat).SetInt64(abs); a.Cmp(lim) > 0 {
		lim = a
	}
	return diff.Cmp(lim) <= 0
}

func norm(a money.Amount) money.Amount { return money.New(a.Minor, a.Currency) }

func sameAmount(a, b money.Amount) bool { return norm(a) == norm(b) }

// roundedFrom reports whether got is want rounded by at most step minor
// units of the same currency (step ≥ 1).
func roundedFrom(got, want money.Amount, step int64) bool {
	g, w := norm(got), norm(want)
	if step < 1 {
		step = 1
	}
	d := g.Minor - w.Minor
	if d < 0 {
		d = -d
	}
	return g.Currency == w.Currency && d <= step
}

func upper(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// sameName compares names ignoring case, order of words and extra spaces
// ("IVANOV Ivan" = "Ivan Ivanov").
func sameName(a, b string) bool {
	wa, wb := strings.Fields(strings.ToLower(a)), strings.Fields(strings.ToLower(b))
	if len(wa) != len(wb) {
		return false
	}
	count := map[string]int{}
	for _, w := range wa {
		count[w]++
	}
	for _, w := range wb {
		if count[w] == 0 {
			return false
		}
		count[w]--
	}
	return true
}
