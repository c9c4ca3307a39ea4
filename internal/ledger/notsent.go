package ledger

import (
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
)

// settleNotSent applies the bank's rule for its daily report of successful
// operations: an operation that is not in the complete reports covering
// the day it was sent did not happen (developer.131.ru, the older version
// of the payouts-daily-report page: "If an operation is marked as
// successful on your side but it does not appear in the report, you need
// to repeat the request"). The page does not say whether a line belongs to
// the day the payout was created or the day it finished, so the reports
// must cover the day the row's request was sent and the next day.
//
// Only a row the bank may never have heard of is settled so: in_doubt
// with no session id (the bank answered nothing), no session the ledger
// ever recorded for it, no webhook naming it (bank_events, by our
// metadata) and no line of any report about it. A row with a session, or a
// session in status error, is the bank's to settle (it "is not final";
// webhooks, polls or a later report tell). The row fails with
// ErrorNotInBankReport (source report): nothing was paid, and a resubmit
// may send it again. Should the bank correct its reports later and list
// it after all, the transition rules open paid_after_cancel.
func (s *Service) settleNotSent(tx *Tx, res *ledgerapi.ReportImport, touched map[string]bool) error {
	type cand struct {
		batch  string
		row    int
		sentAt string
	}
	rows, err := tx.Query(`SELECT r.batch_id, r.row_no, r.sent_at FROM rows r
		WHERE r.state = 'in_doubt' AND r.session_id = '' AND r.confirm_session = '' AND r.sent_at <> ''
		AND NOT EXISTS (SELECT 1 FROM sessions x WHERE x.batch_id = r.batch_id AND x.row_no = r.row_no)
		AND NOT EXISTS (SELECT 1 FROM bank_events e WHERE e.ref_batch = r.batch_id AND e.ref_row = r.row_no)
		AND NOT EXISTS (SELECT 1 FROM bank_report_lines l WHERE l.batch_id = r.batch_id AND l.row_no = r.row_no)`)
	if err != nil {
		return fmt.Errorf("find rows in doubt: %w", err)
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.batch, &c.row, &c.sentAt); err != nil {
			rows.Close()
			return fmt.Errorf("find rows in doubt: %w", err)
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find rows in doubt: %w", err)
	}
	covered := map[string]bool{}
	isCovered := func(day string) (bool, error) {
		if v, ok := covered[day]; ok {
			return v, nil
		}
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM bank_days WHERE day = ?`, day).Scan(&n); err != nil {
			return false, fmt.Errorf("read covered day %s: %w", day, err)
		}
		covered[day] = n > 0
		return n > 0, nil
	}
	for _, c := range cands {
		sent := parseTime(c.sentAt).In(s.cfg.ReportZone)
		if sent.IsZero() {
			continue
		}
		d0 := sent.Format(time.DateOnly)
		d1 := sent.AddDate(0, 0, 1).Format(time.DateOnly)
		ok0, err := isCovered(d0)
		if err != nil {
			return err
		}
		ok1, err := isCovered(d1)
		if err != nil {
			return err
		}
		if !ok0 || !ok1 {
			continue
		}
		t := ledgerapi.Transition{Batch: c.batch, Row: c.row, To: payout.StateFailed, Expect: []payout.State{payout.StateInDoubt},
			ErrorCode: ledgerapi.ErrorNotInBankReport,
			Reason: fmt.Sprintf("Not paid: the bank's complete daily reports of %s and %s do not list this payout, and the bank "+
				"never answered or sent a webhook for it, so its request never reached the bank. It may be sent again (resubmit).", d0, d1),
			Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceReport,
				Detail: fmt.Sprintf("sent %s; no session, no webhook and no report line names the row; the reports cover %s and %s (%s time)",
					formatTime(sent), d0, d1, s.cfg.ReportZone)}}
		reply, err := s.transition(tx, &t)
		if err != nil {
			return err
		}
		if reply.Applied {
			res.NotPaid++
			touched[c.batch] = true
			s.log.Warn("row settled not paid by the bank's reports: its request never reached the bank",
				logkey.Batch, c.batch, logkey.Row, c.row, "sent_at", formatTime(sent), "days", d0+","+d1)
		}
	}
	return nil
}
