package ledger

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

const ledgerSource = ledgerapi.SourceLedger

// errInvalid marks a request the ledger refuses as it stands: wrapped
// with why ("%w: batch %s is %s"), it is a ledgerapi.CodeInvalid error.
var errInvalid = &ledgerapi.Error{Code: ledgerapi.CodeInvalid}

// errNotApproved refuses to release a batch whose approvals are not in.
var errNotApproved = errors.New("not released")

// moveRows moves every row of batch in state from to state to, logging one
// transition per row. It returns how many rows moved.
func moveRows(tx *Tx, batch string, from, to payout.State, source ledgerapi.Source, by, detail string) error {
	_, err := moveRowsN(tx, batch, from, to, source, by, detail, -1)
	return err
}

// moveRowsN is moveRows for at most limit rows (in row order; -1 for all).
// Moving to queued bumps each row's gen (a release).
func moveRowsN(tx *Tx, batch string, from, to payout.State, source ledgerapi.Source, by, detail string, limit int) (int, error) {
	now := formatTime(tx.Now)
	bump := 0
	if to == payout.StateQueued {
		bump = 1
	}
	// The transitions log, written into moves directly (compact.go).
	keys, err := keysForMoves(tx, batch, tx.Now, source, by, detail)
	if err != nil {
		return 0, fmt.Errorf("log %s → %s of %s: %w", from, to, batch, err)
	}
	if _, err := tx.Exec(movesInsert+movesSelect("?7", "?8", "gen + ?9", "''")+` FROM rows
		WHERE batch_id = ?10 AND state = ?7 ORDER BY row_no LIMIT ?11`,
		append(keys, string(from), string(to), bump, batch, limit)...); err != nil {
		return 0, fmt.Errorf("log %s → %s of %s: %w", from, to, batch, err)
	}
	var res sql.Result
	if limit < 0 {
		res, err = tx.Exec(`UPDATE rows SET state = ?, gen = gen + ?, moved_at = ?, updated_at = ? WHERE batch_id = ? AND state = ?`,
			string(to), bump, now, now, batch, string(from))
	} else {
		res, err = tx.Exec(`UPDATE rows SET state = ?, gen = gen + ?, moved_at = ?, updated_at = ?
		WHERE batch_id = ? AND row_no IN (SELECT row_no FROM rows WHERE batch_id = ? AND state = ? ORDER BY row_no LIMIT ?)`,
			string(to), bump, now, now, batch, batch, string(from), limit)
	}
	if err != nil {
		return 0, fmt.Errorf("move %s → %s of %s: %w", from, to, batch, err)
	}
	n, _ := res.RowsAffected()
	if to.Terminal() && n > 0 {
		if _, err := tx.Exec(`UPDATE batches SET rows_terminal = rows_terminal + ? WHERE id = ?`, n, batch); err != nil {
			return 0, fmt.Errorf("count terminal rows of %s: %w", batch, err)
		}
	}
	return int(n), nil
}

// notAtBank are the states whose rows a cancellation moves to cancelled:
// no bank call for them was made (intents are recorded before the call).
var notAtBank = []payout.State{payout.StateReceived, payout.StateScheduled, payout.StateAwaitingApproval,
	payout.StateQueued, payout.StateClaimed, payout.StateQuoted}

// cancelRows cancels a batch's rows that are not at the bank yet; rows the
// duplicate guard held are dropped with it.
func cancelRows(tx *Tx, batch, reason string, source ledgerapi.Source) error {
	if _, err := tx.Exec(`UPDATE holds SET decision = 'dropped', decided_at = ?,
		decided_by = (SELECT cancelled_by FROM batches WHERE id = ?), decision_reason = ?
		WHERE batch_id = ? AND decision = ''`, formatTime(tx.Now), batch, "the batch was cancelled: "+reason, batch); err != nil {
		return fmt.Errorf("drop held rows of %s: %w", batch, err)
	}
	if _, err := tx.Exec(`UPDATE rows SET held = 0 WHERE batch_id = ? AND held = 1`, batch); err != nil {
		return fmt.Errorf("drop held rows of %s: %w", batch, err)
	}
	if err := closeBatchExceptions(tx, batch, "batch cancelled", reconcile.HeldRows, reconcile.BankFailures, reconcile.WaitingForFunds); err != nil {
		return err
	}
	for _, st := range notAtBank {
		if _, err := tx.Exec(`UPDATE rows SET reason = ?, job_gen = gen WHERE batch_id = ? AND state = ?`,
			reason, batch, string(st)); err != nil {
			return fmt.Errorf("cancel rows of %s: %w", batch, err)
		}
		if err := moveRows(tx, batch, st, payout.StateCancelled, source, "", reason); err != nil {
			return err
		}
	}
	return finishBatch(tx, batch)
}

// finishBatch marks a released batch done (or a cancelled one finished)
// once every accepted row is terminal.
func finishBatch(tx *Tx, batch string) error {
	_, err := tx.Exec(`UPDATE batches SET status = CASE status WHEN ? THEN ? ELSE status END, finished_at = ?
		WHERE id = ? AND finished_at IS NULL AND status IN (?, ?) AND manifest_rows IS NOT NULL
		AND rows_terminal >= manifest_rows`,
		payout.BatchReleased, payout.BatchDone, formatTime(tx.Now), batch, payout.BatchReleased, payout.BatchCancelled)
	if err != nil {
		return fmt.Errorf("finish batch %s: %w", batch, err)
	}
	return nil
}

// batchStatus reads a batch's status and reason in tx.
func batchStatus(tx *Tx, batch string) (payout.BatchStatus, string, error) {
	var st payout.BatchStatus
	var reason string
	err := tx.QueryRow(`SELECT status, reason FROM batches WHERE id = ?`, batch).Scan(&st, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("batch %s: %w", batch, errNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("read batch %s: %w", batch, err)
	}
	return st, reason, nil
}

// cancelBatch cancels a batch: rows not at the bank yet are cancelled; the
// rows it returns hold a live session that may wait at ready_to_confirm
// and need a poll so the gate cancels them at the bank.
func cancelBatch(tx *Tx, cmd ledgerapi.BatchCommand) ([]*rowRec, error) {
	st, _, err := batchStatus(tx, cmd.Batch)
	if err != nil {
		return nil, err
	}
	switch st {
	case payout.BatchCancelled:
		return nil, nil
	case payout.BatchRejected, payout.BatchDone:
		return nil, fmt.Errorf("%w: batch %s is %s", errInvalid, cmd.Batch, st)
	}
	cmd.Reason = cleanReason(cmd.Reason)
	reason := "cancelled by " + cmd.By
	if cmd.Reason != "" {
		reason += ": " + cmd.Reason
	}
	if _, err := tx.Exec(`UPDATE batches SET status = ?, reason = ?, cancelled_by = ?, cancelled_at = ? WHERE id = ?`,
		payout.BatchCancelled, reason, cmd.By, formatTime(tx.Now), cmd.Batch); err != nil {
		return nil, fmt.Errorf("cancel batch %s: %w", cmd.Batch, err)
	}
	if err := recordDecision(tx, cmd.By, ActionCancel, cmd.Batch, 0, cmd.Reason, "at "+string(st)); err != nil {
		return nil, err
	}
	if st == payout.BatchReceiving {
		return nil, nil // its rows are cancelled when the manifest seals it
	}
	if err := cancelRows(tx, cmd.Batch, reason, ledgerapi.SourceOperator); err != nil {
		return nil, err
	}
	// Rows a processor was opening at the bank: a new gen and a new pay job,
	// so a processor settles each against the cancelled batch now (the
	// transitions that would start anything are refused): cancelled, or in
	// doubt for a single-request payout that may have been sent.
	now := formatTime(tx.Now)
	if _, err := tx.Exec(`UPDATE rows SET gen = gen + 1, moved_at = ?, updated_at = ? WHERE batch_id = ? AND state IN (?, ?, ?)`,
		now, now, cmd.Batch, payout.StateOpening, payout.StateSessionOpen, payout.StateStarting); err != nil {
		return nil, fmt.Errorf("re-enqueue opening rows of %s: %w", cmd.Batch, err)
	}
	// Rows whose session may wait at ready_to_confirm (started, or a
	// confirm not known to have landed): a poll, and the gate cancels them.
	rows, err := tx.Query(`SELECT `+rowColumns+rowFrom+`WHERE r.batch_id = ? AND r.state IN (?, ?, ?) AND (r.session_id <> '' OR r.confirm_session <> '')`,
		cmd.Batch, payout.StateStarting, payout.StatePayoutStarted, payout.StateConfirming)
	if err != nil {
		return nil, fmt.Errorf("find live rows of %s: %w", cmd.Batch, err)
	}
	defer rows.Close()
	var live []*rowRec
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("find live rows of %s: %w", cmd.Batch, err)
		}
		live = append(live, r)
	}
	return live, rows.Err()
}

// dueBatches lists batches whose rows should be released now: scheduled
// ones whose time came, and released ones whose release was interrupted.
func dueBatches(tx *Tx) ([]string, error) {
	rows, err := tx.Query(`SELECT id FROM batches WHERE ((status = ? AND (schedule_at IS NULL OR schedule_at <= ?))
		OR (status = ? AND release_done = 0)) AND hold_source = '' ORDER BY first_seen_at`,
		payout.BatchScheduled, formatTime(tx.Now), payout.BatchReleased)
	if err != nil {
		return nil, fmt.Errorf("find due batches: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find due batches: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// releaseChunk moves up to limit received rows of a due batch to queued
// with the next gen; the job publisher sends their jobs after the commit.
// It reports whether the batch's release is complete.
func releaseChunk(tx *Tx, batch string, limit int) (moved int, done bool, err error) {
	st, _, err := batchStatus(tx, batch)
	if err != nil {
		return 0, false, err
	}
	if st != payout.BatchScheduled && st != payout.BatchReleased {
		return 0, true, nil // cancelled meanwhile
	}
	// The release gate: the approvals the policy asked for are in, and
	// the batch is not on hold.
	var required, given int
	var hold string
	if err := tx.QueryRow(`SELECT approvals_required, approvals_given, hold_source FROM batches WHERE id = ?`, batch).
		Scan(&required, &given, &hold); err != nil {
		return 0, false, fmt.Errorf("read approvals of %s: %w", batch, err)
	}
	if given < required {
		return 0, true, fmt.Errorf("batch %s is %s with %d of %d approvals: %w", batch, st, given, required, errNotApproved)
	}
	if hold != "" {
		return 0, true, nil // on hold meanwhile: the resume wakes the release
	}
	if st == payout.BatchScheduled {
		if _, err := tx.Exec(`UPDATE batches SET status = ?, released_at = ? WHERE id = ?`,
			payout.BatchReleased, formatTime(tx.Now), batch); err != nil {
			return 0, false, fmt.Errorf("release batch %s: %w", batch, err)
		}
	}
	n, err := releaseRows(tx, batch, limit)
	if err != nil {
		return 0, false, err
	}
	if n < limit {
		if _, err := tx.Exec(`UPDATE batches SET release_done = 1 WHERE id = ?`, batch); err != nil {
			return n, false, fmt.Errorf("release batch %s: %w", batch, err)
		}
		return n, true, finishBatch(tx, batch)
	}
	return n, false, nil
}

// releaseRows moves up to limit received rows of batch to queued with the
// next gen (in row order), passing by the rows the duplicate guard holds
// and rows on hold one by one. It returns how many moved.
func releaseRows(tx *Tx, batch string, limit int) (int, error) {
	now := formatTime(tx.Now)
	pick := `SELECT row_no FROM rows WHERE batch_id = ?1 AND state = 'received' AND held = 0 AND stop = '' AND card_wait = 0 ORDER BY row_no LIMIT ?2`
	// The transitions log, written into moves directly (compact.go): a
	// release of a 1M-row batch is one statement.
	keys, err := keysForMoves(tx, batch, tx.Now, ledgerSource, "", "released")
	if err != nil {
		return 0, fmt.Errorf("log the release of %s: %w", batch, err)
	}
	if _, err := tx.Exec(movesInsert+movesSelect("'received'", "'queued'", "gen + 1", "''")+` FROM rows
		WHERE batch_id = ?7 AND row_no IN (SELECT row_no FROM rows WHERE batch_id = ?7 AND state = 'received' AND held = 0
		AND stop = '' AND card_wait = 0 ORDER BY row_no LIMIT ?8)`, append(keys, batch, limit)...); err != nil {
		return 0, fmt.Errorf("log the release of %s: %w", batch, err)
	}
	res, err := tx.Exec(`UPDATE rows SET state = 'queued', gen = gen + 1, moved_at = ?3, updated_at = ?3
		WHERE batch_id = ?1 AND row_no IN (`+pick+`)`, batch, limit, now)
	if err != nil {
		return 0, fmt.Errorf("release rows of %s: %w", batch, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
