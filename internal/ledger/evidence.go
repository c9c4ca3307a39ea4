package ledger

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// hookDictV1 primes the compression of webhook bodies (format 1 of
// bank_events.body_z): the words of the bank's webhooks (docs of Bank 131,
// shared/bank131-api.md), so a body of ~600 bytes keeps ~200. It must never
// change: bodies recorded with it are read with it. A new dictionary is a
// new format byte beside it.
const hookDictV1 = `"currency":"eur"}"currency":"usd"}"action_required","payment_refunded","error":{"code":"","description":"` +
	`"fee":{"amount":"status":"failed","status":"cancelled","next_action":"confirm","payment_method":{"type":"bank_account",` +
	`"tokenized_card":{"token":"tok_"}}},"card":{"last4":"","brand":"mastercard","bin":"220000"}},"brand":"visa","bin":"424242"}},` +
	`"participant_details":{"recipient":{"full_name":"","sender":{"full_name":"` +
	`{"type":"ready_to_confirm","session":{"id":"ps_","status":"in_progress","created_at":"2026-","updated_at":"2026-",` +
	`"next_action":"confirm","payments":[{"id":"po_","status":"pending","created_at":"2026-",` +
	`"payment_method":{"type":"card","card":{"type":"tokenized_card","tokenized_card":{"token":"tok_"}}},` +
	`"amount_details":{"amount":,"currency":"rub"},"participant_details":{"recipient":{"full_name":""}},` +
	`"metadata":{"payrun":"/","reference":""}}]}}` +
	`{"type":"payment_finished","session":{"id":"ps_","status":"accepted","created_at":"2026-","updated_at":"2026-",` +
	`"finished_at":"2026-","payments":[{"id":"po_","status":"succeeded","created_at":"2026-","finished_at":"2026-",` +
	`"payment_method":{"type":"card","card":{"last4":"","brand":"visa","bin":""}},"amount_details":{"amount":,"currency":"rub"},` +
	`"participant_details":{"recipient":{"full_name":""}},"metadata":{"payrun":"/","reference":""}}]}}`

// Formats of bank_events.body_z (the first byte): 1, the body packed
// with hookDictV1; 2, the same after the webhook's own values that
// hook_events keeps beside it (bodyFields: its batch and row, session,
// payout, reference) were replaced by the bytes 1-5 (issue 17: the ids
// are what the dictionary cannot guess, ~44 of ~150 packed bytes). Format
// 2 is written only when neither the body nor a value holds one of those
// bytes (JSON never does), so each reads back as its value.
const (
	packedDictV1   = 1
	packedFieldsV1 = 2
)

// bodyFields are the values of a webhook that format 2 replaces in its
// body, as hook_events keeps them: "<batch>/<row>" and the batch (when it
// names one), the session, the payout and the reference; "" is none.
func bodyFields(refBatch string, refRow sql.NullInt64, session, payout, reference string) [5]string {
	var f [5]string
	if refBatch != "" {
		f[1] = refBatch
		if refRow.Valid {
			f[0] = refBatch + "/" + strconv.FormatInt(refRow.Int64, 10)
		}
	}
	f[2], f[3], f[4] = session, payout, reference
	return f
}

const fieldBytes = "\x01\x02\x03\x04\x05"

// packBody compresses a verified webhook body for bank_events.body_z:
// format 2 with its fields when it can, else format 1.
func packBody(body []byte, fields [5]string) []byte {
	format := byte(packedDictV1)
	if !bytes.ContainsAny(body, fieldBytes) {
		var pairs []string
		for i, f := range fields {
			if strings.ContainsAny(f, fieldBytes) {
				pairs = nil
				break
			}
			if f != "" {
				pairs = append(pairs, f, fieldBytes[i:i+1])
			}
		}
		if len(pairs) > 0 {
			body = []byte(strings.NewReplacer(pairs...).Replace(string(body)))
			format = packedFieldsV1
		}
	}
	var buf bytes.Buffer
	buf.WriteByte(format)
	w := packers.Get().(*flate.Writer)
	w.Reset(&buf)
	w.Write(body)
	w.Close()
	packers.Put(w)
	return buf.Bytes()
}

// packers are flate writers primed with hookDictV1: a new one allocates
// ~800 KB, more than packing a body costs (BenchmarkPackBody).
var packers = sync.Pool{New: func() any {
	w, _ := flate.NewWriterDict(nil, flate.BestCompression, []byte(hookDictV1)) // the level is valid: no error
	return w
}}

// unpackBody returns the body packBody packed with these fields.
func unpackBody(z []byte, fields [5]string) ([]byte, error) {
	if len(z) == 0 || (z[0] != packedDictV1 && z[0] != packedFieldsV1) {
		return nil, fmt.Errorf("packed webhook body: unknown format %v", z[:min(len(z), 1)])
	}
	b, err := io.ReadAll(flate.NewReaderDict(bytes.NewReader(z[1:]), []byte(hookDictV1)))
	if err != nil {
		return nil, fmt.Errorf("packed webhook body: %w", err)
	}
	if z[0] == packedFieldsV1 {
		pairs := make([]string, 0, 2*len(fields))
		for i, f := range fields {
			pairs = append(pairs, fieldBytes[i:i+1], f)
		}
		b = []byte(strings.NewReplacer(pairs...).Replace(string(b)))
	}
	return b, nil
}

// HookBody returns a recorded webhook's verified body, byte for byte as
// the bank signed it, unless one of its strings held a card number: that
// is masked before anything is stored (cardmask.RedactJSON, in hookrelay
// and again when the ledger records it), and the signature then no longer
// covers the kept body.
func (db *DB) HookBody(ctx context.Context, hookID string) ([]byte, error) {
	var body, refBatch, session, payout, reference string
	var refRow sql.NullInt64
	var z []byte
	const cols = `body, body_z, ref_batch, ref_row, session_id, payout_id, ref_reference`
	// By the index of the id's first 8 bytes (migration 0170; a file
	// before it by its unique index on the whole id); the batch by its key,
	// the bank's ids as 0163 keeps them.
	err := db.r.QueryRowContext(ctx, `SELECT e.body, e.body_z, b.batch_id, e.ref_row,
		CASE WHEN typeof(e.sid) = 'integer' THEN 'ps_' || e.sid ELSE e.sid END,
		CASE WHEN typeof(e.pid) = 'integer' THEN 'po_' || e.pid ELSE e.pid END, e.ref_reference
		FROM hook_events e JOIN batch_keys b ON b.k = e.bk WHERE substr(e.h, 1, 8) = substr(?1, 1, 8) AND e.h = ?1`, hookKey(hookID)).
		Scan(&body, &z, &refBatch, &refRow, &session, &payout, &reference)
	if err != nil && strings.Contains(err.Error(), "no such column: e.") {
		// A file migrated by 0141 but not 0163 (an archive opened read-only).
		err = db.r.QueryRowContext(ctx, `SELECT `+cols+` FROM hook_events WHERE h = ?`, hookKey(hookID)).
			Scan(&body, &z, &refBatch, &refRow, &session, &payout, &reference)
	}
	if err != nil && strings.Contains(err.Error(), "no such table: hook_events") {
		// A file older than migration 0141 (an archive opened read-only).
		err = db.r.QueryRowContext(ctx, `SELECT `+cols+` FROM bank_events WHERE hook_id = ?`, hookID).
			Scan(&body, &z, &refBatch, &refRow, &session, &payout, &reference)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("webhook %s: %w", hookID, errNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read webhook %s: %w", hookID, err)
	}
	if z == nil {
		return []byte(body), nil
	}
	return unpackBody(z, bodyFields(refBatch, refRow, session, payout, reference))
}
