package reportdrop_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/reportdrop"
	"github.com/payrun/payrun/internal/testutil"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRev9FileNamesMasked: whoever can drop a file into the folder names
// it; a file named with a card number (by mistake: a statement saved under
// the card it is about) must not put that number into the log or the
// refusal's reason file. The watcher logged every file's name and where it
// moved it as they were.
func TestRev9FileNamesMasked(t *testing.T) {
	const card = "4111111111111111"
	dir := t.TempDir()
	clock := testutil.NewClock(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC))
	db, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	require.NoError(t, err)
	db.Now = clock.Now
	svc := ledger.NewService(db, ledger.Config{Logger: testutil.QuietLogger()})
	t.Cleanup(func() { svc.Close(); db.Close() })
	var logs lockedBuffer
	w, err := reportdrop.New(reportdrop.Config{
		Dir: dir, Settle: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: clock.Now,
		Parse: func(f bank131.NamedFile) (*bank131.DailyReport, error) {
			return bank131.ParseDailyReportFiles([]bank131.NamedFile{f}, svc.ReportOptions())
		},
		Send: func(ctx context.Context, rep *bank131.DailyReport) (*ledgerapi.ReportImport, error) {
			return svc.ImportReport(ctx, rep)
		},
	})
	require.NoError(t, err)
	good, err := os.ReadFile(filepath.Join(fixtures, "payrun_2026-11-25_2026-11-25.csv"))
	require.NoError(t, err)
	put := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		require.NoError(t, os.Chtimes(p, clock.Now(), clock.Now()))
	}
	put("payrun_2026-11-25_2026-11-25 card "+card+".csv", good)
	put("card "+card+".csv", []byte("not a report\n"))
	_, err = w.Scan(context.Background())
	require.NoError(t, err)
	clock.Add(10 * time.Second)
	res, err := w.Scan(context.Background())
	require.NoError(t, err)
	require.Len(t, res, 2)
	require.NotContains(t, logs.String(), card, "the log holds the card number")
	reasons, _ := filepath.Glob(filepath.Join(dir, reportdrop.FailedDir, "*.reason.txt"))
	require.Len(t, reasons, 1)
	text, err := os.ReadFile(reasons[0])
	require.NoError(t, err)
	require.False(t, strings.Contains(string(text), card), "the reason file holds the card number: %s", text)
}
