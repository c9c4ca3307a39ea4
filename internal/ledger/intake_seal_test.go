package ledger

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
)

// Every seal in this package's tests that has the intake's kept answers
// reads the rows as well and fails when the two differ (verifySealAcc);
// the benchmarks time the intake without it (sealVerifyOff).
func init() { verifySealAcc = true }

// sealVerifyOff turns verifySealAcc off for a benchmark.
func sealVerifyOff(b *testing.B) {
	verifySealAcc = false
	b.Cleanup(func() { verifySealAcc = true })
}

// TestSealKeptAnswers: the seal is made from the intake's kept answers
// exactly when they stand for the batch's rows, and from the rows
// otherwise, with the same outcome either way (every seal here is also
// checked against the rows: verifySealAcc).
func TestSealKeptAnswers(t *testing.T) {
	errRollback := errors.New("rolled back")
	tests := []struct {
		name string
		// feed records the batch's messages (10 rows, then the manifest)
		// into s, through the writer.
		feed   func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service
		kept   bool
		reason string // "": accepted
		keyed  bool   // rows carrying keyed digests (makeKeyedBatch)
	}{
		{"one group", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			record(t, s, m)
			return s
		}, true, "", false},
		{"a group per row", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			for i := range m {
				record(t, s, m[i:i+1])
			}
			return s
		}, true, "", false},
		{"total differs", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			m[10].Manifest.Totals["RUB"] += 100
			record(t, s, m)
			return s
		}, true, "total RUB 10001.55 ≠ 10000.55", false},
		{"digest differs", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			m[10].Manifest.RowsSHA256 = payout.DigestRows([][]byte{{1}})
			record(t, s, m)
			return s
		}, true, "rows digest differs", false},
		{"a row missing", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			record(t, s, append(m[:4:4], m[5:]...))
			return s
		}, false, "manifest says 10 rows, ledger recorded 9", false},
		{"rows out of order", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			record(t, s, m[5:10])
			record(t, s, m[:5])
			record(t, s, m[10:])
			return s
		}, false, "", false},
		{"a group delivered again", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			record(t, s, m[:5])
			record(t, s, m[3:8])
			record(t, s, m[8:])
			return s
		}, false, "", false},
		{"a group rolled back", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			record(t, s, m[:5])
			err := s.w.Do(context.Background(), func(tx *Tx) error {
				if _, err := s.recordIntake(tx, m[5:8]); err != nil {
					return err
				}
				return errRollback
			})
			require.ErrorIs(t, err, errRollback)
			record(t, s, m[5:])
			return s
		}, true, "", false},
		{"the service restarted", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			record(t, s, m[:5])
			s.Close()
			s = NewService(s.db, testConfig())
			t.Cleanup(func() { s.Close() })
			noApprovals(t, s)
			record(t, s, m[5:])
			return s
		}, false, "", false},
		{"a row deleted between groups", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			record(t, s, m[:5])
			require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
				_, err := tx.Exec(`DELETE FROM rows WHERE batch_id = ? AND row_no = 2`, b.ID)
				return err
			}))
			record(t, s, m[5:])
			return s
		}, false, "manifest says 10 rows, ledger recorded 9", false},
		{"keyed rows", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			record(t, s, m[:6])
			record(t, s, m[6:])
			return s
		}, true, "", true},
		{"keyed rows, a manifest of the messages' digests", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			var ds [][]byte
			for i := range m[:10] {
				ds = append(ds, m[i].Digest[:])
			}
			m[10].Manifest.RowDigestsSHA256, m[10].Manifest.RowsSHA256 = "", payout.DigestRows(ds)
			record(t, s, m)
			return s
		}, false, "", true},
		{"keyed rows, a wrong manifest of the messages' digests", func(t *testing.T, s *Service, b *testBatch, m []intakeMsg) *Service {
			m[10].Manifest.RowDigestsSHA256 = ""
			record(t, s, m)
			return s
		}, false, "rows digest differs", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newService(t)
			b := makeBatch(10, "kept "+tt.name)
			if tt.keyed {
				b = makeKeyedBatch(10, "kept "+tt.name, "u")
			}
			s = tt.feed(t, s, b, b.msgs(1))
			sum := summary(t, s.db, b.ID)
			if tt.reason == "" {
				require.Equal(t, payout.BatchScheduled, sum.Status, sum.Reason)
				require.Equal(t, b.Manifest.Totals, sum.Totals)
			} else {
				require.Equal(t, payout.BatchRejected, sum.Status)
				require.True(t, strings.HasPrefix(sum.Reason, tt.reason), "reason %q, want it to start with %q", sum.Reason, tt.reason)
			}
			kept := s.stats.sealKept.Load()
			if tt.kept {
				require.Equal(t, int64(1), kept, "sealed from the kept answers")
			} else {
				require.Zero(t, kept, "sealed from the rows")
			}
			require.Empty(t, s.seals, "nothing is kept for a sealed batch")
		})
	}
}

// TestSealKeptAnswersVerified: verifySealAcc catches kept answers that do
// not stand for the rows (here, a digest changed behind the intake's back),
// so the other tests' seals are really compared.
func TestSealKeptAnswersVerified(t *testing.T) {
	s, _ := newService(t)
	b := makeBatch(10, "verified")
	m := b.msgs(1)
	record(t, s, m[:10])
	require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE rows SET row_digest = zeroblob(32), digest = zeroblob(32) WHERE batch_id = ? AND row_no = 3`, b.ID)
		return err
	}))
	err := s.w.Do(context.Background(), func(tx *Tx) error {
		_, err := s.recordIntake(tx, m[10:])
		return err
	})
	require.ErrorContains(t, err, "kept answers")
}
