package payout

// State is where a row stands. The ledger stores it and is the only place
// that changes it; see Next for the transitions it allows.
type State string

// Row states, in the order a row normally passes them.
const (
	StateReceived         State = "received"          // recorded from the intake stream; batch not yet sealed
	StateScheduled        State = "scheduled"         // batch accepted, waiting for its scheduled time
	StateAwaitingApproval State = "awaiting_approval" // batch accepted, waiting for approval
	StateQueued           State = "queued"            // released: a job is in the work queue
	StateClaimed          State = "claimed"           // a processor took the job for an attempt
	StateQuoted           State = "quoted"            // transfer: FX quote recorded (bpa/calculate)
	StateOpening          State = "opening"           // intent: session/create, session/init/payout or multi/init/payment sent with IdemKey
	StateSessionOpen      State = "session_open"      // two-step: the bank session exists, no payout yet
	StateStarting         State = "starting"          // intent: session/start/payout sent with IdemKey
	StatePayoutStarted    State = "payout_started"    // the bank accepted the payout; waiting for webhooks
	StateConfirming       State = "confirming"        // gate passed for ConfirmSession; session/confirm being sent
	StateConfirmed        State = "confirmed"         // the bank accepted session/confirm
	StateActionRequired   State = "action_required"   // transfer: waiting for the sender's 3-D Secure
	StateInDoubt          State = "in_doubt"          // a money-moving call's outcome is unknown; only evidence settles it
	StateSucceeded        State = "succeeded"         // terminal: paid
	StateFailed           State = "failed"            // terminal: not paid, with the bank's code or our reason
	StateCancelled        State = "cancelled"         // terminal: cancelled by an operator or by the gate
	StateReturned         State = "returned"          // terminal: paid, then returned by the recipient's bank
)

// Terminal reports whether no further transition is expected for the row
// (returned may still follow succeeded).
func (s State) Terminal() bool {
	switch s {
	case StateSucceeded, StateFailed, StateCancelled, StateReturned:
		return true
	}
	return false
}

// MoneyMayMove reports whether the bank may already be moving the row's
// money, so the row must not be cancelled or restarted by us.
func (s State) MoneyMayMove() bool {
	switch s {
	case StateConfirming, StateConfirmed, StateActionRequired, StateInDoubt, StateSucceeded, StateReturned:
		return true
	}
	return false
}

// InFlight reports whether the row holds, or may hold, a live bank session
// that is not yet finished.
func (s State) InFlight() bool {
	switch s {
	case StateOpening, StateSessionOpen, StateStarting, StatePayoutStarted,
		StateConfirming, StateConfirmed, StateActionRequired, StateInDoubt:
		return true
	}
	return false
}

// Next lists, for every state, the states the ledger lets a row move to.
// Finishing (succeeded, failed) is allowed from any live state because the
// bank's webhooks may arrive in any order; the ledger checks the evidence.
var Next = map[State][]State{
	StateReceived:         {StateScheduled, StateAwaitingApproval, StateQueued, StateFailed, StateCancelled}, // failed: a widget row whose card never came (its recipient link expired)
	StateScheduled:        {StateAwaitingApproval, StateQueued, StateCancelled},
	StateAwaitingApproval: {StateScheduled, StateQueued, StateCancelled},
	StateQueued:           {StateQueued, StateClaimed, StateCancelled},
	StateClaimed:          {StateClaimed, StateQuoted, StateOpening, StateQueued, StateFailed, StateCancelled},
	StateQuoted:           {StateQuoted, StateOpening, StateQueued, StateFailed, StateCancelled},
	StateOpening:          {StateOpening, StateSessionOpen, StatePayoutStarted, StateInDoubt, StateQueued, StateConfirming, StateSucceeded, StateFailed, StateCancelled},
	StateSessionOpen:      {StateStarting, StateQueued, StateFailed, StateCancelled},
	StateStarting:         {StateStarting, StatePayoutStarted, StateQueued, StateConfirming, StateSucceeded, StateFailed, StateCancelled},
	StatePayoutStarted:    {StateStarting, StateConfirming, StateQueued, StateSucceeded, StateFailed, StateCancelled},
	StateConfirming:       {StateConfirmed, StateActionRequired, StateInDoubt, StateSucceeded, StateFailed},
	StateConfirmed:        {StateActionRequired, StateSucceeded, StateFailed},
	StateActionRequired:   {StateActionRequired, StateSucceeded, StateFailed},
	StateInDoubt:          {StatePayoutStarted, StateConfirmed, StateConfirming, StateSucceeded, StateFailed},
	StateSucceeded:        {StateReturned},
	StateFailed:           {},
	StateCancelled:        {},
	StateReturned:         {},
}

// CanMove reports whether the ledger allows from → to.
func CanMove(from, to State) bool {
	for _, s := range Next[from] {
		if s == to {
			return true
		}
	}
	return false
}

// BatchStatus is where a batch as a whole stands.
type BatchStatus string

// Batch statuses.
const (
	BatchReceiving        BatchStatus = "receiving"         // rows arriving, manifest not yet seen
	BatchRejected         BatchStatus = "rejected"          // manifest did not match the rows; nothing will be paid
	BatchScheduled        BatchStatus = "scheduled"         // accepted, waiting for schedule_at
	BatchAwaitingApproval BatchStatus = "awaiting_approval" // accepted, waiting for approval
	BatchReleased         BatchStatus = "released"          // rows handed to the work queue
	BatchCancelled        BatchStatus = "cancelled"         // an operator cancelled it: nothing new starts
	BatchDone             BatchStatus = "done"              // every row terminal
)
