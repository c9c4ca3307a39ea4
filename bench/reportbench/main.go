// Command reportbench measures report downloads from a ledger in its own
// process, as an operator runs it (issue 17: 8 concurrent downloads of each
// format of a 100k-row report keep the ledger under 400 MB). It starts
// nats-server in this process, makes a user and a token in the ledger file
// (`ledger users add`, `ledger tokens create`), starts the built `ledger run
// --http` on the file with its default flags (--memory-limit-mb 300 among
// them), and per format makes N concurrent authenticated downloads over
// loopback, reading each to its end (a 503 comes back after its
// Retry-After, as a client would). It reports the ledger process's peak
// RSS during each format's downloads (VmHWM, reset through clear_refs
// before them; Linux), its RSS before, its CPU seconds, the file's size and
// the time until all N are done.
//
// The ledger file is one kept by the report benchmarks
// (PAYRUN_BENCH_DB_DIR, bench/README.md "Report downloads in the ledger's
// own process"); `ledger run` migrates it and records the user and token in
// it. The bank's API is not needed: no batch is paid.
//
//	go build -o /tmp/ledger ./cmd/ledger
//	go run ./bench/reportbench --ledger /tmp/ledger --db DIR/ledger.db [--batch ID] [--clients 8]
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/queue/natsserver"
	"github.com/payrun/payrun/internal/report"
)

func main() {
	bin := flag.String("ledger", "", "the built ledger `binary` (go build ./cmd/ledger)")
	dbPath := flag.String("db", "", "the ledger `file` to serve (kept by PAYRUN_BENCH_DB_DIR)")
	batch := flag.String("batch", "", "the batch `id` (default: the file's only batch)")
	clients := flag.Int("clients", 8, "concurrent downloads per format")
	formats := flag.String("formats", strings.Join(report.Formats, ","), "formats, comma-separated")
	flag.Parse()
	if *bin == "" || *dbPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*bin, *dbPath, *batch, *clients, strings.Split(*formats, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "reportbench:", err)
		os.Exit(1)
	}
}

func run(bin, dbPath, batch string, clients int, formats []string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if batch == "" {
		var err error
		if batch, err = onlyBatch(dbPath); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp("", "reportbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ns, err := natsserver.Start(natsserver.Options{Dir: filepath.Join(work, "nats")})
	if err != nil {
		return fmt.Errorf("nats-server: %w", err)
	}
	defer ns.Close()

	// A user and its token, in the file (the ledger's host's commands).
	user := fmt.Sprintf("reportbench%d", time.Now().UnixNano())
	tokenFile := filepath.Join(work, "token")
	for _, args := range [][]string{
		{"users", "add", "--db", dbPath, "--name", user, "--roles", "viewer"},
		{"tokens", "create", "--db", dbPath, "--user", user, "--name", "reportbench", "--out", tokenFile},
	} {
		if out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ledger %s %s: %w: %s", args[0], args[1], err, out)
		}
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	auth := "Bearer " + strings.TrimSpace(string(token))

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "run", "--db", dbPath, "--nats-url", ns.URL(), "--http", addr)
	logFile, err := os.Create(filepath.Join(work, "ledger.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ledger run: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cancel()
		<-exited
	}()
	pid := cmd.Process.Pid
	base := "http://" + addr + "/batches/" + batch + "/"
	if err := waitReady(ctx, base, auth, exited, logFile.Name()); err != nil {
		return err
	}
	fmt.Printf("ledger pid %d on %s, batch %s, %d downloads per format, RSS at rest %.0f MB\n",
		pid, addr, batch, clients, float64(procStatus(pid, "VmRSS:"))/1e6)
	fmt.Println("| format | peak RSS (before) | ledger CPU s | file MB | all done s | retries after 503 |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, f := range formats {
		os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
		before, cpu0 := procStatus(pid, "VmRSS:"), procCPU(pid)
		start := time.Now()
		size, retries, err := download(ctx, base+ledger.ReportPath(f), auth, clients)
		took := time.Since(start)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		fmt.Printf("| %s | %.0f MB (%.0f) | %.1f | %.1f | %.1f | %d |\n", f, float64(procStatus(pid, "VmHWM:"))/1e6,
			float64(before)/1e6, procCPU(pid)-cpu0, float64(size)/1e6, took.Seconds(), retries)
	}
	return nil
}

// download makes n concurrent GETs of url and reads each to its end; it
// returns the size of one answer and how many came back after a 503.
func download(ctx context.Context, url, auth string, n int) (int64, int64, error) {
	var wg sync.WaitGroup
	var retries, size atomic.Int64
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			for try := 0; ; try++ {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Authorization", auth)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				if resp.StatusCode == http.StatusServiceUnavailable && try < 10 {
					resp.Body.Close()
					retries.Add(1)
					after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
					time.Sleep(time.Duration(max(after, 1)) * time.Second)
					continue
				}
				got, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				if err != nil {
					errs <- err
					return
				}
				size.Store(got)
				return
			}
		})
	}
	wg.Wait()
	close(errs)
	return size.Load(), retries.Load(), errors.Join(func() (all []error) {
		for err := range errs {
			all = append(all, err)
		}
		return all
	}()...)
}

// waitReady waits until the ledger answers the batch's summary.
func waitReady(ctx context.Context, base, auth string, exited <-chan error, logPath string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("ledger run exited: %v\n%s", err, log)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/"), nil)
		req.Header.Set("Authorization", auth)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				return fmt.Errorf("GET %s: status %d", base, resp.StatusCode)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("the ledger did not answer within 2 minutes")
}

// onlyBatch is the file's batch when it has one.
func onlyBatch(path string) (string, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var ids []string
	rows, err := db.Query(`SELECT id FROM batches LIMIT 2`)
	if err != nil {
		return "", fmt.Errorf("%s: batches: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		ids = append(ids, id)
	}
	if len(ids) != 1 {
		return "", fmt.Errorf("%s: %d batches; name one (--batch)", path, len(ids))
	}
	return ids[0], rows.Err()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// procStatus is a /proc/PID/status figure in kB, in bytes.
func procStatus(pid int, key string) uint64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// procCPU is the process's user and system CPU seconds (/proc/PID/stat).
func procCPU(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// After the command's name in parentheses: state is field 3; utime
	// and stime are fields 14 and 15.
	_, rest, ok := strings.Cut(string(data), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // USER_HZ
}
