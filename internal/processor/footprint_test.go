package processor

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/payout"
)

// TestLedgerBytesPerPaidRow pays a batch through the processor's loop,
// the sandbox bank and its webhooks (two-step tokens and single-request
// cards, each row with its webhooks, gate checks, transitions), and
// measures what the ledger's file grew by per paid row (issue 17: ~6 KB,
// the target ≤ 2 KB with the verified webhook bodies kept). It logs each
// table's share. PAYRUN_FOOTPRINT_ROWS sets the batch size (default 200);
// PAYRUN_FOOTPRINT_KEEP a folder to copy the ledger file to (for sqlite3's
// dbstat).
func TestLedgerBytesPerPaidRow(t *testing.T) {
	n := 200
	if v := os.Getenv("PAYRUN_FOOTPRINT_ROWS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	h := newHarness(t)
	before, err := h.db.Footprint(h.ctx)
	require.NoError(t, err)
	var rows []string
	for i := 1; i <= n; i++ {
		ref := fmt.Sprintf("F-%05d", i)
		if i%2 == 0 {
			rows = append(rows, cardRow(ref, strconv.Itoa(100+i)+".00", "4242424242424242"))
		} else {
			rows = append(rows, tokenRow(ref, strconv.Itoa(100+i)+".00", "tok_f"+strconv.Itoa(i)))
		}
	}
	batch := h.ingest(rows...)
	p := h.processor(CardSingleRequest)
	done := make(chan error, 1)
	go func() { done <- p.Run(h.ctx) }()
	require.Eventually(t, func() bool {
		b, err := h.db.Batch(h.ctx, batch)
		return err == nil && b.ByState[payout.StateSucceeded] == n
	}, time.Duration(1+n/1000)*3*time.Minute, 50*time.Millisecond, "every row paid") // ~1 min per 1 000 rows under load
	// The last webhooks (payment_finished) are recorded beside the moves.
	time.Sleep(500 * time.Millisecond)
	after, err := h.db.Footprint(h.ctx)
	require.NoError(t, err)
	per := float64(after.Bytes-before.Bytes) / float64(n)
	var parts []string
	var names []string
	for name := range after.Tables {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return after.Tables[names[i]] > after.Tables[names[j]] })
	for _, name := range names {
		if d := after.Tables[name] - before.Tables[name]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", name, float64(d)/float64(n)))
		}
	}
	t.Logf("ledger.db: %.0f bytes per paid row (%d rows; file %d → %d bytes in use); values per row by table: %s",
		per, n, before.Bytes, after.Bytes, strings.Join(parts, ", "))
	if dir := os.Getenv("PAYRUN_FOOTPRINT_KEEP"); dir != "" {
		require.NoError(t, copyFile(h.db.Path(), dir+"/ledger.db"))
	}
	// Measured 4.6 KB before the webhook bodies were packed, 3.6 KB after,
	// 2.5 KB with the transitions and webhooks compact (migrations 0140,
	// 0141), 2.2 KB with the sessions, gate checks and the log's bank ids
	// compact and the bodies packed without their ids (0160-0162;
	// bench/README.md), 1.97 KB with the webhooks by batch key, codes and
	// integers (0163; 1 980 at 10 000 rows); the target is 2 KB.
	// This bound catches a record that grows again.
	require.LessOrEqual(t, per, 2100.0, "bytes per paid row")
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}
