package console

import (
	"time"

	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reason"
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

// explainFailure explains a failed row by its error code from the one
// catalogue (internal/reason: the bank's codes and payrun's own), with the
// ledger's own text beside a code the catalogue does not know.
func explainFailure(l Lang, r ledger.RowView) Explained {
	if r.ErrorCode == "" {
		return Explained{Why: l.T("why.failed"), Next: l.T("next.final"), Detail: r.Reason}
	}
	e := reason.Error(r.ErrorCode)
	out := Explained{Why: e.Reason.In(string(l)), Next: e.Next.In(string(l))}
	if !e.Known || r.ErrorCode == "invalid_row" {
		out.Detail = r.Reason
	}
	return out
}
