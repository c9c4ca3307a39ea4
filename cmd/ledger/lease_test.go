package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/testutil"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// ledgerBinary builds this command once for the tests that run it.
func ledgerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "payrun-ledger-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "ledger")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			builtBin = string(out)
		}
	})
	require.NoError(t, buildErr, builtBin)
	return builtBin
}

// runLedger starts `ledger run` and returns it with its output.
func runLedger(t *testing.T, bin string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	var out syncBuffer
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// started waits until a ledger logged that it started.
func started(t *testing.T, out *syncBuffer) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if !strings.Contains(out.String(), "ledger started") {
			return os.ErrNotExist
		}
		return nil
	})
}

// refused runs `ledger run` and expects it to exit 1 at once with one line
// of error containing want.
func refused(t *testing.T, bin, want string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, stderr.String())
		require.Equal(t, 1, ee.ExitCode(), stderr.String())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("ledger run did not refuse: %s", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	require.Contains(t, last, want, stderr.String())
	require.True(t, strings.HasPrefix(last, "ledger: "), last)
	t.Logf("refused: %s", last)
}

// TestOneLedger: a second `ledger run` on the same database refuses while
// the first runs (the file lock); a ledger on another database against the
// same NATS refuses while the first holds the lease; after the first is
// SIGKILLed, the other may start once the lease's TTL ran out, and a ledger
// restarted on the first's own database and host takes over at once.
func TestOneLedger(t *testing.T) {
	bin := ledgerBinary(t)
	srv := testutil.NATS(t)
	dir := t.TempDir()
	dbA := filepath.Join(dir, "a", "ledger.db")
	dbB := filepath.Join(dir, "b", "ledger.db")
	common := []string{"--nats-url", srv.URL(), "--lease-ttl", "3s", "--release-interval", "50ms"}

	a, outA := runLedger(t, bin, append([]string{"--db", dbA}, common...)...)
	started(t, outA)

	// Same database, same host: the file lock.
	refused(t, bin, "database in use by pid", append([]string{"--db", dbA, "--lease-holder", "someone-else"}, common...)...)
	// Another database, same NATS: the lease.
	refused(t, bin, "another ledger holds the lease", append([]string{"--db", dbB}, common...)...)

	require.NoError(t, a.Process.Signal(syscall.SIGKILL))
	a.Wait()
	killed := time.Now()
	// The lease outlives its holder until its TTL.
	refused(t, bin, "another ledger holds the lease", append([]string{"--db", dbB}, common...)...)
	require.Less(t, time.Since(killed), 3*time.Second, "the refusal came after the TTL; the check above proved nothing")
	time.Sleep(time.Until(killed.Add(3500 * time.Millisecond)))
	b, outB := runLedger(t, bin, append([]string{"--db", dbB}, common...)...)
	started(t, outB)
	// And now the first database's ledger is the one refused.
	refused(t, bin, "another ledger holds the lease", append([]string{"--db", dbA}, common...)...)

	// A graceful stop releases the lease: the next may start at once.
	require.NoError(t, b.Process.Signal(syscall.SIGTERM))
	require.NoError(t, b.Wait(), outB.String())
	a, outA = runLedger(t, bin, append([]string{"--db", dbA}, common...)...)
	started(t, outA)

	// SIGKILL and a restart on the same database and host: the file lock
	// proves the old one gone, so the lease is taken over at once.
	require.NoError(t, a.Process.Signal(syscall.SIGKILL))
	a.Wait()
	a, outA = runLedger(t, bin, append([]string{"--db", dbA}, common...)...)
	started(t, outA)
	require.Contains(t, outA.String(), "taken over")
	require.NoError(t, a.Process.Signal(syscall.SIGTERM))
	require.NoError(t, a.Wait(), outA.String())
}

// TestLostLeaseStopsWriting: when someone else writes the lease key (its
// TTL ran out while this ledger could not renew, and another took it), the
// ledger stops writing and exits non-zero; a commit after the fence is
// refused.
func TestLostLeaseStopsWriting(t *testing.T) {
	bin := ledgerBinary(t)
	srv := testutil.NATS(t)
	_, js := testutil.JetStream(t, srv.URL())
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	cmd, out := runLedger(t, bin, "--db", db, "--nats-url", srv.URL(), "--lease-ttl", "2s")
	started(t, out)

	ctx := context.Background()
	kv, err := js.KeyValue(ctx, ledger.LeaseBucket)
	require.NoError(t, err)
	_, err = kv.Put(ctx, ledger.LeaseKey, []byte(`{"holder":"usurper"}`))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, out.String())
		require.Equal(t, 1, ee.ExitCode())
	case <-time.After(20 * time.Second):
		t.Fatalf("the ledger kept running without its lease: %s", out.String())
	}
	require.Contains(t, out.String(), "lost the ledger lease")
}
