package ledger

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// intakeRow is a row message reduced to what the ledger records.
type intakeRow struct {
	Batch       string
	Row         int
	Line        int
	Reference   string
	Method      payout.Method
	Amount      money.Amount
	Recipient   string
	Destination string
	BIN, Last4  string
	DestHash    string
	Payee       []byte // payout.PayeeKey.Bytes(), nil when the row names no payee
	Meta        string
	Description string
	// RowDigest is the keyed digest the message carries (32 bytes), nil
	// in a message written before public-key sealing.
	RowDigest []byte
	// Fingerprint is the card's keyed fingerprint, "" for other rows and
	// older messages.
	Fingerprint string
}

// intakeMsg is one message of PAYRUN_INTAKE, parsed.
type intakeMsg struct {
	Seq      uint64
	Digest   [32]byte // SHA-256 of the message's data
	Row      *intakeRow
	Manifest *payout.Manifest
	Raw      []byte // the manifest's data
	Invalid  string // why the message could not be read
}

// parseRow reads a row message's data (the format is package intake's).
func parseRow(data []byte) (*intakeRow, error) {
	m, err := intake.DecodeRow(data)
	if err != nil {
		return nil, err
	}
	r := &m.Row
	out := &intakeRow{
		Batch:       r.Batch,
		Row:         r.Index,
		Line:        r.Line,
		Reference:   r.Reference,
		Method:      r.Method,
		Amount:      money.New(r.Amount.Minor, r.Amount.Currency),
		Recipient:   r.Recipient(),
		Destination: r.Destination(),
		DestHash:    destHash(r),
		Meta:        string(m.Meta),
		Description: r.Description,
	}
	if r.Card != nil {
		out.BIN, out.Last4, out.Fingerprint = r.Card.BIN, r.Card.Last4, r.Card.Fingerprint
		if f := out.Fingerprint; f != "" && (len(f) != 32 || !isHex(f)) {
			return nil, fmt.Errorf("row %s/%d: card fingerprint %q is not 32 hex characters", r.Batch, r.Index, f)
		}
	}
	if r.Digest != "" {
		d, err := hex.DecodeString(r.Digest)
		if err != nil || len(d) != sha256.Size {
			return nil, fmt.Errorf("row %s/%d: digest %q is not 64 hex characters", r.Batch, r.Index, r.Digest)
		}
		out.RowDigest = d
	}
	if k, ok := r.PayeeKey(); ok {
		out.Payee = k.Bytes()
	}
	return out, nil
}

// nullString is s, or NULL for "".
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// identity is what a row message is compared by: the keyed digest of its
// plaintext fields it carries, else (a message written before public-key
// sealing) the SHA-256 of its bytes. A recorded row's is
// coalesce(row_digest, digest).
func (m *intakeMsg) identity() []byte {
	if m.Row != nil && m.Row.RowDigest != nil {
		return m.Row.RowDigest
	}
	return m.Digest[:]
}

// destHash is the SHA-256 of what identifies the destination for methods
// whose identifier is not a card number (token, widget hash, IBAN,
// recipient token), so the gate can compare it exactly without the ledger
// keeping it. Card rows are compared by BIN and last four.
func destHash(r *payout.Row) string {
	var id string
	switch {
	case r.Method == payout.MethodToken:
		id = r.CardToken
	case r.Method == payout.MethodEncryptedCard && r.Encrypted != nil:
		id = r.Encrypted.NumberHash
	case r.Method == payout.MethodTransfer && r.Transfer != nil:
		id = strings.ReplaceAll(r.Transfer.IBAN, " ", "") + r.Transfer.RecipientCardToken
	}
	if id == "" {
		return ""
	}
	return HashDestination(id)
}

// HashDestination is how the ledger keeps a destination identifier (a card
// token, a widget number hash, an IBAN): hex SHA-256.
func HashDestination(id string) string {
	s := sha256.Sum256([]byte(id))
	return hex.EncodeToString(s[:])
}

// intakeResult counts what one group of intake messages did.
type intakeResult struct {
	Recorded, Duplicates, Conflicts, Invalid int
	Accepted, Rejected                       []string // batch ids
	Reasons                                  map[string]string
}

// recordIntake records a group of intake messages, in order, in tx. The
// rows it records go through the duplicate guard before their batch can
// be sealed (guard.go).
func (s *Service) recordIntake(tx *Tx, msgs []intakeMsg) (*intakeResult, error) {
	res := &intakeResult{Reasons: map[string]string{}}
	sealed := map[string]bool{}
	added := map[string]int{}
	var fresh []guardRow // rows recorded in this group, in the stream's order, for the guard
	flush := func() error {
		for b, n := range added {
			if _, err := tx.Exec(`UPDATE batches SET rows_recorded = rows_recorded + ? WHERE id = ?`, n, b); err != nil {
				return fmt.Errorf("count rows of %s: %w", b, err)
			}
		}
		clear(added)
		if _, err := s.guard(tx, fresh, false); err != nil {
			return err
		}
		fresh = fresh[:0]
		return nil
	}
	var last uint64
	for i := 0; i < len(msgs); i++ {
		m := &msgs[i]
		last = max(last, m.Seq)
		switch {
		case m.Invalid != "":
			res.Invalid++
			if _, err := openException(tx, reconcile.IntakeInvalid, fmt.Sprint(m.Seq), "", 0,
				fmt.Sprintf("intake message %d: %s", m.Seq, m.Invalid)); err != nil {
				return nil, err
			}
		case m.Row != nil:
			done, ok := sealed[m.Row.Batch]
			if !ok {
				var err error
				if done, err = ensureBatch(tx, m.Row.Batch); err != nil {
					return nil, err
				}
				sealed[m.Row.Batch] = done
			}
			if !done {
				// A run of rows of the same open batch goes in as one multi-row INSERT.
				j := i + 1
				for j < len(msgs) && j-i < insertChunk && msgs[j].Row != nil && msgs[j].Row.Batch == m.Row.Batch {
					j++
				}
				for k := i + 1; k < j; k++ {
					last = max(last, msgs[k].Seq)
				}
				n, err := insertRows(tx, msgs[i:j], res)
				if err != nil {
					return nil, err
				}
				added[m.Row.Batch] += n
				if fresh, err = freshRows(tx, fresh, msgs[i:j], n); err != nil {
					return nil, err
				}
				i = j - 1
				continue
			}
			if err := sealedRow(tx, m, res); err != nil {
				return nil, err
			}
		case m.Manifest != nil:
			if err := flush(); err != nil {
				return nil, err
			}
			if _, err := ensureBatch(tx, m.Manifest.Batch); err != nil {
				return nil, err
			}
			accepted, reason, err := s.checkManifest(tx, m)
			if err != nil {
				return nil, err
			}
			delete(sealed, m.Manifest.Batch)
			if reason != "" {
				res.Rejected = append(res.Rejected, m.Manifest.Batch)
				res.Reasons[m.Manifest.Batch] = reason
			} else if accepted {
				res.Accepted = append(res.Accepted, m.Manifest.Batch)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`INSERT INTO cursors (name, seq) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)`, cursorIntake, int64(last)); err != nil {
		return nil, fmt.Errorf("advance intake cursor: %w", err)
	}
	return res, nil
}

// freshRows adds to fresh the rows of msgs that insertRows recorded now (n
// of them): all of them, or, when some were there already, those whose
// recorded message is this one.
func freshRows(tx *Tx, fresh []guardRow, msgs []intakeMsg, n int) ([]guardRow, error) {
	for i := range msgs {
		m := &msgs[i]
		r := m.Row
		if n < len(msgs) {
			var seq int64
			if err := tx.QueryRow(`SELECT intake_seq FROM rows WHERE batch_id = ? AND row_no = ?`, r.Batch, r.Row).Scan(&seq); err != nil {
				return nil, fmt.Errorf("read row %s/%d: %w", r.Batch, r.Row, err)
			}
			if uint64(seq) != m.Seq {
				continue // recorded before
			}
		}
		fresh = append(fresh, guardRow{batch: r.Batch, row: r.Row, reference: r.Reference, payee: r.Payee, amount: r.Amount, seq: m.Seq})
	}
	return fresh, nil
}

// ensureBatch creates the batch record on its first message and reports
// whether the batch was sealed (its manifest arrived) already.
func ensureBatch(tx *Tx, batch string) (sealed bool, err error) {
	if _, err := tx.Exec(`INSERT INTO batches (id, status, first_seen_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		batch, payout.BatchReceiving, formatTime(tx.Now)); err != nil {
		return false, fmt.Errorf("record batch %s: %w", batch, err)
	}
	if err := tx.QueryRow(`SELECT manifest_digest IS NOT NULL FROM batches WHERE id = ?`, batch).Scan(&sealed); err != nil {
		return false, fmt.Errorf("read batch %s: %w", batch, err)
	}
	return sealed, nil
}

// sealedRow handles a row message of a batch whose manifest arrived: a
// new row is never recorded (it could never be paid), it is kept as a
// conflict with an exception; a recorded row is compared (see
// compareRecorded). Rows of open batches go in through insertRows.
func sealedRow(tx *Tx, m *intakeMsg, res *intakeResult) error {
	r := m.Row
	var recorded recordedDigests
	err := tx.QueryRow(`SELECT digest, row_digest FROM rows WHERE batch_id = ? AND row_no = ?`, r.Batch, r.Row).
		Scan(&recorded.digest, &recorded.rowDigest)
	if errors.Is(err, sql.ErrNoRows) {
		res.Conflicts++
		detail := fmt.Sprintf("row %d (intake seq %d) arrived after the batch's manifest; it is not recorded and never paid", r.Row, m.Seq)
		if err := recordConflict(tx, m, nil, detail); err != nil {
			return err
		}
		_, err := openException(tx, reconcile.LateRow, fmt.Sprintf("%s/%d/%x", r.Batch, r.Row, m.Digest[:8]), r.Batch, 0, detail)
		return err
	}
	if err != nil {
		return fmt.Errorf("read row %s/%d: %w", r.Batch, r.Row, err)
	}
	conflict, err := compareRecorded(tx, m, recorded)
	if conflict {
		res.Conflicts++
	} else {
		res.Duplicates++
	}
	return err
}

// recordedDigests are a recorded row's digests: of its message, and the
// keyed one it carried (nil for a row ingested before public-key sealing).
type recordedDigests struct {
	digest, rowDigest []byte
}

// identity is coalesce(row_digest, digest): what a row seen again is
// compared with.
func (r recordedDigests) identity() []byte {
	if r.rowDigest != nil {
		return r.rowDigest
	}
	return r.digest
}

// compareRecorded compares a row message with the row the ledger recorded
// by their identities (the keyed digests of the plaintext fields, which a
// re-ingest sealed anew keeps; the SHA-256 of the message for rows written
// before): the same data is a duplicate and a no-op; different data is a
// conflict, kept with an exception, which fails the batch's manifest check
// (or stands as the exception once the batch is sealed).
func compareRecorded(tx *Tx, m *intakeMsg, recorded recordedDigests) (conflict bool, err error) {
	if bytes.Equal(recorded.identity(), m.identity()) {
		return false, nil
	}
	r := m.Row
	detail := fmt.Sprintf("row %d arrived again (intake seq %d) with different data", r.Row, m.Seq)
	if err := recordConflict(tx, m, recorded.digest, detail); err != nil {
		return true, err
	}
	_, err = openException(tx, reconcile.RowConflict, fmt.Sprintf("%s/%d/%x", r.Batch, r.Row, m.Digest[:8]), r.Batch, r.Row, detail)
	return true, err
}

// insertChunk is how many rows one INSERT statement carries.
const insertChunk = 50

// rowInsertArgs is how many parameters each row of rowInsertQuery binds;
// the time (?1) and the state (?2) are bound once per statement.
const rowInsertArgs = 19

// rowInsertQueries holds rowInsertQuery's statements by row count.
var rowInsertQueries [insertChunk + 1]string

func init() {
	for n := 1; n <= insertChunk; n++ {
		var q strings.Builder
		q.WriteString(`INSERT INTO rows (batch_id, row_no, line, reference, method, amount_minor, currency,
	recipient, destination, bin, last4, dest_hash, payee, meta, description, intake_seq, digest, row_digest, card_fingerprint,
	received_at, state, moved_at, updated_at) VALUES `)
		for i := 0; i < n; i++ {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteByte('(')
			for k := 0; k < rowInsertArgs; k++ {
				fmt.Fprintf(&q, "?%d, ", 3+i*rowInsertArgs+k)
			}
			q.WriteString("?1, ?2, ?1, ?1)")
		}
		q.WriteString(" ON CONFLICT (batch_id, row_no) DO NOTHING")
		rowInsertQueries[n] = q.String()
	}
}

// rowInsertQuery is the statement that inserts n rows (1 ≤ n ≤ insertChunk).
func rowInsertQuery(n int) string { return rowInsertQueries[n] }

// insertRows records rows of one open batch with one statement and returns
// how many were new. When some already existed, each is compared with the
// recorded row: the same data is a duplicate, different data a conflict.
func insertRows(tx *Tx, msgs []intakeMsg, res *intakeResult) (int, error) {
	args := make([]any, 0, 2+rowInsertArgs*len(msgs))
	args = append(args, formatTime(tx.Now), string(payout.StateReceived))
	for i := range msgs {
		m := &msgs[i]
		r := m.Row
		args = append(args, r.Batch, r.Row, r.Line, r.Reference, string(r.Method), r.Amount.Minor, r.Amount.Currency,
			r.Recipient, r.Destination, r.BIN, r.Last4, r.DestHash, r.Payee, r.Meta, r.Description, int64(m.Seq), m.Digest[:],
			r.RowDigest, nullString(r.Fingerprint))
	}
	out, err := tx.Exec(rowInsertQuery(len(msgs)), args...)
	if err != nil {
		return 0, fmt.Errorf("record rows of %s: %w", msgs[0].Row.Batch, err)
	}
	n64, _ := out.RowsAffected()
	n := int(n64)
	res.Recorded += n
	if n == len(msgs) {
		return n, nil
	}
	conflicts := 0
	for i := range msgs {
		m := &msgs[i]
		var recorded recordedDigests
		if err := tx.QueryRow(`SELECT digest, row_digest FROM rows WHERE batch_id = ? AND row_no = ?`, m.Row.Batch, m.Row.Row).
			Scan(&recorded.digest, &recorded.rowDigest); err != nil {
			return 0, fmt.Errorf("read row %s/%d: %w", m.Row.Batch, m.Row.Row, err)
		}
		conflict, err := compareRecorded(tx, m, recorded)
		if err != nil {
			return 0, err
		}
		if conflict {
			conflicts++
		}
	}
	res.Conflicts += conflicts
	res.Duplicates += len(msgs) - n - conflicts
	return n, nil
}

// recordConflict keeps a row message the ledger did not record as a row.
func recordConflict(tx *Tx, m *intakeMsg, recorded []byte, detail string) error {
	if _, err := tx.Exec(`INSERT INTO row_conflicts (batch_id, row_no, intake_seq, digest, recorded_digest, detail, at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, m.Row.Batch, m.Row.Row, int64(m.Seq), m.Digest[:], recorded,
		detail, formatTime(tx.Now)); err != nil {
		return fmt.Errorf("record conflict %s/%d: %w", m.Row.Batch, m.Row.Row, err)
	}
	return nil
}

// checkManifest seals a batch: it compares the manifest with what the
// ledger recorded and accepts (scheduled or awaiting_approval) or rejects
// the batch as a whole. A repeated manifest is a no-op. It returns the
// rejection reason, if any.
func (s *Service) checkManifest(tx *Tx, m *intakeMsg) (accepted bool, reason string, err error) {
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

	reason, facts, err := compareManifest(tx, man)
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
func compareManifest(tx *Tx, man *payout.Manifest) (string, auth.Facts, error) {
	facts := auth.Facts{Totals: money.Totals{}, Largest: money.Totals{}, Methods: map[payout.Method]int{}}
	reason, err := compareManifestFacts(tx, man, &facts)
	return reason, facts, err
}

// compareManifestFacts is compareManifest; the one pass over the rows that
// sums them per currency also fills the facts the approval policy judges
// (the largest row per currency, the rows per method).
func compareManifestFacts(tx *Tx, man *payout.Manifest, facts *auth.Facts) (string, error) {
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
	var count, maxRow int
	if err := tx.QueryRow(`SELECT count(*), coalesce(max(row_no), 0) FROM rows WHERE batch_id = ?`, man.Batch).
		Scan(&count, &maxRow); err != nil {
		return "", fmt.Errorf("count rows of %s: %w", man.Batch, err)
	}
	if count != man.Rows {
		reasons = append(reasons, fmt.Sprintf("manifest says %d rows, ledger recorded %d", man.Rows, count))
	} else if maxRow != count {
		reasons = append(reasons, fmt.Sprintf("row numbers are not 1..%d (highest %d)", count, maxRow))
	}
	got := money.Totals{}
	rows, err := tx.Query(`SELECT currency, method, count(*), sum(amount_minor), max(amount_minor) FROM rows WHERE batch_id = ?
		GROUP BY currency, method`, man.Batch)
	if err != nil {
		return "", fmt.Errorf("sum rows of %s: %w", man.Batch, err)
	}
	overflow := false
	for rows.Next() {
		var c string
		var m payout.Method
		var n int
		var v, largest int64
		if err := rows.Scan(&c, &m, &n, &v, &largest); err != nil {
			rows.Close()
			return "", fmt.Errorf("sum rows of %s: %w", man.Batch, err)
		}
		if got.Add(money.Amount{Minor: v, Currency: c}) != nil {
			overflow = true
		}
		facts.Methods[m] += n
		facts.Largest[c] = max(facts.Largest[c], largest)
	}
	maps.Copy(facts.Totals, got)
	rows.Close()
	if err := rows.Err(); err != nil || overflow {
		if overflow || strings.Contains(err.Error(), "integer overflow") {
			return "the rows' total does not fit in 64 bits", nil
		}
		return "", fmt.Errorf("sum rows of %s: %w", man.Batch, err)
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
	digest, err := rowsDigest(tx, man.Batch, man.RowDigestsSHA256 != "")
	if err != nil {
		return "", err
	}
	if digest != manifestDigest(man) {
		reasons = append(reasons, "rows digest differs")
	}
	return strings.Join(reasons, "; "), nil
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
