package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// TestDailyReportDropFolder: the bank's webhooks carry the fee
// (--hook-fees merchant-fee), and every paid row records it; the bank
// drops each project's daily report into an SFTP folder in its documented
// format, zipped, and `ledger import-report --watch` imports each once,
// moves it to imported/, and every row is matched with its fee: the
// report's fees agree with the webhooks', so no exception opens.
func TestDailyReportDropFolder(t *testing.T) {
	sftp := filepath.Join(t.TempDir(), "sftp")
	require.NoError(t, os.MkdirAll(sftp, 0o755))
	s := startSystem(t, options{sandboxArgs: []string{"--hook-fees", "merchant-fee", "--report-dir", sftp,
		"--report-zip", "one", "--report-format", "xlsx", "--report-xlsx-cells", "typed"}})
	var rows []map[string]string
	for i := 1; i <= 3; i++ {
		rows = append(rows, tokenRow("R-T"+itoa(i), itoa(1000+i)+".00", "Token Person", "tok_report_"+itoa(i)))
	}
	for i, pan := range []string{"4242424242424242", "5555555555554444", "2200000000000004"} {
		rows = append(rows, cardRow("R-C"+itoa(i+1), itoa(2000+i)+".50", "Card Person", pan))
	}
	batch := s.ingest(payoutFile(t, s.dir, "report.csv", rows))
	sum := s.waitFinal(batch, len(rows), 60*time.Second, nil)
	require.Equal(t, len(rows), sum.ByState[payout.StateSucceeded], "%v", sum.ByState)
	s.agree(batch, len(rows))
	bank := s.bankPayouts()
	for n := 1; n <= len(rows); n++ {
		st := s.row(batch, n)
		p := bank[batch+"/"+strconv.Itoa(n)][0]
		require.NotNil(t, st.Fee, "row %d: the webhook's fee", n)
		require.Equal(t, money.New(p.Fee, "RUB"), *st.Fee, "row %d", n)
	}

	s.start("ledger", "import-report", "--nats-url", s.natsURL, "--watch", sftp, "--settle", "300ms", "--interval", "100ms",
		"--log-format", "json")
	day := time.Now().In(bank131.ReportZone()).Format(time.DateOnly)
	resp, err := http.Post(s.bankURL+"/sandbox/report/drop?date="+day, "", nil)
	require.NoError(t, err)
	var dropped struct {
		Files []string `json:"files"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&dropped))
	resp.Body.Close()
	require.Len(t, dropped.Files, 2, "one ZIP per project")
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		for _, project := range []string{"payrun", "payrun-card"} {
			if _, err := os.Stat(filepath.Join(sftp, "imported", project+"_"+day+"_"+day+".zip")); err != nil {
				return err
			}
		}
		return nil
	})
	entries, err := os.ReadDir(filepath.Join(sftp, "failed"))
	require.NoError(t, err)
	require.Empty(t, entries)

	b, err := s.ledger.Batch(t.Context(), batch)
	require.NoError(t, err)
	require.Zero(t, b.Exceptions, "the report agrees with the ledger, fees included")
	for n := 1; n <= len(rows); n++ {
		st := s.row(batch, n)
		require.Equal(t, money.New(bank[batch+"/"+strconv.Itoa(n)][0].Fee, "RUB"), *st.Fee, "row %d", n)
	}
	// The reconciliation report (read-only beside the running ledger).
	cmd := exec.Command(filepath.Join(binDir, "ledger"), "report", "--db", filepath.Join(s.dir, "ledger.db"), "--batch", batch,
		"--format", "json")
	out, err := cmd.Output()
	require.NoError(t, err)
	var rep struct {
		Rows []struct {
			Reconciliation string `json:"reconciliation"`
			Fee            string `json:"fee"`
		} `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(out, &rep))
	require.Len(t, rep.Rows, len(rows))
	for i, r := range rep.Rows {
		require.Equal(t, "matched", r.Reconciliation, "row %d", i+1)
		require.NotEmpty(t, r.Fee, "row %d", i+1)
	}
}
