package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/testutil"
)

const reportFixtures = "../../internal/bank131/testdata/dailyreport"

// emptyLedger creates a ledger file no ledger runs on.
func emptyLedger(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := ledger.Open(path)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	return path
}

// TestImportReportForms: the bank's report in the documented format, the
// same as XLSX, in two part files given together, and zipped, each
// imports (with --db): three operations of 2026-11-25.
func TestImportReportForms(t *testing.T) {
	ctx := context.Background()
	for name, files := range map[string][]string{
		"CSV":       {"payrun_2026-11-25_2026-11-25.csv"},
		"CSV ;":     {"bom-semicolon/payrun_2026-11-25_2026-11-25.csv"},
		"XLSX":      {"xlsx/payrun_2026-11-25_2026-11-25.xlsx"},
		"two parts": {"parts/payrun_2026-11-25_2026-11-25_1.csv", "parts/payrun_2026-11-25_2026-11-25_2.csv"},
		"ZIP":       {"zip/payrun_2026-11-25_2026-11-25.zip"},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"--db", emptyLedger(t), "--log-format", "text"}
			for _, f := range files {
				args = append(args, filepath.Join(reportFixtures, f))
			}
			var out bytes.Buffer
			require.NoError(t, (&importReportCommand{stdout: &out}).Run(ctx, args))
			require.Contains(t, out.String(), "days 2026-11-25: 3 lines, 3 new")
			require.Contains(t, out.String(), "days the reports now cover: 2026-11-25")
		})
	}
}

// TestImportReportWatch: --watch imports every report that appears in the
// folder once, and moves it to imported/ (or failed/ with a reason).
func TestImportReportWatch(t *testing.T) {
	dir := t.TempDir()
	dbPath := emptyLedger(t)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&importReportCommand{}).Run(ctx, []string{"--db", dbPath, "--watch", dir, "--settle", "10ms", "--interval", "20ms",
			"--log-format", "text"})
	}()
	b, err := os.ReadFile(filepath.Join(reportFixtures, "zip/payrun_2026-11-25_2026-11-25.zip"))
	require.NoError(t, err)
	// Uploaded under a temporary name, then renamed into place.
	tmp := filepath.Join(dir, ".payrun_2026-11-25_2026-11-25.zip.part")
	require.NoError(t, os.WriteFile(tmp, b, 0o644))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, "payrun_2026-11-25_2026-11-25.zip")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.csv"), []byte("not,a,report\n"), 0o644))
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, p := range []string{"imported/payrun_2026-11-25_2026-11-25.zip", "failed/notes.csv", "failed/notes.csv.reason.txt"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				return err
			}
		}
		return nil
	})
	reason, err := os.ReadFile(filepath.Join(dir, "failed", "notes.csv.reason.txt"))
	require.NoError(t, err)
	require.Contains(t, string(reason), "not a header")
	stop()
	require.NoError(t, <-done)

	db, err := ledger.Open(dbPath)
	require.NoError(t, err)
	defer db.Close()
	open, err := db.Exceptions("b0123456789abcdef0123", false)
	require.NoError(t, err)
	require.Len(t, open, 3, "each operation of the report, naming no row of ours, is an exception")
}
