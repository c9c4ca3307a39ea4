package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
)

// TestSlowProcessorNoReenqueue: a batch that waits behind a slow processor
// (a few bank calls per second) far longer than --stuck-after is never
// re-enqueued: its jobs are still in PAYRUN_JOBS, waiting their turn. Every
// row is paid at gen 1, and the ledger logs no re-enqueue (issue 17: with
// the rows' age alone the sweeper re-enqueued the whole line, in waves).
func TestSlowProcessorNoReenqueue(t *testing.T) {
	s := startSystem(t, options{processorArgs: []string{"--rate", "5", "--burst", "1"},
		ledgerArgs: []string{"--stuck-after", "2s", "--sweep-interval", "200ms"}})
	var rows []map[string]string
	for i := 1; i <= 40; i++ {
		rows = append(rows, tokenRow("Q-"+itoa(i), itoa(100+i)+".00", "Queue Person", "tok_queue_"+itoa(i)))
	}
	start := time.Now()
	batch := s.ingest(payoutFile(t, s.dir, "queue.csv", rows))
	sum := s.waitFinal(batch, 40, 120*time.Second, nil)
	require.Equal(t, 40, sum.ByState[payout.StateSucceeded], "%v", sum.ByState)
	took := time.Since(start)
	require.Greater(t, took, 4*time.Second, "the last rows waited longer than --stuck-after (2s)")
	for n := 1; n <= 40; n++ {
		require.Equal(t, 1, s.row(batch, n).Gen, "row %d re-enqueued", n)
	}
	for _, p := range s.procs {
		if p.bin != "ledger" {
			continue
		}
		b, err := os.ReadFile(p.log)
		require.NoError(t, err)
		require.Zero(t, strings.Count(string(b), "re-enqueued"), "the ledger re-enqueued rows")
	}
	s.agree(batch, 40)
}
