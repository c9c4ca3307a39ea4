// Package report is a batch's reconciliation report: its layout (the
// model built from the ledger's state and the reconciliation) and its
// CSV, JSON and XLSX files. The ledger reads the state; this package
// decides what finance sees; internal/workbook writes its XLSX file.
package report

import (
	"errors"
	"io"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// Report formats: the rows as CSV, the summary as a CSV file of its own
// (so that the rows' file is one table that filters, pivots and 1C's
// import take as it is), JSON (both) and XLSX (a Rows and a Summary
// sheet).
const (
	FormatCSV        = "csv"
	FormatSummaryCSV = "summary.csv"
	FormatJSON       = "json"
	FormatXLSX       = "xlsx"
)

// Formats lists the formats Report.Write knows.
var Formats = []string{FormatCSV, FormatSummaryCSV, FormatJSON, FormatXLSX}

// ErrFormat is returned by Report.Write for a format it does not know.
var ErrFormat = errors.New("unknown report format")

// Layout says how a report's files are written beyond its words.
type Layout struct {
	// Dialect of the CSV files; "" is DefaultDialect(the report's Lang).
	Dialect spreadsheet.Dialect
	// Zone is the time zone of XLSX date cells and of excel-ru CSV times
	// (rfc4180 CSV and JSON keep RFC 3339 UTC); nil is Europe/Moscow
	// (bank131.ReportZone).
	Zone *time.Location
}

// DefaultDialect is a report's CSV dialect when none is asked for:
// excel-ru for a Russian report, rfc4180 for an English one (as the
// payout file templates, spreadsheet.DialectFor).
func DefaultDialect(lang string) spreadsheet.Dialect {
	return spreadsheet.DialectFor(reason.Lang(lang))
}

// with fills the layout's defaults for the report.
func (l Layout) with(rep *Report) Layout { return l.withLang(rep.Lang) }

// withLang fills the layout's defaults for a report in lang.
func (l Layout) withLang(lang string) Layout {
	if l.Dialect == "" {
		l.Dialect = DefaultDialect(lang)
	}
	if l.Zone == nil {
		l.Zone = bank131.ReportZone()
	}
	return l
}

// Report is a batch's reconciliation report: one line per row and a
// summary. It is built from the ledger's state alone (times are the ones
// recorded, AsOf is the latest of them), so the same state gives the same
// report, byte for byte in CSV and JSON and cell for cell in XLSX. It holds
// no card number: destinations are the masked ones the ledger keeps, and
// free text (reasons, exception details, the file's description and meta_
// columns) passes the card-number redaction (cardmask.Redact).
//
// Its words (reasons, what to do next, labels, notes) are in one language,
// Lang (Localize); the CSV and XLSX headers and the values they translate
// (states, methods, reconciliation statuses) follow it. JSON keys and codes
// stay English in both.
type Report struct {
	Batch Batch `json:"batch"`
	// AsOf: the report shows the ledger's state at this time (the latest
	// time recorded for the batch), RFC 3339 UTC.
	AsOf string `json:"as_of"`
	// Lang is the language of the report's words: "en" or "ru".
	Lang    string  `json:"lang"`
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

// Row is one row of the batch. A new field reaches CSV and XLSX through
// one line of rowColumns (columns.go).
type Row struct {
	Row         int    `json:"row"`
	Reference   string `json:"reference"`
	Method      string `json:"method"`
	Recipient   string `json:"recipient,omitempty"`
	Destination string `json:"destination"` // masked
	Amount      string `json:"amount"`      // decimal major units
	Currency    string `json:"currency"`
	AmountMinor int64  `json:"amount_minor"`
	Status      string `json:"status"` // the row's state
	// Fee is the bank's fee for the row (its daily report, webhooks).
	Fee         string `json:"fee,omitempty"`
	FeeCurrency string `json:"fee_currency,omitempty"`
	// Transfers, from the quote: the source side (what is paid from, in
	// the source currency), the rate as the bank wrote it, the
	// destination side (what the recipient gets) and the commission
	// (transfer and SMS fee, in the source currency).
	SourceAmount        string `json:"source_amount,omitempty"`
	SourceCurrency      string `json:"source_currency,omitempty"`
	FXRate              string `json:"fx_rate,omitempty"`
	DestinationAmount   string `json:"destination_amount,omitempty"`
	DestinationCurrency string `json:"destination_currency,omitempty"`
	Commission          string `json:"commission,omitempty"`
	CommissionCurrency  string `json:"commission_currency,omitempty"`
	// Transfers: the transfer control number the recipient collects the
	// money with, and the 3-D Secure link for the sender, when the ledger
	// recorded it and until when it is open (ActionAt +
	// bank131.ThreeDSLinkLifetime, an estimate), RFC 3339 UTC.
	TCN             string `json:"tcn,omitempty"`
	ActionURL       string `json:"action_url,omitempty"`
	ActionAt        string `json:"action_at,omitempty"`
	ActionExpiresAt string `json:"action_expires_at,omitempty"`
	ErrorCode       string `json:"error_code,omitempty"`
	// Reason says why in the report's language (internal/reason's
	// catalogue, for the error code or the state), NextStep what to do
	// next; ReasonDetail is what the ledger recorded when it says more
	// (the gate's figures, an operator's words).
	Reason         string      `json:"reason,omitempty"`
	NextStep       string      `json:"next_step,omitempty"`
	ReasonDetail   string      `json:"reason_detail,omitempty"`
	ReceivedAt     string      `json:"received_at"`
	FinishedAt     string      `json:"finished_at,omitempty"`
	UpdatedAt      string      `json:"updated_at"`
	Attempts       int         `json:"attempts"`
	BankSession    string      `json:"bank_session,omitempty"`
	BankPayout     string      `json:"bank_payout,omitempty"`
	Webhook        string      `json:"webhook,omitempty"`        // the bank's last finishing webhook for the row's session
	SessionStatus  string      `json:"session_status,omitempty"` // what session/status said last
	BankReport     string      `json:"bank_report,omitempty"`    // the operations the bank's reports list for the row
	Reconciliation string      `json:"reconciliation"`
	Exceptions     []Exception `json:"exceptions,omitempty"`
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

// TotalLine is one of the summary's totals (totalNames, then manifest),
// with a note in the report's language saying what it sums.
type TotalLine struct {
	What    string   `json:"what"`
	Rows    int      `json:"rows"`
	Amounts []Amount `json:"amounts"`
	Note    string   `json:"note"`
}

// CategoryCount counts open exceptions of a category.
type CategoryCount struct {
	Category reconcile.Category `json:"category"`
	Label    string             `json:"label"`
	Count    int                `json:"count"`
}

// Write writes the report in format (Formats) in the default layout.
func (rep *Report) Write(w io.Writer, format string) error {
	return rep.WriteLayout(w, format, Layout{})
}

// WriteLayout writes the report in format, in the layout l (Source).
func (rep *Report) WriteLayout(w io.Writer, format string, l Layout) error {
	return rep.Source().WriteLayout(w, format, l)
}

// FileName is the report's download name in format: payrun-report-<id>
// (with -ru for a Russian report) and .csv, -summary.csv, .json, .xlsx.
func (rep *Report) FileName(format string) string {
	name := "payrun-report-" + rep.Batch.ID
	if reason.Lang(rep.Lang) == reason.Russian {
		name += "-ru"
	}
	if format == FormatSummaryCSV {
		return name + "-summary.csv"
	}
	return name + "." + format
}
