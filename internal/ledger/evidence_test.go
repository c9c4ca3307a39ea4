package ledger

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
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
		z := packBody([]byte(b), [5]string{})
		require.Equal(t, byte(packedDictV1), z[0])
		got, err := unpackBody(z, [5]string{})
		require.NoError(t, err)
		require.Equal(t, b, string(got))
		if len(b) > 500 {
			require.Less(t, len(z), len(b)/3, "packed %d of %d bytes", len(z), len(b))
		}
	}
	_, err := unpackBody([]byte{9, 1, 2}, [5]string{})
	require.ErrorContains(t, err, "unknown format")

	// Format 2: the webhook's own values (kept beside it) left out.
	row := sql.NullInt64{Int64: 6, Valid: true}
	fields := bodyFields("b37d278268b0299123726", row, "ps_138586000003", "po_138586000004", "F-00006")
	for _, c := range []struct {
		body   string
		fields [5]string
		format byte
	}{
		{bodies[1], fields, packedFieldsV1},
		{bodies[0], bodyFields("b37d278268b0299123726", sql.NullInt64{Int64: 7, Valid: true}, "ps_138586000001", "po_138586000025", "F-00007"), packedFieldsV1},
		{bodies[1], bodyFields("", sql.NullInt64{}, "ps_138586000003", "", ""), packedFieldsV1},               // a webhook that names no row
		{bodies[1], bodyFields("b37d278268b0299123726", row, "ps_1", "ps_138586000003", "0"), packedFieldsV1}, // values inside values
		{bodies[3], fields, packedFieldsV1},
		{bodies[2], fields, packedFieldsV1},
		{bodies[1] + "\x03", fields, packedDictV1},                                             // a body holding a field's byte
		{bodies[1], bodyFields("b37d278268b0299123726", row, "ps_\x01", "", ""), packedDictV1}, // a value holding one
		{bodies[1], [5]string{}, packedDictV1},
	} {
		z := packBody([]byte(c.body), c.fields)
		require.Equal(t, c.format, z[0], c.body)
		got, err := unpackBody(z, c.fields)
		require.NoError(t, err)
		require.Equal(t, c.body, string(got))
	}
	one, two := packBody([]byte(bodies[1]), [5]string{}), packBody([]byte(bodies[1]), fields)
	require.Less(t, len(two), len(one)-30, "format 2: %d bytes, format 1: %d", len(two), len(one))

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
	// With its row, session and payout: format 2, read back the same.
	body2 := []byte(bodies[0])
	sum = sha256.Sum256(body2)
	id2 := hex.EncodeToString(sum[:])
	require.NoError(t, s.w.Do(ctx, func(tx *Tx) error {
		return s.recordHook(tx, bankEvent{HookID: id2, Type: "ready_to_confirm", SessionID: "ps_138586000001", PayoutID: "po_138586000025",
			Ref: &payout.BankRef{Batch: "b37d278268b0299123726", Row: 7, Reference: "F-00007"}, Body: body2})
	}))
	var format []byte
	require.NoError(t, s.db.r.QueryRow(`SELECT substr(body_z, 1, 1) FROM bank_events WHERE hook_id = ?`, id2).Scan(&format))
	require.Equal(t, []byte{packedFieldsV1}, format)
	got, err = s.db.HookBody(ctx, id2)
	require.NoError(t, err)
	require.Equal(t, body2, got)
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

// BenchmarkPackBody: one payment_finished body packed as format 1 (the
// dictionary alone) and format 2 (its row, session, payout and reference
// left out first), and read back; the hooks consumer packs each webhook.
func BenchmarkPackBody(b *testing.B) {
	body := []byte(`{"type":"payment_finished","session":{"id":"ps_138586000003","status":"accepted","created_at":"2026-12-01T15:23:07.105310Z","updated_at":"2026-12-01T15:23:07.160800Z","finished_at":"2026-12-01T15:23:07.160800Z","payments":[{"id":"po_138586000004","status":"succeeded","created_at":"2026-12-01T15:23:07.105366Z","finished_at":"2026-12-01T15:23:07.160800Z","payment_method":{"type":"card","card":{"last4":"4242","brand":"visa","bin":"424242"}},"amount_details":{"amount":10600,"currency":"rub"},"participant_details":{"recipient":{"full_name":"Ivan Petrov"}},"metadata":{"payrun":"b37d278268b0299123726/6","reference":"F-00006"}}]}}`)
	fields := bodyFields("b37d278268b0299123726", sql.NullInt64{Int64: 6, Valid: true}, "ps_138586000003", "po_138586000004", "F-00006")
	// The writer as packBody made it before the pool: a new one each time.
	b.Run("format1/pack-new-writer", func(b *testing.B) {
		b.ReportAllocs()
		cpu := processCPU()
		for i := 0; i < b.N; i++ {
			var buf bytes.Buffer
			w, _ := flate.NewWriterDict(&buf, flate.BestCompression, []byte(hookDictV1))
			w.Write(body)
			w.Close()
		}
		b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	})
	for _, c := range []struct {
		name   string
		fields [5]string
	}{{"format1", [5]string{}}, {"format2", fields}} {
		b.Run(c.name+"/pack", func(b *testing.B) {
			b.ReportAllocs()
			var n int
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				n = len(packBody(body, c.fields))
			}
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(n), "bytes")
		})
		b.Run(c.name+"/unpack", func(b *testing.B) {
			z := packBody(body, c.fields)
			b.ReportAllocs()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				if _, err := unpackBody(z, c.fields); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
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
		require.Equal(t, fresh(b), packBody(b, [5]string{}))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range bodies {
				b := bodies[(i+g)%len(bodies)]
				if !bytes.Equal(fresh(b), packBody(b, [5]string{})) {
					t.Errorf("body %d packed differently by a reused writer", (i+g)%len(bodies))
				}
			}
		}()
	}
	wg.Wait()
}
