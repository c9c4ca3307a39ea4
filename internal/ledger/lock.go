//go:build unix

package ledger

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FileLock is the ledger's claim on its database file on this host: an
// exclusive flock(2) on <db>.lock, held for as long as the process runs
// and released by the kernel when it dies (also by SIGKILL), so a stale
// lock never outlives its holder. It keeps a second `ledger run` (or
// `ledger migrate`) on the same database from starting; hosts are kept
// apart by the NATS lease (Lease).
type FileLock struct {
	f    *os.File
	path string
}

// ErrLocked is wrapped by the refusal of a database another process holds.
var ErrLocked = errors.New("database in use")

// LockPath is the lock file of a database.
func LockPath(dbPath string) string { return dbPath + ".lock" }

// LockFile takes the lock of the database at dbPath without waiting. The
// lock file says who holds it (pid and start time), for the refusal's
// message.
func LockFile(dbPath string) (*FileLock, error) {
	p := LockPath(dbPath)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock ledger database: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(p)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "another process"
			}
			return nil, fmt.Errorf("ledger database %s: %w by %s (lock %s)", dbPath, ErrLocked, who, p)
		}
		return nil, fmt.Errorf("lock ledger database %s: %w", p, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" since "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0)
	}
	return &FileLock{f: f, path: p}, nil
}

// Close releases the lock. The file stays: removing it could let a
// second process lock a new file while a third still holds the old one.
func (l *FileLock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
