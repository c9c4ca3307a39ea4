package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// families scrapes a /metrics endpoint and returns the payrun_ families it
// exports.
func families(t *testing.T, addr string) []string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" && strings.HasPrefix(f[2], "payrun_") {
			out = append(out, f[2])
		}
	}
	require.NoError(t, sc.Err())
	slices.Sort(out)
	return out
}

func want(gs ...*metrics.Group) []string {
	out := []string{"payrun_build_info"}
	for _, g := range gs {
		out = append(out, g.Names()...)
	}
	slices.Sort(out)
	return out
}

// TestEachProcessExportsItsOwnMetrics pays a batch and scrapes the ledger,
// the processor and the relay: each exports its own families (metrics.Ledger,
// Processor, Relay) and payrun_build_info, and none of another's.
func TestEachProcessExportsItsOwnMetrics(t *testing.T) {
	ledgerMetrics, procMetrics := freeAddr(t), freeAddr(t)
	s := startSystem(t, options{ledgerArgs: []string{"--metrics", ledgerMetrics}, processorArgs: []string{"--metrics", procMetrics}})
	var rows []map[string]string
	for i := 1; i <= 5; i++ {
		rows = append(rows, tokenRow(fmt.Sprintf("M-%d", i), fmt.Sprintf("%d.00", 100+i), "Metric Person", fmt.Sprintf("tok_metric_%04d", i)))
	}
	batch := s.ingest(payoutFile(t, s.dir, "metrics.csv", rows))
	sum := s.waitFinal(batch, len(rows), time.Minute, nil)
	require.Equal(t, len(rows), sum.ByState[payout.StateSucceeded])

	for _, c := range []struct {
		name, addr string
		groups     []*metrics.Group
	}{
		// The ledger process serves the upload API (ledger run --http):
		// ingest's families are its own too.
		{"ledger", ledgerMetrics, []*metrics.Group{metrics.Ledger, metrics.Ingest}},
		{"processor", procMetrics, []*metrics.Group{metrics.Processor}},
		{"hookrelay", s.relayMetrics, []*metrics.Group{metrics.Relay}},
	} {
		// The ledger refreshes its gauges every 5 s and the processor its lag
		// every 2 s: wait until every family has a value.
		testutil.Eventually(t, 15*time.Second, 200*time.Millisecond, func() error {
			if got := families(t, c.addr); !slices.Equal(got, want(c.groups...)) {
				return fmt.Errorf("%s exports %v, want %v", c.name, got, want(c.groups...))
			}
			return nil
		})
	}
}
