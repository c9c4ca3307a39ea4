// Package ledgerapi is the ledger's request/reply protocol over NATS: the
// messages processors, relays and operator tools exchange with the ledger,
// the job message the ledger releases, and a client. It does not import
// SQLite, so processors on other hosts need only NATS. Its Error and Code
// are payrun's one error vocabulary, which the HTTP answers share
// (internal/httpapi).
//
// The ledger serves these endpoints as a nats.go/micro service named
// "payrun-ledger"; every request and reply is JSON.
package ledgerapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// Subjects of the ledger's endpoints.
const (
	SubjectRowGet        = "payrun.ledger.row.get"        // RowRequest → RowReply
	SubjectRowTransition = "payrun.ledger.row.transition" // Transition → TransitionReply
	SubjectRowGate       = "payrun.ledger.row.gate"       // GateRequest → GateReply
	SubjectBatchGet      = "payrun.ledger.batch.get"      // BatchRequest → BatchReply
	SubjectBatchList     = "payrun.ledger.batch.list"     // BatchListRequest → BatchListReply
	SubjectBatchPrecheck = "payrun.ledger.batch.precheck" // PrecheckRequest → PrecheckReply (ingest, before an upload)
	ServiceName          = "payrun-ledger"
)

// Code says what kind of refusal or failure an Error is. It is payrun's
// one error vocabulary: the ledger's replies over NATS carry it, and every
// HTTP error answer (internal/httpapi) maps it to a status.
type Code string

// Error codes. The first seven are the ledger's transitions'; forbidden
// is also the ledger's (an approval by the uploader, a role missing); the
// others are HTTP's (uploads, sign-in, webhooks).
const (
	CodeNotFound Code = "not_found" // no such batch, row or session
	CodeIllegal  Code = "illegal"   // the transition is not allowed from the row's current state
	CodeStale    Code = "stale"     // the request's guard (expected state, attempt, generation) no longer holds
	CodeInvalid  Code = "invalid"   // the request itself is malformed
	CodeInternal Code = "internal"  // the ledger failed; try again
	// CodeConflict: the row already is in the requested state but the
	// request's facts (payout id, session, error code) disagree with the
	// recorded ones; nothing was changed.
	CodeConflict Code = "conflict"
	// CodeForeignSession: the request names a bank session that is neither
	// the row's session nor its confirm session. The ledger recorded it as
	// evidence (and opened an exception when that session succeeded) but
	// never changes the row for it. The caller should not retry.
	CodeForeignSession Code = "foreign_session"

	CodeUnauthorized Code = "unauthorized" // no valid session, token or signature: who asks is not known
	CodeForbidden    Code = "forbidden"    // who asks is known, but their roles, the policy or the origin do not allow it
	CodeRateLimited  Code = "rate_limited" // too many attempts (sign-in); retry after the time the answer says
	CodeTooLarge     Code = "too_large"    // the request's body is over the limit
	CodeUnavailable  Code = "unavailable"  // a dependency (JetStream) did not take it; retry later
	CodeTooMany      Code = "too_many"     // too many requests of this kind at once (uploads); retry later
	CodeTimeout      Code = "timeout"      // the request's body did not arrive in time
)

// Error is payrun's application error: a Code and a message a user may
// read. The ledger's refusals are Errors whether they come from the
// in-process ledger.Service or over NATS from Client, and an error
// answer over HTTP is {"error": Error}. An error that carries no Error is
// internal: users see "internal error", the log sees the rest.
//
// An Error with no message marks the errors that wrap it
// (fmt.Errorf("batch %s: %w", id, &Error{Code: CodeNotFound})): their
// text is the message.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Errorf returns an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error returns the message, or the code in words when there is none.
func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return strings.ReplaceAll(string(e.Code), "_", " ")
}

// ErrorCode returns the code of the Error in err's chain: CodeInternal
// when there is none, "" for nil.
func ErrorCode(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns what a user may read of err: its text when it
// carries an Error other than CodeInternal, else "internal error" ("" for
// nil).
func ErrorMessage(err error) string {
	switch ErrorCode(err) {
	case "":
		return ""
	case CodeInternal:
		return "internal error"
	}
	return err.Error()
}

// AsError returns err as the Error a reply carries: its code and
// ErrorMessage (nil for nil).
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok && e.Code != CodeInternal && e.Message != "" {
		return e
	}
	return &Error{Code: ErrorCode(err), Message: ErrorMessage(err)}
}

// IsCode reports whether err carries an Error with code.
func IsCode(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Source says who or what caused a transition.
type Source string

// Evidence sources.
const (
	SourceProcessor Source = "processor" // our own call to the bank and its answer
	SourceWebhook   Source = "webhook"   // a verified Bank 131 webhook
	SourceStatus    Source = "status"    // a session/status answer
	SourceReport    Source = "report"    // the bank's daily report
	SourceSweeper   Source = "sweeper"   // the ledger's own re-enqueue or deadline
	SourceOperator  Source = "operator"  // a person, through the ledger command or HTTP
	SourceLedger    Source = "ledger"    // the ledger itself: release, a batch cancellation
	SourceDead      Source = "dead_letter"
)

// Evidence says why a transition happened; the ledger stores it with the
// transition so reconciliation and auditors can follow every change.
type Evidence struct {
	Source   Source `json:"source"`
	HookID   string `json:"hook_id,omitempty"`   // sha256 of the verified webhook body
	HookType string `json:"hook_type,omitempty"` // ready_to_confirm, payment_finished, ...
	Detail   string `json:"detail,omitempty"`    // free text, never a card number
	HookSeq  uint64 `json:"hook_seq,omitempty"`  // the webhook's sequence in PAYRUN_HOOKS (the gate keeps it to ask again)
}

// Quote is an FX quote from bpa/calculate, kept for the gate and the report.
type Quote struct {
	Source      money.Amount `json:"source"`      // what the sender pays, before fees
	Destination money.Amount `json:"destination"` // what the recipient gets
	TransferFee money.Amount `json:"transfer_fee"`
	SMSFee      money.Amount `json:"sms_fee"`
	Payment     money.Amount `json:"payment"` // source + fees
	FXRate      string       `json:"fx_rate"` // decimal text as the bank sent it
	Quantity    int64        `json:"quantity"`
}

// RowState is the ledger's current record of a row.
type RowState struct {
	Batch          string             `json:"batch"`
	Row            int                `json:"row"`
	Reference      string             `json:"reference"`
	Method         payout.Method      `json:"method"`
	Amount         money.Amount       `json:"amount"`
	Recipient      string             `json:"recipient,omitempty"`
	Destination    string             `json:"destination,omitempty"` // masked: "card 424242******4242", "IBAN TR33…1326"
	State          payout.State       `json:"state"`
	BatchStatus    payout.BatchStatus `json:"batch_status"`
	Gen            int                `json:"gen"`     // release generation: bumped on every re-enqueue
	Attempt        int                `json:"attempt"` // bank attempt: bumped when a new session must be opened
	SessionID      string             `json:"session_id,omitempty"`
	ConfirmSession string             `json:"confirm_session,omitempty"` // the one session allowed to reach confirm
	PayoutID       string             `json:"payout_id,omitempty"`
	IdemKey        string             `json:"idem_key,omitempty"` // key of the call recorded by the last intent
	Sent           bool               `json:"sent,omitempty"`     // this attempt recorded a send: its opening call (Transition.Sending), or its start sent again
	IntakeSeq      uint64             `json:"intake_seq"`         // the row's message in PAYRUN_INTAKE
	RowDigest      string             `json:"row_digest"`         // sha256 hex of that message's data
	Quote          *Quote             `json:"quote,omitempty"`
	ErrorCode      string             `json:"error_code,omitempty"`
	Reason         string             `json:"reason,omitempty"`
	ActionURL      string             `json:"action_url,omitempty"` // 3-D Secure link for the sender
	TCN            string             `json:"tcn,omitempty"`        // decoded transfer control number
	Worker         string             `json:"worker,omitempty"`     // the processor that moved the row last
	Fee            *money.Amount      `json:"fee,omitempty"`
	Paid           *money.Amount      `json:"paid,omitempty"`
	MovedAt        time.Time          `json:"moved_at"` // last transition or re-enqueue (the sweeper's clock)
	UpdatedAt      time.Time          `json:"updated_at"`

	// OnHold: the row or its batch is on hold (a person, or the batch's
	// circuit breaker): nothing new starts for it and the gate answers
	// wait, until it is resumed. Cancelled: a person cancelled this row;
	// it settles as the rows of a cancelled batch do.
	OnHold    bool `json:"on_hold,omitempty"`
	Cancelled bool `json:"cancelled,omitempty"`
	// IntakeBatch and IntakeRow name the row the intake message is, when it
	// is not this row: a resubmitted row pays from its parent's message,
	// whose card number is sealed for that row (its associated data); every
	// call to the bank names this row (metadata, idempotency keys).
	IntakeBatch string `json:"intake_batch,omitempty"`
	IntakeRow   int    `json:"intake_row,omitempty"`
	// Card is the encrypted card a recipient entered through their
	// recipient link (the bank's widget) for an encrypted_card row whose
	// intake message has none: the processor pays to it.
	Card *payout.EncryptedCard `json:"card,omitempty"`
}

// RowRequest asks for a row by batch and row number, or by bank session.
type RowRequest struct {
	Batch     string `json:"batch,omitempty"`
	Row       int    `json:"row,omitempty"`
	SessionID string `json:"session_id,omitempty"`
}

// RowReply answers RowRequest.
type RowReply struct {
	Row   *RowState `json:"row,omitempty"`
	Error *Error    `json:"error,omitempty"`
}

// Transition asks the ledger to move a row to To and record what came with
// it. The ledger applies it atomically, in this order of checks:
//
//  1. The row is found by Batch+Row, or by SessionID when Batch is empty
//     (any session the ledger recorded for a row). Unknown: CodeNotFound.
//     To = confirming is refused (CodeIllegal): only the gate sets it.
//  2. Guards: Expect (when not empty) must hold the current state, Attempt
//     (when not 0) the row's attempt, Gen (when not 0) the row's gen;
//     otherwise CodeStale. When the batch is cancelled, moves that start
//     new work (queued, claimed, quoted, opening, starting) are CodeIllegal.
//  3. Session: a SessionID that is neither the row's session nor its
//     confirm session (a row with no session yet adopts it; NewAttempt
//     replaces the old one) is foreign: the ledger records it as evidence,
//     opens a "two bank operations for one row" exception when To is
//     succeeded, never changes the row, and answers CodeForeignSession.
//  4. Repeat: current == To and nothing new (no NewAttempt, no other
//     IdemKey, Worker, Quote or ActionURL) → Applied=false, no error; facts
//     the row lacked (payout id, error code, fee, paid...) are merged.
//     Facts that disagree with the recorded ones → CodeConflict.
//  5. payout.CanMove(current, To) must hold, else CodeIllegal (a
//     succeeded for a failed or cancelled row also opens an exception).
//
// Applied moves log one transition with the Evidence, reset the row's
// sweeper clock, bump Gen when To is queued (the ledger publishes the new
// pay job after the commit), bump Attempt on NewAttempt (the old session
// is recorded as abandoned; the gate cancels it if it ever shows up), and
// record Quote, PayoutID, IdemKey, ErrorCode, Reason, TCN, Fee and Paid
// when given. Refusals carry the current row so the caller can see what
// happened meanwhile.
type Transition struct {
	Batch     string         `json:"batch,omitempty"`
	Row       int            `json:"row,omitempty"`
	SessionID string         `json:"session_id,omitempty"` // locates the row when Batch is empty; else recorded
	To        payout.State   `json:"to"`
	Expect    []payout.State `json:"expect,omitempty"`
	Attempt   int            `json:"attempt,omitempty"`
	Gen       int            `json:"gen,omitempty"`
	// NewAttempt asks the ledger to bump the row's attempt (a new bank session
	// will be opened; the old one, if it ever shows up, is cancelled at the gate).
	NewAttempt bool `json:"new_attempt,omitempty"`
	// Sending records, for a row at opening (To opening, Expect opening),
	// that its call is about to leave: refused like any move to opening
	// when the batch was cancelled or the row moved on, so a processor that
	// gets it applied may send, and one that gets it refused must not.
	Sending bool `json:"sending,omitempty"`
	// WalletShort reports the bank's insufficient_wallet_balance for the
	// row's call or payout: the bank did not pay and the recipient is not
	// at fault. The ledger moves the row back to queued with a new attempt
	// (its next call carries new keys: the refused ones are never reused),
	// puts the batch on hold as HoldByWallet with a waiting_for_funds
	// exception, and resumes it when the wallet covers the batch again.
	// To must be queued.
	WalletShort bool          `json:"wallet_short,omitempty"`
	Worker      string        `json:"worker,omitempty"`
	IdemKey     string        `json:"idem_key,omitempty"`
	PayoutID    string        `json:"payout_id,omitempty"`
	Quote       *Quote        `json:"quote,omitempty"`
	ErrorCode   string        `json:"error_code,omitempty"`
	Reason      string        `json:"reason,omitempty"` // plain-language reason for finance
	ActionURL   string        `json:"action_url,omitempty"`
	TCN         string        `json:"tcn,omitempty"`
	Fee         *money.Amount `json:"fee,omitempty"`
	Paid        *money.Amount `json:"paid,omitempty"` // amount the bank reports as paid out
	// CardLast4 is the last four digits of the card behind a token or
	// widget row, from the bank's token/info, asked once the row is
	// final: a repeat of the row's final state carrying it records it
	// once (rows.last4), and the row's destination shows it ("token …ad44
	// (card …4242)").
	CardLast4 string   `json:"card_last4,omitempty"`
	Evidence  Evidence `json:"evidence"`
}

// TransitionReply answers Transition.
type TransitionReply struct {
	Applied bool      `json:"applied"` // false when the row already was in To (an idempotent repeat)
	Row     *RowState `json:"row,omitempty"`
	Error   *Error    `json:"error,omitempty"`
}

// Observed is what a ready_to_confirm webhook (or session/status) says the
// bank is about to pay; the gate compares it with the row.
type Observed struct {
	Amount      money.Amount  `json:"amount"`                // payout amount_details
	Recipient   string        `json:"recipient,omitempty"`   // recipient's full name, if the bank shows it
	Last4       string        `json:"last4,omitempty"`       // masked card in the payout, if shown
	Token       string        `json:"token,omitempty"`       // tokenized_card token echoed, if shown
	FXRate      string        `json:"fx_rate,omitempty"`     // confirm_information.exchanges[].fx_rate
	Commission  *money.Amount `json:"commission,omitempty"`  // confirm_information.exchanges[].commission
	Source      *money.Amount `json:"source,omitempty"`      // confirm_information.exchanges[].source
	Destination *money.Amount `json:"destination,omitempty"` // confirm_information.exchanges[].destination
}

// GateRequest asks whether a session that reached ready_to_confirm may be
// confirmed. The gate is the only place that lets a session reach confirm;
// its rules, checked in one transaction, in order:
//
//  1. The session already holds the row's confirm: confirm again while the
//     row is confirming (a crashed processor resumes), else ignore.
//  2. Another session holds the confirm → cancel.
//  3. The session is recorded for another row, or as abandoned, cancelled
//     or foreign for this row → cancel.
//  4. The row is terminal → cancel.
//  5. The session must be the row's session; a row in opening without a
//     session adopts it; anything else → cancel (the row is unchanged).
//  6. The batch is cancelled → cancel, and the row becomes cancelled.
//  7. The row must be able to move to confirming (opening, starting,
//     payout_started, in_doubt), else CodeIllegal.
//  8. Observed must match: for card, token and encrypted_card rows the
//     amount and currency exactly, and Last4, Token (by hash) and Recipient
//     when given; for transfers the recorded quote must exist, the side in
//     the row's currency must equal the row's amount exactly (in the quote
//     and at the bank), the rate implied by Observed.Destination ÷
//     Observed.Source must be within the configured tolerance of the quote's
//     (the fx_rate strings are kept as evidence only: the bank writes them
//     in different directions), and Commission within the tolerance of the
//     quote's transfer + SMS fees. A mismatch → cancel, and the row fails
//     with error code gate_mismatch and the reason (an exception is opened).
//     A transfer row with no quote recorded (its session adopted after a
//     restore whose replica lacked the quote) takes the request's Quote, a
//     fresh bpa/calculate answer: it is recorded for the row's attempt and
//     the bank's amounts are checked against it. Without one → mismatch.
//  9. Otherwise the ledger records confirming with ConfirmSession = this
//     session, then answers confirm.
//
// Every decision is kept with Observed, ConfirmInfo and the Evidence.
type GateRequest struct {
	Batch       string          `json:"batch"`
	Row         int             `json:"row"`
	SessionID   string          `json:"session_id"`
	PayoutID    string          `json:"payout_id,omitempty"`
	Observed    Observed        `json:"observed"`
	ConfirmInfo json.RawMessage `json:"confirm_info,omitempty"` // kept verbatim as evidence
	TCN         string          `json:"tcn,omitempty"`
	Worker      string          `json:"worker,omitempty"`
	Evidence    Evidence        `json:"evidence"`
	// Quote is a quote the processor fetched for a transfer row whose
	// RowState has none (rule 8); ignored when the row has one.
	Quote *Quote `json:"quote,omitempty"`
}

// Decision is the gate's answer to a ready_to_confirm session.
type Decision string

// Gate decisions.
const (
	DecisionConfirm Decision = "confirm" // this is the row's session and everything matches: call session/confirm
	DecisionCancel  Decision = "cancel"  // call session/cancel for this session; Reason says why
	DecisionIgnore  Decision = "ignore"  // nothing to do (duplicate hook for a row already past this point)

	// DecisionWait: the row or its batch is on hold; do nothing now. The
	// ledger asks again (a hook or poll job) when it is resumed; the bank's
	// confirm timeout ends the session if it never is.
	DecisionWait Decision = "wait"
)

// GateReply answers GateRequest. A confirm decision is recorded before the
// reply is sent: the row is in StateConfirming with ConfirmSession = the
// request's session, and no other session of the row can get a confirm.
type GateReply struct {
	Decision Decision  `json:"decision"`
	Reason   string    `json:"reason,omitempty"`
	Row      *RowState `json:"row,omitempty"`
	Error    *Error    `json:"error,omitempty"`
}

// BatchRequest asks for one batch.
type BatchRequest struct {
	Batch string `json:"batch"`
}

// BatchCommand is a command on a batch inside the ledger's process (a
// person's go through the HTTP API, which names them).
type BatchCommand struct {
	Batch  string `json:"batch"`
	By     string `json:"by"`     // who asked
	Reason string `json:"reason"` // why (cancel)
}

// BatchSummary is a batch with its counts.
type BatchSummary struct {
	Batch           string             `json:"batch"`
	Name            string             `json:"name,omitempty"`
	FileName        string             `json:"file_name"`
	FileSHA256      string             `json:"file_sha256"`
	Status          payout.BatchStatus `json:"status"`
	Reason          string             `json:"reason,omitempty"` // why rejected or cancelled
	Rows            int                `json:"rows"`
	Totals          money.Totals       `json:"totals"`
	ScheduleAt      *time.Time         `json:"schedule_at,omitempty"`
	RequireApproval bool               `json:"require_approval,omitempty"`
	ApprovedBy      string             `json:"approved_by,omitempty"` // the checkers who approved, comma-separated
	// UploadedBy is who uploaded the batch through the API ("" for a
	// component's publish); PolicyVersion the approval policy it was
	// judged by (0: the default); ApprovalsRequired how many distinct
	// checkers it needs and why, ApprovalsGiven how many approved;
	// ApprovalExpiresAt when it is cancelled if still not approved.
	UploadedBy        string                 `json:"uploaded_by,omitempty"`
	PolicyVersion     int                    `json:"policy_version"`
	ApprovalsRequired int                    `json:"approvals_required"`
	ApprovalsGiven    int                    `json:"approvals_given"`
	ApprovalReasons   []string               `json:"approval_reasons,omitempty"`
	ApprovalExpiresAt *time.Time             `json:"approval_expires_at,omitempty"`
	CreatedAt         time.Time              `json:"created_at"`
	ReleasedAt        *time.Time             `json:"released_at,omitempty"`
	FinishedAt        *time.Time             `json:"finished_at,omitempty"`
	ByState           map[payout.State]int   `json:"by_state"`
	PaidTotals        money.Totals           `json:"paid_totals"`
	FailedTotals      money.Totals           `json:"failed_totals"`
	Exceptions        int                    `json:"exceptions"`
	Extra             map[string]interface{} `json:"extra,omitempty"`

	// Held counts the rows the duplicate guard holds for a person's
	// decision; HeldRows lists the first of them, held or decided, with the
	// decisions taken (one batch only: BatchRequest).
	Held     int    `json:"held,omitempty"`
	HeldRows []Hold `json:"held_rows,omitempty"`
	// Hold is set while the batch is on hold; RowsOnHold counts rows held
	// one by one.
	Hold       *BatchHold `json:"hold,omitempty"`
	RowsOnHold int        `json:"rows_on_hold,omitempty"`
	// Parent is the batch whose failed rows this one resubmits; Children
	// the batches its failed rows were resubmitted in.
	Parent   string   `json:"parent,omitempty"`
	Children []string `json:"children,omitempty"`
}

// Approval is one checker's decision on a batch and what they were shown.
type Approval struct {
	By         string       `json:"by"`
	Decision   string       `json:"decision"` // approve | reject
	FileSHA256 string       `json:"file_sha256"`
	Totals     money.Totals `json:"totals"`
	Reason     string       `json:"reason,omitempty"`
	At         time.Time    `json:"at"`
}

// BatchReply answers BatchRequest and BatchCommand.
type BatchReply struct {
	Batch *BatchSummary `json:"batch,omitempty"`
	Error *Error        `json:"error,omitempty"`
}

// BatchListRequest lists batches, newest first.
type BatchListRequest struct {
	Limit int `json:"limit,omitempty"`
}

// BatchListReply answers BatchListRequest.
type BatchListReply struct {
	Batches []BatchSummary `json:"batches"`
	Error   *Error         `json:"error,omitempty"`
}

// Job kinds.
const (
	JobPay  = "pay"  // drive the row through its Bank 131 flow from wherever it stands
	JobPoll = "poll" // ask session/status about the row's session (its webhook is late)

	// JobHook: handle again the webhook at HookSeq in PAYRUN_HOOKS (a
	// ready_to_confirm the gate answered wait while the row was on hold).
	JobHook = "hook"
)

// Job is the message the ledger publishes on PAYRUN_JOBS (subject
// queue.JobSubject(batch), Nats-Msg-Id queue.JobMsgID(batch,row,gen) — poll
// jobs use gen plus a "p<n>" suffix). It holds no card data: the processor
// reads the row itself from PAYRUN_INTAKE at IntakeSeq and checks RowDigest.
// A pay job may find the row in any state before the bank: a re-enqueue by
// the sweeper bumps Gen but keeps the state, and the processor continues
// from wherever the row stands. A job whose Gen is below the row's is stale
// and is dropped.
type Job struct {
	Kind      string `json:"kind"`
	Batch     string `json:"batch"`
	Row       int    `json:"row"`
	Gen       int    `json:"gen"`
	IntakeSeq uint64 `json:"intake_seq"`
	RowDigest string `json:"row_digest"`
	SessionID string `json:"session_id,omitempty"` // poll jobs
	// HookSeq: for a hook job the webhook to handle again; for a
	// transfer's poll job the last ready_to_confirm the ledger recorded for
	// the session, handled again when session/status shows the session
	// still waits for our confirm (session/status does not carry the
	// confirm_information a confirm must echo).
	HookSeq uint64 `json:"hook_seq,omitempty"`
}
