package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/workbook"
)

// ImportBankReport records a bank daily report read from r: every line as
// evidence, then applies what it proves (a row in doubt or waiting for the
// bank that the report lists as paid becomes succeeded with source
// "report"; a Refund moves a succeeded row to returned; an operation that
// names no row of ours opens "paid but not in our records") and finally
// reconciles every batch the report concerns. source names the file (see
// bank131.ParseDailyReport for days). Importing the same file again changes
// nothing. Writes go through the ledger's writer in chunks, so a large
// report does not hold the writer for long.
func (s *Service) ImportBankReport(ctx context.Context, r io.Reader, source string, days ...string) (*ledgerapi.ReportImport, error) {
	rep, err := bank131.ParseDailyReport(r, source, s.ReportOptions(days...))
	if err != nil {
		return nil, err
	}
	return s.ImportReport(ctx, rep)
}

// ReportOptions are how the ledger reads the bank's report files: in its
// report zone, XLSX through internal/workbook, for days (empty: from the
// file names, else the lines).
func (s *Service) ReportOptions(days ...string) bank131.ReportOptions {
	return bank131.ReportOptions{Days: days, Zone: s.cfg.ReportZone, XLSX: workbook.ReadRaw}
}

// ImportReport records a parsed bank report; see ImportBankReport.
func (s *Service) ImportReport(ctx context.Context, rep *bank131.DailyReport) (*ledgerapi.ReportImport, error) {
	return ledgerapi.SendChunks(ledgerapi.Chunks(rep, 0), func(c ledgerapi.ReportChunk) (*ledgerapi.ReportImport, error) {
		return s.ImportReportChunk(ctx, c)
	})
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
	s.log.Info("bank report imported", "report", c.Source, "count", c.Total, "new", res.New,
		"settled", res.Settled, "unknown", res.Unknown)
	// Reconcile what the report concerns: batches it names, and batches
	// whose rows may have finished on the days it covers.
	active, err := s.db.batchesActiveOn(ctx, c.Days, s.cfg.ReportZone)
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
	known := res.Batches[:0]
	for _, b := range res.Batches {
		rec, err := s.Reconcile(ctx, b)
		if errors.Is(err, errNotFound) {
			continue // named by a line's metadata, but not a batch of ours (its paid_not_in_records is open)
		}
		if err != nil {
			return nil, err
		}
		known = append(known, b)
		res.Opened += rec.Opened
	}
	res.Batches = known
	return res, nil
}

// importChunk records a chunk's lines and settles rows by them, in tx.
func (s *Service) importChunk(tx *Tx, c *ledgerapi.ReportChunk, res *ledgerapi.ReportImport, touched map[string]bool) error {
	var complete, lines int
	err := tx.QueryRow(`SELECT complete, lines FROM bank_reports WHERE id = ?`, c.Report).Scan(&complete, &lines)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		var files string
		if len(c.Files) > 0 {
			b, _ := json.Marshal(c.Files)
			files = string(b)
		}
		if _, err := tx.Exec(`INSERT INTO bank_reports (id, source, lines, started_at, part, files) VALUES (?, ?, ?, ?, ?, ?)`,
			c.Report, c.Source, c.Total, formatTime(tx.Now), c.Part, files); err != nil {
			return fmt.Errorf("record bank report: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read bank report: %w", err)
	case complete == 1:
		// Recorded before. Only days it did not cover yet change anything
		// (the same empty report bytes may come for several days).
		res.Already, res.Complete = true, true
		if c.Final {
			added, err := s.coverDays(tx, c, res)
			if err != nil {
				return err
			}
			res.Already = added == 0
			if added > 0 {
				if err := s.settleNotSent(tx, res, touched); err != nil {
					return err
				}
			}
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
		grossMinor, _ := optAmount(l.Gross)
		ins, err := tx.Exec(`INSERT INTO bank_report_lines (batch_id, row_no, report_id, line, operation_id, session_id, type,
			metadata, ref_batch, ref_row, ref_reference, transaction_date, finished_at, amount_minor, currency, fee_minor,
			fee_currency, payment_fast, payment_method, contract, created_at, gross_minor, product, file, file_line)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (report_id, line) DO NOTHING`,
			batch, row, c.Report, l.Line, l.OperationID, l.SessionID, l.Type, cardmask.Redact(l.Metadata), refBatch, refRow, cardmask.Redact(refRef),
			l.TransactionDate, l.FinishedAt, l.Amount.Minor, upper(l.Amount.Currency), feeMinor, feeCur,
			l.PaymentFast, cardmask.Redact(l.PaymentMethod), l.Contract, l.CreatedAt, grossMinor, l.Product, l.File, l.FileLine)
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
		if _, err := tx.Exec(`UPDATE bank_reports SET complete = 1, imported_at = ? WHERE id = ?`, formatTime(tx.Now), c.Report); err != nil {
			return fmt.Errorf("complete bank report: %w", err)
		}
		if _, err := s.coverDays(tx, c, res); err != nil {
			return err
		}
		res.Complete = true
		if err := s.settleNotSent(tx, res, touched); err != nil {
			return err
		}
	}
	res.Opened += int(maxExceptionID(tx) - before)
	return nil
}

// coverDays records the days a complete report covers, each one partial
// when it was not over yet in the bank's time zone, and then which of them
// the reports now cover completely (bank_days): a whole report, or
// Config.ReportParts distinct parts, that is not partial. It returns how
// many days it recorded for the report that it had not recorded before.
func (s *Service) coverDays(tx *Tx, c *ledgerapi.ReportChunk, res *ledgerapi.ReportImport) (int, error) {
	added := 0
	res.Partial, res.Covered = nil, nil
	for _, d := range c.Days {
		day, err := time.ParseInLocation(time.DateOnly, d, s.cfg.ReportZone)
		if err != nil {
			return 0, fmt.Errorf("%w: day %q is not YYYY-MM-DD", errInvalid, d)
		}
		partial := tx.Now.Before(day.AddDate(0, 0, 1))
		r, err := tx.Exec(`INSERT INTO bank_report_days (day, report_id, partial) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			d, c.Report, partial)
		if err != nil {
			return 0, fmt.Errorf("record bank report days: %w", err)
		}
		n, _ := r.RowsAffected()
		added += int(n)
		var isPartial bool
		if err := tx.QueryRow(`SELECT partial FROM bank_report_days WHERE day = ? AND report_id = ?`, d, c.Report).Scan(&isPartial); err != nil {
			return 0, fmt.Errorf("read bank report day %s: %w", d, err)
		}
		if isPartial {
			res.Partial = append(res.Partial, d)
			s.log.Warn("bank report of a day that is not over: partial, the day stays open", "report", c.Source, "day", d,
				"zone", s.cfg.ReportZone.String())
			continue
		}
		var whole bool
		var parts, maxPart int
		if err := tx.QueryRow(`SELECT coalesce(max(r.part = 0), 0), count(DISTINCT nullif(r.part, 0)), coalesce(max(r.part), 0)
			FROM bank_report_days d JOIN bank_reports r ON r.id = d.report_id
			WHERE d.day = ? AND d.partial = 0 AND r.complete = 1`, d).Scan(&whole, &parts, &maxPart); err != nil {
			return 0, fmt.Errorf("read the reports of %s: %w", d, err)
		}
		if maxPart > s.cfg.ReportParts {
			s.log.Warn("bank report part beyond the parts a day has (--report-parts)", "report", c.Source, "day", d,
				"part", maxPart, "parts", s.cfg.ReportParts)
		}
		if !whole && parts < s.cfg.ReportParts {
			continue
		}
		if _, err := tx.Exec(`INSERT INTO bank_days (day, covered_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, d, formatTime(tx.Now)); err != nil {
			return 0, fmt.Errorf("record covered day %s: %w", d, err)
		}
		res.Covered = append(res.Covered, d)
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
func resolveLine(tx *Tx, l *bank131.ReportLine, ref *payout.BankRef) (batch string, row int, err error) {
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
// operation finishes a row that waits for the bank or is in doubt, with
// the bank's fee; one for a row that failed, or from a session that is not
// the row's, opens the exception the transition rules define. A row the
// report agrees with gets the report's fee (a webhook may have brought
// none, or another: an exception). A Refund returns a succeeded row. A
// line that concerns no row of ours opens "paid but not in our records".
func (s *Service) settleByReport(tx *Tx, c *ledgerapi.ReportChunk, l *bank131.ReportLine, batch string, row int,
	res *ledgerapi.ReportImport) error {
	if row == 0 {
		res.Unknown++
		detail := fmt.Sprintf("the bank's report %s (line %d) lists %s %s of %s, session %q, that names no row of ours",
			c.Source, l.Line, l.Type, l.OperationID, l.Amount, l.SessionID)
		if batch != "" {
			ref, _ := payout.ParseBankRef([]byte(l.Metadata))
			detail += fmt.Sprintf(" (its metadata names row %s/%d, which the ledger does not know)", batch, ref.Row)
		}
		opened, err := openException(tx, reconcile.PaidNotInRecords, l.OperationID+"/"+l.Type, batch, 0, detail)
		if err == nil && opened {
			s.log.Error("bank report: operation not in our records", logkey.Batch, batch, "operation", l.OperationID,
				logkey.Session, l.SessionID)
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
	case bank131.ReportAdvice:
		own := l.SessionID == "" || l.SessionID == r.SessionID || l.SessionID == r.ConfirmSession
		if (r.State == payout.StateSucceeded || r.State == payout.StateReturned) && own {
			// The report agrees (the reconciliation compares the
			// amounts); what it adds is the fee.
			return s.recordReportFee(tx, c, l, r, res)
		}
		amount := l.Amount
		t = ledgerapi.Transition{Batch: r.Batch, Row: r.Row, SessionID: l.SessionID, To: payout.StateSucceeded,
			PayoutID: l.OperationID, Paid: &amount, Fee: l.Fee, Evidence: ev}
	case bank131.ReportRefund:
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
		if t.Fee != nil {
			res.Fees++
		}
		s.log.Info("row settled by the bank's report", logkey.Batch, r.Batch, logkey.Row, r.Row, logkey.Reference, r.Reference,
			"from", r.State, "to", t.To, "operation", l.OperationID)
	} else if reply.Error != nil {
		s.log.Warn("bank report line not applied", logkey.Batch, r.Batch, logkey.Row, r.Row, logkey.Reference, r.Reference,
			logkey.State, r.State, "operation", l.OperationID, "reason", cardmask.Redact(reply.Error.Message))
	}
	return nil
}

// recordReportFee records the fee a report line gives for a row already
// paid: the report is the bank's statement, so its fee is the row's; one
// that differs from the fee a webhook recorded is also an exception.
func (s *Service) recordReportFee(tx *Tx, c *ledgerapi.ReportChunk, l *bank131.ReportLine, r *rowRec, res *ledgerapi.ReportImport) error {
	if l.Fee == nil || (r.PayoutID != "" && l.OperationID != r.PayoutID) {
		return nil // no fee, or a second operation (the reconciliation's two_operations)
	}
	if r.Fee != nil && (r.Fee.Minor == l.Fee.Minor || upper(r.Fee.Currency) != upper(l.Fee.Currency)) {
		return nil // the same fee; or in another currency (a transfer's line): the webhook's stays, the line is the evidence
	}
	if r.Fee != nil {
		detail := fmt.Sprintf("the bank's report %s (line %d) lists the fee of %s for row %d (%s) as %s; its webhook said %s",
			c.Source, l.Line, l.OperationID, r.Row, r.Reference, l.Fee, r.Fee)
		if _, err := openException(tx, reconcile.AmountMismatch, reconcile.RowKey(r.Batch, r.Row)+"/fee/"+l.OperationID,
			r.Batch, r.Row, detail); err != nil {
			return err
		}
		s.log.Warn("bank report fee differs from the webhook's", logkey.Batch, r.Batch, logkey.Row, r.Row,
			"report_fee", l.Fee.String(), "webhook_fee", r.Fee.String())
	}
	if _, err := tx.Exec(`UPDATE rows SET fee_minor = ?, fee_currency = ?, updated_at = ? WHERE batch_id = ? AND row_no = ?`,
		l.Fee.Minor, upper(l.Fee.Currency), formatTime(tx.Now), r.Batch, r.Row); err != nil {
		return fmt.Errorf("record the fee of %s/%d: %w", r.Batch, r.Row, err)
	}
	res.Fees++
	return nil
}

// batchesActiveOn lists batches released before the end of the last day
// and not finished before the first day minus the report grace (days of
// the bank's zone): the only ones whose rows can have succeeded on those
// days.
func (db *DB) batchesActiveOn(ctx context.Context, days []string, zone *time.Location) ([]string, error) {
	if len(days) == 0 {
		return nil, nil
	}
	first, _ := time.ParseInLocation(time.DateOnly, slices.Min(days), zone)
	last, _ := time.ParseInLocation(time.DateOnly, slices.Max(days), zone)
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM batches WHERE released_at IS NOT NULL AND released_at < ?
		AND (finished_at IS NULL OR finished_at >= ?) ORDER BY id`,
		formatTime(last.AddDate(0, 0, 1)), formatTime(first.Add(-reconcile.ReportGrace)))
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
		if err != nil || c.Final {
			s.auditNATSImport(c, res, err)
		}
		if err != nil {
			respond(req, ledgerapi.ReportImportReply{Error: s.apiError(err)})
			return
		}
		respond(req, ledgerapi.ReportImportReply{Import: res})
	}()
}

// ReportComponent is who imports a report over NATS, as the audit log
// names it: the only NATS user allowed to publish the subject
// (deploy/nats/payrun-auth.conf), the report watcher.
const ReportComponent = "reports"

// auditNATSImport records a report imported (its last chunk) or refused
// over NATS: an import settles rows, as one over HTTP does.
func (s *Service) auditNATSImport(c ledgerapi.ReportChunk, res *ledgerapi.ReportImport, err error) {
	s.auditImport(auth.Actor{Name: ReportComponent, Via: auth.ViaNATS}, c.Source, c.Report, res, err)
}

// ImportReportAs imports a bank report as by (`ledger import-report --db`
// on the ledger's host) and records it in the audit log, as the API and
// the NATS import do: an import settles rows.
func (s *Service) ImportReportAs(ctx context.Context, by auth.Actor, rep *bank131.DailyReport) (*ledgerapi.ReportImport, error) {
	res, err := s.ImportReport(ctx, rep)
	s.auditImport(by, rep.Source, rep.ID, res, err)
	return res, err
}

// auditImport records an import of the report named source (its sha256
// id), done or refused.
func (s *Service) auditImport(by auth.Actor, source, id string, res *ledgerapi.ReportImport, err error) {
	e := auth.NewEntry(by, auth.ActImportReport, auth.OutcomeOK)
	e.Target = source
	switch {
	case err != nil:
		e.Outcome, e.Detail = auth.OutcomeRefused, ledgerapi.ErrorMessage(err)
		if ledgerapi.ErrorCode(err) == ledgerapi.CodeInternal {
			e.Outcome = auth.OutcomeFailed
		}
	case res.Already:
		e.Detail = fmt.Sprintf("report %s imported already", id)
	default:
		e.Detail = fmt.Sprintf("report %s: %d lines, %d new, %d settled, %d unknown", id, res.Lines, res.New, res.Settled, res.Unknown)
	}
	if aerr := s.Audit(context.Background(), e); aerr != nil {
		s.log.Error("audit a report import", logkey.Error, aerr)
	}
}
