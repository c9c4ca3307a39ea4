package ledgerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/payrun/payrun/internal/bank131"
)

// SubjectReportImport receives a bank daily report in chunks
// (ReportChunk → ReportImportReply); the running ledger records it.
const SubjectReportImport = "payrun.ledger.report.import"

// ReportChunk carries part of a bank report to the ledger. Every chunk of
// one file names the file by its SHA-256 (Report) and the total number of
// lines; the one with Final set completes the import (the ledger checks
// that it recorded Total lines) and records the days the report covers.
// Chunks may be resent: lines already recorded are skipped, and a report
// already complete changes nothing.
type ReportChunk struct {
	Report string   `json:"report"` // sha256 hex of the file's bytes (of its parts' digests when read from several)
	Source string   `json:"source"` // file name or URL, for the record
	Days   []string `json:"days"`   // YYYY-MM-DD the report covers
	// Part is the part of a split report the file is (bank131.DailyReport.Part); 0: whole.
	Part  int                  `json:"part,omitempty"`
	Files []bank131.ReportFile `json:"files,omitempty"` // how its tables were read (first chunk)
	Total int                  `json:"total"`           // lines in the whole file
	Lines []bank131.ReportLine `json:"lines"`
	Final bool                 `json:"final,omitempty"`
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
	Complete bool     `json:"complete"`          // every line recorded and the days recorded
	// Fees is how many rows got the bank's fee from the report (rows a
	// webhook had settled without one included).
	Fees int `json:"fees"`
	// Partial lists the days that were not over in the bank's time zone
	// when the report was imported: it lists some of their operations and
	// never covers them.
	Partial []string `json:"partial,omitempty"`
	// Covered lists the days the reports now cover completely (this one
	// and the parts imported before).
	Covered []string `json:"covered,omitempty"`
	// NotPaid is how many in-doubt rows the complete reports proved never
	// reached the bank: settled failed (not_in_bank_report).
	NotPaid int `json:"not_paid,omitempty"`
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

// Chunks splits a parsed bank report into ReportChunk messages of at most
// about maxBytes of JSON each (≤ 0: 512 KiB), the last one Final. An empty
// report is one final chunk.
func Chunks(rep *bank131.DailyReport, maxBytes int) []ReportChunk {
	if maxBytes <= 0 {
		maxBytes = 512 << 10
	}
	head := ReportChunk{Report: rep.ID, Source: rep.Source, Days: rep.Days, Part: rep.Part, Total: len(rep.Lines)}
	var out []ReportChunk
	cur, size := head, 512
	cur.Files = rep.Files
	for _, l := range rep.Lines {
		b, _ := json.Marshal(l)
		if len(cur.Lines) > 0 && size+len(b)+1 > maxBytes {
			out = append(out, cur)
			cur, size = head, 512
		}
		cur.Lines = append(cur.Lines, l)
		size += len(b) + 1
	}
	cur.Final = true
	return append(out, cur)
}

// SendChunks sends a report's chunks in order through send and adds up
// the answers. When the ledger answers that the report was imported
// before, only the final chunk follows, without its lines (it may add days
// the report now covers).
func SendChunks(chunks []ReportChunk, send func(ReportChunk) (*ReportImport, error)) (*ReportImport, error) {
	total := &ReportImport{}
	for i := 0; i < len(chunks); i++ {
		part, err := send(chunks[i])
		if err != nil {
			return nil, err
		}
		total.add(part)
		if part.Already && i < len(chunks)-1 {
			last := chunks[len(chunks)-1]
			last.Lines = nil
			chunks[len(chunks)-1] = last
			i = len(chunks) - 2
		}
	}
	return total, nil
}

// SendBankReport sends a parsed report to the running ledger in chunks
// that fit maxBytes (the connection's max payload, say).
func SendBankReport(ctx context.Context, c *Client, rep *bank131.DailyReport, maxBytes int) (*ReportImport, error) {
	res, err := SendChunks(Chunks(rep, maxBytes), func(ch ReportChunk) (*ReportImport, error) {
		return c.ImportReportChunk(ctx, ch)
	})
	if err != nil {
		return nil, fmt.Errorf("send bank report %s: %w", rep.Source, err)
	}
	return res, nil
}

// add adds a chunk's answer to the running total of an import.
func (total *ReportImport) add(part *ReportImport) {
	total.Report, total.Source, total.Days = part.Report, part.Source, part.Days
	total.Lines = part.Lines
	total.New += part.New
	total.Settled += part.Settled
	total.Unknown += part.Unknown
	total.Opened += part.Opened
	total.Already = part.Already // the final chunk's answer decides
	total.Complete = part.Complete
	total.Fees += part.Fees
	total.NotPaid += part.NotPaid
	if part.Complete {
		total.Partial, total.Covered = part.Partial, part.Covered
	}
	for _, b := range part.Batches {
		if !slices.Contains(total.Batches, b) {
			total.Batches = append(total.Batches, b)
		}
	}
	slices.Sort(total.Batches)
}

// ErrorNotInBankReport is the error code of a row the bank's complete daily
// reports proved not paid: a single-request payout in doubt whose request
// never reached the bank (no session, no webhook, and no line in the
// reports of the day it was sent and the next). Its failure is final for
// the attempt: the row may be sent again (a resubmit), never twice paid.
const ErrorNotInBankReport = "not_in_bank_report"
