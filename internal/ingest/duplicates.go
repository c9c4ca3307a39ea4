package ingest

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// Prechecker asks the ledger which rows of a file its duplicate guard
// would hold (ledgerapi.Client over NATS; ledger.Service in process).
type Prechecker interface {
	Precheck(context.Context, ledgerapi.PrecheckRequest) (*ledgerapi.PrecheckReply, error)
}

// Cross-file check outcomes (Result.CrossFileCheck).
const (
	CrossFileChecked = "checked against the ledger"
	crossFileNotRun  = "not run: "
)

// CheckDuplicates reads a valid file again and adds to res, as warnings
// naming both rows, the rows the ledger's duplicate guard would hold: a
// repeat of a reference paid or in flight in another batch, or a probable
// duplicate (the same payee and amount under another reference) of a row
// in the ledger or earlier in the file. The rows of the file go to the
// ledger (led) in chunks; without a ledger (led nil, or notRun set: why
// it cannot be asked) only the file itself is checked, and
// res.CrossFileCheck says the cross-file check was not run.
//
// Card numbers are compared inside the file by a keyed digest under a key
// made for this check alone and kept in memory; across files by
// opts.CardFingerprint (the deployment's fingerprint), when set.
func CheckDuplicates(ctx context.Context, src Source, res *Result, opts Options, led Prechecker, notRun string) error {
	if res.Status != StatusValid && res.Status != StatusCreated && res.Status != StatusExisting {
		return nil
	}
	f, err := src.Open()
	if err != nil {
		return fmt.Errorf("open payout file: %w", err)
	}
	defer f.Close()
	cardFingerprint := opts.CardFingerprint
	if cardFingerprint == nil && opts.Sealer != nil {
		cardFingerprint = opts.Sealer.Fingerprint // the deployment's: the ledger recorded earlier rows by it
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("duplicate check: %w", err)
	}
	// seal stands in for sealing: nothing leaves this function. The card
	// row carries the in-file digest; the deployment's fingerprint, when
	// there is one, goes to the ledger.
	fingerprints := map[int]string{}
	seal := func(pan string, row int) string {
		if cardFingerprint != nil {
			fingerprints[row] = cardFingerprint(pan)
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(pan))
		return hex.EncodeToString(m.Sum(nil))
	}
	type first struct {
		line int
		ref  string
	}
	seen := map[[sha256.Size]byte]first{}
	var warnings []batch.Error
	var pending []ledgerapi.PrecheckRow
	flush := func() error {
		if led == nil || notRun != "" || len(pending) == 0 {
			pending = pending[:0]
			return nil
		}
		reply, err := led.Precheck(ctx, ledgerapi.PrecheckRequest{Batch: res.Batch, Rows: pending})
		pending = pending[:0]
		if err != nil {
			notRun = "the ledger did not answer: " + ledgerapi.ErrorMessage(err)
			return nil
		}
		for _, h := range reply.Hits {
			warnings = append(warnings, batch.Error{Line: h.Line, Column: "reference",
				Message: "warning: " + h.Reason + " (the ledger holds this row until a person releases it)"})
		}
		return nil
	}
	for row, err := range batch.RowsChecked(f, opts.Batch, res.sums, seal) {
		if err != nil {
			return fmt.Errorf("duplicate check: %w", err)
		}
		local, ok := localPayee(row)
		amount := money.New(row.Amount.Minor, row.Amount.Currency)
		if ok {
			h := sha256.New()
			h.Write(local)
			fmt.Fprintf(h, "\x00%d\x00%s", amount.Minor, amount.Currency)
			var k [sha256.Size]byte
			h.Sum(k[:0])
			if f, dup := seen[k]; dup && f.ref != row.Reference {
				warnings = append(warnings, batch.Error{Line: row.Line, Column: "reference", Message: fmt.Sprintf(
					"warning: probable duplicate of line %d (%s): the same %s and amount %s under another reference; the ledger holds this row until a person releases it",
					f.line, f.ref, payeeNoun(row), amount)})
			} else if !dup {
				seen[k] = first{row.Line, row.Reference}
			}
		}
		pr := ledgerapi.PrecheckRow{Line: row.Line, Reference: row.Reference, Amount: amount}
		check := *row
		if row.Method == payout.MethodCard && row.Card != nil {
			c := *row.Card
			c.Fingerprint = fingerprints[row.Index]
			check.Card = &c
			delete(fingerprints, row.Index)
		}
		if k, ok := check.PayeeKey(); ok {
			pr.Payee = k.String()
		}
		pending = append(pending, pr)
		if len(pending) == ledgerapi.PrecheckChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	switch {
	case led == nil && notRun == "":
		res.CrossFileCheck = crossFileNotRun + "no ledger to ask; only this file was checked"
	case notRun != "":
		res.CrossFileCheck = crossFileNotRun + notRun + "; only this file was checked"
	default:
		res.CrossFileCheck = CrossFileChecked
	}
	slices.SortStableFunc(warnings, func(a, b batch.Error) int { return cmp.Compare(a.Line, b.Line) })
	keep := opts.Batch.MaxErrors
	if keep == 0 {
		keep = batch.DefaultMaxErrors
	}
	for _, w := range warnings {
		if keep < 0 || len(res.Warnings) < keep {
			res.Warnings = append(res.Warnings, w)
		}
		res.WarningCount++
		if opts.Batch.OnWarning != nil {
			opts.Batch.OnWarning(w)
		}
	}
	return nil
}

// localPayee identifies a row's payee for the in-file comparison: the
// payee key, or for a card the digest under this check's own key.
func localPayee(r *payout.Row) ([]byte, bool) {
	if r.Method == payout.MethodCard {
		if r.Card == nil || r.Card.Sealed == "" {
			return nil, false
		}
		return []byte("card\x00" + r.Card.Sealed), true
	}
	k, ok := r.PayeeKey()
	if !ok {
		return nil, false
	}
	return k.Bytes(), true
}

func payeeNoun(r *payout.Row) string {
	if r.Method == payout.MethodCard {
		return payout.PayeeCard.Noun()
	}
	k, _ := r.PayeeKey()
	return k.Kind.Noun()
}
