package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
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
func litestreamBinary(t testing.TB) string {
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
	// The stopped ledger released its lease, unless its stop was cut short
	// (a loaded machine): then the lease lives out its TTL.
	ledger1 := s.start("ledger", append(s.ledgerRunArgs(oldDB), "--lease-wait", "30s")...)
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
			t.Logf("row %d (%s) failed: %s: %s", n, st.Method, st.ErrorCode, st.Reason)
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

// supervise restarts a process that exits, as systemd's Restart=always
// would, until the test ends; it returns how many restarts it made.
func (s *system) supervise(p *proc, restart func() *proc) func() int {
	var mu sync.Mutex
	n := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-p.done:
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Second): // RestartSec=1
			}
			mu.Lock()
			n++
			mu.Unlock()
			p = restart()
		}
	}()
	s.t.Cleanup(func() { close(stop); <-done })
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

func readyz(addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestDiskFull: NATS's store and the ledger's database share a 200 MB data
// disk (a tmpfs; not smaller: the ledger's WAL grows to 64 MB before its
// first checkpoint, wal_autocheckpoint 16384 pages, and the checkpoint
// needs as much again in ledger.db — on a 50 MB disk the WAL alone filled
// it after the space was freed, and nothing could be written again). Mid-batch the disk is filled: JetStream turns itself
// off, SQLite refuses commits, hookrelay's /readyz says it cannot store
// webhooks, the ledger (its lease not renewed) exits and is restarted.
// Once space is freed the embedded server's watchdog enables JetStream
// again, the relay is ready, the ledger takes its lease back, the bank's
// retried webhooks are stored, and the batch ends with nothing lost and
// nothing paid twice: no row fails with the bank's confirm timeout.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a 200 MB tmpfs as its data disk and needs root (the sandbox and CI run as root)")
	}
	disk := filepath.Join(t.TempDir(), "disk")
	require.NoError(t, os.MkdirAll(disk, 0o700))
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", disk).CombinedOutput()
	require.NoError(t, err, "mount a 200 MB tmpfs: %s", out)
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })

	rows := 200
	s := startSystem(t, options{
		natsDir:       filepath.Join(disk, "nats"),
		ledgerDB:      filepath.Join(disk, "ledger", "ledger.db"),
		sandboxArgs:   []string{"--auto-3ds", "--confirm-timeout", "60s"},
		processorArgs: []string{"--concurrency", "16", "--rate", "40"},
		ledgerArgs:    []string{"--lease-ttl", "4s", "--metrics", "127.0.0.1:0"},
	})
	s.mu.Lock()
	ledger := s.procs[0]
	s.mu.Unlock()
	require.Equal(t, "ledger", ledger.bin)
	restarts := s.supervise(ledger, s.startLedger)

	// Transfers and two-step rows wait for the bank's ready_to_confirm
	// webhook: the ones a stuck store lost to the confirm timeout.
	batch := s.ingest(payoutFile(t, s.dir, "full.csv", chaosRows(rows, 50)))
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
	code, body := readyz(s.relayAddr)
	require.Equal(t, http.StatusOK, code, body)

	// Fill the disk.
	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	t.Logf("disk full at %s", time.Now().Format(time.RFC3339Nano))
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		if code, body := readyz(s.relayAddr); code != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz %d %s while the disk is full", code, body)
		}
		return nil
	})
	code, body = readyz(s.relayAddr)
	t.Logf("readyz with a full disk: %d %s", code, body)
	require.Contains(t, body, "cannot store webhooks")
	time.Sleep(6 * time.Second) // longer than the lease: the ledger cannot renew

	require.NoError(t, os.Remove(filler))
	freed := time.Now()
	testutil.Eventually(t, 60*time.Second, 100*time.Millisecond, func() error {
		if code, body := readyz(s.relayAddr); code != http.StatusOK {
			return fmt.Errorf("readyz %d %s after the space came back", code, body)
		}
		return nil
	})
	t.Logf("ready again %s after space was freed; JetStream enabled again %d times; ledger restarted %d times",
		time.Since(freed).Round(100*time.Millisecond), s.nats.Reenabled(), restarts())
	require.GreaterOrEqual(t, s.nats.Reenabled(), int64(1), "JetStream was off and came back")

	sum := s.waitFinal(batch, rows, 4*time.Minute, nil)
	t.Logf("by state: %v", sum.ByState)
	s.agree(batch, rows)
	codes := map[string]int{}
	for n := 1; n <= rows; n++ {
		if st := s.row(batch, n); st.State == payout.StateFailed {
			codes[string(st.Method)+" "+st.ErrorCode]++
			require.NotEqual(t, "confirm_timeout", st.ErrorCode, "row %d lost to the bank's confirm timeout", n)
		}
	}
	t.Logf("failures by method and code: %v", codes)
	require.Greater(t, sum.ByState[payout.StateSucceeded], rows*9/10)
}
