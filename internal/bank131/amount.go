package bank131

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/payrun/payrun/internal/money"
)

// Amount is the bank's amount_details: integer minor units (kopecks for
// RUB) and an ISO 4217 code. The bank reads the currency case-insensitively;
// requests use lower case ("rub") as in the bank's examples.
//
// Reading is lenient where the bank's pages disagree: every example writes
// an integer, the transfer notification page types the amount as "float" in
// minor units, so 10000.0 and 1e4 are read as 10000 (money.ParseMinor, no
// float involved); a value that is not whole, such as 10000.5, is an error,
// never truncated.
type Amount struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *Amount) UnmarshalJSON(b []byte) error {
	var v struct {
		Amount   json.RawMessage `json:"amount"`
		Currency string          `json:"currency"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	minor, err := parseMinorJSON(v.Amount)
	if err != nil {
		return fmt.Errorf("amount %s: %w", v.Amount, err)
	}
	*a = Amount{Amount: minor, Currency: v.Currency}
	return nil
}

// parseMinorJSON reads a JSON number of minor units; absent and null are 0.
func parseMinorJSON(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, nil
	}
	return money.ParseMinor(string(raw))
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

// UnmarshalJSON implements json.Unmarshaler: null is "to compute", a number
// is read like Amount's (10000.0 is 10000).
func (c *CalcAmount) UnmarshalJSON(b []byte) error {
	var v struct {
		Amount   json.RawMessage `json:"amount"`
		Currency string          `json:"currency"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = CalcAmount{Currency: v.Currency}
	raw := bytes.TrimSpace(v.Amount)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	minor, err := money.ParseMinor(string(raw))
	if err != nil {
		return fmt.Errorf("amount %s: %w", raw, err)
	}
	c.Amount = &minor
	return nil
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
