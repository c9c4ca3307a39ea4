package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/payrun/payrun/internal/httpapi"
)

// Sessions stores people's sign-in sessions (an scs.Store and
// scs.CtxStore) in a SQLite file of its own beside the ledger's
// (ledger.db → ledger-sessions.db). Decision: not in the ledger's
// database. With an idle timeout scs writes the session back on every
// request, so through the ledger's one writer every page view would be a
// write in the queue that money state waits in, under the ledger's file
// lock. Measured (BenchmarkSessionCommit, this 2-core VM, whose disk
// syncs cheaply): one commit costs the same either way when idle
// (13.7 µs the file, 12.9 µs the writer), but while the writer records
// 4000-row intake groups the writer's doubles (30.5 µs) and the file's
// does not (14.5 µs); on a disk with a real fsync the writer's
// synchronous=FULL commit would be paid per request. A session lost to a
// power cut (the file is synchronous=NORMAL) only means signing in again,
// and deleting the file signs everyone out without touching the record.
// Tokens are stored as their SHA-256, so the file does not hand out live
// sessions to whoever reads it.
type Sessions struct {
	db *sql.DB
	// Now is the clock (tests).
	Now func() time.Time
}

// SessionsPath is the sessions file beside a ledger database.
func SessionsPath(ledgerPath string) string {
	if n := len(ledgerPath); n > 3 && ledgerPath[n-3:] == ".db" {
		return ledgerPath[:n-3] + "-sessions.db"
	}
	return ledgerPath + "-sessions.db"
}

// OpenSessions opens (creating if needed) a sessions file.
func OpenSessions(path string) (*Sessions, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sessions %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS sessions (
		token_hash TEXT PRIMARY KEY, data BLOB NOT NULL, expiry TEXT NOT NULL) STRICT, WITHOUT ROWID;
		CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expiry);
		CREATE TABLE IF NOT EXISTS totp_steps (user_id INTEGER PRIMARY KEY, step INTEGER NOT NULL) STRICT`); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sessions %s: %w", path, err)
	}
	return &Sessions{db: db, Now: time.Now}, nil
}

// ClaimTOTPStep records that user signed in with the TOTP code of time
// step (httpapi.TOTPSteps): true when step is later than the last one
// recorded for them, false when the code (or a later one) was used
// already. One statement, so two sign-ins with the same code, in this
// process or another on the same file, cannot both claim it. A deleted
// file forgets the steps, as it forgets the sessions: a code lives 90 s.
func (s *Sessions) ClaimTOTPStep(ctx context.Context, user, step int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO totp_steps (user_id, step) VALUES (?, ?)
		ON CONFLICT (user_id) DO UPDATE SET step = excluded.step WHERE excluded.step > totp_steps.step`, user, step)
	if err != nil {
		return false, fmt.Errorf("record TOTP step: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record TOTP step: %w", err)
	}
	return n == 1, nil
}

// Close closes the file.
func (s *Sessions) Close() error { return s.db.Close() }

func sessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// FindCtx returns a live session's data.
func (s *Sessions) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM sessions WHERE token_hash = ? AND expiry > ?`,
		sessionKey(token), formatTime(s.Now())).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	return b, true, nil
}

// CommitCtx stores a session until expiry.
func (s *Sessions) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (token_hash, data, expiry) VALUES (?, ?, ?)
		ON CONFLICT (token_hash) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
		sessionKey(token), b, formatTime(expiry)); err != nil {
		return fmt.Errorf("commit session: %w", err)
	}
	return nil
}

// DeleteCtx removes a session.
func (s *Sessions) DeleteCtx(ctx context.Context, token string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, sessionKey(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// Find, Commit and Delete are the context-free scs.Store methods.
func (s *Sessions) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit stores a session.
func (s *Sessions) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete removes a session.
func (s *Sessions) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }

// Sweep deletes expired sessions; it returns how many.
func (s *Sessions) Sweep(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expiry <= ?`, formatTime(s.Now()))
	if err != nil {
		return 0, fmt.Errorf("sweep sessions: %w", err)
	}
	return res.RowsAffected()
}

// RunSweeper sweeps every interval until ctx ends.
func (s *Sessions) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sweep(ctx)
		}
	}
}

// EndUser deletes every session of a user (the id under
// httpapi.SessionUserKey in the session's data, scs's gob encoding) and
// returns how many: a disabled user is signed out everywhere at once, not
// only where a session is next used (which enabling the user again would
// have revived).
func (s *Sessions) EndUser(ctx context.Context, user int64) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT token_hash, data FROM sessions`)
	if err != nil {
		return 0, fmt.Errorf("read sessions: %w", err)
	}
	var ended []string
	for rows.Next() {
		var hash string
		var data []byte
		if err := rows.Scan(&hash, &data); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read sessions: %w", err)
		}
		if _, values, err := (scs.GobCodec{}).Decode(data); err == nil {
			if id, ok := values[httpapi.SessionUserKey].(int64); ok && id == user {
				ended = append(ended, hash)
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read sessions: %w", err)
	}
	for _, h := range ended {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, h); err != nil {
			return 0, fmt.Errorf("delete session: %w", err)
		}
	}
	return len(ended), nil
}
