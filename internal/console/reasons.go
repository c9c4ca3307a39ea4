package console

import (
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// Explained is a row's situation in plain words: why it is where it is
// and what to do next (either may be empty), and for a transfer waiting
// for its sender, until when the 3-D Secure page stays open.
type Explained struct {
	Why, Next string
	// Detail is the ledger's own text of the reason (English, card
	// numbers masked), shown when Why is a general sentence.
	Detail   string
	OpenTill time.Time
}

// payrun's own error codes (not the bank's), explained per language.
var ownCodes = map[string]string{
	ledgerapi.ErrorNotInBankReport: "code.not_in_bank_report",
	"batch_cancelled":              "code.batch_cancelled",
	"invalid_row":                  "code.invalid_row",
	ledger.CodeNoCard:              "code.no_card",
}

// nextByClass says what to do after the bank refused a row, by the fine
// class of its code.
var nextByClass = map[bank131.Class]string{
	bank131.ClassRecipient:   "next.recipient",
	bank131.ClassNotPaid:     "next.not_paid",
	bank131.ClassOurs:        "next.ours",
	bank131.ClassRetry:       "next.retry",
	bank131.ClassWalletShort: "next.wallet_short",
	bank131.ClassReadStatus:  "next.read_status",
	bank131.ClassFinal:       "next.final",
	bank131.ClassConflict:    "next.read_status",
}

// explain says in l why a row is where it is and what to do next.
func explain(l Lang, r ledger.RowView, batch payout.BatchStatus, window time.Duration) Explained {
	switch r.State {
	case payout.StateReceived, payout.StateScheduled, payout.StateAwaitingApproval:
		switch batch {
		case payout.BatchAwaitingApproval:
			return Explained{Why: l.T("why.awaiting_approval"), Next: l.T("next.awaiting_approval")}
		case payout.BatchScheduled:
			return Explained{Why: l.T("why.scheduled")}
		case payout.BatchReceiving:
			return Explained{Why: l.T("why.receiving")}
		}
		return Explained{Why: l.T("why.waiting")}
	case payout.StateQueued, payout.StateClaimed, payout.StateQuoted, payout.StateOpening:
		return Explained{Why: l.T("why.queued")}
	case payout.StateSessionOpen, payout.StateStarting, payout.StatePayoutStarted, payout.StateConfirming, payout.StateConfirmed:
		return Explained{Why: l.T("why.at_bank")}
	case payout.StateActionRequired:
		e := Explained{Why: l.T("why.action_required"), Next: l.T("next.action_required")}
		if r.ActionURL != "" {
			e.OpenTill = r.MovedAt.Add(window)
		}
		return e
	case payout.StateInDoubt:
		return Explained{Why: l.T("why.in_doubt"), Next: l.T("next.in_doubt")}
	case payout.StateSucceeded:
		return Explained{Why: l.T("why.succeeded")}
	case payout.StateReturned:
		return Explained{Why: l.T("why.returned"), Next: l.T("next.returned")}
	case payout.StateCancelled:
		return Explained{Why: l.T("why.cancelled"), Next: l.T("next.cancelled"), Detail: r.Reason}
	case payout.StateFailed:
		return explainFailure(l, r)
	}
	// A state this console does not know yet (issue 11's held rows):
	// its name, and the ledger's reason.
	return Explained{Why: l.T("state." + string(r.State)), Detail: r.Reason}
}

func explainFailure(l Lang, r ledger.RowView) Explained {
	if key, ok := ownCodes[r.ErrorCode]; ok {
		e := Explained{Why: l.T(key), Next: l.T("next." + r.ErrorCode)}
		if r.ErrorCode == "invalid_row" || r.ErrorCode == ledger.CodeNoCard {
			e.Detail = r.Reason
		}
		return e
	}
	if r.ErrorCode == "" {
		return Explained{Why: l.T("why.failed"), Next: l.T("next.final"), Detail: r.Reason}
	}
	why := bank131.Reason(r.ErrorCode)
	if l == Russian {
		why = bank131.ReasonRU(r.ErrorCode)
	}
	e := Explained{Why: why, Next: l.T(nextByClass[bank131.DiagnoseCode(r.ErrorCode)])}
	if !bank131.KnownCode(r.ErrorCode) && r.Reason != "" {
		e.Detail = r.Reason
	}
	return e
}
