package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/payrun/payrun/internal/bank131"
)

// wallet is a project's collateral account (DOC-payouts-intro: the bank
// pays "provided that the account has enough funds for the transfer,
// including the fee"). Guarded by Server.mu. A domestic payout reserves
// amount + fee when it is started (or answered insufficient_wallet_balance
// when the wallet, less what is reserved, does not cover it); its success
// debits the reservation, its failure or cancel releases it. Transfers are
// paid by the sender's card and do not touch the wallet.
type wallet struct {
	balance  int64 // RUB kopecks
	reserved int64 // held for payouts in flight
}

// walletID is the id wallet/balance shows (the SDK test's example).
const walletID = "131"

// WalletInfo is a project's wallet as GET /sandbox/wallet shows it.
type WalletInfo struct {
	Project  string `json:"project"`
	ID       string `json:"id"`
	Balance  int64  `json:"balance"`  // RUB kopecks
	Reserved int64  `json:"reserved"` // held for payouts in flight
	Currency string `json:"currency"`
}

// Wallets lists every project's wallet.
func (s *Server) Wallets() []WalletInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WalletInfo, 0, len(s.wallets))
	for name, w := range s.wallets {
		out = append(out, WalletInfo{Project: name, ID: walletID, Balance: w.balance, Reserved: w.reserved, Currency: "RUB"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out
}

// TopUp adds minor kopecks (negative: takes them) to a project's wallet and
// returns the new balance. The balance never goes below zero.
func (s *Server) TopUp(project string, minor int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.wallets[project]
	if !ok {
		return 0, fmt.Errorf("no project %q", project)
	}
	if w.balance+minor < 0 {
		return w.balance, fmt.Errorf("project %q: the wallet holds %d, cannot take %d", project, w.balance, -minor)
	}
	w.balance += minor
	return w.balance, nil
}

// reserve holds amount + fee for a domestic payout. It reports false when
// the wallet, less what is already held, does not cover it. Caller holds
// s.mu.
func (s *Server) reserve(sess *session, need int64) bool {
	w := s.wallets[sess.project.Name]
	if w.balance-w.reserved < need {
		return false
	}
	w.reserved += need
	sess.payout.reserved = need
	return true
}

// settleWallet ends a payout's reservation: debited if paid, released
// otherwise. Caller holds s.mu.
func (s *Server) settleWallet(sess *session, paid bool) {
	p := sess.payout
	if p == nil || p.reserved == 0 {
		return
	}
	w := s.wallets[sess.project.Name]
	w.reserved -= p.reserved
	if paid {
		w.balance -= p.reserved
	}
	p.reserved = 0
}

type walletBalanceAnswer struct {
	Status  string           `json:"status"`
	Wallets []bank131.Wallet `json:"wallets"`
}

// handleWalletBalance answers wallet/balance (SDK WalletApi.php,
// WalletApiTest.php): one RUB wallet per project. With Modes.WalletDebit
// hold, payouts in flight are already taken off the balance shown.
func (s *Server) handleWalletBalance(c *call) ([]byte, *apiError) {
	var req bank131.WalletBalanceRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	switch {
	case req.RequestDatetime == "" && s.cfg.Modes.RequestDatetime == modeRequired:
		return nil, invalid("request_datetime is required (ISO 8601 with an offset)")
	case req.RequestDatetime != "":
		if _, err := time.Parse(time.RFC3339, req.RequestDatetime); err != nil {
			return nil, invalid("request_datetime %q is not ISO 8601 with an offset (2024-04-10T19:53:00+03:00)", req.RequestDatetime)
		}
	}
	s.mu.Lock()
	w := s.wallets[c.project.Name]
	shown := w.balance
	if s.cfg.Modes.WalletDebit == modeHold {
		shown -= w.reserved
	}
	s.mu.Unlock()
	b, err := marshal(walletBalanceAnswer{Status: "ok", Wallets: []bank131.Wallet{{
		ID: walletID, AmountDetails: bank131.Amount{Amount: shown, Currency: "rub"},
	}}})
	if err != nil {
		return nil, newAPIError(bank131.CodeInternal, "render: %v", err)
	}
	return b, nil
}

func (s *Server) serveWallets(w http.ResponseWriter, _ *http.Request) {
	b, err := marshal(struct {
		Wallets []WalletInfo `json:"wallets"`
	}{s.Wallets()})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// topUpRequest is the body of POST /sandbox/wallet (the sandbox's own
// control, not a bank method): {"project":"payrun","amount":100000} adds
// 1 000.00 RUB; a negative amount takes money out.
type topUpRequest struct {
	Project string `json:"project"`
	Amount  int64  `json:"amount"` // RUB kopecks
}

func (s *Server) serveTopUp(w http.ResponseWriter, r *http.Request) {
	var req topUpRequest
	b, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err == nil {
		err = json.Unmarshal(b, &req)
	}
	if err != nil {
		http.Error(w, `want {"project":"NAME","amount":KOPECKS}: `+err.Error(), http.StatusBadRequest)
		return
	}
	balance, err := s.TopUp(req.Project, req.Amount)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.log.Info("wallet topped up", "project", req.Project, "amount", req.Amount, "balance", balance)
	s.serveWallets(w, r)
}
