package console_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/payout"
)

// The console's pages at scale, through the whole handler (guard,
// session, ledger reads, templates) over a real SQLite file: a batch of
// 100 000 rows and a list of 5 000 batches. Targets: under 200 ms a page
// (bench/README.md has the figures).
//
//	go test ./internal/console -run '^$' -bench . -benchtime 20x

// bigBatch seeds a released batch of n rows: most paid, some failed, a few
// waiting for 3-D Secure, the rest at the bank.
func bigBatch(b *testing.B, s *site, n int) string {
	b.Helper()
	start := time.Now()
	id, _ := s.seed.batch(b, batchSpec{name: fmt.Sprint("big", n), status: payout.BatchReleased, rows: n, by: "mia",
		states: func(i int) (payout.State, string) {
			switch {
			case i%997 == 0:
				return payout.StateFailed, "bank_card_expired"
			case i%5003 == 0:
				return payout.StateActionRequired, ""
			case i > n*9/10:
				return payout.StatePayoutStarted, ""
			}
			return payout.StateSucceeded, ""
		}})
	b.Logf("seeded %d rows in %s", n, time.Since(start).Round(time.Millisecond))
	return id
}

func benchPage(b *testing.B, br *browser, path string) {
	b.Helper()
	b.ResetTimer()
	for b.Loop() {
		status, body, _ := br.get(path)
		if status != http.StatusOK {
			b.Fatalf("%s: %d %s", path, status, body)
		}
	}
}

func BenchmarkBatchPage100k(b *testing.B) {
	s := newSite(b)
	id := bigBatch(b, s, 100_000)
	br := s.browser(b, "ru")
	br.signIn("carl")
	for _, c := range []struct{ name, query string }{
		{"first page", ""},
		{"live", "/live"},
		{"deep page", "?after=90000"},
		{"failed only", "?failed=1"},
		{"waiting for 3-D Secure", "?state=action_required"},
		{"method with no rows", "?method=transfer"},
	} {
		b.Run(c.name, func(b *testing.B) { benchPage(b, br, "/console/batches/"+id+c.query) })
	}
}

func BenchmarkBatchesList5k(b *testing.B) {
	s := newSite(b)
	start := time.Now()
	statuses := []payout.BatchStatus{payout.BatchDone, payout.BatchReleased, payout.BatchAwaitingApproval, payout.BatchCancelled}
	var cursorAt time.Time
	for i := range 5000 {
		seen := s.seed.now.Add(time.Duration(i) * time.Minute)
		s.seed.batch(b, batchSpec{name: fmt.Sprint("list", i), status: statuses[i%len(statuses)], rows: 2, by: "mia", seen: seen})
		if i == 100 {
			cursorAt = seen
		}
	}
	b.Logf("seeded 5000 batches in %s", time.Since(start).Round(time.Millisecond))
	br := s.browser(b, "en")
	br.signIn("vera")
	// A page deep in the list: its cursor is the batch seen at cursorAt.
	items, _, err := s.svc.DB().BatchPage(b.Context(), ledgerBatchFilterUntil(cursorAt))
	if err != nil || len(items) == 0 {
		b.Fatalf("cursor: %v %d", err, len(items))
	}
	deep := items[0].Cursor
	for _, c := range []struct{ name, query string }{
		{"first page", ""},
		{"status filter", "?status=awaiting_approval"},
		{"date filter", "?from=2026-11-27&to=2026-11-28"},
		{"page 98 of 100", "?before=" + deep},
	} {
		b.Run(c.name, func(b *testing.B) { benchPage(b, br, "/console/batches"+c.query) })
	}
}

func ledgerBatchFilterUntil(t time.Time) ledger.BatchFilter {
	return ledger.BatchFilter{To: t.Add(time.Second), Limit: 1}
}
