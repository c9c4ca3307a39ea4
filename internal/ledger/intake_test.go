package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

func TestIntakeAcceptsMatchingManifest(t *testing.T) {
	s, _ := newService(t)
	b := makeBatch(10, "good")
	res := record(t, s, b.msgs(1))
	require.Equal(t, 10, res.Recorded)
	require.Equal(t, []string{b.ID}, res.Accepted)

	sum := summary(t, s.db, b.ID)
	require.Equal(t, payout.BatchScheduled, sum.Status)
	require.Equal(t, 10, sum.ByState[payout.StateReceived], "rows wait as received while the batch is scheduled")
	require.Equal(t, b.Manifest.Totals, sum.Totals)

	r := mustRow(t, s, b.ID, 3)
	require.Equal(t, "E-00003", r.Reference)
	require.Equal(t, "card 424242******4242", r.Destination)
	require.Equal(t, "Ivan Petrov 3", r.Recipient)
	require.Equal(t, uint64(3), r.IntakeSeq)
	d := sha256.Sum256(b.Data[2])
	require.Equal(t, d[:], mustDigest(t, r.RowDigest))

	// A redelivery of everything is a no-op.
	res = record(t, s, b.msgs(1))
	require.Equal(t, 0, res.Recorded)
	require.Equal(t, 10, res.Duplicates)
	require.Empty(t, res.Accepted)
	tr, err := s.db.Transitions(context.Background(), b.ID, 3)
	require.NoError(t, err)
	require.Empty(t, tr, "sealing moves the batch, not the rows")

	// Only the last four digits and the BIN are kept.
	var n int
	require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM rows WHERE meta LIKE '%sealed%' OR destination LIKE '%c2VhbGVk%'`).Scan(&n))
	require.Zero(t, n)
}

func TestIntakeRejectsTamperedManifest(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(b *testBatch) []intakeMsg
		reason string
	}{
		{"count", func(b *testBatch) []intakeMsg {
			m := b.msgs(1)
			return append(m[:4], m[5:]...) // row 5 never arrives
		}, "manifest says 10 rows, ledger recorded 9"},
		{"total", func(b *testBatch) []intakeMsg {
			b.Manifest.Totals["RUB"] += 100
			return b.msgs(1)
		}, "total RUB 10001.55 ≠ 10000.55"},
		{"row numbers", func(b *testBatch) []intakeMsg {
			// Ten rows numbered 1..9 and 11: the count matches, the numbers do not.
			m := b.msgs(1)
			other := *b.Rows[9]
			other.Index = 11
			data := intake.EncodeRow(&other)
			r, _ := parseRow(data)
			return append(append(m[:9:9], intakeMsg{Seq: 100, Digest: sha256.Sum256(data), Row: r}), m[10])
		}, "row numbers are not 1..10 (highest 11)"},
		{"digest", func(b *testBatch) []intakeMsg {
			b.Manifest.RowsSHA256 = payout.DigestRows([][]byte{{1}})
			return b.msgs(1)
		}, "rows digest differs"},
		{"conflicting row", func(b *testBatch) []intakeMsg {
			m := b.msgs(1)
			other := *b.Rows[6]
			other.Reference = "E-99999"
			data := intake.EncodeRow(&other)
			r, _ := parseRow(data)
			extra := intakeMsg{Seq: 100, Digest: sha256.Sum256(data), Row: r}
			return append(m[:10], extra, m[10])
		}, "row 7 arrived twice with different data (1 conflicts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newService(t)
			b := makeBatch(10, "tamper")
			res := record(t, s, tt.tamper(b))
			require.Equal(t, []string{b.ID}, res.Rejected)
			sum := summary(t, s.db, b.ID)
			require.Equal(t, payout.BatchRejected, sum.Status)
			require.True(t, strings.HasPrefix(sum.Reason, tt.reason), "reason %q, want it to start with %q", sum.Reason, tt.reason)

			// Nothing of it is ever released.
			require.NoError(t, s.ReleaseDue(context.Background()))
			sum = summary(t, s.db, b.ID)
			require.Zero(t, sum.ByState[payout.StateQueued])
			ex, err := s.db.Exceptions(b.ID, false)
			require.NoError(t, err)
			require.NotEmpty(t, ex)
		})
	}
}

func TestIntakeLateRowIsNeverReleased(t *testing.T) {
	s, _ := newService(t)
	b := makeBatch(3, "late")
	record(t, s, b.msgs(1))
	extra := makeBatch(4, "late")
	m := extra.msgs(10)
	res := record(t, s, m[3:4]) // row 4 after the manifest
	require.Equal(t, 1, res.Conflicts)
	require.NoError(t, s.ReleaseDue(context.Background()))
	_, err := s.db.Row(b.ID, 4)
	require.True(t, IsNotFound(err), "a late row is not recorded as a row: %v", err)
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 3).State)
	require.Equal(t, 3, summary(t, s.db, b.ID).Rows)
	ex, err := s.db.Exceptions(b.ID, false)
	require.NoError(t, err)
	require.Len(t, ex, 1)
	require.Equal(t, reconcile.LateRow, ex[0].Category)
}

func mustDigest(t *testing.T, h string) []byte {
	t.Helper()
	var out [32]byte
	n, err := hexDecode(out[:], h)
	require.NoError(t, err)
	require.Equal(t, 32, n)
	return out[:]
}

// makeKeyedBatch builds n card rows as ingest writes them since public-key
// sealing: each carries its keyed digest and the card's fingerprint, and
// the manifest covers the digests (RowDigestsSHA256). seal names the
// upload: the same seed with another seal is the same rows sealed anew.
func makeKeyedBatch(n int, seed, seal string) *testBatch {
	sum := sha256.Sum256([]byte(seed))
	b := &testBatch{ID: payout.BatchID(sum[:])}
	totals := money.Totals{}
	var digests [][]byte
	for i := 1; i <= n; i++ {
		d := sha256.Sum256([]byte(seed + "/row/" + strconv.Itoa(i))) // stands in for the HMAC ingest computes
		r := &payout.Row{
			Batch: b.ID, Index: i, Line: i + 1, Reference: fmt.Sprintf("E-%05d", i), Method: payout.MethodCard,
			Amount: money.New(100000+int64(i), "RUB"), FullName: "Ivan Petrov " + strconv.Itoa(i),
			Card: &payout.Card{Sealed: "hpke1:0123456789abcdef:" + seal + ":" + strconv.Itoa(i), BIN: "424242", Last4: "4242",
				Fingerprint: fmt.Sprintf("%032x", i%3)},
			Digest: hex.EncodeToString(d[:]),
		}
		digests = append(digests, d[:])
		totals.Add(r.Amount)
		b.Rows = append(b.Rows, r)
		b.Data = append(b.Data, intake.EncodeRow(r))
	}
	b.Manifest = &payout.Manifest{Batch: b.ID, Name: "test " + seed, FileName: seed + ".csv",
		FileSHA256: hex.EncodeToString(sum[:]), Rows: n, Totals: totals, RowDigestsSHA256: payout.DigestRows(digests),
		CreatedAt: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	return b
}

// TestIntakeComparesKeyedDigests: a row sealed anew (other message bytes,
// the same keyed digest) is a duplicate, not a conflict; the row keeps the
// message the ledger recorded first, whose SHA-256 the processor checks;
// the manifest is checked against the keyed digests; the card's
// fingerprint is recorded.
func TestIntakeComparesKeyedDigests(t *testing.T) {
	s, _ := newService(t)
	first := makeKeyedBatch(6, "keyed", "upload-1")
	again := makeKeyedBatch(6, "keyed", "upload-2")
	require.NotEqual(t, first.Data[0], again.Data[0], "sealed anew: other bytes")
	require.Equal(t, first.Manifest.RowDigestsSHA256, again.Manifest.RowDigestsSHA256)

	// Half the rows arrive from one upload, all of them from another (an
	// upload that stopped, then the whole file again), then a manifest of
	// each.
	m1, m2 := first.msgs(1), again.msgs(20)
	msgs := append(append(append([]intakeMsg{}, m1[:3]...), m2[:6]...), m2[6], m1[6])
	res := record(t, s, msgs)
	require.Equal(t, 6, res.Recorded)
	require.Equal(t, 3, res.Duplicates)
	require.Zero(t, res.Conflicts)
	require.Equal(t, []string{first.ID}, res.Accepted)
	ex, err := s.db.Exceptions(first.ID, false)
	require.NoError(t, err)
	require.Empty(t, ex, "the second manifest is a repeat")

	for n, data := range map[int][]byte{1: first.Data[0], 3: first.Data[2], 4: again.Data[3], 6: again.Data[5]} {
		r := mustRow(t, s, first.ID, n)
		d := sha256.Sum256(data)
		require.Equal(t, d[:], mustDigest(t, r.RowDigest), "row %d: the processor checks the message recorded first", n)
	}
	var fp string
	var rowDigest []byte
	require.NoError(t, s.db.r.QueryRow(`SELECT card_fingerprint, row_digest FROM rows WHERE batch_id = ? AND row_no = 4`, first.ID).
		Scan(&fp, &rowDigest))
	require.Equal(t, first.Rows[3].Card.Fingerprint, fp)
	require.Equal(t, first.Rows[3].Digest, hex.EncodeToString(rowDigest))

	// A row arriving again with another keyed digest is a conflict.
	other := *again.Rows[1]
	other.Amount.Minor++
	other.Digest = strings.Repeat("ab", 32)
	data := intake.EncodeRow(&other)
	r, err := parseRow(data)
	require.NoError(t, err)
	res = record(t, s, []intakeMsg{{Seq: 50, Digest: sha256.Sum256(data), Row: r}})
	require.Equal(t, 1, res.Conflicts)
	ex, err = s.db.Exceptions(first.ID, false)
	require.NoError(t, err)
	require.Len(t, ex, 1)
	require.Equal(t, reconcile.RowConflict, ex[0].Category)
}

// TestIntakeKeyedManifestRejects: a manifest whose row digests do not
// match, or a row conflicting by its keyed digest before the manifest,
// rejects the batch.
func TestIntakeKeyedManifestRejects(t *testing.T) {
	t.Run("digest", func(t *testing.T) {
		s, _ := newService(t)
		b := makeKeyedBatch(4, "keyed-bad", "u")
		b.Manifest.RowDigestsSHA256 = payout.DigestRows([][]byte{{1}})
		res := record(t, s, b.msgs(1))
		require.Equal(t, []string{b.ID}, res.Rejected)
		require.Equal(t, "rows digest differs", summary(t, s.db, b.ID).Reason)
	})
	t.Run("conflict", func(t *testing.T) {
		s, _ := newService(t)
		b := makeKeyedBatch(4, "keyed-conflict", "u")
		m := b.msgs(1)
		other := *b.Rows[1]
		other.FullName = "Someone Else"
		other.Digest = strings.Repeat("cd", 32)
		data := intake.EncodeRow(&other)
		r, err := parseRow(data)
		require.NoError(t, err)
		res := record(t, s, append(m[:4], intakeMsg{Seq: 30, Digest: sha256.Sum256(data), Row: r}, m[4]))
		require.Equal(t, []string{b.ID}, res.Rejected)
		require.True(t, strings.HasPrefix(summary(t, s.db, b.ID).Reason, "row 2 arrived twice with different data"))
	})
	t.Run("bad digest text", func(t *testing.T) {
		for _, d := range []string{"abc", strings.Repeat("zz", 32)} {
			row := *makeKeyedBatch(1, "keyed-text", "u").Rows[0]
			row.Digest = d
			_, err := parseRow(intake.EncodeRow(&row))
			require.ErrorContains(t, err, "is not 64 hex characters")
		}
		row := *makeKeyedBatch(1, "keyed-text", "u").Rows[0]
		row.Card.Fingerprint = "4242424242424242"
		_, err := parseRow(intake.EncodeRow(&row))
		require.ErrorContains(t, err, "card fingerprint \"4242424242424242\" is not 32 hex characters")
	})
}

func TestAckSeqs(t *testing.T) {
	for _, tt := range []struct {
		reply     string
		seq, dseq uint64
		ok        bool
	}{
		{"$JS.ACK.PAYRUN_INTAKE.ledger-intake.1.4711.4700.1733050000000000000.12", 4711, 4700, true},
		{"$JS.ACK._.ACCHASH.PAYRUN_INTAKE.ledger-intake.2.4712.4701.1733050000000000000.0.rNd", 4712, 4701, true},
		{"$JS.ACK.hub.ACCHASH.PAYRUN_INTAKE.ledger-intake.2.99.98.1733050000000000000.0", 99, 98, true},
		{"$JS.ACK.PAYRUN_INTAKE.ledger-intake.1.x.4700.1733050000000000000.12", 0, 0, false},
		{"$JS.ACK.PAYRUN_INTAKE.ledger-intake.1.4711.y.1733050000000000000.12", 0, 0, false},
		{"$JS.ACK.PAYRUN_INTAKE.ledger-intake.1.4711", 0, 0, false},
		{"_INBOX.abc", 0, 0, false},
		{"", 0, 0, false},
	} {
		seq, dseq, ok := ackSeqs(tt.reply)
		require.Equal(t, tt.ok, ok, tt.reply)
		require.Equal(t, tt.seq, seq, tt.reply)
		require.Equal(t, tt.dseq, dseq, tt.reply)
	}
}

// chunkParts sets the msgs' places in their chunks.
func chunkParts(msgs []intakeMsg, parts ...int) []intakeMsg {
	for i, p := range parts {
		msgs[i].part = p
	}
	return msgs
}

func TestNextDeliveries(t *testing.T) {
	msgs := func(ds ...uint64) []intakeMsg {
		out := make([]intakeMsg, len(ds))
		for i, d := range ds {
			out[i] = intakeMsg{Seq: 100 + d, delivered: d}
		}
		return out
	}
	for _, tt := range []struct {
		name      string
		last      uint64
		msgs      []intakeMsg
		err       string
		lastAfter uint64
	}{
		{"first group", 0, msgs(1, 2, 3), "", 3},
		{"next group", 3, msgs(4, 5), "", 5},
		{"empty", 7, nil, "", 7},
		{"first delivery missing", 0, msgs(2, 3), "intake delivery 2 (stream message 102) after delivery 0", 0},
		{"gap inside", 3, msgs(4, 6), "intake delivery 6 (stream message 106) after delivery 4", 4},
		{"delivered again", 5, msgs(5), "intake delivery 5 (stream message 105) after delivery 5", 5},
		{"no sequence", 0, msgs(0), "intake delivery 0 (stream message 100) after delivery 0", 0},
		// A chunk's rows share its delivery (part > 0 after its first row).
		{"chunk", 3, chunkParts(msgs(4, 5, 5, 5, 6), 0, 0, 1, 2, 0), "", 6},
		{"gap after a chunk", 3, chunkParts(msgs(4, 4, 6), 0, 1, 0), "intake delivery 6 (stream message 106) after delivery 4", 4},
		{"a chunk's delivery again as a message", 3, chunkParts(msgs(4, 4, 4), 0, 1, 0), "intake delivery 4 (stream message 104) after delivery 4", 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			last := tt.last
			err := nextDeliveries(tt.msgs, &last)
			if tt.err == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.err)
			}
			require.Equal(t, tt.lastAfter, last)
		})
	}
}
