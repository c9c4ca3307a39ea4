package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/spreadsheet"
)

// columns are the CSV and XLSX columns every report has, in order; the
// description column and the batch's meta_ columns follow them (see
// header).
var columns = []string{
	"row", "reference", "method", "recipient", "destination", "amount", "currency", "status",
	"bank_session", "bank_payout", "fee", "fee_currency", "fx_rate", "destination_amount", "destination_currency",
	"error_code", "reason", "received_at", "finished_at", "updated_at", "attempts",
	"webhook", "session_status", "bank_report", "reconciliation", "exception", "exception_detail",
	"held", "decision", "resubmit",
}

// Columns are the CSV and XLSX columns every report has, in order; then
// come "description" and one meta_<name> column per meta name in the
// batch, sorted.
func Columns() []string { return append([]string(nil), columns...) }

// SummaryColumns head the summary lines (after the rows in CSV, the
// Summary sheet in XLSX).
func SummaryColumns() []string { return append([]string(nil), summaryColumns...) }

// cell is one value of a row or summary line: text, a count, or money
// (decimal text in its currency).
type cell struct {
	text     string
	num      *int
	currency string // money: the amount's currency
}

func textCell(s string) cell { return cell{text: s} }
func intCell(n int) cell     { return cell{text: strconv.Itoa(n), num: &n} }

// moneyCell is decimal text in a currency; no text is an empty cell.
func moneyCell(text, currency string) cell {
	if text == "" {
		return cell{}
	}
	return cell{text: text, currency: currency}
}

func (c *cell) isMoney() bool { return c.currency != "" }

// descriptionColumn follows columns in CSV and XLSX.
const descriptionColumn = "description"

// metaPrefix names a meta column, as in the payout file.
const metaPrefix = "meta_"

// header is the CSV and XLSX rows' header for the meta names: the fixed
// columns, description, then meta_<name> per name (as the file named it).
func header(metaKeys []string) []string {
	h := make([]string, 0, len(columns)+1+len(metaKeys))
	h = append(h, columns...)
	h = append(h, descriptionColumn)
	for _, k := range metaKeys {
		h = append(h, metaPrefix+k)
	}
	return h
}

// cells lays a row out in header(metaKeys) order into buf (reused).
func (row *Row) cells(metaKeys []string, buf []cell) []cell {
	var cats, details []string
	for _, e := range row.Exceptions {
		cats = append(cats, string(e.Category))
		details = append(details, e.text())
	}
	buf = append(buf[:0],
		intCell(row.Row), textCell(row.Reference), textCell(row.Method), textCell(row.Recipient), textCell(row.Destination),
		moneyCell(row.Amount, row.Currency), textCell(row.Currency), textCell(row.Status), textCell(row.BankSession),
		textCell(row.BankPayout), moneyCell(row.Fee, row.FeeCurrency), textCell(row.FeeCurrency), textCell(row.FXRate),
		moneyCell(row.DestinationAmount, row.DestinationCurrency), textCell(row.DestinationCurrency),
		textCell(row.ErrorCode), textCell(row.Reason), textCell(row.ReceivedAt), textCell(row.FinishedAt), textCell(row.UpdatedAt),
		intCell(row.Attempts), textCell(row.Webhook), textCell(row.SessionStatus), textCell(row.BankReport),
		textCell(row.Reconciliation), textCell(strings.Join(cats, "; ")), textCell(strings.Join(details, " | ")),
		textCell(row.Held), textCell(row.Decision), textCell(row.Resubmit), textCell(row.Description))
	for _, k := range metaKeys {
		buf = append(buf, textCell(row.Meta[k]))
	}
	return buf
}

// summaryColumns head the summary lines.
var summaryColumns = []string{"section", "item", "currency", "count", "amount", "detail"}

// summaryLines lays the summary out as lines of summaryColumns.
func (rep *Report) summaryLines() [][]cell {
	var out [][]cell
	kv := func(k, v string) { out = append(out, []cell{textCell("batch"), textCell(k), {}, {}, {}, textCell(v)}) }
	b := rep.Batch
	kv("id", b.ID)
	kv("name", b.Name)
	kv("file_name", b.FileName)
	kv("file_sha256", b.FileSHA256)
	kv("status", b.Status)
	kv("reason", b.Reason)
	kv("created_at", b.CreatedAt)
	kv("released_at", b.ReleasedAt)
	kv("finished_at", b.FinishedAt)
	kv("generated_from_ledger_state_at", rep.AsOf)
	s := rep.Summary
	out = append(out, []cell{textCell("rows"), textCell("total"), {}, intCell(s.Rows), {}, {}})
	amounts := func(section, item string, rows int, as []Amount) {
		counted := len(as) > 0
		for _, a := range as {
			counted = counted && a.Rows > 0
		}
		if !counted {
			out = append(out, []cell{textCell(section), textCell(item), {}, intCell(rows), {}, {}})
		}
		for _, a := range as {
			n := cell{}
			if counted {
				n = intCell(a.Rows)
			}
			out = append(out, []cell{textCell(section), textCell(item), textCell(a.Currency), n, moneyCell(a.Amount, a.Currency), {}})
		}
	}
	for _, st := range s.ByState {
		amounts("state", st.State, st.Rows, st.Amounts)
	}
	for _, rc := range s.ByReconciliation {
		out = append(out, []cell{textCell("reconciliation"), textCell(string(rc.Status)), {}, intCell(rc.Rows), {}, {}})
	}
	for _, t := range s.Totals {
		amounts("total", t.What, t.Rows, t.Amounts)
	}
	for _, c := range s.ExceptionCounts {
		out = append(out, []cell{textCell("exceptions"), textCell(string(c.Category)), {}, intCell(c.Count), {}, textCell(c.Label)})
	}
	for _, e := range s.Exceptions {
		item := "batch"
		if e.Row > 0 {
			item = rowLabel(e.Row, e.Reference)
		}
		out = append(out, []cell{textCell("exception"), textCell(item), {}, {}, {}, textCell(string(e.Category) + ": " + e.text())})
	}
	return out
}

// WriteCSV writes the rows (one line each, header first), an empty line,
// and the summary lines under their own header. Every record has the same
// number of fields, so any CSV reader takes the file as one table. No
// cell is a formula (spreadsheet.SafeCell).
func (rep *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	keys := rep.metaKeys()
	head := header(keys)
	rec := make([]string, len(head))
	put := func(cells []cell) error {
		clear(rec)
		for i, c := range cells {
			rec[i] = spreadsheet.SafeCell(c.text)
		}
		return cw.Write(rec)
	}
	heading := func(names []string) error {
		clear(rec)
		copy(rec, names)
		return cw.Write(rec)
	}
	if err := heading(head); err != nil {
		return fmt.Errorf("write CSV report: %w", err)
	}
	var buf []cell
	for i := range rep.Rows {
		buf = rep.Rows[i].cells(keys, buf)
		if err := put(buf); err != nil {
			return fmt.Errorf("write CSV report: %w", err)
		}
	}
	cw.Flush()
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write CSV report: %w", err)
	}
	if err := heading(summaryColumns); err != nil {
		return fmt.Errorf("write CSV report: %w", err)
	}
	for _, l := range rep.summaryLines() {
		if err := put(l); err != nil {
			return fmt.Errorf("write CSV report: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV report: %w", err)
	}
	return nil
}
