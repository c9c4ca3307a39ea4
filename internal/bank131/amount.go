package bank131

import (
	"strings"

	"github.com/payrun/payrun/internal/money"
)

// Amount is the bank's amount_details: integer minor units (kopecks for
// RUB) and an ISO 4217 code. The bank reads the currency case-insensitively;
// requests use lower case ("rub") as in the bank's examples.
type Amount struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// AmountOf converts a payrun amount into the bank's form (lower-case currency).
func AmountOf(m money.Amount) Amount {
	return Amount{Amount: m.Minor, Currency: strings.ToLower(m.Currency)}
}

// Money converts the bank's amount into payrun's (upper-case currency).
func (a Amount) Money() money.Amount { return money.New(a.Amount, a.Currency) }

// CalcAmount is an amount in bpa/calculate, where the side to be computed
// is sent as null.
type CalcAmount struct {
	Amount   *int64 `json:"amount"`
	Currency string `json:"currency"`
}

// Given returns a CalcAmount with a value: the side the caller fixes.
func Given(minor int64, currency string) CalcAmount {
	return CalcAmount{Amount: &minor, Currency: currency}
}

// ToCompute returns a CalcAmount whose amount the bank computes (null).
func ToCompute(currency string) CalcAmount { return CalcAmount{Currency: currency} }

// Value returns the amount and whether it is set.
func (c CalcAmount) Value() (int64, bool) {
	if c.Amount == nil {
		return 0, false
	}
	return *c.Amount, true
}

// Amounts is a payout's fee information (sent only when the manager enabled it).
type Amounts struct {
	Net   *Amount `json:"net,omitempty"`
	Gross *Amount `json:"gross,omitempty"`
	Fee   *Fee    `json:"fee,omitempty"`
}

// Fee is the fee part of Amounts.
type Fee struct {
	MerchantFee *Amount `json:"merchant_fee,omitempty"`
}
