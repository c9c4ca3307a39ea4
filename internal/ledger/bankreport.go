package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// BankReport is a parsed Bank 131 daily report of successful operations:
// the file's SHA-256 (its identity), where it came from, the days it
// covers and its lines.
type BankReport struct {
	ID     string // sha256 hex of the file's bytes
	Source string
	Days   []string // YYYY-MM-DD, sorted
	Lines  []ledgerapi.BankReportLine
}

// bankReportColumns are the report's columns; the first eight are required.
var bankReportColumns = []string{
	"operationId", "paymentSessionId", "paymentSessionMerchantMetadata", "typeOfPayment",
	"transactionDate", "finishedAt", "amount", "currency",
	"fee", "feeCurrency", "paymentFast", "paymentMethod", "contract",
}

const requiredReportColumns = 8

// maxReportSize bounds a report file (a 1M-operation day is ~250 MB).
const maxReportSize = 1 << 30

// ParseBankReport reads a daily report CSV as the bank (and the sandbox's
// GET /sandbox/report) writes it. Amounts are decimal text in major units
// and are read with money.Parse, never as floats. The whole file is
// checked before anything is recorded: any bad line fails the parse.
//
// days names the days (YYYY-MM-DD) the report covers. When empty they are
// taken from source: a URL's date= parameter, or a file name with a range
// "…_FROM_TO.csv" (the bank's and the sandbox's naming) or one date; else
// the transaction dates of its lines (an empty report then covers no day).
func ParseBankReport(r io.Reader, source string, days ...string) (*BankReport, error) {
	h := sha256.New()
	cr := csv.NewReader(io.TeeReader(io.LimitReader(r, maxReportSize), h))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("bank report %s: empty file", source)
	}
	if err != nil {
		return nil, fmt.Errorf("bank report %s: read header: %w", source, err)
	}
	idx := make([]int, len(bankReportColumns))
	for i := range idx {
		idx[i] = -1
	}
	for i, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		if j := slices.Index(bankReportColumns, name); j >= 0 {
			idx[j] = i
		}
	}
	var missing []string
	for j := 0; j < requiredReportColumns; j++ {
		if idx[j] < 0 {
			missing = append(missing, bankReportColumns[j])
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("bank report %s: header lacks %s", source, strings.Join(missing, ", "))
	}
	rep := &BankReport{Source: source}
	seenDays := map[string]bool{}
	for n := 1; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bank report %s: %w", source, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			n--
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("bank report %s line %d: %d fields, the header has %d", source, n, len(rec), len(header))
		}
		col := func(j int) string {
			if idx[j] < 0 {
				return ""
			}
			return strings.TrimSpace(rec[idx[j]])
		}
		l, err := parseReportLine(n, col)
		if err != nil {
			return nil, fmt.Errorf("bank report %s line %d: %w", source, n, err)
		}
		seenDays[l.TransactionDate] = true
		rep.Lines = append(rep.Lines, l)
	}
	io.Copy(h, io.LimitReader(r, maxReportSize)) // the digest covers the whole file
	rep.ID = hex.EncodeToString(h.Sum(nil))
	switch {
	case len(days) > 0:
		for _, d := range days {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				return nil, fmt.Errorf("bank report %s: day %q is not YYYY-MM-DD", source, d)
			}
		}
		rep.Days = days
	default:
		rep.Days = DaysFromName(source)
		if rep.Days == nil {
			for d := range seenDays {
				rep.Days = append(rep.Days, d)
			}
		}
	}
	slices.Sort(rep.Days)
	rep.Days = slices.Compact(rep.Days)
	return rep, nil
}

func parseReportLine(n int, col func(int) string) (ledgerapi.BankReportLine, error) {
	l := ledgerapi.BankReportLine{
		Line: n, OperationID: col(0), SessionID: col(1), Metadata: col(2), Type: col(3),
		TransactionDate: col(4), FinishedAt: col(5), PaymentFast: col(10), PaymentMethod: col(11), Contract: col(12),
	}
	if l.OperationID == "" {
		return l, errors.New("no operationId")
	}
	if l.Type == "" {
		return l, errors.New("no typeOfPayment")
	}
	if _, err := time.Parse(time.DateOnly, l.TransactionDate); err != nil {
		return l, fmt.Errorf("transactionDate %q is not YYYY-MM-DD", l.TransactionDate)
	}
	cur := strings.ToUpper(col(7))
	if len(cur) != 3 {
		return l, fmt.Errorf("currency %q is not an ISO 4217 code", col(7))
	}
	a, err := money.Parse(col(6), cur)
	if err != nil {
		return l, fmt.Errorf("amount %q: %w", col(6), err)
	}
	l.Amount = a
	if fee := col(8); fee != "" {
		fcur := strings.ToUpper(col(9))
		if fcur == "" {
			fcur = cur
		}
		f, err := money.Parse(fee, fcur)
		if err != nil {
			return l, fmt.Errorf("fee %q: %w", fee, err)
		}
		l.Fee = &f
	}
	return l, nil
}

var (
	dayRangeRe = regexp.MustCompile(`(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})`)
	dayRe      = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)
)

// DaysFromName returns the days a report's source name says it covers: a
// URL's date= parameter, or in the file name a range FROM_TO (at most 366
// days) or a single date. nil when the name says nothing.
func DaysFromName(source string) []string {
	name := source
	if u, err := url.Parse(source); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		if d := u.Query().Get("date"); d != "" {
			if _, err := time.Parse(time.DateOnly, d); err == nil {
				return []string{d}
			}
		}
		name = u.Path
	}
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if m := dayRangeRe.FindStringSubmatch(name); m != nil {
		from, err1 := time.Parse(time.DateOnly, m[1])
		to, err2 := time.Parse(time.DateOnly, m[2])
		if err1 == nil && err2 == nil && !to.Before(from) && to.Sub(from) <= 366*24*time.Hour {
			var out []string
			for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
				out = append(out, d.Format(time.DateOnly))
			}
			return out
		}
	}
	if m := dayRe.FindString(name); m != "" {
		if _, err := time.Parse(time.DateOnly, m); err == nil {
			return []string{m}
		}
	}
	return nil
}

// Chunks splits the report into ledgerapi.ReportChunk messages of at most
// about maxBytes of JSON each (≤ 0: 512 KiB), the last one Final. An empty
// report is one final chunk.
func (rep *BankReport) Chunks(maxBytes int) []ledgerapi.ReportChunk {
	if maxBytes <= 0 {
		maxBytes = 512 << 10
	}
	head := ledgerapi.ReportChunk{Report: rep.ID, Source: rep.Source, Days: rep.Days, Total: len(rep.Lines)}
	var out []ledgerapi.ReportChunk
	cur, size := head, 512
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

// addImport adds a chunk's counts to the running total of an import.
func addImport(total, part *ledgerapi.ReportImport) {
	total.Report, total.Source, total.Days = part.Report, part.Source, part.Days
	total.Lines = part.Lines
	total.New += part.New
	total.Settled += part.Settled
	total.Unknown += part.Unknown
	total.Opened += part.Opened
	total.Already = part.Already // the final chunk's answer decides
	total.Complete = part.Complete
	for _, b := range part.Batches {
		if !slices.Contains(total.Batches, b) {
			total.Batches = append(total.Batches, b)
		}
	}
	slices.Sort(total.Batches)
}

// ImportBankReport records a bank daily report read from r: every line as
// evidence, then applies what it proves (a row in doubt or waiting for the
// bank that the report lists as paid becomes succeeded with source
// "report"; a Refund moves a succeeded row to returned; an operation that
// names no row of ours opens "paid but not in our records") and finally
// reconciles every batch the report concerns. source names the file (see
// ParseBankReport for days). Importing the same file again changes
// nothing. Writes go through the ledger's writer in chunks, so a large
// report does not hold the writer for long.
func (s *Service) ImportBankReport(ctx context.Context, r io.Reader, source string, days ...string) (*ledgerapi.ReportImport, error) {
	rep, err := ParseBankReport(r, source, days...)
	if err != nil {
		return nil, err
	}
	return s.ImportReport(ctx, rep)
}

// ImportReport records a parsed bank report; see ImportBankReport.
func (s *Service) ImportReport(ctx context.Context, rep *BankReport) (*ledgerapi.ReportImport, error) {
	return sendChunks(rep.Chunks(0), func(c ledgerapi.ReportChunk) (*ledgerapi.ReportImport, error) {
		return s.ImportReportChunk(ctx, c)
	})
}

// sendChunks sends a report's chunks in order. When the ledger answers
// that the report was imported before, only the final chunk follows,
// without its lines (it may add days the report now covers).
func sendChunks(chunks []ledgerapi.ReportChunk, send func(ledgerapi.ReportChunk) (*ledgerapi.ReportImport, error)) (*ledgerapi.ReportImport, error) {
	total := &ledgerapi.ReportImport{}
	for i := 0; i < len(chunks); i++ {
		part, err := send(chunks[i])
		if err != nil {
			return nil, err
		}
		addImport(total, part)
		if part.Already && i < len(chunks)-1 {
			last := chunks[len(chunks)-1]
			last.Lines = nil
			chunks[len(chunks)-1] = last
			i = len(chunks) - 2
		}
	}
	return total, nil
}

// SendBankReport sends a parsed report to the running ledger over NATS in
// chunks that fit maxBytes (the connection's max payload, say).
func SendBankReport(ctx context.Context, c *ledgerapi.Client, rep *BankReport, maxBytes int) (*ledgerapi.ReportImport, error) {
	res, err := sendChunks(rep.Chunks(maxBytes), func(ch ledgerapi.ReportChunk) (*ledgerapi.ReportImport, error) {
		return c.ImportReportChunk(ctx, ch)
	})
	if err != nil {
		return nil, fmt.Errorf("send bank report %s: %w", rep.Source, err)
	}
	return res, nil
}

// ImportReportChunk records one chunk of a bank report (see
// ledgerapi.ReportChunk) in one write transaction; the final chunk
// completes the import and then reconciles the batches the report
// concerns.
func (s *Service) ImportReportChunk(ctx context.Context, c ledgerapi.ReportChunk) (*ledgerapi.ReportImport, error) {
	if len(c.Report) != 64 {
		return nil, fmt.Errorf("%w: a report is named by the sha256 of its file", errInvalid)
	}
	res := &ledgerapi.ReportImport{Report: c.Report, Source: c.Source, Days: c.Days, Lines: c.Total}
	touched := map[string]bool{}
	err := s.w.Do(ctx, func(tx *Tx) error {
		*res = ledgerapi.ReportImport{Report: c.Report, Source: c.Source, Days: c.Days, Lines: c.Total}
		clear(touched)
		return s.importChunk(tx, &c, res, touched)
	})
	if err != nil {
		return nil, fmt.Errorf("import bank report %s: %w", c.Source, err)
	}
	if res.Already || !c.Final {
		return res, nil
	}
	s.log.Info("bank report imported", LogKeyReport, c.Source, LogKeyCount, c.Total, LogKeyNew, res.New,
		LogKeySettled, res.Settled, LogKeyUnknown, res.Unknown)
	// Reconcile what the report concerns: batches it names, and batches
	// whose rows may have finished on the days it covers.
	active, err := s.db.batchesActiveOn(ctx, c.Days)
	if err != nil {
		return nil, err
	}
	for _, b := range active {
		touched[b] = true
	}
	for b := range touched {
		res.Batches = append(res.Batches, b)
	}
	slices.Sort(res.Batches)
	for _, b := range res.Batches {
		rec, err := s.Reconcile(ctx, b)
		if err != nil {
			return nil, err
		}
		res.Opened += rec.Opened
	}
	return res, nil
}

// importChunk records a chunk's lines and settles rows by them, in tx.
func (s *Service) importChunk(tx *Tx, c *ledgerapi.ReportChunk, res *ledgerapi.ReportImport, touched map[string]bool) error {
	var complete, lines int
	err := tx.QueryRow(`SELECT complete, lines FROM bank_reports WHERE id = ?`, c.Report).Scan(&complete, &lines)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.Exec(`INSERT INTO bank_reports (id, source, lines, started_at) VALUES (?, ?, ?, ?)`,
			c.Report, c.Source, c.Total, formatTime(tx.Now)); err != nil {
			return fmt.Errorf("record bank report: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read bank report: %w", err)
	case complete == 1:
		// Recorded before. Only days it did not cover yet change anything
		// (the same empty report bytes may come for several days).
		res.Already, res.Complete = true, true
		if c.Final {
			added, err := coverDays(tx, c)
			if err != nil {
				return err
			}
			res.Already = added == 0
		}
		return nil
	case lines != c.Total:
		return fmt.Errorf("%w: report %s has %d lines, this chunk says %d", errInvalid, c.Report, lines, c.Total)
	}
	before := maxExceptionID(tx)
	for i := range c.Lines {
		l := &c.Lines[i]
		var refBatch, refRef string
		var refRow any
		var ref *payout.BankRef
		if r, err := payout.ParseBankRef([]byte(l.Metadata)); err == nil {
			ref = &r
			refBatch, refRow, refRef = r.Batch, r.Row, r.Reference
		}
		batch, row, err := resolveLine(tx, l, ref)
		if err != nil {
			return err
		}
		feeMinor, feeCur := optAmount(l.Fee)
		ins, err := tx.Exec(`INSERT INTO bank_report_lines (batch_id, row_no, report_id, line, operation_id, session_id, type,
			metadata, ref_batch, ref_row, ref_reference, transaction_date, finished_at, amount_minor, currency, fee_minor,
			fee_currency, payment_fast, payment_method, contract)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (report_id, line) DO NOTHING`,
			batch, row, c.Report, l.Line, l.OperationID, l.SessionID, l.Type, l.Metadata, refBatch, refRow, refRef,
			l.TransactionDate, l.FinishedAt, l.Amount.Minor, upper(l.Amount.Currency), feeMinor, feeCur,
			l.PaymentFast, l.PaymentMethod, l.Contract)
		if err != nil {
			return fmt.Errorf("record line %d of bank report: %w", l.Line, err)
		}
		if n, _ := ins.RowsAffected(); n == 0 {
			continue // recorded by an earlier delivery of this chunk
		}
		res.New++
		if batch != "" {
			touched[batch] = true
		}
		if err := s.settleByReport(tx, c, l, batch, row, res); err != nil {
			return err
		}
	}
	if c.Final {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM bank_report_lines WHERE report_id = ?`, c.Report).Scan(&n); err != nil {
			return fmt.Errorf("count bank report lines: %w", err)
		}
		if n != c.Total {
			return fmt.Errorf("%w: report %s: %d of %d lines recorded; send the missing chunks", errInvalid, c.Report, n, c.Total)
		}
		if _, err := coverDays(tx, c); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE bank_reports SET complete = 1, imported_at = ? WHERE id = ?`, formatTime(tx.Now), c.Report); err != nil {
			return fmt.Errorf("complete bank report: %w", err)
		}
		res.Complete = true
	}
	res.Opened += int(maxExceptionID(tx) - before)
	return nil
}

// coverDays records the days a report covers; it returns how many it did
// not cover yet.
func coverDays(tx *Tx, c *ledgerapi.ReportChunk) (int, error) {
	added := 0
	for _, d := range c.Days {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return 0, fmt.Errorf("%w: day %q is not YYYY-MM-DD", errInvalid, d)
		}
		r, err := tx.Exec(`INSERT INTO bank_report_days (day, report_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, d, c.Report)
		if err != nil {
			return 0, fmt.Errorf("record bank report days: %w", err)
		}
		n, _ := r.RowsAffected()
		added += int(n)
	}
	return added, nil
}

// maxExceptionID is the newest exception's id (ids only grow), so the
// difference around an operation counts the exceptions it opened.
func maxExceptionID(tx *Tx) int64 {
	var id int64
	tx.QueryRow(`SELECT coalesce(max(id), 0) FROM exceptions`).Scan(&id)
	return id
}

// resolveLine finds the row a report line concerns: the row the ledger
// recorded its session for, else the row its metadata names. row is 0
// when the ledger has no such row (batch is then the metadata's, or "").
func resolveLine(tx *Tx, l *ledgerapi.BankReportLine, ref *payout.BankRef) (batch string, row int, err error) {
	if l.SessionID != "" {
		b, r, err := rowBySession(tx, l.SessionID)
		if err == nil {
			return b, r, nil
		}
		if !errors.Is(err, errNotFound) {
			return "", 0, err
		}
	}
	if ref == nil {
		return "", 0, nil
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM rows WHERE batch_id = ? AND row_no = ?`, ref.Batch, ref.Row).Scan(&n); err != nil {
		return "", 0, fmt.Errorf("look up row %s: %w", ref, err)
	}
	if n == 0 {
		return ref.Batch, 0, nil
	}
	return ref.Batch, ref.Row, nil
}

// settleByReport applies one report line to the row it concerns, through
// the same transition path as a webhook (source "report"): a paid
// operation finishes a row that waits for the bank or is in doubt; one for
// a row that failed, or from a session that is not the row's, opens the
// exception the transition rules define. A Refund returns a succeeded
// row. A line that concerns no row of ours opens "paid but not in our
// records".
func (s *Service) settleByReport(tx *Tx, c *ledgerapi.ReportChunk, l *ledgerapi.BankReportLine, batch string, row int,
	res *ledgerapi.ReportImport) error {
	if row == 0 {
		res.Unknown++
		detail := fmt.Sprintf("the bank's report %s (line %d) lists %s %s of %s, session %q, that names no row of ours",
			c.Source, l.Line, l.Type, l.OperationID, l.Amount, l.SessionID)
		if batch != "" {
			ref, _ := payout.ParseBankRef([]byte(l.Metadata))
			detail += fmt.Sprintf(" (its metadata names row %s/%d, which the ledger does not know)", batch, ref.Row)
		}
		opened, err := openException(tx, ExceptionNotInRecords, l.OperationID+"/"+l.Type, batch, 0, detail)
		if err == nil && opened {
			s.log.Error("bank report: operation not in our records", LogKeyBatch, batch, LogKeyOperation, l.OperationID,
				LogKeySession, l.SessionID)
		}
		return err
	}
	r, err := loadRow(tx, batch, row)
	if err != nil {
		return err
	}
	ev := ledgerapi.Evidence{Source: ledgerapi.SourceReport,
		Detail: fmt.Sprintf("bank report %s line %d: %s %s", c.Source, l.Line, l.Type, l.OperationID)}
	var t ledgerapi.Transition
	switch l.Type {
	case ledgerapi.ReportAdvice:
		own := l.SessionID == "" || l.SessionID == r.SessionID || l.SessionID == r.ConfirmSession
		if (r.State == payout.StateSucceeded || r.State == payout.StateReturned) && own {
			return nil // the report agrees; the reconciliation compares the facts
		}
		amount := l.Amount
		t = ledgerapi.Transition{Batch: r.Batch, Row: r.Row, SessionID: l.SessionID, To: payout.StateSucceeded,
			PayoutID: l.OperationID, Paid: &amount, Fee: l.Fee, Evidence: ev}
	case ledgerapi.ReportRefund:
		if r.State != payout.StateSucceeded {
			return nil
		}
		t = ledgerapi.Transition{Batch: r.Batch, Row: r.Row, SessionID: l.SessionID, To: payout.StateReturned,
			Reason: "The recipient's bank returned the payout (bank report).", Evidence: ev}
	default:
		return nil // an operation type we do not act on; kept as evidence
	}
	reply, err := s.transition(tx, &t)
	if err != nil {
		return err
	}
	if reply.Applied {
		res.Settled++
		s.log.Info("row settled by the bank's report", LogKeyBatch, r.Batch, LogKeyRow, r.Row, LogKeyReference, r.Reference,
			LogKeyFrom, r.State, LogKeyTo, t.To, LogKeyOperation, l.OperationID)
	} else if reply.Error != nil {
		s.log.Warn("bank report line not applied", LogKeyBatch, r.Batch, LogKeyRow, r.Row, LogKeyReference, r.Reference,
			LogKeyState, r.State, LogKeyOperation, l.OperationID, LogKeyReason, cardmask.Redact(reply.Error.Message))
	}
	return nil
}

// batchesActiveOn lists batches released before the end of the last day
// and not finished before the first day minus the report grace: the only
// ones whose rows can have succeeded on those days.
func (db *DB) batchesActiveOn(ctx context.Context, days []string) ([]string, error) {
	if len(days) == 0 {
		return nil, nil
	}
	first, _ := time.Parse(time.DateOnly, slices.Min(days))
	last, _ := time.Parse(time.DateOnly, slices.Max(days))
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM batches WHERE released_at IS NOT NULL AND released_at < ?
		AND (finished_at IS NULL OR finished_at >= ?) ORDER BY id`,
		formatTime(last.AddDate(0, 0, 1)), formatTime(first.Add(-reportGrace)))
	if err != nil {
		return nil, fmt.Errorf("find batches active on %v: %w", days, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find batches active on %v: %w", days, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// handleReportImport serves ledgerapi.SubjectReportImport. Chunks are
// recorded in their own goroutine: the final one reconciles batches.
func (s *Service) handleReportImport(req micro.Request) {
	var c ledgerapi.ReportChunk
	if e := decode(req, &c); e != nil {
		respond(req, ledgerapi.ReportImportReply{Error: e})
		return
	}
	go func() {
		res, err := s.ImportReportChunk(context.Background(), c)
		if err != nil {
			respond(req, ledgerapi.ReportImportReply{Error: s.apiError(err)})
			return
		}
		respond(req, ledgerapi.ReportImportReply{Import: res})
	}()
}
