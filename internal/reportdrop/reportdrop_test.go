package reportdrop_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/reportdrop"
	"github.com/payrun/payrun/internal/testutil"
)

const fixtures = "../bank131/testdata/dailyreport"

type env struct {
	t     *testing.T
	dir   string
	clock *testutil.Clock
	svc   *ledger.Service
	w     *reportdrop.Watcher
	down  bool // the ledger "unreachable"
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: testutil.NewClock(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC))}
	db, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	require.NoError(t, err)
	db.Now = e.clock.Now
	e.svc = ledger.NewService(db, ledger.Config{Logger: testutil.QuietLogger()})
	t.Cleanup(func() { e.svc.Close(); db.Close() })
	e.w, err = reportdrop.New(reportdrop.Config{
		Dir: e.dir, Settle: 5 * time.Second, Logger: testutil.QuietLogger(), Now: e.clock.Now,
		Parse: func(f bank131.NamedFile) (*bank131.DailyReport, error) {
			return bank131.ParseDailyReportFiles([]bank131.NamedFile{f}, e.svc.ReportOptions())
		},
		Send: func(ctx context.Context, rep *bank131.DailyReport) (*ledgerapi.ReportImport, error) {
			if e.down {
				return nil, errors.New("nats: timeout")
			}
			return e.svc.ImportReport(ctx, rep)
		},
	})
	require.NoError(t, err)
	return e
}

// put writes a file into the folder, last modified at the clock's time.
func (e *env) put(name string, data []byte) {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	require.NoError(e.t, os.WriteFile(p, data, 0o644))
	require.NoError(e.t, os.Chtimes(p, e.clock.Now(), e.clock.Now()))
}

func (e *env) fixture(name string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	require.NoError(e.t, err)
	return b
}

func (e *env) scan() []reportdrop.Result {
	e.t.Helper()
	res, err := e.w.Scan(context.Background())
	require.NoError(e.t, err)
	return res
}

func (e *env) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(e.dir, rel))
	return err == nil
}

// TestWatchImportsOnce: a report is taken once it stopped changing,
// imported and moved to imported/; the same bytes again (another name, or
// the bank's second delivery) change nothing and are moved too. Every
// documented form imports: CSV, XLSX, ZIP, the parts one by one.
func TestWatchImportsOnce(t *testing.T) {
	e := newEnv(t)
	e.put("payrun_2026-11-25_2026-11-25.csv", e.fixture("payrun_2026-11-25_2026-11-25.csv"))
	require.Empty(t, e.scan(), "first seen: not read yet")
	e.clock.Add(time.Second)
	require.Empty(t, e.scan(), "unchanged but too fresh")
	e.clock.Add(5 * time.Second)
	res := e.scan()
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err)
	require.False(t, res[0].Import.Already)
	require.Equal(t, 3, res[0].Import.Lines)
	require.Equal(t, []string{"2026-11-25"}, res[0].Import.Covered)
	require.True(t, e.exists("imported/payrun_2026-11-25_2026-11-25.csv"))
	require.False(t, e.exists("payrun_2026-11-25_2026-11-25.csv"))

	// The same file delivered again: imported before, moved beside the first.
	e.put("payrun_2026-11-25_2026-11-25.csv", e.fixture("payrun_2026-11-25_2026-11-25.csv"))
	e.put("xlsx.xlsx", e.fixture("xlsx/payrun_2026-11-25_2026-11-25.xlsx"))
	e.put("payrun_2026-11-25_2026-11-25.zip", e.fixture("zip/payrun_2026-11-25_2026-11-25.zip"))
	e.put("payrun_2026-11-25_2026-11-25_1.csv", e.fixture("parts/payrun_2026-11-25_2026-11-25_1.csv"))
	e.put("payrun_2026-11-25_2026-11-25_2.csv", e.fixture("parts/payrun_2026-11-25_2026-11-25_2.csv"))
	e.scan()
	e.clock.Add(10 * time.Second)
	res = e.scan()
	require.Len(t, res, 5)
	byName := map[string]reportdrop.Result{}
	for _, r := range res {
		require.NoError(t, r.Err, r.Name)
		byName[r.Name] = r
	}
	require.True(t, byName["payrun_2026-11-25_2026-11-25.csv"].Import.Already)
	require.True(t, e.exists("imported/payrun_2026-11-25_2026-11-25.2.csv"))
	x := byName["xlsx.xlsx"].Import
	require.False(t, x.Already, "an XLSX is another file")
	require.Equal(t, []string{"2026-11-25"}, x.Days, "an XLSX without the days in its name: its lines' day")
	require.Equal(t, 3, byName["payrun_2026-11-25_2026-11-25.zip"].Import.Lines)
	require.Equal(t, 2, byName["payrun_2026-11-25_2026-11-25_1.csv"].Import.Lines)
	require.Equal(t, 1, byName["payrun_2026-11-25_2026-11-25_2.csv"].Import.Lines)
	entries, err := os.ReadDir(e.dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "only imported/ and failed/ are left")
}

// TestWatchFails: a file that is not a report goes to failed/ with the
// reason beside it, card numbers masked.
func TestWatchFails(t *testing.T) {
	e := newEnv(t)
	bad := strings.Join(bank131.ReportColumns, ",") + "\npo_1,2026-11-25 10:00:00,,Advice,0,ps_1,c,,,p,1,1,0,4111 1111 1111 1111\n"
	e.put("payrun_2026-11-25_2026-11-25.csv", []byte(bad))
	e.scan()
	e.clock.Add(10 * time.Second)
	res := e.scan()
	require.Len(t, res, 1)
	require.Error(t, res[0].Err)
	require.True(t, e.exists("failed/payrun_2026-11-25_2026-11-25.csv"))
	reason, err := os.ReadFile(filepath.Join(e.dir, "failed", "payrun_2026-11-25_2026-11-25.csv.reason.txt"))
	require.NoError(t, err)
	require.Contains(t, string(reason), "line 2: currency")
	require.Contains(t, string(reason), "411111******1111")
	require.NotContains(t, string(reason), "4111 1111 1111 1111")
}

// TestWatchWaits: files being uploaded are never read half: names of
// uploads in progress are skipped, and a file that changes between scans
// waits; a ledger that cannot be reached leaves the file for the next scan.
func TestWatchWaits(t *testing.T) {
	e := newEnv(t)
	good := e.fixture("payrun_2026-11-25_2026-11-25.csv")
	e.put(".payrun_2026-11-25_2026-11-25.csv.part", good[:100])
	e.put("payrun_2026-11-25_2026-11-25.csv.filepart", good[:100])
	e.put("payrun_2026-11-25_2026-11-25.csv", good[:200]) // written in place, still growing
	e.scan()
	e.clock.Add(10 * time.Second)
	e.put("payrun_2026-11-25_2026-11-25.csv", good) // grew since the last scan
	require.Empty(t, e.scan())
	e.clock.Add(10 * time.Second)
	e.down = true
	require.Empty(t, e.scan(), "the ledger is down: the file stays")
	require.True(t, e.exists("payrun_2026-11-25_2026-11-25.csv"))
	e.down = false
	res := e.scan()
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err)
	require.Equal(t, 3, res[0].Import.Lines, "the whole file")
	require.True(t, e.exists(".payrun_2026-11-25_2026-11-25.csv.part"))
	require.True(t, e.exists("payrun_2026-11-25_2026-11-25.csv.filepart"))
}
