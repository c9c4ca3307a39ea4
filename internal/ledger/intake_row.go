package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// The intake's row message as the ledger reads and records it.

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
	// guard are the row's hashes for the duplicate guard, made as it is
	// parsed (off the writer).
	guard guardHashes
}

// intakeMsg is one message of PAYRUN_INTAKE, parsed.
type intakeMsg struct {
	Seq uint64
	// delivered is the message's delivery sequence on the ledger's
	// consumer (1 for the first message it delivered).
	delivered uint64
	Digest    [32]byte // SHA-256 of the message's data
	Row       *intakeRow
	Manifest  *payout.Manifest
	Raw       []byte // the manifest's data
	Invalid   string // why the message could not be read
	// values are the row's values for the intake's INSERT (rowValues),
	// made while the group is parsed; nil: made when it is recorded.
	values []any
	// part is the row's place in its chunk of rows (0 for the first, and
	// for a message of one row): the rows of a chunk share its Seq and
	// delivery. Digest is then the SHA-256 of the row's own message.
	part int
	// rows are a chunk's rows while its group is parsed (parseGroup puts
	// them in the chunk's place).
	rows []intakeMsg
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
	out.guard = hashGuard(out.Reference, out.Payee, out.Amount)
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
