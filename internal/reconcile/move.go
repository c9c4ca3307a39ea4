package reconcile

import (
	"fmt"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// Move is a row's move as the ledger records it, with what the rules of a
// single move need to know about the row.
type Move struct {
	Batch     string
	Row       int
	Reference string
	Amount    money.Amount // the row's
	// The quote's sides, for a transfer.
	QuoteSource, QuoteDest *money.Amount
	To                     payout.State
	Paid                   *money.Amount // what the bank says it paid, when it says
	Source                 string        // where the news came from (webhook, status, report, …)
	Why                    string        // what it said: the evidence's detail, the reason or the webhook's type
}

// Finding is what the move alone proves, if anything (the reconciliation
// finds it again under the same key): a success paying another amount or
// currency than the row's, or a return after success. The key has no
// category prefix (see Finding.Key): "<batch>/<row>[/paid]". The detail
// passes the card-number redaction.
func (m *Move) Finding() (f Finding, ok bool) {
	key := RowKey(m.Batch, m.Row)
	label := RowLabel(m.Row, m.Reference)
	switch {
	case m.To == payout.StateReturned:
		return Finding{Category: ReturnedAfterSuccess, Key: key, Row: m.Row,
			Detail: cardmask.Redact(fmt.Sprintf("%s was paid, then returned by the recipient's bank (%s: %s)", label, m.Source, m.Why))}, true
	case m.To == payout.StateSucceeded && m.Paid != nil:
		paid := money.New(m.Paid.Minor, m.Paid.Currency)
		if want, ok := ExpectedIn(paid.Currency, m.Amount, m.QuoteSource, m.QuoteDest); ok && want == paid {
			return Finding{}, false
		}
		return Finding{Category: AmountMismatch, Key: key + "/paid", Row: m.Row,
			Detail: cardmask.Redact(fmt.Sprintf("the bank reported %s paid %s (%s); we asked for %s", label, paid, m.Source,
				asked(m.Amount, m.QuoteDest)))}, true
	}
	return Finding{}, false
}
