package payout

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// BankRef is what payrun puts into a Bank 131 session's metadata so that
// webhooks, session/status and the bank's daily report lead back to the row.
// It is the JSON object {"payrun":"<batch>/<row>","reference":"<reference>"}.
type BankRef struct {
	Batch     string
	Row       int
	Reference string
}

type bankRefJSON struct {
	Payrun    string `json:"payrun"`
	Reference string `json:"reference,omitempty"`
}

// Metadata returns the JSON value to send as Bank 131 metadata.
func (r BankRef) Metadata() json.RawMessage {
	b, _ := json.Marshal(bankRefJSON{Payrun: r.Batch + "/" + strconv.Itoa(r.Row), Reference: r.Reference})
	return b
}

// String is the compact form "<batch>/<row>".
func (r BankRef) String() string { return r.Batch + "/" + strconv.Itoa(r.Row) }

// ParseBankRef reads metadata echoed by the bank. It accepts the object
// Metadata produces, the same object encoded as a JSON string (as some
// reports carry it), and the bare "<batch>/<row>" form.
func ParseBankRef(raw []byte) (BankRef, error) {
	var obj bankRefJSON
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Payrun == "" {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if strings.HasPrefix(strings.TrimSpace(s), "{") {
				return ParseBankRef([]byte(s))
			}
			obj.Payrun = s
		} else {
			obj.Payrun = string(raw)
		}
	}
	batch, rowText, ok := strings.Cut(obj.Payrun, "/")
	if !ok || !ValidBatchID(batch) {
		return BankRef{}, fmt.Errorf("metadata %.80q is not a payrun reference", string(raw))
	}
	row, err := strconv.Atoi(rowText)
	if err != nil || row < 1 {
		return BankRef{}, fmt.Errorf("metadata %.80q has no row number", string(raw))
	}
	return BankRef{Batch: batch, Row: row, Reference: obj.Reference}, nil
}
