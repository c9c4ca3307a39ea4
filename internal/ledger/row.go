package ledger

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// rowRec is a row as stored, with its batch's status.
type rowRec struct {
	Batch          string
	Row            int
	Line           int
	Reference      string
	Method         payout.Method
	Amount         money.Amount
	Recipient      string
	Destination    string
	BIN, Last4     string
	DestHash       string
	IntakeSeq      uint64
	Digest         []byte
	State          payout.State
	Gen, JobGen    int
	Attempt        int
	SessionID      string
	ConfirmSession string
	PayoutID       string
	IdemKey        string
	SentAt         string
	Resends        int
	Worker         string
	QuoteID        sql.NullInt64
	ErrorCode      string
	Reason         string
	ActionURL      string
	TCN            string
	Fee, Paid      *money.Amount
	MovedAt        string
	Polls          int
	UpdatedAt      string
	BatchStatus    payout.BatchStatus
	Held           bool   // the duplicate guard holds the row
	Stop           string // '' | stopHold | stopCancel: a person's hold or cancel of this row
	SrcBatch       string // the row its intake message names, when not this one (a resubmitted row)
	SrcRow         int
	BatchHold      string // the batch's hold source ('' when not on hold)
	CardWait       bool   // an encrypted_card row waiting for its card (a recipient link)
}

// Row stops (rows.stop).
const (
	stopHold   = "hold"
	stopCancel = "cancel"
)

// onHold reports whether nothing new may start for the row: it or its
// batch is on hold.
func (r *rowRec) onHold() bool { return r.Stop == stopHold || r.BatchHold != "" }

// cancelled reports whether the row or its batch was cancelled.
func (r *rowRec) cancelled() bool {
	return r.Stop == stopCancel || r.BatchStatus == payout.BatchCancelled
}

// rowColumns are the columns scanRow reads, in order (r = rows).
const rowColumns = `r.batch_id, r.row_no, r.line, r.reference, r.method, r.amount_minor, r.currency,
	r.recipient, r.destination, r.bin, r.last4, r.dest_hash, r.intake_seq, r.digest, r.state, r.gen, r.job_gen,
	r.attempt, r.session_id, r.confirm_session, r.payout_id, r.idem_key, r.sent_at, r.resends, r.worker, r.quote_id, r.error_code,
	r.reason, r.action_url, r.tcn, r.fee_minor, r.fee_currency, r.paid_minor, r.paid_currency, r.moved_at,
	r.polls, r.updated_at, (SELECT b.status FROM batches b WHERE b.id = r.batch_id),
	r.held, r.stop, r.src_batch, r.src_row, (SELECT b.hold_source FROM batches b WHERE b.id = r.batch_id), r.card_wait`

// rowFrom names the rows table as r. (A join with batches made SQLite scan
// batches first: 20 times slower per row lookup than the subquery above.)
const rowFrom = ` FROM rows r `

type scanner interface{ Scan(dest ...any) error }

func scanRow(s scanner) (*rowRec, error) {
	var r rowRec
	var seq int64
	var feeMinor, paidMinor sql.NullInt64
	var feeCur, paidCur string
	err := s.Scan(&r.Batch, &r.Row, &r.Line, &r.Reference, &r.Method, &r.Amount.Minor, &r.Amount.Currency,
		&r.Recipient, &r.Destination, &r.BIN, &r.Last4, &r.DestHash, &seq, &r.Digest, &r.State, &r.Gen, &r.JobGen,
		&r.Attempt, &r.SessionID, &r.ConfirmSession, &r.PayoutID, &r.IdemKey, &r.SentAt, &r.Resends, &r.Worker, &r.QuoteID, &r.ErrorCode,
		&r.Reason, &r.ActionURL, &r.TCN, &feeMinor, &feeCur, &paidMinor, &paidCur, &r.MovedAt,
		&r.Polls, &r.UpdatedAt, &r.BatchStatus, &r.Held, &r.Stop, &r.SrcBatch, &r.SrcRow, &r.BatchHold, &r.CardWait)
	if err != nil {
		return nil, err
	}
	r.IntakeSeq = uint64(seq)
	if feeMinor.Valid {
		r.Fee = &money.Amount{Minor: feeMinor.Int64, Currency: feeCur}
	}
	if paidMinor.Valid {
		r.Paid = &money.Amount{Minor: paidMinor.Int64, Currency: paidCur}
	}
	return &r, nil
}

// errNotFound is a missing batch, row or session: wrapped with what is
// missing ("row %s/%d: %w"), it is a ledgerapi.CodeNotFound error.
var errNotFound = &ledgerapi.Error{Code: ledgerapi.CodeNotFound}

// loadRow reads a row inside the writer's transaction.
func loadRow(tx *Tx, batch string, row int) (*rowRec, error) {
	r, err := scanRow(tx.QueryRow(`SELECT `+rowColumns+rowFrom+`WHERE r.batch_id = ? AND r.row_no = ?`, batch, row))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("row %s/%d: %w", batch, row, errNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load row %s/%d: %w", batch, row, err)
	}
	return r, nil
}

// rowBySession finds the row a bank session belongs to (its session,
// confirm session, or any session the ledger recorded for it).
func rowBySession(tx *Tx, session string) (batch string, row int, err error) {
	err = tx.QueryRow(`SELECT batch_id, row_no FROM sessions WHERE session_id = ?`, session).Scan(&batch, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, fmt.Errorf("session %s: %w", session, errNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("look up session %s: %w", session, err)
	}
	return batch, row, nil
}

// quoteByID reads a recorded quote.
func quoteByID(q interface {
	QueryRow(string, ...any) *sql.Row
}, id int64) (*ledgerapi.Quote, error) {
	var qt ledgerapi.Quote
	var feeCur string
	err := q.QueryRow(`SELECT source_minor, source_currency, dest_minor, dest_currency, transfer_fee_minor,
		sms_fee_minor, fee_currency, payment_minor, payment_currency, fx_rate, quantity FROM quotes WHERE id = ?`, id).
		Scan(&qt.Source.Minor, &qt.Source.Currency, &qt.Destination.Minor, &qt.Destination.Currency,
			&qt.TransferFee.Minor, &qt.SMSFee.Minor, &feeCur, &qt.Payment.Minor, &qt.Payment.Currency,
			&qt.FXRate, &qt.Quantity)
	if err != nil {
		return nil, fmt.Errorf("load quote %d: %w", id, err)
	}
	qt.TransferFee.Currency, qt.SMSFee.Currency = feeCur, feeCur
	return &qt, nil
}

// api returns the row as the protocol shows it; quote may be nil.
func (r *rowRec) api(quote *ledgerapi.Quote) *ledgerapi.RowState {
	return &ledgerapi.RowState{
		Batch:          r.Batch,
		Row:            r.Row,
		Reference:      r.Reference,
		Method:         r.Method,
		Amount:         r.Amount,
		Recipient:      r.Recipient,
		Destination:    r.Destination,
		State:          r.State,
		BatchStatus:    r.BatchStatus,
		Gen:            r.Gen,
		Attempt:        r.Attempt,
		SessionID:      r.SessionID,
		ConfirmSession: r.ConfirmSession,
		PayoutID:       r.PayoutID,
		IdemKey:        r.IdemKey,
		Sent:           r.SentAt != "",
		IntakeSeq:      r.IntakeSeq,
		RowDigest:      fmt.Sprintf("%x", r.Digest),
		Quote:          quote,
		ErrorCode:      r.ErrorCode,
		Reason:         r.Reason,
		ActionURL:      r.ActionURL,
		TCN:            r.TCN,
		Worker:         r.Worker,
		Fee:            r.Fee,
		Paid:           r.Paid,
		MovedAt:        parseTime(r.MovedAt),
		UpdatedAt:      parseTime(r.UpdatedAt),
		OnHold:         r.onHold(),
		Cancelled:      r.Stop == stopCancel,
		IntakeBatch:    r.SrcBatch,
		IntakeRow:      r.SrcRow,
	}
}

// apiRow returns the row as the protocol shows it, with its quote, read in tx.
func apiRow(tx *Tx, r *rowRec) *ledgerapi.RowState {
	var q *ledgerapi.Quote
	if r.QuoteID.Valid {
		q, _ = quoteByID(tx, r.QuoteID.Int64)
	}
	st := r.api(q)
	if r.Method == payout.MethodEncryptedCard {
		st.Card, _ = rowCard(tx, r)
	}
	return st
}

// Row returns a row's current state from the read pool.
func (db *DB) Row(batch string, row int) (*ledgerapi.RowState, error) {
	r, err := scanRow(db.r.QueryRow(`SELECT `+rowColumns+rowFrom+`WHERE r.batch_id = ? AND r.row_no = ?`, batch, row))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("row %s/%d: %w", batch, row, errNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read row %s/%d: %w", batch, row, err)
	}
	var q *ledgerapi.Quote
	if r.QuoteID.Valid {
		if q, err = quoteByID(db.r, r.QuoteID.Int64); err != nil {
			return nil, err
		}
	}
	st := r.api(q)
	if r.Method == payout.MethodEncryptedCard {
		if st.Card, err = rowCard(db.r, r); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// RowBySession returns the row a bank session belongs to.
func (db *DB) RowBySession(session string) (*ledgerapi.RowState, error) {
	var batch string
	var row int
	err := db.r.QueryRow(`SELECT batch_id, row_no FROM sessions WHERE session_id = ?`, session).Scan(&batch, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session %s: %w", session, errNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up session %s: %w", session, err)
	}
	return db.Row(batch, row)
}
