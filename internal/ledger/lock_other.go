//go:build !unix

package ledger

import "errors"

// FileLock is the ledger's claim on its database file (see lock.go); the
// ledger runs on unix hosts only.
type FileLock struct{}

// ErrLocked is wrapped by the refusal of a database another process holds.
var ErrLocked = errors.New("database in use")

// LockPath is the lock file of a database.
func LockPath(dbPath string) string { return dbPath + ".lock" }

// LockFile refuses: flock(2) is a unix call.
func LockFile(dbPath string) (*FileLock, error) {
	return nil, errors.New("lock ledger database: file locks need a unix host")
}

// Close does nothing.
func (l *FileLock) Close() error { return nil }
