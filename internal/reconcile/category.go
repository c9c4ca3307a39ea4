package reconcile

import (
	"slices"
	"sort"
	"strings"
)

// Category is what an exception is about: the one list of the categories
// the ledger opens (its transitions, sweeper, intake and webhooks) and the
// reconciliation finds, with their labels and their order.
type Category string

// Exception categories, in the order reports list them.
const (
	PaidNotInRecords     Category = "paid_not_in_records"    // the bank paid an operation that names no row of ours
	PaidAfterCancel      Category = "paid_after_cancel"      // the bank says paid while we say failed or cancelled (or the batch was rejected)
	AmountMismatch       Category = "amount_mismatch"        // the bank paid another amount or currency than the row's
	TwoOperations        Category = "two_operations"         // the bank reports a second operation or session for one row
	MissingFromReport    Category = "missing_from_report"    // a success on a day a bank report covers, missing from it
	ReturnedAfterSuccess Category = "returned_after_success" // paid, then returned by the recipient's bank
	InDoubt              Category = "in_doubt"               // a row stayed in_doubt past the doubt deadline
	StalledAtBank        Category = "stalled_at_bank"        // a row at the bank had no final word past its deadline
	BatchTotals          Category = "batch_totals"           // the rows do not add up to the manifest, or paid ≠ reported
	GateMismatch         Category = "gate_mismatch"          // the gate refused the row's own session
	DeadLetter           Category = "dead_letter"            // a job or webhook exhausted its deliveries
	UnmatchedHook        Category = "unmatched_hook"         // a webhook names a row the ledger does not know
	Manifest             Category = "manifest"               // a batch was rejected, or a second manifest differs
	RowConflict          Category = "row_conflict"           // a row arrived again with different data
	LateRow              Category = "late_row"               // a row arrived after its batch's manifest
	IntakeInvalid        Category = "intake_invalid"         // an intake message the ledger cannot read
	HeldRows             Category = "held_rows"              // the duplicate guard holds rows of the batch for a person's decision
	BankFailures         Category = "bank_failures"          // many rows failed with one bank code: the breaker put the batch on hold
	WaitingForFunds      Category = "waiting_for_funds"      // our wallet does not cover the batch: it waits until a top-up
	UnreadableHook       Category = "unreadable_hook"        // a verified webhook payrun could not read; kept whole, the row is polled
)

// Categories lists every category in report order.
var Categories = []Category{
	PaidNotInRecords, PaidAfterCancel, AmountMismatch, TwoOperations, MissingFromReport, ReturnedAfterSuccess,
	InDoubt, StalledAtBank, BatchTotals, GateMismatch, DeadLetter, UnmatchedHook, Manifest, RowConflict, LateRow,
	IntakeInvalid, HeldRows, BankFailures, WaitingForFunds, UnreadableHook,
}

// labels say what each category means, for finance.
var labels = map[Category]string{
	PaidNotInRecords:     "paid but not in our records",
	PaidAfterCancel:      "bank says paid while we say failed",
	AmountMismatch:       "amount or currency mismatch",
	TwoOperations:        "two bank operations for one row",
	MissingFromReport:    "success missing from the bank's report",
	ReturnedAfterSuccess: "returned after success",
	InDoubt:              "in doubt past its deadline",
	StalledAtBank:        "no final word from the bank past its deadline",
	BatchTotals:          "batch totals do not add up",
	GateMismatch:         "bank's payout did not match the row; cancelled at the gate",
	DeadLetter:           "job or webhook exhausted its deliveries",
	UnmatchedHook:        "webhook for a row we do not know",
	Manifest:             "batch rejected or its manifest differs",
	RowConflict:          "row arrived again with different data",
	LateRow:              "row arrived after its batch was sealed",
	IntakeInvalid:        "intake message unreadable",
	HeldRows:             "rows held as repeats or probable duplicates; a person decides",
	BankFailures:         "many rows failed with the same bank code; batch on hold",
	WaitingForFunds:      "our wallet is short: top up the wallet; the batch waits and goes on by itself",
	UnreadableHook:       "a verified webhook we could not read; kept, the row is polled",
}

// Label says in plain words what the category means; a category this
// list does not know (a newer ledger's) reads as its name in words.
func (c Category) Label() string {
	if l, ok := labels[c]; ok {
		return l
	}
	return strings.ReplaceAll(string(c), "_", " ")
}

// rank is the category's place in Categories; unknown ones come last.
func (c Category) rank() int {
	if i := slices.Index(Categories, c); i >= 0 {
		return i
	}
	return len(Categories)
}

// Owned reports whether the reconciliation closes exceptions of the
// category again when what it found no longer holds (a late report line
// arrived, a batch now adds up). The others stay open until a person
// closes them.
func (c Category) Owned() bool { return c == MissingFromReport || c == BatchTotals }

// SortCategories sorts categories in report order, unknown ones last by
// name.
func SortCategories(cs []Category) {
	sort.Slice(cs, func(i, j int) bool {
		if ri, rj := cs[i].rank(), cs[j].rank(); ri != rj {
			return ri < rj
		}
		return cs[i] < cs[j]
	})
}

// Status is a row's reconciliation status.
type Status string

// Reconciliation statuses, in report order (Statuses).
const (
	StatusMatched        Status = "matched"         // our record, the bank's webhooks and its report agree (or nothing was paid and the bank reports nothing)
	StatusAwaitingBank   Status = "awaiting_bank"   // not final yet: queued, at the bank, or waiting for its answer
	StatusAwaitingReport Status = "awaiting_report" // paid by webhook or session/status; no imported report covers the day yet
	StatusException      Status = "exception"       // an open exception names the row; see its categories
)

// Statuses lists the reconciliation statuses in report order.
var Statuses = []Status{StatusMatched, StatusAwaitingBank, StatusAwaitingReport, StatusException}
