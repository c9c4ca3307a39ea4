package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/report"
)

// rev8Batch is a batch of n rows of its own references whose methods and
// currencies change along the rows (so runs of one statement end inside a
// group: s1's INSERT binds a run's method and currency once).
func rev8Batch(n int, seed string) *testBatch {
	var rows []*payout.Row
	for i := 1; i <= n; i++ {
		cur := "RUB"
		if i%5 == 0 {
			cur = "EUR"
		}
		r := &payout.Row{Reference: fmt.Sprintf("%s/E-%03d", seed, i), Amount: money.New(10000+int64(i)*7, cur),
			FullName: "Anna Petrova " + fmt.Sprint(i)}
		if i%3 == 0 {
			r.Method, r.CardToken = payout.MethodToken, fmt.Sprintf("tok_%s_%d", seed, i)
		} else {
			r.Method = payout.MethodCard
			r.Card = &payout.Card{Sealed: "c2VhbGVk" + fmt.Sprint(i), BIN: "424242", Last4: "4242"}
		}
		rows = append(rows, r)
	}
	return makeRows(seed, rows)
}

// TestRev8SealUnderRandomDelivery: a stream of three batches' rows,
// interleaved, each followed by its manifest, delivered in groups of
// random size with the redeliveries a cursor rewind makes, groups rolled
// back, two groups in one writer transaction, and restarts of the
// service between groups. Every batch whose rows all arrived is accepted
// with its manifest's totals, one that lost a row for good is rejected,
// whichever way each seal was made (the kept answers, checked against the
// rows by verifySealAcc, or the rows), and nothing is kept for a sealed
// batch.
func TestRev8SealUnderRandomDelivery(t *testing.T) {
	errRollback := errors.New("rolled back")
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 8))
			s, _ := newService(t)
			var batches []*testBatch
			for k := 0; k < 3; k++ {
				batches = append(batches, rev8Batch(8+rng.IntN(20), fmt.Sprintf("rev8-%d-%d", seed, k)))
			}
			lost := -1 // a batch that loses one row for good
			if seed%4 == 0 {
				lost = rng.IntN(len(batches))
			}
			// Interleave the batches' messages, each batch's in order.
			var queues [][]intakeMsg
			for k, b := range batches {
				m := b.msgs(0)
				if k == lost {
					i := rng.IntN(len(m) - 1)
					m = append(m[:i:i], m[i+1:]...)
				}
				queues = append(queues, m)
			}
			var stream []intakeMsg
			for {
				var open []int
				for k, q := range queues {
					if len(q) > 0 {
						open = append(open, k)
					}
				}
				if len(open) == 0 {
					break
				}
				k := open[rng.IntN(len(open))]
				n := 1 + rng.IntN(min(4, len(queues[k])))
				for _, m := range queues[k][:n] {
					m.Seq = uint64(len(stream) + 1)
					stream = append(stream, m)
				}
				queues[k] = queues[k][n:]
			}

			restarts, kept := 0, int64(0)
			for pos := 0; pos < len(stream); {
				n := 1 + rng.IntN(12)
				end := min(len(stream), pos+n)
				group := stream[pos:end]
				switch r := rng.IntN(10); {
				case r == 0: // the group rolled back, then delivered again
					err := s.w.Do(context.Background(), func(tx *Tx) error {
						if _, err := s.recordIntake(tx, group); err != nil {
							return err
						}
						return errRollback
					})
					require.ErrorIs(t, err, errRollback)
					continue
				case r == 1 && end < len(stream): // two groups in one writer transaction
					end2 := min(len(stream), end+1+rng.IntN(8))
					require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
						if _, err := s.recordIntake(tx, group); err != nil {
							return err
						}
						_, err := s.recordIntake(tx, stream[end:end2])
						return err
					}))
					end = end2
				default:
					record(t, s, group)
				}
				pos = end
				switch r := rng.IntN(10); {
				case r == 0 && pos > 0: // a cursor rewind: some messages again
					pos = max(0, pos-1-rng.IntN(10))
				case r == 1: // a restart between groups
					kept += s.stats.sealKept.Load()
					s.Close()
					s = NewService(s.db, testConfig())
					t.Cleanup(func() { s.Close() })
					restarts++
				}
			}
			kept += s.stats.sealKept.Load()
			for k, b := range batches {
				sum := summary(t, s.db, b.ID)
				if k == lost {
					require.Equal(t, payout.BatchRejected, sum.Status, "batch %d lost a row", k)
					continue
				}
				require.Equal(t, payout.BatchScheduled, sum.Status, "batch %d: %s", k, sum.Reason)
				require.Equal(t, b.Manifest.Totals, sum.Totals, "batch %d", k)
			}
			require.Empty(t, s.seals, "nothing is kept for a sealed batch")
			t.Logf("seed %d: %d restarts, %d seals from kept answers", seed, restarts, kept)
		})
	}
}

// TestRev8ReportChunksOfASparseBatch: a batch whose row numbers have gaps
// (rows lost, the batch rejected) reports the same bytes in chunks of any
// size as in one chunk (s3: chunk ends by two seeks, a chunk's rows read
// in two halves).
func TestRev8ReportChunksOfASparseBatch(t *testing.T) {
	s, _ := newService(t)
	b := rev8Batch(40, "rev8 sparse")
	m := b.msgs(1)
	var kept []intakeMsg
	for i, x := range m {
		if x.Row != nil && (i%7 == 2 || i%7 == 3 || i >= 20 && i < 31) {
			continue // lost
		}
		kept = append(kept, x)
	}
	record(t, s, kept)
	require.Equal(t, payout.BatchRejected, summary(t, s.db, b.ID).Status)
	ctx := context.Background()
	write := func(lang, format string) string {
		src, done, err := s.db.ReportSource(ctx, b.ID, lang)
		require.NoError(t, err)
		defer done()
		var buf bytes.Buffer
		require.NoError(t, src.Write(&buf, format))
		return buf.String()
	}
	whole := map[string]string{}
	for _, f := range report.Formats {
		whole[f] = write("en", f)
	}
	require.Contains(t, whole[report.FormatCSV], "rev8 sparse/E-040")
	defer func(n int) { scanChunk = n }(scanChunk)
	for _, n := range []int{1, 2, 3, 4, 5, 8, 13} {
		scanChunk = n
		for _, f := range report.Formats {
			require.Equal(t, whole[f], write("en", f), "chunks of %d, %s", n, f)
		}
	}
}
