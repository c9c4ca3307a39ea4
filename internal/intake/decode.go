package intake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	gojson "github.com/goccy/go-json"

	"github.com/payrun/payrun/internal/payout"
)

// RowMessage is a row message as read: the row, and its meta object as the
// message carries it.
type RowMessage struct {
	payout.Row
	// Meta is the row's meta object as the message carries it (ingest
	// writes it with sorted keys), nil when the row has none (absent, null
	// or {}); Row.Meta stays nil. DecodeMeta reads it. Keeping the bytes
	// saves the ledger's intake a map per row: decoding meta into a map
	// only to encode it again cost a million-row intake a second of CPU.
	Meta json.RawMessage `json:"meta,omitempty"`
}

// DecodeRow reads a row message. It accepts what encoding/json accepts
// into a payout.Row and refuses a message without a valid batch id, a row
// number or a positive amount, or whose meta is not an object.
//
// Decision: rows are decoded with goccy/go-json, not encoding/json: it
// decodes a row in under half the time, and decoding was the ledger's
// intake's largest cost after SQLite (the intake went from 85–100 k to
// 118–134 k rows/s; bench/README.md). FuzzDecodeRow holds the two decoders
// to the same answers on every input.
//
// A card or token row as AppendRow writes it is read without the JSON
// decoder (decodeCanonical); its strings then share one copy of data, and
// its Meta is a slice of data (which must then not change while it is used).
func DecodeRow(data []byte) (*RowMessage, error) {
	m := new(RowMessage)
	// An escaped character is the commonest reason a message is not
	// canonical: such a message goes to the JSON decoder at once.
	if bytes.IndexByte(data, '\\') < 0 && decodeCanonical(data, m) {
		return checkRow(m)
	}
	*m = RowMessage{}
	return decodeInto(gojson.Unmarshal, data, m)
}

// decodeRowWith is DecodeRow with the JSON decoder given.
func decodeRowWith(unmarshal func([]byte, any) error, data []byte) (*RowMessage, error) {
	return decodeInto(unmarshal, data, new(RowMessage))
}

// decodeInto is decodeRowWith into m.
func decodeInto(unmarshal func([]byte, any) error, data []byte, m *RowMessage) (*RowMessage, error) {
	if err := unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("row message is not JSON: %w", err)
	}
	return checkRow(m)
}

// checkRow refuses a decoded row message without a valid batch id, a row
// number, a positive amount or a payout method, or whose meta is not an
// object. The method is compared as ingest writes it (payout.Methods'
// lower-case names): a row the ledger records must be one a processor
// knows how to pay.
func checkRow(m *RowMessage) (*RowMessage, error) {
	r := &m.Row
	if !payout.ValidBatchID(r.Batch) {
		return nil, fmt.Errorf("row message has no valid batch id")
	}
	if r.Index < 1 {
		return nil, fmt.Errorf("row message of %s has no row number", r.Batch)
	}
	if r.Amount.Currency == "" || r.Amount.Minor <= 0 {
		return nil, fmt.Errorf("row %s/%d has no positive amount", r.Batch, r.Index)
	}
	if !slices.Contains(payout.Methods, r.Method) {
		return nil, fmt.Errorf("row %s/%d has no known method (one of card, token, encrypted_card, transfer)", r.Batch, r.Index)
	}
	meta := bytes.TrimSpace(m.Meta)
	switch {
	case len(meta) == 0 || bytes.Equal(meta, []byte("null")) || bytes.Equal(meta, []byte("{}")):
		m.Meta = nil
	case meta[0] != '{':
		return nil, fmt.Errorf("row %s/%d: meta is not an object", r.Batch, r.Index)
	default:
		m.Meta = meta
	}
	return m, nil
}

// DecodeMeta reads a row's meta object (RowMessage.Meta, or the text the
// ledger keeps): names and their values. A value that is not a JSON string
// is kept as its JSON text. Empty input, null and {} are no meta (nil).
func DecodeMeta(meta []byte) (map[string]string, error) {
	if m, ok := decodeMetaCanonical(meta); ok {
		return m, nil
	}
	return decodeMetaWith(gojson.Unmarshal, meta)
}

// decodeMetaWith is DecodeMeta with the JSON decoder given.
func decodeMetaWith(unmarshal func([]byte, any) error, meta []byte) (map[string]string, error) {
	meta = bytes.TrimSpace(meta)
	if len(meta) == 0 {
		return nil, nil
	}
	var m map[string]string
	if err := unmarshal(meta, &m); err != nil {
		var raw map[string]json.RawMessage
		if err2 := unmarshal(meta, &raw); err2 != nil {
			return nil, fmt.Errorf("meta is not a JSON object: %w", err)
		}
		m = make(map[string]string, len(raw))
		for k, v := range raw {
			var s string
			if unmarshal(v, &s) != nil {
				s = string(bytes.TrimSpace(v))
			}
			m[k] = s
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}
