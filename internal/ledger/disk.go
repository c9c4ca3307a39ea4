package ledger

import (
	"context"
	"path/filepath"
	"syscall"
	"time"

	"github.com/payrun/payrun/internal/metrics"
)

// DiskSpace is the filesystem of the database's folder: bytes available
// to this process, and its size.
func (db *DB) DiskSpace() (free, size uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(db.path), &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// ExportDisk refreshes payrun_disk_free_bytes and payrun_disk_size_bytes
// for the database's folder every interval until ctx ends: the alert
// before a full disk (deploy/prometheus/ledger-disk.rules.yml).
func (db *DB) ExportDisk(ctx context.Context, interval time.Duration) {
	folder := filepath.Dir(db.path)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if free, size, err := db.DiskSpace(); err == nil {
			metrics.DiskFree.WithLabelValues(folder).Set(float64(free))
			metrics.DiskSize.WithLabelValues(folder).Set(float64(size))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
