package ledger

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// Waiting for funds. The bank pays a payout "provided that the account has
// enough funds for the transfer, including the fee" (developer.131.ru
// payouts-intro) and answers insufficient_wallet_balance otherwise. So
// before a batch is released, and again before each release chunk, the
// ledger reads the wallet (wallet/balance) and compares it with what the
// batch still needs: every domestic row not finished yet (transfers are
// paid by the sender's card) with its expected fee. Short, the batch goes
// on hold as ledgerapi.HoldByWallet with a waiting_for_funds exception
// ("top up the wallet"); the releaser checks the wallet again every
// WalletRecheck and resumes the batch once it covers the need. A row the
// bank refuses with insufficient_wallet_balance anyway (another batch took
// the money, the fee rule is off) goes back to queued with a new attempt
// (Transition.WalletShort) and holds its batch the same way.
//
// Rows already at the bank are counted too: whether the bank takes a
// payout's money when it starts or when it succeeds is not documented
// (the sandbox's --wallet-debit), and counting them can only make a batch
// wait until they finish, never pay more than the wallet holds.

// Wallet reads our wallet at the bank.
type Wallet interface {
	// Balance returns what the wallet in currency holds.
	Balance(ctx context.Context, currency string) (money.Amount, error)
}

// BankWallet is a Wallet read through the bank's wallet/balance. ID picks
// the wallet when the project has several in one currency.
type BankWallet struct {
	Client *bank131.Client
	ID     string
}

// Balance implements Wallet.
func (w BankWallet) Balance(ctx context.Context, currency string) (money.Amount, error) {
	resp, err := w.Client.WalletBalance(ctx)
	if err != nil {
		return money.Amount{}, err
	}
	wl, err := resp.Wallet(currency, w.ID)
	if err != nil {
		return money.Amount{}, err
	}
	return wl.AmountDetails.Money(), nil
}

// ExpectedFee is the fee the wallet check reckons for a payout: Bps of the
// amount (rounded up), at least Min minor units. Tariffs are contractual
// (shared/bank131-api.md: "tariffs are contractual"): set them to the
// contract's.
type ExpectedFee struct {
	Bps int64
	Min int64
}

// Of returns the expected fee of a payout of amount minor units.
func (f ExpectedFee) Of(amount int64) int64 {
	return max((amount*f.Bps+9999)/10000, f.Min)
}

// need is what a batch still needs from the wallet, per currency.
type need map[string]int64

func (n need) String() string {
	cur := make([]string, 0, len(n))
	for c := range n {
		cur = append(cur, c)
	}
	sort.Strings(cur)
	parts := make([]string, 0, len(cur))
	for _, c := range cur {
		parts = append(parts, money.New(n[c], c).String())
	}
	return strings.Join(parts, ", ")
}

// batchNeed sums the amounts and expected fees of the batch's domestic rows
// that are not finished, cancelled or held by the duplicate guard.
func (s *Service) batchNeed(batch string) (need, error) {
	rows, err := s.db.r.Query(`SELECT currency, amount_minor FROM rows WHERE batch_id = ? AND method <> ?
		AND state NOT IN ('succeeded', 'failed', 'cancelled', 'returned') AND stop <> ? AND held = 0`,
		batch, string(payout.MethodTransfer), stopCancel)
	if err != nil {
		return nil, fmt.Errorf("sum what batch %s needs: %w", batch, err)
	}
	defer rows.Close()
	n := need{}
	for rows.Next() {
		var cur string
		var amount int64
		if err := rows.Scan(&cur, &amount); err != nil {
			return nil, fmt.Errorf("sum what batch %s needs: %w", batch, err)
		}
		n[strings.ToUpper(cur)] += amount + s.cfg.ExpectedFee.Of(amount)
	}
	return n, rows.Err()
}

// walletCovers reads the wallet for each currency the batch needs and
// reports whether it covers the need, and what it holds.
func (s *Service) walletCovers(ctx context.Context, n need) (bool, need, error) {
	held := need{}
	ok := true
	for cur, minor := range n {
		if minor <= 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		bal, err := s.cfg.Wallet.Balance(cctx, cur)
		cancel()
		if err != nil {
			return false, nil, fmt.Errorf("read the %s wallet: %w", cur, err)
		}
		held[cur] = bal.Minor
		if bal.Minor < minor {
			ok = false
		}
	}
	return ok, held, nil
}

// checkRelease is the wallet check before a release chunk of batch: true
// when the chunk may go. Short, the batch is put on hold.
func (s *Service) checkRelease(ctx context.Context, batch string, n need) (bool, error) {
	ok, held, err := s.walletCovers(ctx, n)
	if err != nil || ok {
		return ok, err
	}
	reason := fmt.Sprintf("the wallet holds %s; the batch still needs %s with the expected fees", held, n)
	err = s.w.Do(ctx, func(tx *Tx) error { return s.holdForFunds(tx, batch, reason) })
	return false, err
}

// holdForFunds puts a batch on hold as waiting for funds and opens its
// waiting_for_funds exception, once per hold.
func (s *Service) holdForFunds(tx *Tx, batch, reason string) error {
	st, _, err := batchStatus(tx, batch)
	if err != nil {
		return err
	}
	if st == payout.BatchCancelled || st == payout.BatchRejected || st == payout.BatchDone {
		return nil
	}
	var source string
	if err := tx.QueryRow(`SELECT hold_source FROM batches WHERE id = ?`, batch).Scan(&source); err != nil {
		return fmt.Errorf("read batch %s: %w", batch, err)
	}
	if source == "" {
		if err := s.holdBatch(tx, batch, ledgerapi.HoldByWallet, "wallet check", reason); err != nil {
			return err
		}
	}
	var open int
	if err := tx.QueryRow(`SELECT count(*) FROM exceptions WHERE batch_id = ? AND category = ? AND closed_at IS NULL`,
		batch, string(reconcile.WaitingForFunds)).Scan(&open); err != nil {
		return fmt.Errorf("read exceptions of %s: %w", batch, err)
	}
	if open > 0 {
		return nil
	}
	detail := "top up the wallet: " + reason + "; the batch waits"
	if source == "" || source == ledgerapi.HoldByWallet {
		detail += " and goes on by itself once a wallet check finds the money"
	} else {
		detail += " (it is also on hold by the " + source + ")"
	}
	if _, err := openException(tx, reconcile.WaitingForFunds, batch+"/"+formatTime(tx.Now), batch, 0, detail); err != nil {
		return err
	}
	s.log.Error("batch waiting for funds: top up the wallet", logkey.Batch, batch, "reason", reason)
	return nil
}

// walletShortFrom are the states a row may be in when the bank answers
// insufficient_wallet_balance: its call (create, init, start, confirm), or
// the payout's error in payment_finished or session/status.
var walletShortFrom = []payout.State{payout.StateOpening, payout.StateSessionOpen, payout.StateStarting,
	payout.StatePayoutStarted, payout.StateConfirming, payout.StateConfirmed, payout.StateActionRequired, payout.StateInDoubt}

// walletShort applies Transition.WalletShort: the bank did not pay the row
// because our wallet is short. The row goes back to queued with a new
// attempt (its session, if any, is abandoned: the gate cancels it should
// it ever come back), and the batch waits for funds. It is the one move
// outside payout.Next: from confirming or confirmed only on the bank's own
// word that this session's payout failed, which is what a failed row and a
// resubmit rest on too. A cancelled batch or row fails the row instead.
func (s *Service) walletShort(tx *Tx, r *rowRec, t *ledgerapi.Transition) (*ledgerapi.TransitionReply, error) {
	reply := func(e *ledgerapi.Error) *ledgerapi.TransitionReply {
		return &ledgerapi.TransitionReply{Row: apiRow(tx, r), Error: e}
	}
	if t.To != payout.StateQueued {
		return reply(ledgerapi.Errorf(ledgerapi.CodeInvalid, "wallet_short moves a row to queued, not %s", t.To)), nil
	}
	if t.SessionID != "" {
		foreign, err := s.foreignSession(tx, r, t.SessionID, false)
		if err != nil {
			return nil, err
		}
		if foreign != "" {
			if err := s.recordForeign(tx, r, t.SessionID, payout.StateFailed, t.PayoutID, t.Evidence); err != nil {
				return nil, err
			}
			return reply(ledgerapi.Errorf(ledgerapi.CodeForeignSession, "%s", foreign)), nil
		}
	}
	if !slices.Contains(walletShortFrom, r.State) {
		return reply(ledgerapi.Errorf(ledgerapi.CodeIllegal, "row is %s: not at the bank, nothing the wallet refused", r.State)), nil
	}
	if r.cancelled() {
		// Nothing new starts for a cancelled batch or row: not paid, final.
		f := *t
		f.To, f.WalletShort, f.Expect = payout.StateFailed, false, nil
		f.Reason = "Our wallet at the bank did not cover this payout; the " + map[bool]string{true: "row", false: "batch"}[r.Stop == stopCancel] + " was cancelled meanwhile."
		if err := s.apply(tx, r, &f); err != nil {
			return nil, err
		}
		r, err := loadRow(tx, r.Batch, r.Row)
		if err != nil {
			return nil, err
		}
		return &ledgerapi.TransitionReply{Applied: true, Row: apiRow(tx, r)}, nil
	}
	now := formatTime(tx.Now)
	for _, sess := range []string{r.SessionID, r.ConfirmSession} {
		if sess == "" {
			continue
		}
		if err := recordSession(tx, sess, r.Batch, r.Row, r.Attempt, roleAbandoned, "failed"); err != nil {
			return nil, err
		}
	}
	gen, attempt := r.Gen+1, r.Attempt+1
	if _, err := tx.Exec(`UPDATE rows SET state = 'queued', gen = ?, attempt = ?, session_id = '', confirm_session = '', payout_id = '',
		idem_key = '', sent_at = '', resends = 0, error_code = ?, reason = ?, moved_at = ?, updated_at = ?, polls = 0, next_poll_at = NULL,
		worker = CASE WHEN ? = '' THEN worker ELSE ? END
		WHERE batch_id = ? AND row_no = ?`, gen, attempt, bank131.CodeWalletShort, walletShortReason(t), now, now,
		t.Worker, t.Worker, r.Batch, r.Row); err != nil {
		return nil, fmt.Errorf("put %s/%d back in the queue: %w", r.Batch, r.Row, err)
	}
	ev := t.Evidence
	if ev.Detail == "" {
		ev.Detail = "insufficient_wallet_balance"
	}
	ev.Detail += "; waiting for funds, a new attempt"
	if err := logTransition(tx, r, r.State, payout.StateQueued, gen, attempt, ev, t.Worker, firstNonEmpty(t.SessionID, r.SessionID),
		t.PayoutID, "", bank131.CodeWalletShort, walletShortReason(t)); err != nil {
		return nil, err
	}
	if err := s.holdForFunds(tx, r.Batch, fmt.Sprintf("the bank answered insufficient_wallet_balance for row %d (%s)", r.Row, r.Reference)); err != nil {
		return nil, err
	}
	tx.After(func() { wake(s.kick) })
	r, err := loadRow(tx, r.Batch, r.Row)
	if err != nil {
		return nil, err
	}
	return &ledgerapi.TransitionReply{Applied: true, Row: apiRow(tx, r)}, nil
}

func walletShortReason(t *ledgerapi.Transition) string {
	if t.Reason != "" {
		return t.Reason
	}
	return "Our wallet at the bank did not cover this payout: waiting for a top-up."
}

// recheckWallets resumes the batches waiting for funds whose need the
// wallet now covers, each checked at most every WalletRecheck.
func (s *Service) recheckWallets(ctx context.Context, last map[string]time.Time) {
	if s.cfg.Wallet == nil {
		return
	}
	rows, err := s.db.r.Query(`SELECT id FROM batches WHERE hold_source = ? AND status IN (?, ?, ?) ORDER BY first_seen_at`,
		ledgerapi.HoldByWallet, payout.BatchScheduled, payout.BatchReleased, payout.BatchAwaitingApproval)
	if err != nil {
		s.log.Error("find batches waiting for funds", logkey.Error, err)
		return
	}
	var waiting []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err == nil {
			waiting = append(waiting, id)
		}
	}
	rows.Close()
	now := time.Now()
	for _, b := range waiting {
		if t, ok := last[b]; ok && now.Sub(t) < s.cfg.WalletRecheck {
			continue
		}
		last[b] = now
		n, err := s.batchNeed(b)
		if err != nil {
			s.log.Error("wallet check", logkey.Batch, b, logkey.Error, err)
			continue
		}
		ok, held, err := s.walletCovers(ctx, n)
		if err != nil {
			s.log.Error("wallet check", logkey.Batch, b, logkey.Error, err)
			continue
		}
		if !ok {
			s.log.Info("still waiting for funds", logkey.Batch, b, "wallet", held.String(), "needs", n.String())
			continue
		}
		delete(last, b)
		if err := s.resumeFunded(ctx, b, fmt.Sprintf("the wallet holds %s, the batch needs %s", held, n)); err != nil {
			s.log.Error("resume a funded batch", logkey.Batch, b, logkey.Error, err)
		}
	}
	for b := range last {
		if !slices.Contains(waiting, b) {
			delete(last, b)
		}
	}
}

// resumeFunded ends a batch's wait for funds: as a person's resume does,
// by the wallet check.
func (s *Service) resumeFunded(ctx context.Context, batch, why string) error {
	var jobs []ledgerapi.Job
	var ids []string
	err := s.w.Do(ctx, func(tx *Tx) error {
		var source string
		if err := tx.QueryRow(`SELECT hold_source FROM batches WHERE id = ?`, batch).Scan(&source); err != nil {
			return fmt.Errorf("read batch %s: %w", batch, err)
		}
		if source != ledgerapi.HoldByWallet {
			return nil // resumed or held otherwise meanwhile
		}
		var err error
		jobs, ids, err = s.resumeBatch(tx, ledgerapi.RowCommand{Batch: batch, By: "wallet check", Reason: why})
		if err != nil {
			return err
		}
		tx.After(func() {
			s.publishPolls(jobs, ids)
			wake(s.kick)
			wake(s.release)
		})
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Info("funds found; batch goes on", logkey.Batch, batch, "why", why)
	return nil
}
