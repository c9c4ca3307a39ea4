package ledger

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// Recipient links (seed 000's widget flow). An encrypted_card row uploaded
// without card hashes waits for its card (rows.card_wait): the release
// passes it by, and it stays received. A maker issues a recipient link for
// it (IssueLink: audited; a newer link revokes the older one); the page the
// link opens obtains a public token from the bank and shows the bank's
// tokenization widget; the widget's encrypted card comes back through the
// link (CaptureCard: single use, before the link's expiry, audited as the
// recipient's action via the link), lands in row_cards, and the row is
// released like any other (queued, if its batch is released and nothing
// holds it; else when its batch is). The rule for a card that never comes:
// once the batch is released, a row still waiting fails with code no_card
// when its newest link has expired unused, or, with no link issued, when
// CardWait has passed since the release (ExpireCardWaits, on the
// releaser's tick; not while the row or its batch is on hold). Until then
// the rest of the batch pays and the batch stays released.

// CodeNoCard is the error code of a widget row whose card never came.
const CodeNoCard = "no_card"

// Link is a recipient link as the ledger records it; the token in its URL
// is made by internal/recipient from ID and the ledger's link key.
type Link struct {
	ID        string
	Batch     string
	Row       int
	IssuedBy  string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// LinkState is where a link stands.
type LinkState string

// Link states.
const (
	LinkOpen    LinkState = "open"    // the recipient may enter the card
	LinkUsed    LinkState = "used"    // the card came through it
	LinkExpired LinkState = "expired" // past its expiry, unused
	LinkRevoked LinkState = "revoked" // a newer link for the row replaced it
	LinkClosed  LinkState = "closed"  // the row no longer waits (cancelled, failed, or its card came otherwise)
)

// LinkView is what the recipient's page may show: the payee's name, the
// amount and the state; nothing else of the batch.
type LinkView struct {
	Link
	State     LinkState
	Recipient string
	Amount    money.Amount
	Last4     string // of the captured card, once used
}

// LinkKey returns the key link tokens are signed with, made on first use
// and kept in the ledger's database.
func (s *Service) LinkKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.db.r.QueryRowContext(ctx, `SELECT key FROM link_keys WHERE id = 1`).Scan(&key)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read the link key: %w", err)
	}
	err = s.w.Do(ctx, func(tx *Tx) error {
		k := make([]byte, 32)
		rand.Read(k)
		if _, err := tx.Exec(`INSERT INTO link_keys (id, key) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, k); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT key FROM link_keys WHERE id = 1`).Scan(&key)
	})
	if err != nil {
		return nil, fmt.Errorf("make the link key: %w", err)
	}
	return key, nil
}

// IssueLink records a new recipient link for a row waiting for its card,
// valid for ttl, as p (a maker issues links only on batches they uploaded,
// as with decisions), and revokes the row's earlier links. It is audited,
// refused or not.
func (s *Service) IssueLink(ctx context.Context, p *auth.Principal, batch string, row int, ttl time.Duration) (*Link, error) {
	if p == nil {
		return nil, ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "a recipient link needs a signed-in person")
	}
	if ttl <= 0 {
		ttl = s.cfg.LinkTTL
	}
	audit := func(e auth.Entry) {
		if err := s.Audit(context.WithoutCancel(ctx), e); err != nil {
			s.log.Error("audit a recipient link", logkey.Error, err)
		}
	}
	refused := func(err error) error {
		e := auth.NewEntry(p.Actor(), auth.ActRecipientLink, auth.OutcomeRefused)
		e.Batch, e.Target, e.Detail = batch, fmt.Sprintf("%s/%d", batch, row), cardmask.Redact(ledgerapi.ErrorMessage(err))
		if ledgerapi.ErrorCode(err) == ledgerapi.CodeInternal {
			e.Outcome = auth.OutcomeFailed
		}
		audit(e)
		return err
	}
	if !p.Can(auth.PermUpload) {
		return nil, refused(ledgerapi.Errorf(ledgerapi.CodeForbidden, "%s may not issue recipient links (makers do)", p.Name))
	}
	if err := s.ownBatch(ctx, p, batch); err != nil {
		return nil, refused(err)
	}
	var l *Link
	err := s.w.Do(context.WithoutCancel(ctx), func(tx *Tx) error {
		r, err := loadRow(tx, batch, row)
		if err != nil {
			return err
		}
		if err := waitsForCard(r); err != nil {
			return err
		}
		id := make([]byte, 16)
		rand.Read(id)
		l = &Link{ID: hex.EncodeToString(id), Batch: batch, Row: row, IssuedBy: p.Name, IssuedAt: tx.Now, ExpiresAt: tx.Now.Add(ttl)}
		now := formatTime(tx.Now)
		if _, err := tx.Exec(`UPDATE recipient_links SET revoked_at = ? WHERE batch_id = ? AND row_no = ? AND used_at IS NULL AND revoked_at IS NULL`,
			now, batch, row); err != nil {
			return fmt.Errorf("revoke earlier links of %s/%d: %w", batch, row, err)
		}
		if _, err := tx.Exec(`INSERT INTO recipient_links (id, batch_id, row_no, issued_by, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			l.ID, batch, row, p.Name, now, formatTime(l.ExpiresAt)); err != nil {
			return fmt.Errorf("record the link of %s/%d: %w", batch, row, err)
		}
		e := auth.NewEntry(p.Actor(), auth.ActRecipientLink, auth.OutcomeOK)
		e.Batch, e.Target = batch, fmt.Sprintf("%s/%d", batch, row)
		e.Detail = fmt.Sprintf("link %s, open until %s", l.ID[:8], formatTime(l.ExpiresAt))
		return appendAudit(tx, e)
	})
	if err != nil {
		return nil, refused(err)
	}
	s.log.Info("recipient link issued", logkey.Batch, batch, logkey.Row, row, "by", cardmask.Redact(p.Name), "expires", l.ExpiresAt)
	return l, nil
}

// waitsForCard refuses a row that does not wait for a card.
func waitsForCard(r *rowRec) error {
	switch {
	case r.Method != payout.MethodEncryptedCard:
		return fmt.Errorf("%w: row %d of %s is a %s row; recipient links are for encrypted_card rows", errInvalid, r.Row, r.Batch, r.Method)
	case r.cancelled():
		return fmt.Errorf("%w: row %d of %s is cancelled", errInvalid, r.Row, r.Batch)
	case !r.CardWait || r.State != payout.StateReceived:
		return fmt.Errorf("%w: row %d of %s does not wait for a card (it is %s)", errInvalid, r.Row, r.Batch, r.State)
	}
	return nil
}

// linkRec is a recipient_links row.
type linkRec struct {
	Link
	Used, Revoked bool
}

func scanLink(s scanner) (*linkRec, error) {
	var l linkRec
	var issued, expires string
	var used, revoked sql.NullString
	if err := s.Scan(&l.ID, &l.Batch, &l.Row, &l.IssuedBy, &issued, &expires, &used, &revoked); err != nil {
		return nil, err
	}
	l.IssuedAt, l.ExpiresAt = parseTime(issued), parseTime(expires)
	l.Used, l.Revoked = used.Valid, revoked.Valid
	return &l, nil
}

const linkColumns = `id, batch_id, row_no, issued_by, issued_at, expires_at, used_at, revoked_at`

// errNoLink is an unknown link: not found, said without detail.
func errNoLink() error {
	return ledgerapi.Errorf(ledgerapi.CodeNotFound, "this link is not known")
}

// state is where the link stands for its row at now.
func (l *linkRec) state(r *rowRec, now time.Time) LinkState {
	switch {
	case l.Used:
		return LinkUsed
	case l.Revoked:
		return LinkRevoked
	case !now.Before(l.ExpiresAt):
		return LinkExpired
	case waitsForCard(r) != nil:
		return LinkClosed
	}
	return LinkOpen
}

// LinkView reads a link and what its page may show.
func (s *Service) LinkView(ctx context.Context, id string) (*LinkView, error) {
	l, err := scanLink(s.db.r.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM recipient_links WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoLink()
	}
	if err != nil {
		return nil, fmt.Errorf("read link: %w", err)
	}
	r, err := scanRow(s.db.r.QueryRowContext(ctx, `SELECT `+rowColumns+rowFrom+`WHERE r.batch_id = ? AND r.row_no = ?`, l.Batch, l.Row))
	if err != nil {
		return nil, fmt.Errorf("read the row of a link: %w", err)
	}
	v := &LinkView{Link: l.Link, State: l.state(r, s.db.Now().UTC()), Recipient: r.Recipient, Amount: r.Amount}
	if v.State == LinkUsed {
		v.Last4 = r.Last4
	}
	return v, nil
}

// CardInfo is what token/info told of a captured card (may be empty).
type CardInfo struct {
	Last4, Brand string
}

// CaptureCard records the encrypted card that came through link id for its
// row, once, before the link expires, and releases the row. It is the
// recipient's action: the audit entry names the link (Via ViaLink) and the
// client's address, never a user.
func (s *Service) CaptureCard(ctx context.Context, id string, card payout.EncryptedCard, info CardInfo, remote string) (*LinkView, error) {
	for _, h := range []struct{ name, v string }{{"number_hash", card.NumberHash}, {"expiration_date_hash", card.ExpirationDateHash},
		{"cardholder_name_hash", card.CardholderNameHash}, {"security_code_hash", card.SecurityCodeHash}} {
		if h.v == "" && h.name != "number_hash" {
			continue
		}
		if len(h.v) != 64 || !isHex(h.v) {
			return nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "encrypted_card.%s must be 64 hexadecimal characters", h.name)
		}
	}
	if len(info.Last4) != 4 || !isDigits(info.Last4) {
		info.Last4 = ""
	}
	info.Brand = cardmask.Redact(info.Brand) // the bank's text, stored and shown
	var v *LinkView
	var refusal error
	err := s.w.Do(context.WithoutCancel(ctx), func(tx *Tx) error {
		l, err := scanLink(tx.QueryRow(`SELECT `+linkColumns+` FROM recipient_links WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			refusal = errNoLink()
			return nil
		}
		if err != nil {
			return fmt.Errorf("read link: %w", err)
		}
		r, err := loadRow(tx, l.Batch, l.Row)
		if err != nil {
			return err
		}
		actor := auth.Actor{Name: "recipient", Via: auth.ViaLink, Remote: remote}
		e := auth.NewEntry(actor, auth.ActCardCaptured, auth.OutcomeOK)
		e.Batch, e.Target = l.Batch, fmt.Sprintf("%s/%d", l.Batch, l.Row)
		if st := l.state(r, tx.Now); st != LinkOpen {
			refusal = ledgerapi.Errorf(ledgerapi.CodeConflict, "this link is %s", st)
			e.Outcome, e.Detail = auth.OutcomeRefused, fmt.Sprintf("link %s is %s", l.ID[:8], st)
			return appendAudit(tx, e)
		}
		now := formatTime(tx.Now)
		if _, err := tx.Exec(`INSERT INTO row_cards (batch_id, row_no, number_hash, expiration_date_hash, cardholder_name_hash,
			security_code_hash, last4, brand, link_id, captured_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.Batch, l.Row, card.NumberHash, card.ExpirationDateHash, card.CardholderNameHash, card.SecurityCodeHash,
			info.Last4, info.Brand, l.ID, now); err != nil {
			return fmt.Errorf("record the card of %s/%d: %w", l.Batch, l.Row, err)
		}
		dest := "encrypted card " + card.NumberHash[len(card.NumberHash)-6:]
		if info.Last4 != "" {
			dest = "card …" + info.Last4
		}
		// The row's payee is known now: the guard keeps it, as it keeps a
		// file's widget rows (rows.payee), and compares it below.
		var payee []byte
		if k, ok := payout.PayeeKeyOf(payout.PayeeWidget, card.NumberHash); ok {
			payee = k.Bytes()
		}
		if _, err := tx.Exec(`UPDATE rows SET card_wait = 0, dest_hash = ?, destination = ?, last4 = ?, payee = ?, updated_at = ?
			WHERE batch_id = ? AND row_no = ?`, HashDestination(card.NumberHash), dest, info.Last4, payee, now, l.Batch, l.Row); err != nil {
			return fmt.Errorf("record the card of %s/%d: %w", l.Batch, l.Row, err)
		}
		if _, err := tx.Exec(`UPDATE recipient_links SET used_at = ? WHERE id = ?`, now, l.ID); err != nil {
			return fmt.Errorf("use link: %w", err)
		}
		e.Detail = fmt.Sprintf("link %s; %s", l.ID[:8], dest)
		if err := appendAudit(tx, e); err != nil {
			return err
		}
		if r, err = loadRow(tx, l.Batch, l.Row); err != nil {
			return err
		}
		if payee != nil {
			if err := s.guardCapturedCard(tx, r, payee); err != nil {
				return err
			}
			if r, err = loadRow(tx, l.Batch, l.Row); err != nil {
				return err
			}
		}
		// A row the duplicate guard holds waits for a person's decision
		// with its card: the release (ReleaseHeld) queues it, never the
		// recipient's card.
		if !r.Held {
			if err := s.releaseOne(tx, r, "its card came through the recipient link"); err != nil {
				return err
			}
		}
		v = &LinkView{Link: l.Link, State: LinkUsed, Recipient: r.Recipient, Amount: r.Amount, Last4: info.Last4}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}
	s.log.Info("card captured through a recipient link", logkey.Batch, v.Batch, logkey.Row, v.Row, "last4", v.Last4)
	return v, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// rowCard returns the card captured for the row r, or, for a resubmitted
// row, for the row its intake message names (rows.src_*: the card came
// through that row's link, and the child pays from its message); nil when
// none.
func rowCard(q interface {
	QueryRow(string, ...any) *sql.Row
}, r *rowRec) (*payout.EncryptedCard, error) {
	c, err := capturedCard(q, r.Batch, r.Row)
	if c != nil || err != nil || r.SrcBatch == "" {
		return c, err
	}
	return capturedCard(q, r.SrcBatch, r.SrcRow)
}

// capturedCard returns the card captured for a row, nil when none.
func capturedCard(q interface {
	QueryRow(string, ...any) *sql.Row
}, batch string, row int) (*payout.EncryptedCard, error) {
	var c payout.EncryptedCard
	err := q.QueryRow(`SELECT number_hash, expiration_date_hash, cardholder_name_hash, security_code_hash FROM row_cards
		WHERE batch_id = ? AND row_no = ?`, batch, row).Scan(&c.NumberHash, &c.ExpirationDateHash, &c.CardholderNameHash, &c.SecurityCodeHash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the card of %s/%d: %w", batch, row, err)
	}
	return &c, nil
}

// ExpireCardWaits fails the rows of released batches whose card did not
// come in time (the rule above). It returns how many failed.
func (s *Service) ExpireCardWaits(ctx context.Context) (int, error) {
	// Most ticks find no row waiting (a partial index): no write then.
	var any int
	if err := s.db.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM rows WHERE card_wait = 1 LIMIT 1)`).Scan(&any); err != nil {
		return 0, fmt.Errorf("look for rows waiting for a card: %w", err)
	}
	if any == 0 {
		return 0, nil
	}
	n := 0
	err := s.w.Do(ctx, func(tx *Tx) error {
		now := formatTime(tx.Now)
		noLink := formatTime(tx.Now.Add(-s.cfg.CardWait))
		rows, err := tx.Query(`SELECT r.batch_id, r.row_no, l.expires_at FROM rows r JOIN batches b ON b.id = r.batch_id
			LEFT JOIN recipient_links l ON l.batch_id = r.batch_id AND l.row_no = r.row_no AND l.revoked_at IS NULL
			WHERE r.card_wait = 1 AND r.state = 'received' AND b.status = ? AND r.stop = '' AND b.hold_source = ''
			AND ((l.id IS NOT NULL AND l.used_at IS NULL AND l.expires_at <= ?) OR (l.id IS NULL AND b.released_at <= ?))`,
			payout.BatchReleased, now, noLink)
		if err != nil {
			return fmt.Errorf("find rows whose card did not come: %w", err)
		}
		type due struct {
			batch   string
			row     int
			expires sql.NullString
		}
		var list []due
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.batch, &d.row, &d.expires); err != nil {
				rows.Close()
				return fmt.Errorf("find rows whose card did not come: %w", err)
			}
			list = append(list, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find rows whose card did not come: %w", err)
		}
		for _, d := range list {
			r, err := loadRow(tx, d.batch, d.row)
			if err != nil {
				return err
			}
			reason := fmt.Sprintf("no card: no recipient link was issued within %s of the release", s.cfg.CardWait)
			if d.expires.Valid {
				reason = "no card: the recipient link expired at " + d.expires.String + " without a card"
			}
			if _, err := tx.Exec(`UPDATE rows SET card_wait = 0 WHERE batch_id = ? AND row_no = ?`, d.batch, d.row); err != nil {
				return fmt.Errorf("fail %s/%d: %w", d.batch, d.row, err)
			}
			if err := s.apply(tx, r, &ledgerapi.Transition{Batch: r.Batch, Row: r.Row, To: payout.StateFailed, ErrorCode: CodeNoCard,
				Reason: reason, Evidence: ledgerapi.Evidence{Source: ledgerSource, Detail: "card wait over"}}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if n > 0 {
		s.log.Info("rows failed: their card did not come", "rows", n)
	}
	return n, err
}

// ownBatch refuses a maker's act on a batch they did not upload (checkers
// and admins act on any).
func (s *Service) ownBatch(ctx context.Context, p *auth.Principal, batch string) error {
	if p.Roles.Has(auth.RoleChecker) || p.Roles.Has(auth.RoleAdmin) {
		return nil
	}
	var uploader sql.NullInt64
	if err := s.db.r.QueryRowContext(ctx, `SELECT uploader_id FROM batches WHERE id = ?`, batch).Scan(&uploader); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ledgerapi.Errorf(ledgerapi.CodeNotFound, "batch %s: not found", batch)
		}
		return fmt.Errorf("read the uploader of %s: %w", batch, err)
	}
	if !uploader.Valid || uploader.Int64 != p.UserID {
		return ledgerapi.Errorf(ledgerapi.CodeForbidden, "%s did not upload batch %s: a maker acts only on their own batches", p.Name, batch)
	}
	return nil
}
