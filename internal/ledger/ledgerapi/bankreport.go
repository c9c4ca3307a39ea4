package ledgerapi

import (
	"context"

	"github.com/payrun/payrun/internal/money"
)

// SubjectReportImport receives a bank daily report in chunks
// (ReportChunk → ReportImportReply); the running ledger records it.
const SubjectReportImport = "payrun.ledger.report.import"

// BankReportLine is one operation of Bank 131's daily report of successful
// operations, as the bank wrote it (amounts converted from major units).
type BankReportLine struct {
	Line            int           `json:"line"`         // 1-based data line in the file
	OperationID     string        `json:"operation_id"` // the payout (or refund) id
	SessionID       string        `json:"session_id"`
	Metadata        string        `json:"metadata,omitempty"` // our metadata, echoed: {"payrun":"<batch>/<row>",...}
	Type            string        `json:"type"`               // Advice (paid) | Refund (returned)
	TransactionDate string        `json:"transaction_date"`   // YYYY-MM-DD
	FinishedAt      string        `json:"finished_at"`        // as the bank wrote it
	Amount          money.Amount  `json:"amount"`
	Fee             *money.Amount `json:"fee,omitempty"`
	PaymentFast     string        `json:"payment_fast,omitempty"`
	PaymentMethod   string        `json:"payment_method,omitempty"`
	Contract        string        `json:"contract,omitempty"`
}

// Report line types.
const (
	ReportAdvice = "Advice" // a successful payout
	ReportRefund = "Refund" // a payout returned after success
)

// ReportChunk carries part of a bank report to the ledger. Every chunk of
// one file names the file by its SHA-256 (Report) and the total number of
// lines; the one with Final set completes the import (the ledger checks
// that it recorded Total lines) and records the days the report covers.
// Chunks may be resent: lines already recorded are skipped, and a report
// already complete changes nothing.
type ReportChunk struct {
	Report string           `json:"report"` // sha256 hex of the file's bytes
	Source string           `json:"source"` // file name or URL, for the record
	Days   []string         `json:"days"`   // YYYY-MM-DD the report covers
	Total  int              `json:"total"`  // lines in the whole file
	Lines  []BankReportLine `json:"lines"`
	Final  bool             `json:"final,omitempty"`
}

// ReportImport is what importing a bank report did.
type ReportImport struct {
	Report   string   `json:"report"` // sha256 hex of the file
	Source   string   `json:"source"`
	Days     []string `json:"days"`
	Lines    int      `json:"lines"`             // lines in the file
	New      int      `json:"new"`               // lines recorded by this import
	Already  bool     `json:"already,omitempty"` // the file was imported before: nothing changed
	Settled  int      `json:"settled"`           // rows the report moved (in doubt → succeeded, succeeded → returned, ...)
	Unknown  int      `json:"unknown"`           // operations naming no row of ours
	Batches  []string `json:"batches,omitempty"` // batches reconciled after the import
	Opened   int      `json:"opened"`            // exceptions opened by the import and its reconciliation
	Complete bool     `json:"complete"`          // every line recorded and the days marked covered
}

// ReportImportReply answers ReportChunk.
type ReportImportReply struct {
	Import *ReportImport `json:"import,omitempty"`
	Error  *Error        `json:"error,omitempty"`
}

// ImportReportChunk sends one chunk of a bank report to the running ledger.
func (c *Client) ImportReportChunk(ctx context.Context, chunk ReportChunk) (*ReportImport, error) {
	var r ReportImportReply
	if err := c.call(ctx, SubjectReportImport, chunk, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return r.Import, nil
}
