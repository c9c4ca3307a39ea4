package ledger

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/spreadsheet"
)

// Report formats.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
	FormatXLSX = "xlsx"
)

// ReportFormats lists the formats Report.Write knows.
var ReportFormats = []string{FormatCSV, FormatJSON, FormatXLSX}

// Report is a batch's reconciliation report: one line per row and a
// summary. It is built from the ledger's state alone (times are the ones
// recorded, AsOf is the latest of them), so the same state gives the same
// report, byte for byte in CSV and JSON and cell for cell in XLSX. It holds
// no card number: destinations are the masked ones the ledger keeps, and
// free text (reasons, the file's description and meta_ columns) is passed
// through redactCards.
type Report struct {
	Batch ReportBatch `json:"batch"`
	// AsOf: the report shows the ledger's state at this time (the latest
	// time recorded for the batch), RFC 3339 UTC.
	AsOf    string        `json:"as_of"`
	Summary ReportSummary `json:"summary"`
	Rows    []ReportRow   `json:"rows"`
}

// ReportBatch describes the batch.
type ReportBatch struct {
	ID              string         `json:"id"`
	Name            string         `json:"name,omitempty"`
	FileName        string         `json:"file_name"`
	FileSHA256      string         `json:"file_sha256"`
	Status          string         `json:"status"`
	Reason          string         `json:"reason,omitempty"`
	CreatedAt       string         `json:"created_at"`
	ScheduleAt      string         `json:"schedule_at,omitempty"`
	RequireApproval bool           `json:"require_approval,omitempty"`
	ApprovedBy      string         `json:"approved_by,omitempty"`
	ReleasedAt      string         `json:"released_at,omitempty"`
	FinishedAt      string         `json:"finished_at,omitempty"`
	ManifestRows    int            `json:"manifest_rows"`
	ManifestTotals  []ReportAmount `json:"manifest_totals"`
}

// ReportAmount is money as finance writes it: decimal major units and the
// currency ("1500.00", "RUB"), with the exact minor units for programs.
type ReportAmount struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Minor    int64  `json:"minor"`
	Rows     int    `json:"rows,omitempty"` // in sums: how many rows (or operations) make it up
}

func reportAmount(a money.Amount) ReportAmount {
	return ReportAmount{Amount: a.Decimal(), Currency: a.Currency, Minor: a.Minor}
}

func reportAmounts(t money.Totals) []ReportAmount {
	out := []ReportAmount{}
	for _, a := range t.Amounts() {
		out = append(out, reportAmount(a))
	}
	return out
}

// ReportRow is one row of the batch.
type ReportRow struct {
	Row                 int               `json:"row"`
	Reference           string            `json:"reference"`
	Method              string            `json:"method"`
	Recipient           string            `json:"recipient,omitempty"`
	Destination         string            `json:"destination"` // masked
	Amount              string            `json:"amount"`      // decimal major units
	Currency            string            `json:"currency"`
	AmountMinor         int64             `json:"amount_minor"`
	Status              string            `json:"status"` // the row's state
	BankSession         string            `json:"bank_session,omitempty"`
	BankPayout          string            `json:"bank_payout,omitempty"`
	Fee                 string            `json:"fee,omitempty"`
	FeeCurrency         string            `json:"fee_currency,omitempty"`
	FXRate              string            `json:"fx_rate,omitempty"`            // transfers: the quote's rate as the bank wrote it
	DestinationAmount   string            `json:"destination_amount,omitempty"` // transfers: what the recipient gets
	DestinationCurrency string            `json:"destination_currency,omitempty"`
	ErrorCode           string            `json:"error_code,omitempty"`
	Reason              string            `json:"reason,omitempty"` // plain language
	ReceivedAt          string            `json:"received_at"`
	FinishedAt          string            `json:"finished_at,omitempty"`
	UpdatedAt           string            `json:"updated_at"`
	Attempts            int               `json:"attempts"`
	Webhook             string            `json:"webhook,omitempty"`        // the bank's last finishing webhook for the row's session
	SessionStatus       string            `json:"session_status,omitempty"` // what session/status said last
	BankReport          string            `json:"bank_report,omitempty"`    // the operations the bank's reports list for the row
	Reconciliation      string            `json:"reconciliation"`
	Exceptions          []ReportException `json:"exceptions,omitempty"`
	Description         string            `json:"description,omitempty"` // the file's description column
	// Meta holds the row's meta_<name> columns by name (without the
	// prefix), as finance wrote them; {} when the row has none.
	Meta map[string]string `json:"meta"`

	amount, fee, dest *money.Amount
}

// ReportException is an open exception in a report.
type ReportException struct {
	Category  string `json:"category"`
	Label     string `json:"label"`
	Row       int    `json:"row,omitempty"`
	Reference string `json:"reference,omitempty"`
	Detail    string `json:"detail"`
	OpenedAt  string `json:"opened_at,omitempty"` // empty: found by this reconciliation, not recorded yet
}

// text is the exception in words: its label, then its detail (the label
// is left out when the detail says it already).
func (e *ReportException) text() string {
	if strings.Contains(strings.ToLower(e.Detail), strings.ToLower(e.Label)) {
		return e.Detail
	}
	return e.Label + ": " + e.Detail
}

// ReportSummary sums the batch up.
type ReportSummary struct {
	Rows             int               `json:"rows"`
	ByState          []StateCount      `json:"by_state"`
	ByReconciliation []ReconCount      `json:"by_reconciliation"`
	Totals           []TotalLine       `json:"totals"`
	ExceptionCounts  []CategoryCount   `json:"exception_counts"`
	Exceptions       []ReportException `json:"exceptions"`
}

// StateCount counts a state's rows and sums their amounts per currency.
type StateCount struct {
	State   string         `json:"state"`
	Rows    int            `json:"rows"`
	Amounts []ReportAmount `json:"amounts"`
}

// ReconCount counts rows of a reconciliation status.
type ReconCount struct {
	Status string `json:"status"`
	Rows   int    `json:"rows"`
}

// TotalLine is one of the summary's totals: requested, paid, returned,
// failed, cancelled, pending, fees, bank_reported, manifest.
type TotalLine struct {
	What    string         `json:"what"`
	Rows    int            `json:"rows"`
	Amounts []ReportAmount `json:"amounts"`
}

// CategoryCount counts open exceptions of a category.
type CategoryCount struct {
	Category string `json:"category"`
	Label    string `json:"label"`
	Count    int    `json:"count"`
}

// stateOrder is the order states are listed in.
var stateOrder = []payout.State{
	payout.StateReceived, payout.StateScheduled, payout.StateAwaitingApproval, payout.StateQueued,
	payout.StateClaimed, payout.StateQuoted, payout.StateOpening, payout.StateSessionOpen, payout.StateStarting,
	payout.StatePayoutStarted, payout.StateConfirming, payout.StateConfirmed, payout.StateActionRequired,
	payout.StateInDoubt, payout.StateSucceeded, payout.StateFailed, payout.StateCancelled, payout.StateReturned,
}

// Report reconciles the batch (reading only) and builds its report, with
// each row's description and meta_ columns (read beside the
// reconciliation's reads).
func (db *DB) Report(ctx context.Context, batch string) (*Report, error) {
	var (
		notes    []rowNote
		notesErr error
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		notes, notesErr = db.rowNotes(ctx, batch)
	}()
	rec, err := db.Reconcile(ctx, batch)
	<-done
	if err != nil {
		return nil, err
	}
	if notesErr != nil {
		return nil, fmt.Errorf("report %s: descriptions and meta: %w", batch, notesErr)
	}
	rep := rec.Report()
	rep.addNotes(notes)
	return rep, nil
}

// rowNote is what finance wrote about a row beside the payout itself: the
// description and the meta_ columns (by name, without the prefix).
type rowNote struct {
	row         int
	description string
	meta        map[string]string
}

// noMeta is the Meta of a row without meta_ columns: one empty map shared
// by every such row (never written to), so that JSON shows {}.
var noMeta = map[string]string{}

// rowNotes reads the description and meta of the batch's rows that have
// either, in row order.
func (db *DB) rowNotes(ctx context.Context, batch string) ([]rowNote, error) {
	var out []rowNote
	read := func(s scanner) error {
		var n rowNote
		var meta string
		if err := s.Scan(&n.row, &meta, &n.description); err != nil {
			return err
		}
		n.description, n.meta = redactCards(n.description), noMeta
		if meta != "" {
			m, err := parseMeta(meta)
			if err != nil {
				return fmt.Errorf("row %d: meta: %w", n.row, err)
			}
			n.meta = m
		}
		out = append(out, n)
		return nil
	}
	err := eachRow(ctx, db.r, `SELECT row_no, meta, description FROM rows
		WHERE batch_id = ? AND (meta <> '' OR description <> '') ORDER BY row_no`, []any{batch}, read)
	if err != nil && strings.Contains(err.Error(), "no such column: description") {
		// A ledger file the running ledger has not migrated yet (a
		// read-only reader is newer): no row has a description.
		out = out[:0]
		err = eachRow(ctx, db.r, `SELECT row_no, meta, '' FROM rows WHERE batch_id = ? AND meta <> '' ORDER BY row_no`,
			[]any{batch}, read)
	}
	return out, err
}

// parseMeta reads a row's meta (see decodeMeta). Names and values go
// through redactCards; should two names become one, the first in name
// order keeps its value.
func parseMeta(text string) (map[string]string, error) {
	m, err := decodeMeta(text)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return noMeta, nil
	}
	clean := true
	for k, v := range m {
		if redactCards(k) != k || redactCards(v) != v {
			clean = false
			break
		}
	}
	if clean {
		return m, nil
	}
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		rk := redactCards(k)
		if _, dup := out[rk]; !dup {
			out[rk] = redactCards(m[k])
		}
	}
	return out, nil
}

// decodeMeta decodes a row's meta as the intake message carries it: a
// JSON object of strings; a value of another JSON type is kept as its JSON
// text, null as "". It is the report's one decoder of meta.
func decodeMeta(text string) (map[string]string, error) {
	var m map[string]string
	err := gojson.Unmarshal([]byte(text), &m)
	if err == nil {
		return m, nil
	}
	var raw map[string]gojson.RawMessage
	if gojson.Unmarshal([]byte(text), &raw) != nil {
		return nil, err
	}
	m = make(map[string]string, len(raw))
	for k, v := range raw {
		var str string
		if gojson.Unmarshal(v, &str) != nil {
			str = string(v)
		}
		m[k] = str
	}
	return m, nil
}

// addNotes puts the notes (in row order) on the report's rows (in row
// order). A note of a row the report does not show (recorded after the
// reconciliation read the rows) is left out.
func (rep *Report) addNotes(notes []rowNote) {
	i := 0
	for _, n := range notes {
		for i < len(rep.Rows) && rep.Rows[i].Row < n.row {
			i++
		}
		if i == len(rep.Rows) {
			break
		}
		if rep.Rows[i].Row == n.row {
			rep.Rows[i].Description, rep.Rows[i].Meta = n.description, n.meta
		}
	}
}

// Report builds the batch's report from the reconciliation. Its rows have
// no description or meta (the reconciliation does not read them); DB.Report
// adds them.
func (rec *Reconciliation) Report() *Report {
	d := rec.data
	b := d.sum
	rep := &Report{
		Batch: ReportBatch{
			ID: b.Batch, Name: b.Name, FileName: b.FileName, FileSHA256: b.FileSHA256, Status: string(b.Status),
			Reason: redactCards(b.Reason), CreatedAt: timeText(&b.CreatedAt), ScheduleAt: timeText(b.ScheduleAt),
			RequireApproval: b.RequireApproval, ApprovedBy: b.ApprovedBy, ReleasedAt: timeText(b.ReleasedAt),
			FinishedAt: timeText(b.FinishedAt), ManifestRows: int(d.manifestRows.Int64), ManifestTotals: reportAmounts(d.manifestTotals),
		},
		AsOf: rfc3339(d.asOf),
		Rows: make([]ReportRow, 0, len(d.rows)),
	}
	byRow := map[int][]ReportException{}
	refs := map[int]string{}
	for _, r := range d.rows {
		refs[r.No] = r.Reference
	}
	excCount := map[string]int{}
	for _, e := range rec.Exceptions {
		x := ReportException{Category: e.Category, Label: ExceptionLabel(e.Category), Row: e.Row, Reference: refs[e.Row],
			Detail: redactCards(e.Detail), OpenedAt: e.OpenedAt}
		rep.Summary.Exceptions = append(rep.Summary.Exceptions, x)
		excCount[e.Category]++
		if e.Row > 0 {
			byRow[e.Row] = append(byRow[e.Row], x)
		}
	}
	if rep.Summary.Exceptions == nil {
		rep.Summary.Exceptions = []ReportException{}
	}

	states := map[payout.State]*sums{}
	totals := map[string]*sums{}
	for _, w := range totalNames {
		totals[w] = newSums()
	}
	for _, r := range d.rows {
		row := r.reportRow()
		row.Exceptions = byRow[r.No]
		if r.recon.Status == ReconException && len(row.Exceptions) == 0 && b.Status == payout.BatchRejected {
			row.Exceptions = []ReportException{{Category: ExceptionManifest, Label: ExceptionLabel(ExceptionManifest),
				Row: r.No, Reference: r.Reference, Detail: "batch rejected: " + rep.Batch.Reason}}
		}
		rep.Rows = append(rep.Rows, row)

		st := states[r.State]
		if st == nil {
			st = newSums()
			states[r.State] = st
		}
		st.add(r.Amount)
		totals["requested"].add(r.Amount)
		switch r.State {
		case payout.StateSucceeded:
			totals["paid"].add(r.Amount)
		case payout.StateReturned:
			totals["returned"].add(r.Amount)
		case payout.StateFailed:
			totals["failed"].add(r.Amount)
		case payout.StateCancelled:
			totals["cancelled"].add(r.Amount)
		default:
			totals["pending"].add(r.Amount)
		}
		if r.Fee != nil {
			totals["fees"].add(*r.Fee)
		}
	}
	reported := newSums()
	addOps := func(lines []*reportLine) {
		for i, l := range lines {
			if l.Type == bank131.ReportAdvice &&
				!slices.ContainsFunc(lines[:i], func(o *reportLine) bool { return o.Type == l.Type && o.Op == l.Op }) {
				reported.add(l.Amount)
			}
		}
	}
	for _, r := range d.rows {
		addOps(r.Lines)
	}
	addOps(d.orphans)
	totals["bank_reported"] = reported

	s := &rep.Summary
	s.Rows = len(d.rows)
	s.ByState = []StateCount{}
	for _, st := range stateOrder {
		if v := states[st]; v != nil {
			s.ByState = append(s.ByState, StateCount{State: string(st), Rows: v.rows, Amounts: v.amounts()})
		}
	}
	for _, st := range ReconStatuses {
		s.ByReconciliation = append(s.ByReconciliation, ReconCount{Status: st, Rows: rec.Counts[st]})
	}
	for _, w := range totalNames {
		s.Totals = append(s.Totals, TotalLine{What: w, Rows: totals[w].rows, Amounts: totals[w].amounts()})
	}
	s.Totals = append(s.Totals, TotalLine{What: "manifest", Rows: int(d.manifestRows.Int64), Amounts: reportAmounts(d.manifestTotals)})
	for _, c := range categoryOrder {
		if n := excCount[c]; n > 0 {
			s.ExceptionCounts = append(s.ExceptionCounts, CategoryCount{Category: c, Label: ExceptionLabel(c), Count: n})
			delete(excCount, c)
		}
	}
	var rest []string
	for c := range excCount {
		rest = append(rest, c)
	}
	sortCategories(rest)
	for _, c := range rest {
		s.ExceptionCounts = append(s.ExceptionCounts, CategoryCount{Category: c, Label: ExceptionLabel(c), Count: excCount[c]})
	}
	if s.ExceptionCounts == nil {
		s.ExceptionCounts = []CategoryCount{}
	}
	return rep
}

// totalNames are the summary's sums, in order (the manifest's follows).
var totalNames = []string{"requested", "paid", "returned", "failed", "cancelled", "pending", "fees", "bank_reported"}

// sums adds amounts per currency and counts what it added.
type sums struct {
	rows   int
	totals money.Totals
	counts map[string]int
}

func newSums() *sums { return &sums{totals: money.Totals{}, counts: map[string]int{}} }

func (s *sums) add(a money.Amount) {
	s.rows++
	s.totals.Add(a)
	s.counts[a.Currency]++
}

func (s *sums) amounts() []ReportAmount {
	out := reportAmounts(s.totals)
	for i := range out {
		out[i].Rows = s.counts[out[i].Currency]
	}
	return out
}

// redactCards masks what looks like a card number in free text (13 to 19
// digits, spaces or dashes between, passing the Luhn check, not part of a
// word such as a hex id): the last line of defence for text that came from
// outside, such as a bank's error description or a row's meta. Text with
// fewer than 13 digits is returned without running the expression (a
// report passes a few hundred thousand short values through here).
func redactCards(s string) string {
	digits := 0
	for i := 0; i < len(s) && digits < 13; i++ {
		if '0' <= s[i] && s[i] <= '9' {
			digits++
		}
	}
	if digits < 13 {
		return s
	}
	return cardLike.ReplaceAllStringFunc(s, func(m string) string {
		digits := strings.NewReplacer(" ", "", "-", "").Replace(m)
		if len(digits) < 13 || len(digits) > 19 || !payout.Luhn(digits) {
			return m
		}
		return "****" + digits[len(digits)-4:]
	})
}

var cardLike = regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`)

// reportRow formats a row for the report.
func (r *reconRow) reportRow() ReportRow {
	amount := r.Amount
	row := ReportRow{
		Row: r.No, Reference: r.Reference, Method: r.Method, Recipient: r.Recipient, Destination: r.Destination,
		Amount: r.Amount.Decimal(), Currency: r.Amount.Currency, AmountMinor: r.Amount.Minor, amount: &amount,
		Status: string(r.State), BankSession: r.ownSession(), BankPayout: r.PayoutID,
		ErrorCode: r.ErrorCode, Reason: redactCards(r.Reason),
		ReceivedAt: rfc3339(r.ReceivedAt), UpdatedAt: rfc3339(r.UpdatedAt), Attempts: r.Attempt,
		SessionStatus: r.StatusSays, Reconciliation: r.recon.Status, Meta: noMeta,
	}
	if row.Reason == "" && r.ErrorCode != "" {
		row.Reason = bank131.Reason(r.ErrorCode)
	}
	if r.State.Terminal() {
		row.FinishedAt = rfc3339(r.MovedAt)
	}
	if r.Fee != nil {
		fee := *r.Fee
		row.Fee, row.FeeCurrency, row.fee = fee.Decimal(), fee.Currency, &fee
	}
	if r.QuoteDest != nil {
		dest := *r.QuoteDest
		row.FXRate = r.QuoteRate
		row.DestinationAmount, row.DestinationCurrency, row.dest = dest.Decimal(), dest.Currency, &dest
	}
	if h := r.Hook; h != nil {
		switch {
		case h.Type == "payment_refunded":
			row.Webhook = "refunded"
		default:
			row.Webhook = h.PayoutStatus
			if h.Amount != nil && h.PayoutStatus == "succeeded" {
				row.Webhook += " " + h.Amount.Decimal() + " " + h.Amount.Currency
			}
			if h.ErrorCode != "" {
				row.Webhook += " (" + h.ErrorCode + ")"
			}
		}
	}
	var lines []string
	for i, l := range r.Lines {
		if slices.ContainsFunc(r.Lines[:i], func(o *reportLine) bool { return o.Type == l.Type && o.Op == l.Op }) {
			continue // the same operation in another report
		}
		lines = append(lines, l.Type+" "+l.Op+" "+l.Amount.Decimal()+" "+l.Amount.Currency+" "+l.Date)
	}
	row.BankReport = strings.Join(lines, "; ")
	return row
}

// timeText formats a time as RFC 3339 UTC to the second; "" for none.
func timeText(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
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
	return fmt.Errorf("%w: report format %q (want csv, json or xlsx)", errInvalid, format)
}

// FileName is the report's download name in format.
func (rep *Report) FileName(format string) string {
	return "payrun-report-" + rep.Batch.ID + "." + format
}

// WriteJSON writes the report as JSON: the batch and the summary indented,
// then one row per line (a 100k-row report stays quick to write and to
// read with line tools).
func (rep *Report) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	part := func(key string, v any, last bool) error {
		b, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return err
		}
		bw.WriteString("  \"" + key + "\": ")
		bw.Write(b)
		if !last {
			bw.WriteString(",\n")
		}
		return nil
	}
	bw.WriteString("{\n")
	if err := part("batch", rep.Batch, false); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	if err := part("as_of", rep.AsOf, false); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	if err := part("summary", rep.Summary, false); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	bw.WriteString("  \"rows\": [")
	for i := range rep.Rows {
		b, err := json.Marshal(&rep.Rows[i])
		if err != nil {
			return fmt.Errorf("write JSON report: %w", err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(b)
	}
	if len(rep.Rows) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// reportColumns are the CSV and XLSX columns every report has, in order;
// the description column and the batch's meta_ columns follow them (see
// header).
var reportColumns = []string{
	"row", "reference", "method", "recipient", "destination", "amount", "currency", "status",
	"bank_session", "bank_payout", "fee", "fee_currency", "fx_rate", "destination_amount", "destination_currency",
	"error_code", "reason", "received_at", "finished_at", "updated_at", "attempts",
	"webhook", "session_status", "bank_report", "reconciliation", "exception", "exception_detail",
}

// cell is one value of a row or summary line: text, a count, or money.
type cell struct {
	text   string
	num    *int
	amount *money.Amount
}

func textCell(s string) cell { return cell{text: s} }
func intCell(n int) cell     { return cell{text: strconv.Itoa(n), num: &n} }
func moneyCell(a *money.Amount) cell {
	if a == nil {
		return cell{}
	}
	return cell{text: a.Decimal(), amount: a}
}

// descriptionColumn follows reportColumns in CSV and XLSX.
const descriptionColumn = "description"

// metaKeys are the meta names the report's rows have, sorted: one pass
// over the rows, a map lookup per name.
func (rep *Report) metaKeys() []string {
	seen := map[string]struct{}{}
	for i := range rep.Rows {
		for k := range rep.Rows[i].Meta {
			seen[k] = struct{}{}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// header is the CSV and XLSX rows' header for the meta names: the fixed
// columns, description, then meta_<name> per name (as the file named it).
func header(metaKeys []string) []string {
	h := make([]string, 0, len(reportColumns)+1+len(metaKeys))
	h = append(h, reportColumns...)
	h = append(h, descriptionColumn)
	for _, k := range metaKeys {
		h = append(h, metaPrefix+k)
	}
	return h
}

// metaPrefix names a meta column, as in the payout file.
const metaPrefix = "meta_"

// cells lays a row out in header(metaKeys) order into buf (reused).
func (row *ReportRow) cells(metaKeys []string, buf []cell) []cell {
	var cats, details []string
	for _, e := range row.Exceptions {
		cats = append(cats, e.Category)
		details = append(details, e.text())
	}
	buf = append(buf[:0],
		intCell(row.Row), textCell(row.Reference), textCell(row.Method), textCell(row.Recipient), textCell(row.Destination),
		moneyCell(row.amount), textCell(row.Currency), textCell(row.Status), textCell(row.BankSession), textCell(row.BankPayout),
		moneyCell(row.fee), textCell(row.FeeCurrency), textCell(row.FXRate), moneyCell(row.dest), textCell(row.DestinationCurrency),
		textCell(row.ErrorCode), textCell(row.Reason), textCell(row.ReceivedAt), textCell(row.FinishedAt), textCell(row.UpdatedAt),
		intCell(row.Attempts), textCell(row.Webhook), textCell(row.SessionStatus), textCell(row.BankReport),
		textCell(row.Reconciliation), textCell(strings.Join(cats, "; ")), textCell(strings.Join(details, " | ")),
		textCell(row.Description))
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
	amounts := func(section, item string, rows int, as []ReportAmount) {
		counted := len(as) > 0
		for _, a := range as {
			counted = counted && a.Rows > 0
		}
		if !counted {
			out = append(out, []cell{textCell(section), textCell(item), {}, intCell(rows), {}, {}})
		}
		for _, a := range as {
			m := money.Amount{Minor: a.Minor, Currency: a.Currency}
			n := cell{}
			if counted {
				n = intCell(a.Rows)
			}
			out = append(out, []cell{textCell(section), textCell(item), textCell(a.Currency), n, moneyCell(&m), {}})
		}
	}
	for _, st := range s.ByState {
		amounts("state", st.State, st.Rows, st.Amounts)
	}
	for _, rc := range s.ByReconciliation {
		out = append(out, []cell{textCell("reconciliation"), textCell(rc.Status), {}, intCell(rc.Rows), {}, {}})
	}
	for _, t := range s.Totals {
		amounts("total", t.What, t.Rows, t.Amounts)
	}
	for _, c := range s.ExceptionCounts {
		out = append(out, []cell{textCell("exceptions"), textCell(c.Category), {}, intCell(c.Count), {}, textCell(c.Label)})
	}
	for _, e := range s.Exceptions {
		item := "batch"
		if e.Row > 0 {
			item = fmt.Sprintf("row %d (%s)", e.Row, e.Reference)
		}
		out = append(out, []cell{textCell("exception"), textCell(item), {}, {}, {}, textCell(e.Category + ": " + e.text())})
	}
	return out
}

// WriteCSV writes the rows (one line each, header first), an empty line,
// and the summary lines under their own header. Every record has the same
// number of fields, so any CSV reader takes the file as one table.
func (rep *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	keys := rep.metaKeys()
	columns := header(keys)
	rec := make([]string, len(columns))
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
	if err := heading(columns); err != nil {
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
