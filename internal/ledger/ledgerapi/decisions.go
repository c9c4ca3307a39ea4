package ledgerapi

import (
	"context"
	"time"

	"github.com/payrun/payrun/internal/money"
)

// RowCommand is a person's decision on one row of a batch: release or
// drop a row the duplicate guard held, cancel it, put it on hold or
// resume it. By and Reason are required: every decision is recorded with
// who took it and why. Row 0 means the batch as a whole where a command
// has a batch form (cancel, hold, resume).
type RowCommand struct {
	Batch  string `json:"batch"`
	Row    int    `json:"row,omitempty"`
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// Hold is a row the duplicate guard held: why (the earlier row it repeats,
// in words and by batch and row) and what a person decided.
type Hold struct {
	Row          int          `json:"row"`
	Reference    string       `json:"reference"`
	Amount       money.Amount `json:"amount"`
	Kind         string       `json:"kind"` // repeat | duplicate
	EarlierBatch string       `json:"earlier_batch"`
	EarlierRow   int          `json:"earlier_row"`
	Reason       string       `json:"reason"`
	HeldAt       time.Time    `json:"held_at"`
	// Decision is "" while the row waits, else released or dropped, with
	// who decided, when and why.
	Decision       string     `json:"decision,omitempty"`
	DecidedBy      string     `json:"decided_by,omitempty"`
	DecidedAt      *time.Time `json:"decided_at,omitempty"`
	DecisionReason string     `json:"decision_reason,omitempty"`
}

// BatchHold says why a batch is on hold.
type BatchHold struct {
	Source string    `json:"source"` // operator | breaker | waiting_for_funds
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// Hold sources.
const (
	HoldByOperator = "operator"
	HoldByBreaker  = "breaker"
	// HoldByWallet: our wallet at the bank does not cover what the batch
	// still needs (the ledger's wallet/balance check, or the bank's
	// insufficient_wallet_balance). The ledger resumes the batch itself
	// when a later check finds the money; a person may resume it too.
	HoldByWallet = "waiting_for_funds"
)

// DecisionRecord is one decision recorded on a batch: who took which
// action on the batch (Row 0) or a row, when and why.
type DecisionRecord struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Action string    `json:"action"` // release, drop, cancel, hold, resume, resubmit, approve
	Row    int       `json:"row,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// ResubmitCommand asks for a child batch of a parent's failed rows: the
// rows given, or every failed row not resubmitted yet (Failed).
type ResubmitCommand struct {
	Batch  string `json:"batch"`
	Rows   []int  `json:"rows,omitempty"`
	Failed bool   `json:"failed,omitempty"`
	By     string `json:"by"`
	// ByUserID is the person's user id when they are signed in: the child
	// batch is theirs, so they can never approve it themselves.
	ByUserID int64  `json:"by_user_id,omitempty"`
	Reason   string `json:"reason"`
}

// ResubmitReply is the child batch made by a ResubmitCommand.
type ResubmitReply struct {
	Batch *BatchSummary `json:"batch,omitempty"` // the child
	// Rows maps each parent row resubmitted to its row in the child.
	Rows  []Resubmitted `json:"rows,omitempty"`
	Error *Error        `json:"error,omitempty"`
}

// Resubmitted is a parent's row and where it went.
type Resubmitted struct {
	ParentRow int `json:"parent_row"`
	ChildRow  int `json:"child_row"`
}

// PrecheckRequest asks the ledger, before an upload, which rows of a file
// would be held by its duplicate guard. Ingest sends the file's rows in
// chunks (PrecheckChunk rows each); nothing is recorded.
type PrecheckRequest struct {
	// Batch is the id the file would get: its own rows (the same file,
	// uploaded before) are not repeats of it.
	Batch string        `json:"batch,omitempty"`
	Rows  []PrecheckRow `json:"rows"`
}

// PrecheckChunk is how many rows one PrecheckRequest carries (well under
// NATS's default 1 MB payload).
const PrecheckChunk = 5000

// PrecheckRow is one row of a file as the guard sees it: its reference,
// its payee key (payout.PayeeKey.String(); empty when the row names none)
// and amount. Line is the file's line, echoed in the answer.
type PrecheckRow struct {
	Line      int          `json:"line"`
	Reference string       `json:"reference"`
	Payee     string       `json:"payee,omitempty"`
	Amount    money.Amount `json:"amount"`
}

// PrecheckReply lists the rows that repeat an earlier row in the ledger.
type PrecheckReply struct {
	Hits  []PrecheckHit `json:"hits,omitempty"`
	Error *Error        `json:"error,omitempty"`
}

// PrecheckHit is a row of the request that repeats an earlier row.
type PrecheckHit struct {
	Line         int    `json:"line"`
	Kind         string `json:"kind"` // repeat | duplicate
	EarlierBatch string `json:"earlier_batch"`
	EarlierRow   int    `json:"earlier_row"`
	Reason       string `json:"reason"` // in words, naming the earlier batch and row
}

// Precheck asks the ledger which rows of a file its duplicate guard would
// hold.
func (c *Client) Precheck(ctx context.Context, req PrecheckRequest) (*PrecheckReply, error) {
	var r PrecheckReply
	if err := c.call(ctx, SubjectBatchPrecheck, req, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return &r, nil
}
