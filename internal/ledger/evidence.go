package ledger

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
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

// Formats of bank_events.body_z (the first byte).
const packedDictV1 = 1

// packers are flate writers primed with hookDictV1, reused: a new one
// allocates ~800 KB (its hash tables and window), 2 ms of CPU per webhook
// against 0.2 ms for a reset one (payoutbench -run procs profiled packBody
// at 17 % of the ledger's CPU). Reset gives the same state, so the same
// bytes, as NewWriterDict (TestPackBodyReused).
var packers = sync.Pool{New: func() any {
	w, _ := flate.NewWriterDict(nil, flate.BestCompression, []byte(hookDictV1)) // the level is valid: no error
	return w
}}

// packBody compresses a verified webhook body for bank_events.body_z.
func packBody(body []byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte(packedDictV1)
	w := packers.Get().(*flate.Writer)
	w.Reset(&buf)
	w.Write(body)
	w.Close()
	packers.Put(w)
	return buf.Bytes()
}

// unpackBody returns the body packBody packed.
func unpackBody(z []byte) ([]byte, error) {
	if len(z) == 0 || z[0] != packedDictV1 {
		return nil, fmt.Errorf("packed webhook body: unknown format %v", z[:min(len(z), 1)])
	}
	b, err := io.ReadAll(flate.NewReaderDict(bytes.NewReader(z[1:]), []byte(hookDictV1)))
	if err != nil {
		return nil, fmt.Errorf("packed webhook body: %w", err)
	}
	return b, nil
}

// HookBody returns a recorded webhook's verified body, byte for byte as
// the bank signed it.
func (db *DB) HookBody(ctx context.Context, hookID string) ([]byte, error) {
	var body string
	var z []byte
	err := db.r.QueryRowContext(ctx, `SELECT body, body_z FROM hook_events WHERE h = ?`, hookKey(hookID)).Scan(&body, &z)
	if err != nil && strings.Contains(err.Error(), "no such table: hook_events") {
		// A file older than migration 0141 (an archive opened read-only).
		err = db.r.QueryRowContext(ctx, `SELECT body, body_z FROM bank_events WHERE hook_id = ?`, hookID).Scan(&body, &z)
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
	return unpackBody(z)
}
