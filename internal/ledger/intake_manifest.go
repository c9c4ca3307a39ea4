package ledger

import (
	"cmp"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// Sealing a batch at intake: its manifest compared with the rows recorded.

// checkManifest seals a batch: it compares the manifest with what the
// ledger recorded and accepts (scheduled or awaiting_approval) or rejects
// the batch as a whole. A repeated manifest is a no-op. It returns the
// rejection reason, if any.
func (s *Service) checkManifest(tx *Tx, m *intakeMsg, seals *sealAccs) (accepted bool, reason string, err error) {
	man := m.Manifest
	var st payout.BatchStatus
	var prevDigest sql.NullString
	if err := tx.QueryRow(`SELECT status, manifest_digest FROM batches WHERE id = ?`, man.Batch).Scan(&st, &prevDigest); err != nil {
		return false, "", fmt.Errorf("read batch %s: %w", man.Batch, err)
	}
	if prevDigest.Valid {
		if prevDigest.String != manifestDigest(man) {
			_, err := openException(tx, reconcile.Manifest, fmt.Sprintf("%s/second/%d", man.Batch, m.Seq), man.Batch, 0,
				fmt.Sprintf("a second manifest (intake seq %d) differs from the first; ignored", m.Seq))
			return false, "", err
		}
		return false, "", nil // a repeat
	}

	rf, err := seals.sealRowFacts(tx, man.Batch, man.RowDigestsSHA256 != "")
	if err != nil {
		return false, "", err
	}
	reason, facts, err := compareManifest(tx, man, rf)
	if err != nil {
		return false, "", err
	}
	totals, _ := json.Marshal(man.Totals)
	if _, err := tx.Exec(`UPDATE batches SET name = ?, file_name = ?, file_sha256 = ?, manifest_rows = ?, manifest_totals = ?,
		manifest_digest = ?, manifest_seq = ?, manifest_json = ?, schedule_at = ?, require_approval = ?, created_at = ?
		WHERE id = ?`, man.Name, man.FileName, man.FileSHA256, man.Rows, string(totals), manifestDigest(man), int64(m.Seq),
		string(m.Raw), nullTime(man.ScheduleAt), man.RequireApproval, nullTime(&man.CreatedAt), man.Batch); err != nil {
		return false, "", fmt.Errorf("record manifest of %s: %w", man.Batch, err)
	}
	switch {
	case st == payout.BatchCancelled:
		// Cancelled while its rows arrived: nothing of it starts.
		return false, reason, cancelRows(tx, man.Batch, "batch cancelled before it was sealed", ledgerSource)
	case reason != "":
		if _, err := tx.Exec(`UPDATE batches SET status = ?, reason = ? WHERE id = ?`, payout.BatchRejected, reason, man.Batch); err != nil {
			return false, "", fmt.Errorf("reject batch %s: %w", man.Batch, err)
		}
		_, err := openException(tx, reconcile.Manifest, man.Batch+"/rejected", man.Batch, 0, "batch rejected: "+reason)
		return false, reason, err
	}
	// Accepted: the rows stay received; the batch's status (scheduled or
	// awaiting_approval) holds them until the release moves each to queued.
	// One write per row is saved (a million-row batch seals in one UPDATE).
	// Rows the duplicate guard held stay received until a person decides;
	// the approval policy in force judges the batch with them
	// (approval.go).
	if _, err := s.sealHeld(tx, man.Batch); err != nil {
		return false, "", err
	}
	if facts.HeldRepeats, facts.ProbableDuplicates, err = heldByKind(tx, man.Batch); err != nil {
		return false, "", err
	}
	facts.Requested = man.RequireApproval || s.cfg.HeldNeedApproval && facts.HeldRepeats+facts.ProbableDuplicates > 0
	if err := judgeBatch(tx, man, facts); err != nil {
		return false, "", err
	}
	return true, "", nil
}

// manifestDigest is the rows digest a manifest carries: its row digests
// (since public-key sealing), else the digest of its row messages.
func manifestDigest(man *payout.Manifest) string {
	if man.RowDigestsSHA256 != "" {
		return man.RowDigestsSHA256
	}
	return man.RowsSHA256
}

// compareManifest checks count, totals per currency and the rows digest
// (payout.DigestRows in row order over the recorded rows' identities, for
// a manifest with row digests; over the digests of their messages for an
// older one). It returns the reasons the batch must be rejected, or "".
func compareManifest(tx *Tx, man *payout.Manifest, rf rowFacts) (string, auth.Facts, error) {
	facts := auth.Facts{Totals: money.Totals{}, Largest: money.Totals{}, Methods: map[payout.Method]int{}}
	reason, err := compareManifestFacts(tx, man, rf, &facts)
	return reason, facts, err
}

// compareManifestFacts is compareManifest over the rows' facts rf (read
// from the rows or kept by the intake: sealRowFacts); their sums per
// currency and method also fill the facts the approval policy judges (the
// largest row per currency, the rows per method).
func compareManifestFacts(tx *Tx, man *payout.Manifest, rf rowFacts, facts *auth.Facts) (string, error) {
	var reasons []string
	var conflicts int
	var firstConflict sql.NullInt64
	if err := tx.QueryRow(`SELECT count(*), min(row_no) FROM row_conflicts WHERE batch_id = ?`, man.Batch).
		Scan(&conflicts, &firstConflict); err != nil {
		return "", fmt.Errorf("count conflicts of %s: %w", man.Batch, err)
	}
	if conflicts > 0 {
		reasons = append(reasons, fmt.Sprintf("row %d arrived twice with different data (%d conflicts)", firstConflict.Int64, conflicts))
	}
	// Rows the intake did not record because they took the batch's total
	// past 64 bits (overflowRow) say why the count differs. (Were the
	// exception closed, the count alone rejects the batch.)
	var overflows int
	var firstOverflow sql.NullInt64
	if err := tx.QueryRow(`SELECT count(*), min(row_no) FROM exceptions WHERE batch_id = ? AND closed_at IS NULL AND category = ?`,
		man.Batch, string(reconcile.IntakeInvalid)).Scan(&overflows, &firstOverflow); err != nil {
		return "", fmt.Errorf("count unrecorded rows of %s: %w", man.Batch, err)
	}
	if overflows > 0 {
		reasons = append(reasons, fmt.Sprintf("the rows' total does not fit in 64 bits: %d rows not recorded (the first row %d)",
			overflows, firstOverflow.Int64))
	}
	count, maxRow := rf.count, rf.maxRow
	if count != man.Rows {
		reasons = append(reasons, fmt.Sprintf("manifest says %d rows, ledger recorded %d", man.Rows, count))
	} else if maxRow != count {
		reasons = append(reasons, fmt.Sprintf("row numbers are not 1..%d (highest %d)", count, maxRow))
	}
	got := money.Totals{}
	overflow := rf.overflow
	// In the order SQLite's GROUP BY gave them (currency, then method):
	// the sums past 64 bits are found the same way whichever way rf was made.
	for _, k := range slices.SortedFunc(maps.Keys(rf.groups), func(a, b sealKey) int {
		return cmp.Or(cmp.Compare(a.currency, b.currency), cmp.Compare(a.method, b.method))
	}) {
		g := rf.groups[k]
		if got.Add(money.Amount{Minor: g.total, Currency: k.currency}) != nil {
			overflow = true
		}
		facts.Methods[k.method] += g.rows
		facts.Largest[k.currency] = max(facts.Largest[k.currency], g.largest)
	}
	maps.Copy(facts.Totals, got)
	if overflow {
		return "the rows' total does not fit in 64 bits", nil
	}
	want := money.Totals{}
	for c, v := range man.Totals {
		want[strings.ToUpper(c)] += v
	}
	if !want.Equal(got) {
		for _, c := range currencies(want, got) {
			if want[c] != got[c] {
				reasons = append(reasons, fmt.Sprintf("total %s %s ≠ %s", c,
					money.Amount{Minor: want[c], Currency: c}.Decimal(), money.Amount{Minor: got[c], Currency: c}.Decimal()))
			}
		}
	}
	if rf.digest != manifestDigest(man) {
		reasons = append(reasons, "rows digest differs")
	}
	return strings.Join(reasons, "; "), nil
}

// isIntegerOverflow says err is SQLite's sum() past 64 bits.
func isIntegerOverflow(err error) bool {
	return err != nil && strings.Contains(err.Error(), "integer overflow")
}

// rowsDigest computes payout.DigestRows over the recorded rows in row
// order, streaming (a million rows need no million-entry slice): over their
// identities (coalesce(row_digest, digest)) when keyed, else over the
// digests of their messages.
func rowsDigest(tx *Tx, batch string, keyed bool) (string, error) {
	h := sha256.New()
	q := `SELECT digest FROM rows WHERE batch_id = ? ORDER BY row_no`
	if keyed {
		q = `SELECT coalesce(row_digest, digest) FROM rows WHERE batch_id = ? ORDER BY row_no`
	}
	rows, err := tx.Query(q, batch)
	if err != nil {
		return "", fmt.Errorf("digest rows of %s: %w", batch, err)
	}
	defer rows.Close()
	var d []byte
	for rows.Next() {
		if err := rows.Scan(&d); err != nil {
			return "", fmt.Errorf("digest rows of %s: %w", batch, err)
		}
		h.Write(d)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("digest rows of %s: %w", batch, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func currencies(ts ...money.Totals) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range ts {
		for _, a := range t.Amounts() {
			if !seen[a.Currency] {
				seen[a.Currency] = true
				out = append(out, a.Currency)
			}
		}
	}
	return out
}
