// Package report is a batch's reconciliation report: its layout (the
// model built from the ledger's state and the reconciliation) and its
// CSV, JSON and XLSX files. The ledger reads the state; this package
// decides what finance sees. It is the only package that uses excelize.
package report

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/payrun/payrun/internal/reconcile"
)

// Report formats.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
	FormatXLSX = "xlsx"
)

// Formats lists the formats Report.Write knows.
var Formats = []string{FormatCSV, FormatJSON, FormatXLSX}

// ErrFormat is returned by Report.Write for a format it does not know.
var ErrFormat = errors.New("unknown report format")

// Report is a batch's reconciliation report: one line per row and a
// summary. It is built from the ledger's state alone (times are the ones
// recorded, AsOf is the latest of them), so the same state gives the same
// report, byte for byte in CSV and JSON and cell for cell in XLSX. It holds
// no card number: destinations are the masked ones the ledger keeps, and
// free text (reasons, exception details, the file's description and meta_
// columns) passes the card-number redaction (internal/report/redact).
type Report struct {
	Batch Batch `json:"batch"`
	// AsOf: the report shows the ledger's state at this time (the latest
	// time recorded for the batch), RFC 3339 UTC.
	AsOf    string  `json:"as_of"`
	Summary Summary `json:"summary"`
	Rows    []Row   `json:"rows"`
}

// Batch describes the batch.
type Batch struct {
	ID              string   `json:"id"`
	Name            string   `json:"name,omitempty"`
	FileName        string   `json:"file_name"`
	FileSHA256      string   `json:"file_sha256"`
	Status          string   `json:"status"`
	Reason          string   `json:"reason,omitempty"`
	CreatedAt       string   `json:"created_at"`
	ScheduleAt      string   `json:"schedule_at,omitempty"`
	RequireApproval bool     `json:"require_approval,omitempty"`
	ApprovedBy      string   `json:"approved_by,omitempty"`
	ReleasedAt      string   `json:"released_at,omitempty"`
	FinishedAt      string   `json:"finished_at,omitempty"`
	ManifestRows    int      `json:"manifest_rows"`
	ManifestTotals  []Amount `json:"manifest_totals"`
}

// Amount is money as finance writes it: decimal major units and the
// currency ("1500.00", "RUB"), with the exact minor units for programs.
type Amount struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Minor    int64  `json:"minor"`
	Rows     int    `json:"rows,omitempty"` // in sums: how many rows (or operations) make it up
}

// Row is one row of the batch.
type Row struct {
	Row                 int         `json:"row"`
	Reference           string      `json:"reference"`
	Method              string      `json:"method"`
	Recipient           string      `json:"recipient,omitempty"`
	Destination         string      `json:"destination"` // masked
	Amount              string      `json:"amount"`      // decimal major units
	Currency            string      `json:"currency"`
	AmountMinor         int64       `json:"amount_minor"`
	Status              string      `json:"status"` // the row's state
	BankSession         string      `json:"bank_session,omitempty"`
	BankPayout          string      `json:"bank_payout,omitempty"`
	Fee                 string      `json:"fee,omitempty"`
	FeeCurrency         string      `json:"fee_currency,omitempty"`
	FXRate              string      `json:"fx_rate,omitempty"`            // transfers: the quote's rate as the bank wrote it
	DestinationAmount   string      `json:"destination_amount,omitempty"` // transfers: what the recipient gets
	DestinationCurrency string      `json:"destination_currency,omitempty"`
	ErrorCode           string      `json:"error_code,omitempty"`
	Reason              string      `json:"reason,omitempty"` // plain language
	ReceivedAt          string      `json:"received_at"`
	FinishedAt          string      `json:"finished_at,omitempty"`
	UpdatedAt           string      `json:"updated_at"`
	Attempts            int         `json:"attempts"`
	Webhook             string      `json:"webhook,omitempty"`        // the bank's last finishing webhook for the row's session
	SessionStatus       string      `json:"session_status,omitempty"` // what session/status said last
	BankReport          string      `json:"bank_report,omitempty"`    // the operations the bank's reports list for the row
	Reconciliation      string      `json:"reconciliation"`
	Exceptions          []Exception `json:"exceptions,omitempty"`
	// Held says why the row was stopped: held by the duplicate guard (the
	// earlier row it repeats), or on hold or cancelled by a person;
	// Decision what a person decided about a held row, who and why;
	// Resubmit where a failed row went (or, in a child batch, where the
	// row came from).
	Held        string `json:"held,omitempty"`
	Decision    string `json:"decision,omitempty"`
	Resubmit    string `json:"resubmit,omitempty"`
	Description string `json:"description,omitempty"` // the file's description column
	// Meta holds the row's meta_<name> columns by name (without the
	// prefix), as finance wrote them; {} when the row has none.
	Meta map[string]string `json:"meta"`
}

// Exception is an open exception in a report.
type Exception struct {
	Category  reconcile.Category `json:"category"`
	Label     string             `json:"label"`
	Row       int                `json:"row,omitempty"`
	Reference string             `json:"reference,omitempty"`
	Detail    string             `json:"detail"`
	OpenedAt  string             `json:"opened_at,omitempty"` // empty: found by this reconciliation, not recorded yet
}

// text is the exception in words: its label, then its detail (the label
// is left out when the detail says it already).
func (e *Exception) text() string {
	if strings.Contains(strings.ToLower(e.Detail), strings.ToLower(e.Label)) {
		return e.Detail
	}
	return e.Label + ": " + e.Detail
}

// Summary sums the batch up.
type Summary struct {
	Rows             int             `json:"rows"`
	ByState          []StateCount    `json:"by_state"`
	ByReconciliation []StatusCount   `json:"by_reconciliation"`
	Totals           []TotalLine     `json:"totals"`
	ExceptionCounts  []CategoryCount `json:"exception_counts"`
	Exceptions       []Exception     `json:"exceptions"`
}

// StateCount counts a state's rows and sums their amounts per currency.
type StateCount struct {
	State   string   `json:"state"`
	Rows    int      `json:"rows"`
	Amounts []Amount `json:"amounts"`
}

// StatusCount counts rows of a reconciliation status.
type StatusCount struct {
	Status reconcile.Status `json:"status"`
	Rows   int              `json:"rows"`
}

// TotalLine is one of the summary's totals: requested, paid, returned,
// failed, cancelled, pending, fees, bank_reported, manifest.
type TotalLine struct {
	What    string   `json:"what"`
	Rows    int      `json:"rows"`
	Amounts []Amount `json:"amounts"`
}

// CategoryCount counts open exceptions of a category.
type CategoryCount struct {
	Category reconcile.Category `json:"category"`
	Label    string             `json:"label"`
	Count    int                `json:"count"`
}

// Write writes the report in format (csv, json or xlsx).
func (rep *Report) Write(w io.Writer, format string) error {
	switch format {
	case FormatCSV:
		return rep.WriteCSV(w)
	case FormatJSON:
		return rep.WriteJSON(w)
	case FormatXLSX:
		return rep.WriteXLSX(w)
	}
	return fmt.Errorf("%w %q (want csv, json or xlsx)", ErrFormat, format)
}

// FileName is the report's download name in format.
func (rep *Report) FileName(format string) string {
	return "payrun-report-" + rep.Batch.ID + "." + format
}
