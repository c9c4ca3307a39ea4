package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/testutil"
)

// ledgerProc is a `ledger run` subprocess.
type ledgerProc struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func startLedger(t *testing.T, bin, db, url string) *ledgerProc {
	t.Helper()
	var log bytes.Buffer
	cmd := exec.Command(bin, "run", "--db", db, "--nats-url", url, "--release-interval", "50ms",
		"--stuck-after", "1h", "--poll-after", "1h")
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	p := &ledgerProc{cmd: cmd, log: &log}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// kill ends the ledger without any chance to clean up.
func (p *ledgerProc) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	p.cmd.Wait()
}

// stop ends the ledger gracefully.
func (p *ledgerProc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.cmd.Wait(), p.log.String())
}

func query(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		return -1 // the file may not exist yet
	}
	return int(n.Int64)
}

// publishRows publishes a batch of n card rows and its manifest as ingest does.
func publishRows(t *testing.T, js jetstream.JetStream, n int) string {
	t.Helper()
	sum := sha256.Sum256([]byte("kill test"))
	batch := payout.BatchID(sum[:])
	totals := money.Totals{}
	var digests [][]byte
	for i := 1; i <= n; i++ {
		r := &payout.Row{Batch: batch, Index: i, Line: i + 1, Reference: "K-" + strconv.Itoa(i), Method: payout.MethodCard,
			Amount: money.New(int64(1000+i), "RUB"), FullName: "Olga Smirnova",
			Card: &payout.Card{Sealed: "c2VhbGVk", BIN: "220000", Last4: "0004"}}
		data := intake.EncodeRow(r)
		d := sha256.Sum256(data)
		digests = append(digests, d[:])
		totals.Add(r.Amount)
		msg := &nats.Msg{Subject: queue.IntakeRowSubject(batch), Data: data, Header: nats.Header{
			jetstream.MsgIDHeader: []string{queue.RowMsgID(batch, i)},
			queue.HeaderKind:      []string{"row"},
		}}
		_, err := js.PublishMsgAsync(msg)
		for errors.Is(err, jetstream.ErrTooManyStalledMsgs) { // a loaded machine: let the window drain
			<-js.PublishAsyncComplete()
			_, err = js.PublishMsgAsync(msg)
		}
		require.NoError(t, err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("publish rows timed out")
	}
	m := payout.Manifest{Batch: batch, FileName: "kill.csv", FileSHA256: hex.EncodeToString(sum[:]), Rows: n,
		Totals: totals, RowsSHA256: payout.DigestRows(digests), CreatedAt: time.Now().UTC()}
	data, err := intake.EncodeManifest(&m)
	require.NoError(t, err)
	_, err = js.PublishMsg(context.Background(), &nats.Msg{Subject: queue.IntakeManifestSubject(batch), Data: data,
		Header: nats.Header{jetstream.MsgIDHeader: []string{queue.ManifestMsgID(batch)}, queue.HeaderKind: []string{"manifest"}}})
	require.NoError(t, err)
	return batch
}

// TestKillMidIntakeAndMidTransitions runs the real binary, SIGKILLs it
// while it records a 50k-row batch and again while it serves transitions
// to concurrent requesters that retry (as processors do), and checks that
// every row is recorded once and no transition is logged twice.
func TestKillMidIntakeAndMidTransitions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ledger binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ledger")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	srv := testutil.NATS(t)
	nc, js := testutil.JetStream(t, srv.URL(), jetstream.WithPublishAsyncMaxPending(4096))
	ctx := context.Background()

	const rows = 50000
	batch := publishRows(t, js, rows)
	dbPath := filepath.Join(dir, "ledger.db")
	// This test is about what follows approval: a policy that needs none,
	// set on the host before the first start.
	policy := filepath.Join(dir, "policy.json")
	require.NoError(t, os.WriteFile(policy, []byte(`{"approvals": 1}`), 0o600))
	out, err := exec.Command(bin, "policy", "set", "--db", dbPath, policy).CombinedOutput()
	require.NoError(t, err, "%s", out)
	p := startLedger(t, bin, dbPath, srv.URL())
	ro, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=5000")
	require.NoError(t, err)
	defer ro.Close()

	// Kill 1: mid-intake.
	testutil.Eventually(t, time.Minute, 2*time.Millisecond, func() error {
		if n := query(t, ro, `SELECT rows_recorded FROM batches WHERE id = ?`, batch); n < 3000 {
			return fmt.Errorf("intake has not started: %d rows recorded", n)
		}
		return nil
	})
	p.kill(t)
	atKill := query(t, ro, `SELECT count(*) FROM rows`)
	t.Logf("killed during intake with %d of %d rows recorded", atKill, rows)

	p = startLedger(t, bin, dbPath, srv.URL())
	testutil.Eventually(t, time.Minute, 2*time.Millisecond, func() error {
		if n := query(t, ro, `SELECT count(*) FROM rows WHERE state = 'queued' AND job_gen = gen`); n != rows {
			return fmt.Errorf("release: %d of %d rows queued with their job sent", n, rows)
		}
		return nil
	})
	require.Equal(t, rows, query(t, ro, `SELECT count(*) FROM rows WHERE batch_id = ?`, batch))
	require.Equal(t, rows, query(t, ro, `SELECT rows_recorded FROM batches WHERE id = ?`, batch))
	require.Equal(t, 0, query(t, ro, `SELECT count(*) FROM row_conflicts`))
	require.Equal(t, 0, query(t, ro, `SELECT count(*) FROM exceptions`))

	// Kill 2: mid-transitions. Requesters claim every row and retry on
	// "unavailable" until the restarted ledger answers.
	client := ledgerapi.NewClient(nc, 2*time.Second)
	const claims = 20000
	var next, applied, repeats atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 48; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				row := int(next.Add(1))
				if row > claims {
					return
				}
				for attempt := 0; ; attempt++ {
					r, err := client.Transition(ctx, ledgerapi.Transition{Batch: batch, Row: row, To: payout.StateClaimed,
						Gen: 1, Worker: "w" + strconv.Itoa(row%7)})
					if errors.Is(err, ledgerapi.ErrUnavailable) && attempt < 600 {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					if err != nil {
						errs <- fmt.Errorf("row %d: %w", row, err)
						return
					}
					if r.Applied {
						applied.Add(1)
					} else {
						repeats.Add(1)
					}
					break
				}
			}
		}()
	}
	testutil.Eventually(t, time.Minute, 2*time.Millisecond, func() error {
		if n := query(t, ro, `SELECT count(*) FROM transitions WHERE to_state = 'claimed'`); n < 3000 {
			return fmt.Errorf("transitions do not flow: %d claims", n)
		}
		return nil
	})
	p.kill(t)
	t.Logf("killed while serving transitions with %d claims committed", query(t, ro, `SELECT count(*) FROM transitions WHERE to_state = 'claimed'`))
	p = startLedger(t, bin, dbPath, srv.URL())
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("applied %d, answered as repeats %d (committed before the kill, reply lost)", applied.Load(), repeats.Load())
	require.Equal(t, int64(claims), applied.Load()+repeats.Load())

	// Exactly once: every row recorded once, every transition logged once.
	require.Equal(t, rows, query(t, ro, `SELECT count(*) FROM rows`))
	require.Equal(t, claims, query(t, ro, `SELECT count(*) FROM rows WHERE state = 'claimed'`))
	require.Equal(t, 0, query(t, ro, `SELECT count(*) FROM (SELECT 1 FROM transitions
		GROUP BY batch_id, row_no, from_state, to_state, gen HAVING count(*) > 1)`))
	require.Equal(t, claims, query(t, ro, `SELECT count(*) FROM transitions WHERE from_state = 'queued' AND to_state = 'claimed'`))
	require.Equal(t, rows, query(t, ro, `SELECT count(*) FROM transitions WHERE to_state = 'queued'`))
	require.Equal(t, rows, query(t, ro, `SELECT count(*) FROM transitions WHERE from_state = 'received'`))

	// Every job went out once per gen: the work queue holds one per row.
	st, err := js.Stream(ctx, queue.StreamJobs)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(rows), info.State.Msgs)

	// status reads the file while the ledger runs.
	out, err = exec.Command(bin, "status", "--db", dbPath).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), batch)
	require.Contains(t, string(out), "CLAIMED")
	t.Logf("ledger status:\n%s", out)
	p.stop(t)
}
