package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// Resubmitting failed rows. A child batch is made in the ledger of rows of
// a parent whose failure is final for its attempt (state failed, no open
// exception that says the bank may have paid after all, never resubmitted
// before). A child row is a new row with its own idempotency keys (they
// name the child batch) that pays from its parent's intake message: the
// processor reads the message at the parent's sequence, checks its digest,
// opens the card number with the message's own associated data (the
// parent's <batch>/<row>, rows.src_*) and names the child row in every call
// to the bank. The child goes through the duplicate guard and the approval
// policy as an upload does. A parent row goes to one child only, and the
// child's id is derived from the parent and its rows, so a resubmit asked
// twice makes one child; a child's failed rows may be resubmitted again
// from the child.

// Resubmit makes a child batch of the parent's failed rows: cmd.Rows, or
// every failed row not resubmitted yet (cmd.Failed).
func (s *Service) Resubmit(ctx context.Context, cmd ledgerapi.ResubmitCommand) (*ledgerapi.ResubmitReply, error) {
	if err := checkCommand(cmd.Batch, cmd.By, &cmd.Reason); err != nil {
		return nil, err
	}
	if len(cmd.Rows) > 0 == cmd.Failed {
		return nil, fmt.Errorf("%w: give the rows to resubmit or ask for every failed row, not both", errInvalid)
	}
	var child string
	var moved []ledgerapi.Resubmitted
	var held int
	err := s.w.Do(ctx, func(tx *Tx) error {
		if err := decidedAs(ctx, tx); err != nil {
			return err
		}
		var err error
		child, moved, held, err = s.resubmit(tx, cmd)
		return err
	})
	if err != nil {
		return nil, err
	}
	sum, err := s.db.Batch(ctx, child)
	if err != nil {
		return nil, err
	}
	s.log.Info("failed rows resubmitted", logkey.Batch, cmd.Batch, "child", child, "rows", len(moved), "held", held,
		"by", cardmask.Redact(cmd.By), "reason", cardmask.Redact(cmd.Reason))
	wake(s.release)
	return &ledgerapi.ResubmitReply{Batch: sum, Rows: moved}, nil
}

// parentRow is a parent row a resubmit considers.
type parentRow struct {
	no          int
	state       payout.State
	resubmitted string
	open        int // open exceptions naming the row
}

func (s *Service) resubmit(tx *Tx, cmd ledgerapi.ResubmitCommand) (string, []ledgerapi.Resubmitted, int, error) {
	st, _, err := batchStatus(tx, cmd.Batch)
	if err != nil {
		return "", nil, 0, err
	}
	if st == payout.BatchReceiving || st == payout.BatchRejected {
		return "", nil, 0, fmt.Errorf("%w: batch %s is %s; only a sealed batch's failed rows can be resubmitted", errInvalid, cmd.Batch, st)
	}
	q := `SELECT r.row_no, r.state, r.resubmitted_to,
		(SELECT count(*) FROM exceptions e WHERE e.batch_id = r.batch_id AND e.row_no = r.row_no AND e.closed_at IS NULL)
		FROM rows r WHERE r.batch_id = ?`
	args := []any{cmd.Batch}
	if cmd.Failed {
		// Every failed row that can go: not resubmitted, no open exception.
		q += ` AND r.state = 'failed' AND r.resubmitted_to = '' AND NOT EXISTS (SELECT 1 FROM exceptions e
			WHERE e.batch_id = r.batch_id AND e.row_no = r.row_no AND e.closed_at IS NULL)`
	} else {
		rows := slices.Clone(cmd.Rows)
		slices.Sort(rows)
		if rows[0] < 1 || len(slices.Compact(slices.Clone(rows))) != len(rows) {
			return "", nil, 0, fmt.Errorf("%w: row numbers must be positive and given once", errInvalid)
		}
		q += ` AND r.row_no IN (` + strings.Repeat("?, ", len(rows)-1) + `?)`
		for _, n := range rows {
			args = append(args, n)
		}
	}
	cand, err := queryParents(tx, q+` ORDER BY r.row_no`, args...)
	if err != nil {
		return "", nil, 0, err
	}
	// A row the bank paid after all, itself or any row it resubmits (its
	// parent's, and theirs): the money went out; never again.
	var paid = map[int]string{}
	for _, p := range cand {
		where, err := paidInChain(tx, cmd.Batch, p.no)
		if err != nil {
			return "", nil, 0, err
		}
		if where != "" {
			paid[p.no] = where
		}
	}
	if cmd.Failed {
		cand = slices.DeleteFunc(cand, func(p parentRow) bool { return paid[p.no] != "" })
	}
	nums := make([]int, 0, len(cand))
	for _, p := range cand {
		nums = append(nums, p.no)
	}
	child := resubmitID(cmd.Batch, nums)
	// Asked again (a retry of the same request): the child made the first
	// time is the answer.
	var parentOf string
	switch err := tx.QueryRow(`SELECT parent_batch FROM batches WHERE id = ?`, child).Scan(&parentOf); {
	case err == nil && parentOf == cmd.Batch:
		moved, err := childRows(tx, child)
		return child, moved, 0, err
	case err == nil:
		return "", nil, 0, fmt.Errorf("%w: batch id %s is taken", errInvalid, child)
	case !errors.Is(err, sql.ErrNoRows):
		return "", nil, 0, fmt.Errorf("read batch %s: %w", child, err)
	}
	var problems []string
	if !cmd.Failed {
		found := map[int]bool{}
		for _, p := range cand {
			found[p.no] = true
		}
		for _, n := range cmd.Rows {
			if !found[n] {
				problems = append(problems, fmt.Sprintf("row %d: no such row", n))
			}
		}
	}
	for _, p := range cand {
		switch {
		case p.resubmitted != "":
			problems = append(problems, fmt.Sprintf("row %d: resubmitted already in batch %s", p.no, p.resubmitted))
		case p.state == payout.StateInDoubt:
			problems = append(problems, fmt.Sprintf("row %d: in doubt; the bank may still pay it", p.no))
		case p.state != payout.StateFailed:
			problems = append(problems, fmt.Sprintf("row %d: %s, not failed", p.no, p.state))
		case paid[p.no] != "":
			problems = append(problems, fmt.Sprintf("row %d: the bank paid %s after all (paid_after_cancel); it is never paid again", p.no, paid[p.no]))
		case p.open > 0:
			problems = append(problems, fmt.Sprintf("row %d: has an open exception; settle it first", p.no))
		}
	}
	if len(problems) > 0 {
		return "", nil, 0, fmt.Errorf("%w: %s", errInvalid, strings.Join(problems, "; "))
	}
	if len(cand) == 0 {
		return "", nil, 0, fmt.Errorf("%w: batch %s has no failed rows to resubmit", errInvalid, cmd.Batch)
	}

	var name, fileName, fileSHA string
	var requireApproval bool
	if err := tx.QueryRow(`SELECT name, file_name, file_sha256, require_approval FROM batches WHERE id = ?`, cmd.Batch).
		Scan(&name, &fileName, &fileSHA, &requireApproval); err != nil {
		return "", nil, 0, fmt.Errorf("read batch %s: %w", cmd.Batch, err)
	}
	now := formatTime(tx.Now)
	if _, err := tx.Exec(`INSERT INTO batches (id, status, name, file_name, file_sha256, first_seen_at, parent_batch)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, child, payout.BatchReceiving, "resubmit of "+firstNonEmpty(name, cmd.Batch), fileName, fileSHA,
		now, cmd.Batch); err != nil {
		return "", nil, 0, fmt.Errorf("make batch %s: %w", child, err)
	}
	moved := make([]ledgerapi.Resubmitted, 0, len(cand))
	for i, p := range cand {
		k := i + 1
		if _, err := tx.Exec(`INSERT INTO rows (batch_id, row_no, line, reference, method, amount_minor, currency, recipient,
			destination, bin, last4, dest_hash, payee, meta, description, intake_seq, digest, received_at, state, moved_at,
			updated_at, parent_batch, parent_row, src_batch, src_row)
			SELECT ?1, ?2, line, reference, method, amount_minor, currency, recipient, destination, bin, last4, dest_hash, payee,
			meta, description, intake_seq, digest, ?3, 'received', ?3, ?3, batch_id, row_no,
			CASE WHEN src_batch = '' THEN batch_id ELSE src_batch END, CASE WHEN src_batch = '' THEN row_no ELSE src_row END
			FROM rows WHERE batch_id = ?4 AND row_no = ?5`, child, k, now, cmd.Batch, p.no); err != nil {
			return "", nil, 0, fmt.Errorf("resubmit row %d of %s: %w", p.no, cmd.Batch, err)
		}
		if _, err := tx.Exec(`UPDATE rows SET resubmitted_to = ?, resubmitted_row = ?, updated_at = ? WHERE batch_id = ? AND row_no = ?`,
			child, k, now, cmd.Batch, p.no); err != nil {
			return "", nil, 0, fmt.Errorf("resubmit row %d of %s: %w", p.no, cmd.Batch, err)
		}
		moved = append(moved, ledgerapi.Resubmitted{ParentRow: p.no, ChildRow: k})
	}
	// The child's rows as a manifest would say them, then the guard and
	// the approval policy, as for an upload.
	totals := money.Totals{}
	facts := auth.Facts{Totals: money.Totals{}, Largest: money.Totals{}, Methods: map[payout.Method]int{}}
	var digests [][]byte
	rows, err := tx.Query(`SELECT amount_minor, currency, method, digest FROM rows WHERE batch_id = ? ORDER BY row_no`, child)
	if err != nil {
		return "", nil, 0, fmt.Errorf("sum batch %s: %w", child, err)
	}
	for rows.Next() {
		var a money.Amount
		var d []byte
		var method payout.Method
		if err := rows.Scan(&a.Minor, &a.Currency, &method, &d); err != nil {
			rows.Close()
			return "", nil, 0, fmt.Errorf("sum batch %s: %w", child, err)
		}
		totals.Add(a)
		facts.Totals.Add(a)
		if a.Minor > facts.Largest[a.Currency] {
			facts.Largest[a.Currency] = a.Minor
		}
		facts.Methods[method]++
		digests = append(digests, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", nil, 0, fmt.Errorf("sum batch %s: %w", child, err)
	}
	if err := s.guardChild(tx, child); err != nil {
		return "", nil, 0, err
	}
	if _, err := s.sealHeld(tx, child); err != nil {
		return "", nil, 0, err
	}
	if facts.HeldRepeats, facts.ProbableDuplicates, err = heldByKind(tx, child); err != nil {
		return "", nil, 0, err
	}
	facts.Requested = requireApproval || s.cfg.HeldNeedApproval && facts.HeldRepeats+facts.ProbableDuplicates > 0
	totalsJSON, _ := json.Marshal(totals)
	if _, err := tx.Exec(`UPDATE batches SET manifest_rows = ?, manifest_totals = ?, manifest_digest = ?,
		require_approval = ?, created_at = ?, rows_recorded = ? WHERE id = ?`,
		len(cand), string(totalsJSON), payout.DigestRows(digests), requireApproval, now, len(cand), child); err != nil {
		return "", nil, 0, fmt.Errorf("seal batch %s: %w", child, err)
	}
	// The approval policy judges the child as an upload by the person who
	// resubmits it: they never approve it themselves.
	if err := judgeBatch(tx, &payout.Manifest{Batch: child, UploadedBy: cmd.By, UploaderID: cmd.ByUserID}, facts); err != nil {
		return "", nil, 0, err
	}
	var list []string
	for _, m := range moved {
		list = append(list, strconv.Itoa(m.ParentRow))
	}
	detail := fmt.Sprintf("rows %s → batch %s", strings.Join(list, ", "), child)
	if err := recordDecision(tx, cmd.By, ActionResubmit, cmd.Batch, 0, cmd.Reason, detail); err != nil {
		return "", nil, 0, err
	}
	if err := recordDecision(tx, cmd.By, ActionResubmit, child, 0, cmd.Reason, "of batch "+cmd.Batch+" "+detail); err != nil {
		return "", nil, 0, err
	}
	return child, moved, facts.HeldRepeats + facts.ProbableDuplicates, nil
}

// paidInChain finds, for a row and the rows it resubmits (its parent, the
// parent's parent …), one the bank paid after the ledger finished it (a
// paid_after_cancel exception, open or closed): "batch b… row 1", or "".
func paidInChain(tx *Tx, batch string, row int) (string, error) {
	var b string
	var n int
	err := tx.QueryRow(`WITH RECURSIVE chain (batch_id, row_no) AS (
			SELECT ?1, ?2
			UNION SELECT x.parent_batch, x.parent_row FROM rows x JOIN chain c ON x.batch_id = c.batch_id AND x.row_no = c.row_no
			WHERE x.parent_batch <> '')
		SELECT o.batch_id, o.row_no FROM chain o WHERE `+paidAfterAll+` LIMIT 1`, batch, row).Scan(&b, &n)
	switch {
	case isNoRows(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read what the bank paid of %s/%d: %w", batch, row, err)
	}
	if b == batch && n == row {
		return "this row", nil
	}
	return fmt.Sprintf("batch %s row %d, which it resubmits,", b, n), nil
}

func queryParents(tx *Tx, q string, args ...any) ([]parentRow, error) {
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("read rows to resubmit: %w", err)
	}
	defer rows.Close()
	var out []parentRow
	for rows.Next() {
		var p parentRow
		if err := rows.Scan(&p.no, &p.state, &p.resubmitted, &p.open); err != nil {
			return nil, fmt.Errorf("read rows to resubmit: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// childRows lists where the parent's rows went in a child.
func childRows(tx *Tx, child string) ([]ledgerapi.Resubmitted, error) {
	rows, err := tx.Query(`SELECT parent_row, row_no FROM rows WHERE batch_id = ? ORDER BY row_no`, child)
	if err != nil {
		return nil, fmt.Errorf("read batch %s: %w", child, err)
	}
	defer rows.Close()
	var out []ledgerapi.Resubmitted
	for rows.Next() {
		var m ledgerapi.Resubmitted
		if err := rows.Scan(&m.ParentRow, &m.ChildRow); err != nil {
			return nil, fmt.Errorf("read batch %s: %w", child, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// resubmitID is the child batch of parent's rows: the same request names
// the same child.
func resubmitID(parent string, rows []int) string {
	h := sha256.New()
	h.Write([]byte("payrun resubmit\x00" + parent))
	for _, n := range rows {
		h.Write([]byte("\x00" + strconv.Itoa(n)))
	}
	return payout.BatchID(h.Sum(nil))
}

// guardChild puts a child batch's rows through the duplicate guard: every
// row of another batch in the ledger is earlier than them.
func (s *Service) guardChild(tx *Tx, child string) error {
	rows, err := tx.Query(`SELECT row_no, reference, payee, amount_minor, currency FROM rows WHERE batch_id = ? ORDER BY row_no`, child)
	if err != nil {
		return fmt.Errorf("guard batch %s: %w", child, err)
	}
	var list []guardRow
	for rows.Next() {
		r := guardRow{batch: child}
		if err := rows.Scan(&r.row, &r.reference, &r.payee, &r.amount.Minor, &r.amount.Currency); err != nil {
			rows.Close()
			return fmt.Errorf("guard batch %s: %w", child, err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("guard batch %s: %w", child, err)
	}
	_, err = s.guard(tx, list, true)
	return err
}

// holdResubmitsOfPaid puts on hold the rows that resubmit a row the bank
// paid after the ledger finished it (its child's row, the child's own
// child's …), and the rows of other batches with its reference (a
// corrected re-export the guard let through while the row counted as
// failed), that are not final: a resubmit refuses such a row and the
// guard holds such a repeat, but one made before the bank's word came
// would pay the person a second time.
// Nothing new starts for a row on hold and the gate tells its session to
// wait at ready_to_confirm; an exception on each asks a person to cancel
// it (or, if the bank's word was wrong, resume it).
func holdResubmitsOfPaid(tx *Tx, batch string, row int) error {
	rows, err := tx.Query(`WITH RECURSIVE chain (batch_id, row_no) AS (
			SELECT resubmitted_to, resubmitted_row FROM rows WHERE batch_id = ?1 AND row_no = ?2 AND resubmitted_to <> ''
			UNION SELECT x.resubmitted_to, x.resubmitted_row FROM rows x JOIN chain c ON x.batch_id = c.batch_id AND x.row_no = c.row_no
			WHERE x.resubmitted_to <> '')
		SELECT batch_id, row_no FROM chain
		UNION SELECT o.batch_id, o.row_no FROM rows o, rows p WHERE p.batch_id = ?1 AND p.row_no = ?2
		AND o.reference = p.reference AND o.batch_id <> p.batch_id
		AND o.state NOT IN ('succeeded', 'failed', 'cancelled', 'returned')`, batch, row)
	if err != nil {
		return fmt.Errorf("resubmits of %s/%d: %w", batch, row, err)
	}
	var chain []rowRef
	for rows.Next() {
		var c rowRef
		if err := rows.Scan(&c.batch, &c.row); err != nil {
			rows.Close()
			return fmt.Errorf("resubmits of %s/%d: %w", batch, row, err)
		}
		chain = append(chain, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("resubmits of %s/%d: %w", batch, row, err)
	}
	for _, c := range chain {
		r, err := loadRow(tx, c.batch, c.row)
		if err != nil {
			return err
		}
		if r.State.Terminal() {
			continue
		}
		why := fmt.Sprintf("the bank paid batch %s row %d (%s), which this row repeats, after the ledger had finished it", batch, row, r.Reference)
		if r.Stop == "" {
			if err := setStop(tx, r, stopHold, "ledger", why); err != nil {
				return err
			}
			if err := recordDecision(tx, "ledger", ActionHold, r.Batch, r.Row, why, "at "+string(r.State)); err != nil {
				return err
			}
		}
		if _, err := openException(tx, reconcile.HeldRows, fmt.Sprintf("%s/%d/paid-parent", r.Batch, r.Row), r.Batch, r.Row,
			why+": on hold so it is not paid twice; cancel it, or resume it if the bank's word was wrong"); err != nil {
			return err
		}
	}
	return nil
}
