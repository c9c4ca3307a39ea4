package ledger

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPackBody: a webhook body comes back byte for byte, at about a
// third of its size; a body recorded before 0102 (in body) is read as
// it is.
func TestPackBody(t *testing.T) {
	bodies := []string{
		`{"type":"ready_to_confirm","session":{"id":"ps_138586000001","status":"in_progress","created_at":"2026-12-01T15:23:07.036862Z","updated_at":"2026-12-01T15:23:07.308508Z","next_action":"confirm","payments":[{"id":"po_138586000025","status":"pending","created_at":"2026-12-01T15:23:07.282930Z","payment_method":{"type":"card","card":{"type":"tokenized_card","tokenized_card":{"token":"tok_f7"}}},"amount_details":{"amount":10700,"currency":"rub"},"participant_details":{"recipient":{"full_name":"Ivan Petrov"}},"metadata":{"payrun":"b37d278268b0299123726/7","reference":"F-00007"}}]}}`,
		`{"type":"payment_finished","session":{"id":"ps_138586000003","status":"accepted","created_at":"2026-12-01T15:23:07.105310Z","updated_at":"2026-12-01T15:23:07.160800Z","finished_at":"2026-12-01T15:23:07.160800Z","payments":[{"id":"po_138586000004","status":"succeeded","created_at":"2026-12-01T15:23:07.105366Z","finished_at":"2026-12-01T15:23:07.160800Z","payment_method":{"type":"card","card":{"last4":"4242","brand":"visa","bin":"424242"}},"amount_details":{"amount":10600,"currency":"rub"},"participant_details":{"recipient":{"full_name":"Ivan Petrov"}},"metadata":{"payrun":"b37d278268b0299123726/6","reference":"F-00006"}}]}}`,
		``, `not json at all ☃`,
	}
	for _, b := range bodies {
		z := packBody([]byte(b))
		got, err := unpackBody(z)
		require.NoError(t, err)
		require.Equal(t, b, string(got))
		if len(b) > 500 {
			require.Less(t, len(z), len(b)/3, "packed %d of %d bytes", len(z), len(b))
		}
	}
	_, err := unpackBody([]byte{9, 1, 2})
	require.ErrorContains(t, err, "unknown format")

	s, _ := newService(t)
	ctx := context.Background()
	body := []byte(bodies[1])
	sum := sha256.Sum256(body)
	id := hex.EncodeToString(sum[:])
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		return s.recordHook(tx, bankEvent{HookID: id, Type: "payment_finished", Body: body})
	}))
	got, err := s.db.HookBody(ctx, id)
	require.NoError(t, err)
	require.Equal(t, body, got)
	var plain string
	require.NoError(t, s.db.r.QueryRow(`SELECT body FROM bank_events WHERE hook_id = ?`, id).Scan(&plain))
	require.Empty(t, plain, "kept packed only")

	// Recorded before 0102.
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO bank_events (hook_id, type, stream_seq, received_at, recorded_at, body) VALUES ('old', 'x', 1, '', '', ?)`, bodies[0])
		return err
	}))
	got, err = s.db.HookBody(ctx, "old")
	require.NoError(t, err)
	require.Equal(t, bodies[0], string(got))
	_, err = s.db.HookBody(ctx, "none")
	require.True(t, IsNotFound(err))
}

// TestPackBodyReused: a pooled writer, reset, packs every body to the bytes
// a fresh flate.NewWriterDict writes (the format of body_z is those bytes),
// one after another and from goroutines at once.
func TestPackBodyReused(t *testing.T) {
	fresh := func(body []byte) []byte {
		var buf bytes.Buffer
		buf.WriteByte(packedDictV1)
		w, err := flate.NewWriterDict(&buf, flate.BestCompression, []byte(hookDictV1))
		require.NoError(t, err)
		w.Write(body)
		require.NoError(t, w.Close())
		return buf.Bytes()
	}
	var bodies [][]byte
	for i := 0; i < 40; i++ {
		bodies = append(bodies, []byte(fmt.Sprintf(`{"type":"payment_finished","session":{"id":"ps_%012d","status":"accepted","payments":[{"id":"po_%d","amount_details":{"amount":%d,"currency":"rub"},"metadata":{"reference":"R-%d"}}]}}%s`,
			i, i, 100*i, i, strings.Repeat("x", i*7))))
	}
	bodies = append(bodies, nil, []byte("☃"))
	for _, b := range bodies {
		require.Equal(t, fresh(b), packBody(b))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range bodies {
				b := bodies[(i+g)%len(bodies)]
				if !bytes.Equal(fresh(b), packBody(b)) {
					t.Errorf("body %d packed differently by a reused writer", (i+g)%len(bodies))
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkPackBody: one webhook body packed.
func BenchmarkPackBody(b *testing.B) {
	body := []byte(`{"type":"payment_finished","session":{"id":"ps_138586000003","status":"accepted","created_at":"2026-12-01T15:23:07.105310Z","updated_at":"2026-12-01T15:23:07.160800Z","finished_at":"2026-12-01T15:23:07.160800Z","payments":[{"id":"po_138586000004","status":"succeeded","created_at":"2026-12-01T15:23:07.105366Z","finished_at":"2026-12-01T15:23:07.160800Z","payment_method":{"type":"card","card":{"last4":"4242","brand":"visa","bin":"424242"}},"amount_details":{"amount":10600,"currency":"rub"},"participant_details":{"recipient":{"full_name":"Ivan Petrov"}},"metadata":{"payrun":"b37d278268b0299123726/6","reference":"F-00006"}}]}}`)
	b.ReportAllocs()
	for b.Loop() {
		packBody(body)
	}
}
