package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
)

// TestLostRequests: the sandbox loses a fifth of the API requests (read,
// never processed, the connection closed), which the processor cannot tell
// from a request processed and then dropped. Every one of 40 two-step rows
// still ends paid exactly once: a lost session/create opens a new attempt,
// a lost session/start/payout is found by a poll (the session is still
// empty) and sent again in the same session with the same key, a lost
// confirm or status is repeated with its key. (Without the start being
// sent again, rows stay at payout_started.)
func TestLostRequests(t *testing.T) {
	s := startSystem(t, options{sandboxArgs: []string{"--fault-lost", "0.2", "--fault-seed", "7"}})
	var rows []map[string]string
	for i := 1; i <= 40; i++ {
		rows = append(rows, tokenRow("L-"+itoa(i), itoa(100+i)+".00", "Lost Person", "tok_lost_"+itoa(1000+i)))
	}
	batch := s.ingest(payoutFile(t, s.dir, "lost.csv", rows))
	sum := s.waitFinal(batch, 40, 90*time.Second, nil)
	require.Equal(t, 40, sum.ByState[payout.StateSucceeded], "%v", sum.ByState)
	s.agree(batch, 40)
}
