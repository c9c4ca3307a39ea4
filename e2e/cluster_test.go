package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// TestClusterSurvivesNodeAndProcessorLoss is the production deployment on
// one machine: three nats-server nodes in one JetStream cluster with R3
// streams (deploy/nats), the ledger as the single writer, two processors
// and a relay as separate processes. Mid-batch one node and one processor
// die; every row is still paid exactly once.
func TestClusterSurvivesNodeAndProcessorLoss(t *testing.T) {
	rows := 600
	if testing.Short() {
		rows = 200
	}
	s := startSystem(t, options{cluster: true, processors: 2, ledgerArgs: []string{"--replicas", "3"}, sandboxArgs: []string{"--auto-3ds"}})
	file := payoutFile(t, s.dir, "cluster.csv", chaosRows(rows, 11)[:rows])
	batch := s.ingest(file)

	testutil.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error {
		b, err := s.ledger.Batch(t.Context(), batch)
		if err != nil {
			return err
		}
		if n := b.ByState[payout.StateSucceeded]; n < rows/10 {
			return fmt.Errorf("payouts not under way: %d succeeded", n)
		}
		return nil
	})
	s.nodes[1].Close()
	t.Log("nats node 2 stopped")
	s.mu.Lock()
	var p2 *proc
	for _, p := range s.procs {
		if p.name == "p2" {
			p2 = p
		}
	}
	s.mu.Unlock()
	p2.kill()
	t.Log("processor p2 killed")

	sum := s.waitFinal(batch, rows, 2*time.Minute, nil)
	t.Logf("by state: %v", sum.ByState)
	s.agree(batch, rows)
	require.Equal(t, rows, sum.ByState[payout.StateSucceeded], "every row paid: %v", sum.ByState)
}
