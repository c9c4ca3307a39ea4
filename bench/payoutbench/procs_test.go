package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestScrape: the series of one family by their labels, and no other
// family sharing its prefix.
func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`# HELP payrun_bank_call_seconds x
# TYPE payrun_bank_call_seconds histogram
payrun_bank_call_seconds_bucket{method="session/create",result="ok",le="0.1"} 3
payrun_bank_call_seconds_count{method="session/create",result="ok"} 1000
payrun_bank_call_seconds_count{method="token/info",result="ok"} 90
payrun_bank_call_seconds_count_other 7
payrun_ledger_requeued_total 2
payrun_ledger_requeued_totalx 5
`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	m, err := scrape(addr, "payrun_bank_call_seconds_count")
	require.NoError(t, err)
	require.Equal(t, map[string]float64{`{method="session/create",result="ok"}`: 1000, `{method="token/info",result="ok"}`: 90}, m)
	require.Equal(t, "token/info", label(`{method="token/info",result="ok"}`, "method"))
	require.Equal(t, "", label(`{result="ok"}`, "method"))
	n, err := scrapeRequeued(addr)
	require.NoError(t, err)
	require.Equal(t, 2.0, n)
}

// TestReadStat: this process's CPU and peak RSS from /proc.
func TestReadStat(t *testing.T) {
	x := 0
	for i := 0; i < 50_000_000; i++ { // some CPU to see
		x += i
	}
	st, err := readStat(os.Getpid())
	require.NoError(t, err)
	require.Greater(t, st.cpu, 0.0, "%d", x)
	require.Greater(t, st.hwmMB, 1.0)
}
