package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

var (
	litestreamOnce sync.Once
	litestreamErr  error
)

// litestreamBinary builds the pinned Litestream (deploy/litestream, its
// own module with a tool directive) into binDir once: the upstream
// binary, as deploy/README.md installs it.
func litestreamBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "litestream")
	litestreamOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", bin, "github.com/benbjohnson/litestream/cmd/litestream")
		cmd.Dir = filepath.Join(repoRoot, "deploy", "litestream")
		if out, err := cmd.CombinedOutput(); err != nil {
			litestreamErr = fmt.Errorf("build litestream: %w: %s", err, out)
		}
	})
	require.NoError(t, litestreamErr)
	return bin
}

// startLitestream replicates db to replica with deploy/litestream/litestream.yml.
func (s *system) startLitestream(db, replica string) *proc {
	s.t.Helper()
	litestreamBinary(s.t)
	p := s.startEnv([]string{"PAYRUN_LEDGER_DB=" + db, "PAYRUN_LEDGER_REPLICA=" + replica,
		"PAYRUN_LITESTREAM_METRICS=" + freeAddr(s.t)},
		"litestream", "replicate", "-config", s.repo("deploy/litestream/litestream.yml"))
	p.name = "litestream"
	return p
}

func countRows(t *testing.T, db, query string) int {
	t.Helper()
	c, err := sql.Open("sqlite3", "file:"+db+"?mode=ro&_busy_timeout=5000")
	require.NoError(t, err)
	defer c.Close()
	var n int
	require.NoError(t, c.QueryRow(query).Scan(&n), "%s: %s", db, query)
	return n
}

// TestLedgerDiskLoss: Litestream replicates ledger.db to a file replica.
// Mid-batch the replication stops (so the replica lags by more than its
// usual second), then the ledger is SIGKILLed and its whole folder
// deleted. `ledger restore` brings it back on a "new host" (another
// folder) from the replica, which lacks the last seconds; the new ledger
// waits out the old one's lease, replays what NATS holds, and the batch
// finishes: every row final, no session confirmed twice, no row paid
// twice, and the ledger agrees with the sandbox's own record row by row.
func TestLedgerDiskLoss(t *testing.T) {
	rows := 240
	s := startSystem(t, options{
		sandboxArgs:   []string{"--auto-3ds", "--confirm-timeout", "8s"},
		processorArgs: []string{"--concurrency", "16", "--rate", "60"},
		ledgerArgs:    []string{"--lease-ttl", "3s", "--doubt-deadline", "1m"},
	})
	oldDir := filepath.Join(s.dir, "host1")
	require.NoError(t, os.MkdirAll(oldDir, 0o700))
	// The harness's ledger runs on s.dir/ledger.db; this test's runs on
	// host1: stop it and start one there (the people and tokens move with it).
	s.mu.Lock()
	first := s.procs[0]
	s.mu.Unlock()
	require.Equal(t, "ledger", first.bin)
	first.stop()
	oldDB := filepath.Join(oldDir, "ledger.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(filepath.Join(s.dir, "ledger.db") + suffix); err == nil {
			require.NoError(t, os.WriteFile(oldDB+suffix, b, 0o600))
		}
	}
	ledger1 := s.start("ledger", s.ledgerRunArgs(oldDB)...)
	s.waitLedger()
	replica := "file://" + filepath.Join(s.dir, "backup", "ledger")
	ls := s.startLitestream(oldDB, replica)
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if _, err := os.Stat(filepath.Join(s.dir, "backup", "ledger")); err != nil {
			return fmt.Errorf("no replica yet: %w", err)
		}
		return nil
	})

	file := payoutFile(t, s.dir, "disk.csv", chaosRows(rows, 16))
	batch := s.ingest(file)

	// Mid-batch: some rows paid, many at the bank.
	testutil.Eventually(t, 2*time.Minute, 50*time.Millisecond, func() error {
		b, err := s.ledger.Batch(context.Background(), batch)
		if err != nil {
			return err
		}
		if b.ByState[payout.StateSucceeded] < rows/5 {
			return fmt.Errorf("only %d rows paid", b.ByState[payout.StateSucceeded])
		}
		return nil
	})
	// The replica stops receiving, the ledger works on for 2 s, then the
	// host is lost.
	ls.kill()
	time.Sleep(2 * time.Second)
	ledger1.kill()
	atKill := countRows(t, oldDB, `SELECT count(*) FROM transitions`)
	paidAtKill := countRows(t, oldDB, `SELECT count(*) FROM rows WHERE state = 'succeeded'`)
	require.NoError(t, os.RemoveAll(oldDir))
	t.Logf("ledger killed with %d transitions (%d rows paid); its folder deleted", atKill, paidAtKill)

	// A new host.
	newDB := filepath.Join(s.dir, "host2", "ledger.db")
	out, err := exec.Command(filepath.Join(binDir, "ledger"), "restore", "--replica", replica, "--db", newDB,
		"--litestream", litestreamBinary(t)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "restored "+newDB)
	restored := countRows(t, newDB, `SELECT count(*) FROM transitions`)
	t.Logf("restored %d transitions of %d: %d lost with the replica's lag", restored, atKill, atKill-restored)
	require.Less(t, restored, atKill, "the replica lagged: the restore lacks the last seconds, or this test proves nothing")
	require.Greater(t, restored, 0)
	// A restore never goes over an existing database.
	out, err = exec.Command(filepath.Join(binDir, "ledger"), "restore", "--replica", replica, "--db", newDB,
		"--litestream", litestreamBinary(t)).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "exists")

	// The old ledger's lease lives for its TTL; the new one waits for it.
	ledger2 := s.start("ledger", append(s.ledgerRunArgs(newDB), "--lease-wait", "30s")...)
	s.waitLedger()
	s.startLitestream(newDB, "file://"+filepath.Join(s.dir, "backup2", "ledger"))

	sum := s.waitFinal(batch, rows, 4*time.Minute, nil)
	t.Logf("by state: %v", sum.ByState)
	s.agree(batch, rows)
	codes := map[string]int{}
	for n := 1; n <= rows; n++ {
		if st := s.row(batch, n); st.State == payout.StateFailed {
			codes[string(st.Method)+" "+st.ErrorCode]++
		}
	}
	t.Logf("failures by method and code: %v", codes)
	bank := s.bankPayouts()
	paid := 0
	for n := 1; n <= rows; n++ {
		for _, p := range bank[fmt.Sprintf("%s/%d", batch, n)] {
			if p.Status == "succeeded" {
				paid++
			}
		}
	}
	require.Equal(t, sum.ByState[payout.StateSucceeded], paid, "the bank paid exactly the rows the ledger says")
	require.Greater(t, paid, rows*8/10, "most rows are paid")
	// What the replay did.
	b, err := os.ReadFile(ledger2.log)
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "restored ledger") {
			t.Log(line)
		}
	}
	require.Contains(t, string(b), "restored ledger: webhooks replayed")
}
