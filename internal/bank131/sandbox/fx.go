package sandbox

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/payrun/payrun/internal/bank131"
)

// DefaultRates are the sandbox's fixed rates: roubles per one unit of the
// foreign currency (quantity 1). TRY is the rate of the bank's own example.
var DefaultRates = map[string]string{
	"TRY": "2.7233",
	"USD": "92.4500",
	"KGS": "1.0537",
}

// quote is a computed conversion.
type quote struct {
	source      int64  // RUB kopecks taken from the sender for the recipient
	destination int64  // foreign minor units paid out
	currency    string // upper-case foreign currency
	rate        string // RUB per unit, as in the table
	fee         int64  // transfer fee, RUB kopecks
	given       int64  // the amount the caller gave (trigger key)
	forward     bool   // the source was given
}

// fxRate is the confirm_information rate: destination units per source
// unit, to 4 decimals (the bank's example: 300 TRY for 1000 RUB → "0.3000").
func (q quote) fxRate() string {
	if q.source == 0 {
		return "0.0000"
	}
	return new(big.Rat).SetFrac64(q.destination, q.source).FloatString(4)
}

// convert applies the rate table to a calculate object.
//
// Arithmetic is exact (integers and big.Rat, no floats). With r roubles per
// foreign unit:
//   - forward (source S kopecks given): destination D = S / r rounded half
//     up; the source is then restated as S' = D × r rounded up, so the
//     sender never pays less than D is worth. The bank's example reproduces:
//     357912 RUB kopecks at 2.7233 → 131426 kuruş → source 357913.
//   - reverse (destination D given): S' = D × r rounded up.
//
// The transfer fee is charged on top of S' (FeeRule on S').
func (s *Server) convert(c bank131.Calculate) (quote, *apiError) {
	src, dst := c.Amounts.Source, c.Amounts.Destination
	if !strings.EqualFold(src.Currency, "RUB") {
		return quote{}, invalid("calculate: source currency must be RUB, got %q", src.Currency)
	}
	cur := strings.ToUpper(dst.Currency)
	rateText, ok := s.cfg.Rates[cur]
	if !ok {
		return quote{}, invalid("calculate: destination currency %q is not served (RUB→TRY, RUB→USD, RUB→KGS)", dst.Currency)
	}
	rate, err := bank131.ParseDecimal(rateText)
	if err != nil || rate.Sign() <= 0 {
		return quote{}, newAPIError(bank131.CodeInternal, "rate table: %s: %v", cur, err)
	}
	sv, sok := src.Value()
	dv, dok := dst.Value()
	q := quote{currency: cur, rate: rateText}
	switch {
	case sok && dok:
		return quote{}, invalid("calculate: give either the source or the destination amount, not both")
	case sok:
		if sv <= 0 {
			return quote{}, invalid("calculate: amount must be greater than zero")
		}
		q.forward, q.given = true, sv
		q.destination = roundHalfUp(new(big.Rat).Quo(new(big.Rat).SetInt64(sv), rate))
		if q.destination <= 0 {
			return quote{}, invalid("calculate: amount too small to convert")
		}
	case dok:
		if dv <= 0 {
			return quote{}, invalid("calculate: amount must be greater than zero")
		}
		q.given, q.destination = dv, dv
	default:
		return quote{}, invalid("calculate: one of source.amount and destination.amount is required")
	}
	q.source = roundUp(new(big.Rat).Mul(new(big.Rat).SetInt64(q.destination), rate))
	q.fee = s.cfg.TransferFee.Fee(q.source)
	return q, nil
}

// calculateAnswer renders a quote as the bpa/calculate answer.
func calculateAnswer(c bank131.Calculate, q quote) bank131.CalculateResponse {
	rub := func(v int64) bank131.Amount { return bank131.Amount{Amount: v, Currency: "RUB"} }
	return bank131.CalculateResponse{
		Amounts: bank131.CalculatedAmounts{
			Source:      rub(q.source),
			Destination: bank131.Amount{Amount: q.destination, Currency: q.currency},
			TransferFee: rub(q.fee),
			SMSFee:      rub(0),
			Payment:     rub(q.source + q.fee),
		},
		Exchanges: bank131.CalcExchanges{
			Source:      c.Amounts.Source,
			Destination: c.Amounts.Destination,
			Rate:        bank131.Rate{FXRate: json.Number(q.rate), Quantity: 1},
		},
	}
}

func roundHalfUp(r *big.Rat) int64 {
	// floor((2·num + den) / (2·den)) for r ≥ 0
	num := new(big.Int).Mul(r.Num(), big.NewInt(2))
	num.Add(num, r.Denom())
	den := new(big.Int).Mul(r.Denom(), big.NewInt(2))
	return new(big.Int).Quo(num, den).Int64()
}

func roundUp(r *big.Rat) int64 {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64()
}

// checkRates validates the rate table at start-up.
func checkRates(rates map[string]string) error {
	for cur, text := range rates {
		r, err := bank131.ParseDecimal(text)
		if err != nil {
			return fmt.Errorf("rate %s: %w", cur, err)
		}
		if r.Sign() <= 0 {
			return fmt.Errorf("rate %s must be positive", cur)
		}
	}
	return nil
}
