package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/testutil"
)

// runBin runs a built command to its end and returns its exit status,
// stdout and stderr.
func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, bin), args...)
	cmd.Dir = repoRoot
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %q did not end: %s", bin, args, stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// lastLine is the last line of text.
func lastLine(text string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return lines[len(lines)-1]
}

// busyPort holds a listener on a loopback port until the test ends.
func busyPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// TestCommandLine holds every command to the same conventions: -h exits 0,
// --version prints one line of build information and exits 0, a usage
// error exits 2, and a command that cannot start says why in one line
// and exits 1 (never a panic).
func TestCommandLine(t *testing.T) {
	version := regexp.MustCompile(`^(\S+) (\S+)( \(.*\))? go1\.\d+\S*\n$`)
	commands := []struct {
		bin   string
		sub   []string // a subcommand whose flags are tested
		extra bool     // an extra argument is a usage error
	}{
		{"payrun", []string{"up"}, true},
		{"payrun", []string{"demo"}, true},
		{"payrun", []string{"keys", "init"}, true},
		{"ledger", []string{"run"}, true},
		{"ledger", []string{"status"}, true},
		{"ledger", []string{"report"}, false},
		{"processor", nil, true},
		{"hookrelay", nil, true},
		{"ingest", nil, false},
		{"bank131-sandbox", nil, true},
	}
	for _, c := range commands {
		name := strings.Join(append([]string{c.bin}, c.sub...), " ")
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runBin(t, c.bin, append(c.sub, "-h")...)
			require.Equal(t, 0, code, "%s -h: %s", name, stderr)
			require.Contains(t, stderr, "-", "%s -h prints the flags", name)

			code, stdout, stderr := runBin(t, c.bin, append(c.sub, "--version")...)
			require.Equal(t, 0, code, "%s --version: %s", name, stderr)
			m := version.FindStringSubmatch(stdout)
			require.NotNil(t, m, "%s --version printed %q", name, stdout)
			require.Equal(t, c.bin, m[1])

			code, _, stderr = runBin(t, c.bin, append(c.sub, "--no-such-flag")...)
			require.Equal(t, 2, code, "%s --no-such-flag: %s", name, stderr)
			require.Contains(t, stderr, "flag provided but not defined: -no-such-flag")

			if c.extra {
				code, _, stderr = runBin(t, c.bin, append(c.sub, "extra")...)
				require.Equal(t, 2, code, "%s extra: %s", name, stderr)
				require.Equal(t, c.bin+`: unexpected arguments ["extra"]`, lastLine(stderr))
			}
			// The flags' placeholders read as what they take
			// (-ack-wait duration, not -ack-wait long).
			_, _, help := runBin(t, c.bin, append(c.sub, "-h")...)
			require.NotRegexp(t, `(?m)^\s+-\S+ (long|late|often|interval|bytes|basis points)$`, help, "%s -h", name)
		})
	}

	t.Run("no command, unknown command", func(t *testing.T) {
		for _, args := range [][]string{{"payrun"}, {"ledger"}} {
			code, _, stderr := runBin(t, args[0], args[1:]...)
			require.Equal(t, 2, code, "%q: %s", args, stderr)
			require.Contains(t, stderr, "Usage:")
		}
		for _, args := range [][]string{{"payrun", "frobnicate"}, {"ledger", "frobnicate"}} {
			code, _, stderr := runBin(t, args[0], args[1:]...)
			require.Equal(t, 2, code, "%q: %s", args, stderr)
			require.Contains(t, lastLine(stderr), args[0]+`: unknown command "frobnicate"`)
		}
		for _, args := range [][]string{{"payrun", "help"}, {"payrun", "-h"}, {"ledger", "help"}, {"ledger", "--help"}} {
			code, _, stderr := runBin(t, args[0], args[1:]...)
			require.Equal(t, 0, code, "%q: %s", args, stderr)
		}
	})

	t.Run("start errors", func(t *testing.T) {
		dir := t.TempDir()
		busy := busyPort(t)
		keys := filepath.Join(repoRoot, "samples", "keys")
		upArgs := func(data string, extra ...string) []string {
			return append([]string{"up", "--data", filepath.Join(dir, data), "--keys", keys, "--listen", "127.0.0.1:0",
				"--nats-listen", "127.0.0.1:0", "--sandbox-listen", "127.0.0.1:0"}, extra...)
		}
		tests := []struct {
			name string
			bin  string
			args []string
			want string
		}{
			{"payrun up: listen port in use", "payrun", upArgs("a", "--listen", busy), "address already in use"},
			{"payrun up: NATS port in use", "payrun", upArgs("b", "--nats-listen", busy), "address already in use"},
			{"payrun up: sandbox port in use", "payrun", upArgs("c", "--sandbox-listen", busy), "address already in use"},
			{"payrun up: no sandbox keys", "payrun", upArgs("d", "--keys", filepath.Join(dir, "nokeys")), "no such file or directory"},
			{"hookrelay: no bank key", "hookrelay", []string{"--bank-public-key", filepath.Join(dir, "bank.pem")}, "no such file or directory"},
		}
		for _, tt := range tests {
			code, stdout, stderr := runBin(t, tt.bin, tt.args...)
			require.Equal(t, 1, code, "%s: %s%s", tt.name, stdout, stderr)
			require.NotContains(t, stderr, "panic", tt.name)
			require.NotContains(t, stderr, "goroutine", tt.name)
			last := lastLine(stderr)
			require.True(t, strings.HasPrefix(last, tt.bin+": "), "%s: the error is one line: %q", tt.name, stderr)
			require.Contains(t, last, tt.want, tt.name)
		}
	})
}

// TestPayrunUpPrintsNATS: payrun up listens for NATS where --nats-listen
// says and prints the URL; the keys are made in its data folder.
func TestPayrunUpPrintsNATS(t *testing.T) {
	data := filepath.Join(t.TempDir(), "up")
	cmd := exec.Command(filepath.Join(binDir, "payrun"), "up", "--data", data, "--keys", filepath.Join(repoRoot, "samples", "keys"),
		"--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--sandbox-listen", "127.0.0.1:0")
	cmd.Dir = repoRoot
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var url string
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "NATS" {
				url = f[1]
				break
			}
		}
		go io.Copy(io.Discard, stdout)
		if url == "" {
			exited <- nil
			return
		}
		nc, err := nats.Connect(url)
		if err == nil {
			nc.Close()
		}
		exited <- err
	}()
	select {
	case err := <-exited:
		require.NoError(t, err, "connect to the NATS URL payrun up printed")
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("payrun up printed no NATS URL: %s", stderr.String())
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), stderr.String())
	for name, mode := range map[string]os.FileMode{"card.key": 0o600, "card.pub": 0o644, "upload.key": 0o600} {
		fi, err := os.Stat(filepath.Join(data, name))
		require.NoError(t, err, name)
		require.Equal(t, mode, fi.Mode().Perm(), name)
	}
}

// TestLedgerMakesItsFolder: ledger run --db DIR/ledger.db makes DIR.
func TestLedgerMakesItsFolder(t *testing.T) {
	e := testutil.NATS(t)
	db := filepath.Join(t.TempDir(), "state", "ledger", "ledger.db")
	cmd := exec.Command(filepath.Join(binDir, "ledger"), "run", "--db", db, "--nats-url", e.URL())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	nc, err := nats.Connect(e.URL())
	require.NoError(t, err)
	defer nc.Close()
	client := ledgerapi.NewClient(nc, time.Second)
	testutil.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		_, err := client.Batches(context.Background(), 1)
		return err
	})
	_, err = os.Stat(db)
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Dir(db))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), stderr.String())
}
