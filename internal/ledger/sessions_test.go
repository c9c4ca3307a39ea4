package ledger

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSessions(t *testing.T) {
	dir := t.TempDir()
	path := SessionsPath(filepath.Join(dir, "ledger.db"))
	require.Equal(t, filepath.Join(dir, "ledger-sessions.db"), path)
	s, err := OpenSessions(path)
	require.NoError(t, err)
	defer s.Close()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }

	const token = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"
	_, found, err := s.Find(token)
	require.NoError(t, err)
	require.False(t, found)
	require.NoError(t, s.Commit(token, []byte("uid=2"), now.Add(time.Minute)))
	b, found, err := s.Find(token)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "uid=2", string(b))
	require.NoError(t, s.Commit(token, []byte("uid=3"), now.Add(2*time.Minute)))
	b, _, _ = s.Find(token)
	require.Equal(t, "uid=3", string(b))

	now = now.Add(2 * time.Minute)
	_, found, _ = s.Find(token)
	require.False(t, found, "expired")
	n, err := s.Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(1), n)

	require.NoError(t, s.Commit(token, []byte("uid=4"), now.Add(time.Hour)))
	require.NoError(t, s.Delete(token))
	_, found, _ = s.Find(token)
	require.False(t, found)

	require.NoError(t, s.Commit(token, []byte("uid=5"), now.Add(time.Hour)))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	wal, _ := os.ReadFile(path + "-wal")
	require.False(t, strings.Contains(string(raw)+string(wal), token), "the file holds token hashes, not tokens")
}

// BenchmarkSessionCommit compares where a session's write-back could go:
// the sessions file, or the ledger's writer (its group commit, FULL sync),
// each alone and while the writer records intake groups of 4000 rows (a
// large upload being read).
//
//	go test ./internal/ledger -run '^$' -bench SessionCommit -benchtime 300x
func BenchmarkSessionCommit(b *testing.B) {
	for _, busy := range []bool{false, true} {
		name := map[bool]string{false: "idle", true: "during-intake"}[busy]
		b.Run("sessions-file/"+name, func(b *testing.B) {
			svc, stop := benchWriter(b, busy)
			defer stop()
			_ = svc
			s, err := OpenSessions(filepath.Join(b.TempDir(), "s.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			exp := time.Now().Add(time.Hour)
			for b.Loop() {
				if err := s.Commit("token", []byte("session data of a signed-in user"), exp); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("ledger-writer/"+name, func(b *testing.B) {
			svc, stop := benchWriter(b, busy)
			defer stop()
			ctx := context.Background()
			for b.Loop() {
				if err := svc.w.Do(ctx, func(tx *Tx) error {
					_, err := tx.Exec(`INSERT INTO bench_sessions VALUES ('token', ?, ?) ON CONFLICT (token) DO UPDATE SET data = excluded.data`,
						[]byte("session data of a signed-in user"), formatTime(time.Now()))
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchWriter is a ledger service whose writer, when busy, records groups
// of 4000 rows back to back until stop.
func benchWriter(b *testing.B, busy bool) (*Service, func()) {
	db, err := Open(filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	svc := NewService(db, testConfig())
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(b, svc.w.Do(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`CREATE TABLE bench_sessions (token TEXT PRIMARY KEY, data BLOB, expiry TEXT) STRICT;
			CREATE TABLE bench_rows (n INTEGER PRIMARY KEY, data TEXT) STRICT`)
		return err
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 0; busy && ctx.Err() == nil; n++ {
			svc.w.Do(ctx, func(tx *Tx) error {
				for i := 0; i < 4000; i++ {
					if _, err := tx.Exec(`INSERT INTO bench_rows (data) VALUES (?)`, strings.Repeat("x", 300)); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}()
	return svc, func() {
		cancel()
		<-done
		svc.Close()
		db.Close()
	}
}
