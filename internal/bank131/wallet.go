package bank131

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DateATOM is how the SDK writes request_datetime: PHP's DATE_ATOM
// (Y-m-d\TH:i:sP), e.g. 2024-04-10T19:53:00+03:00.
const DateATOM = "2006-01-02T15:04:05-07:00"

// WalletBalanceRequest is the body of wallet/balance. The SDK fills
// request_datetime with the current time (WalletBalanceRequest.php); the
// sibling API marks it mandatory.
type WalletBalanceRequest struct {
	RequestDatetime string `json:"request_datetime"`
}

// WalletBalanceResponse is the answer of wallet/balance (SDK
// WalletApiTest.php): {"status":"ok","wallets":[{"id":"131","amount_details":{…}}]}.
type WalletBalanceResponse struct {
	Wallets []Wallet `json:"wallets"`
}

// Wallet is one wallet (collateral account) and its balance.
type Wallet struct {
	ID            string `json:"id"`
	AmountDetails Amount `json:"amount_details"`
}

// WalletBalance calls wallet/balance: what the collateral account holds. The
// bank pays a payout "provided that the account has enough funds for the
// transfer, including the fee" (payouts-intro), and answers
// insufficient_wallet_balance otherwise.
func (c *Client) WalletBalance(ctx context.Context, opts ...CallOption) (*WalletBalanceResponse, error) {
	req := WalletBalanceRequest{RequestDatetime: time.Now().Format(DateATOM)}
	var out WalletBalanceResponse
	if err := c.call(ctx, "wallet/balance", PathWalletBalance, req, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// Wallet picks the wallet in currency (case-insensitive). With several in
// that currency, id chooses; an empty id is then an error, as is no match.
func (r *WalletBalanceResponse) Wallet(currency, id string) (*Wallet, error) {
	var match []*Wallet
	for i := range r.Wallets {
		w := &r.Wallets[i]
		if strings.EqualFold(w.AmountDetails.Currency, currency) && (id == "" || w.ID == id) {
			match = append(match, w)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(match) == 0 && id != "":
		return nil, fmt.Errorf("bank131 wallet/balance: no %s wallet %q", currency, id)
	case len(match) == 0:
		return nil, fmt.Errorf("bank131 wallet/balance: no %s wallet", currency)
	}
	return nil, fmt.Errorf("bank131 wallet/balance: %d %s wallets; name one by id", len(match), currency)
}
