package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/report"
	"github.com/payrun/payrun/internal/testutil"
)

// bankReport is a daily report as the sandbox writes it: row 1 paid, and
// an operation that names no row of ours.
func bankReport(batch string) string {
	meta := strings.ReplaceAll(string(payout.BankRef{Batch: batch, Row: 1, Reference: "K-1"}.Metadata()), `"`, `""`)
	return "operationId,paymentSessionId,paymentSessionMerchantMetadata,typeOfPayment,transactionDate,finishedAt,amount,currency,fee,feeCurrency,paymentFast,paymentMethod,contract\n" +
		`po_1,ps_1,"` + meta + `",Advice,2026-11-25,2026-11-25T09:00:00.000000Z,10.01,RUB,0.10,RUB,0,bank_card,payrun` + "\n" +
		"po_x,ps_x,,Advice,2026-11-25,2026-11-25T09:05:00.000000Z,5.00,RUB,0.05,RUB,0,bank_card,payrun\n"
}

// TestReportCommands runs import-report (over NATS to the running ledger,
// then again), report in every format, the --http server and status'
// reconciliation table against a ledger that paid one row of five.
func TestReportCommands(t *testing.T) {
	dir := t.TempDir()
	srv := testutil.NATS(t)
	nc, js := testutil.JetStream(t, srv.URL())
	ctx := context.Background()
	batch := publishRows(t, js, 5)

	dbPath := filepath.Join(dir, "ledger.db")
	db, err := ledger.Open(dbPath)
	require.NoError(t, err)
	defer db.Close()
	quiet := testutil.QuietLogger()
	svc := ledger.NewService(db, ledger.Config{ReleaseInterval: 20 * time.Millisecond, Logger: quiet})
	// These tests are about what follows approval: no batch needs one.
	_, err = svc.SetPolicy(ctx, auth.HostActor("test"), auth.Policy{Approvals: 1})
	require.NoError(t, err)
	require.NoError(t, svc.Start(ctx, nc))
	defer svc.Close()
	client := ledgerapi.NewClient(nc, 10*time.Second)
	testutil.Eventually(t, 30*time.Second, 2*time.Millisecond, func() error {
		b, err := db.Batch(ctx, batch)
		if err != nil {
			return err
		}
		if n := b.ByState[payout.StateQueued]; n != 5 {
			return fmt.Errorf("release: %d of 5 rows queued", n)
		}
		return nil
	})
	paid := money.New(1001, "RUB")
	for _, tr := range []ledgerapi.Transition{
		{To: payout.StateClaimed, Worker: "w1"},
		{To: payout.StateOpening, IdemKey: batch + "/1/init"},
		{To: payout.StatePayoutStarted, SessionID: "ps_1", PayoutID: "po_1"},
		{To: payout.StateSucceeded, SessionID: "ps_1", PayoutID: "po_1", Paid: &paid, Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook}},
	} {
		tr.Batch, tr.Row = batch, 1
		r, err := client.Transition(ctx, tr)
		require.NoError(t, err)
		require.True(t, r.Applied)
	}

	// ledger run --http: the API a checker imports the bank's report through.
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	addr, closeHTTP, err := serveHTTP(hctx, httpFlags{addr: "127.0.0.1:0"}, svc, nil, quiet)
	require.NoError(t, err)
	defer closeHTTP()
	host := auth.HostActor("test")
	token := func(name string, role auth.Role) string {
		_, err := svc.AddUser(ctx, host, ledger.NewUser{Name: name, Roles: auth.Roles{role}})
		require.NoError(t, err)
		tok, _, err := svc.CreateToken(ctx, host, ledger.NewToken{User: name, Name: "test"})
		require.NoError(t, err)
		f := filepath.Join(dir, name+".token")
		require.NoError(t, os.WriteFile(f, []byte(tok+"\n"), 0o600))
		return f
	}
	carl, vera := token("carl", auth.RoleChecker), token("vera", auth.RoleViewer)
	api := "http://" + addr

	file := filepath.Join(dir, "all_2026-11-25_2026-11-25.csv")
	require.NoError(t, os.WriteFile(file, []byte(bankReport(batch)), 0o644))
	var out bytes.Buffer
	imp := &importReportCommand{stdout: &out}
	err = imp.Run(ctx, []string{"--api", api, "--token-file", vera, file})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeForbidden), "a viewer does not import: %v", err)
	require.NoError(t, imp.Run(ctx, []string{"--api", api, "--token-file", carl, file}))
	require.Contains(t, out.String(), "2 lines, 2 new")
	require.Contains(t, out.String(), "operations naming no row of ours: 1")
	require.Contains(t, out.String(), "reconciled: "+batch)
	out.Reset()
	require.NoError(t, imp.Run(ctx, []string{"--api", api, "--token-file", carl, file}))
	require.Contains(t, out.String(), "was imported before: nothing changed")

	// report, in every format, read-only next to the running ledger.
	out.Reset()
	locale := map[string]string{"LANG": "C.UTF-8"}
	rc := &reportCommand{stdout: &out, getenv: func(k string) string { return locale[k] }}
	defer debug.SetGCPercent(debug.SetGCPercent(100)) // the command sets its process's collector target
	require.NoError(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch}))
	if os.Getenv("GOGC") == "" {
		gc := debug.SetGCPercent(100)
		require.Equal(t, ledger.ReportGCPercent, gc, "ledger report's collector target")
		debug.SetGCPercent(gc)
	}
	require.Contains(t, out.String(), "1,K-1,card,")
	require.Contains(t, out.String(), ",matched,")
	require.NotContains(t, out.String(), "\nreconciliation,", "the rows' CSV holds the rows only")
	out.Reset()
	require.NoError(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--format", "summary.csv"}))
	require.Contains(t, out.String(), "reconciliation,awaiting_bank,,4,")
	// In Russian, to a file: excel-ru, and the summary next to it.
	ruCSV := filepath.Join(dir, "отчёт.csv")
	require.NoError(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--lang", "ru", "--out", ruCSV}))
	data, err := os.ReadFile(ruCSV)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(data), "\uFEFFСтрока;Номер;Способ;"), "%.80s", data)
	require.Contains(t, string(data), "1;K-1;карта;")
	require.Contains(t, string(data), ";10,01;RUB;выплачено;")
	data, err = os.ReadFile(filepath.Join(dir, "отчёт-summary.csv"))
	require.NoError(t, err)
	require.Contains(t, string(data), "сверка;ждём банк;;4;")
	out.Reset()
	require.NoError(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--lang", "ru", "--csv-dialect", "rfc4180", "--zone", "UTC"}))
	require.Contains(t, out.String(), "1,K-1,карта,")
	// Without --lang, a Russian locale gets the Russian report in excel-ru.
	locale["LANG"] = "ru_RU.UTF-8"
	out.Reset()
	require.NoError(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch}))
	require.True(t, strings.HasPrefix(out.String(), "\uFEFFСтрока;Номер;Способ;"), "%.80s", out.String())
	locale["LC_ALL"] = "en_US.UTF-8" // LC_ALL wins over LANG
	out.Reset()
	defer debug.SetGCPercent(debug.SetGCPercent(100)) // the command sets its process's collector target
	require.NoError(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch}))
	if os.Getenv("GOGC") == "" {
		gc := debug.SetGCPercent(100)
		require.Equal(t, ledger.ReportGCPercent, gc, "ledger report's collector target")
		debug.SetGCPercent(gc)
	}
	require.Contains(t, out.String(), "1,K-1,card,")
	require.Error(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--lang", "de"}))
	require.Error(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--csv-dialect", "excel"}))
	xlsx := filepath.Join(dir, "report.xlsx")
	require.NoError(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--out", xlsx}))
	data, err = os.ReadFile(xlsx)
	require.NoError(t, err)
	sheets, err := report.ReadXLSX(data)
	require.NoError(t, err)
	require.Equal(t, report.SheetRows, sheets[0].Name)
	require.Equal(t, "K-1", sheets[0].Rows[1][1].Value) // B2
	out.Reset()
	require.NoError(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--format", "json"}))
	require.Contains(t, out.String(), `"reconciliation":"matched"`)
	require.Error(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--format", "pdf"}))
	require.Error(t, rc.Run(ctx, []string{"--db", dbPath, "--batch", "b00000000000000000000"}))

	// ledger run --http serves the report to someone signed in.
	url := api + "/batches/" + batch + "/report.csv"
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "anonymous")
	tok, err := os.ReadFile(vera)
	require.NoError(t, err)
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), ",matched,")

	// status --batch shows the reconciliation.
	rec, err := db.Reconcile(ctx, batch)
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, printReconciliation(&out, rec))
	require.Contains(t, out.String(), "matched 1 · awaiting_bank 4 · awaiting_report 0 · exception 0")
	require.Contains(t, out.String(), "no open exceptions")

	// import-report --db, with the ledger stopped: a refund returns row 1.
	require.NoError(t, svc.Close())
	refund := strings.Replace(bankReport(batch), "po_1,ps_1", "rf_1,ps_1", 1)
	refund = strings.Replace(refund, ",Advice,2026-11-25,2026-11-25T09:00", ",Refund,2026-11-26,2026-11-26T10:00", 1)
	second := filepath.Join(dir, "all_2026-11-26_2026-11-26.csv")
	require.NoError(t, os.WriteFile(second, []byte(refund), 0o644))
	out.Reset()
	require.NoError(t, (&importReportCommand{stdout: &out}).Run(ctx, []string{"--db", dbPath, "--log-format", "text", second}))
	require.Contains(t, out.String(), "rows settled by it: 1")
	rec, err = db.Reconcile(ctx, batch)
	require.NoError(t, err)
	require.Equal(t, []reconcile.Category{reconcile.ReturnedAfterSuccess}, rec.Rows[0].Categories)
}

// TestLocaleLang: the first of LC_ALL, LC_MESSAGES and LANG that is set
// decides; only a Russian one gives Russian.
func TestLocaleLang(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "en"},
		{map[string]string{"LANG": "ru_RU.UTF-8"}, "ru"},
		{map[string]string{"LANG": "ru"}, "ru"},
		{map[string]string{"LANG": "ru_UA.KOI8-U"}, "ru"},
		{map[string]string{"LANG": "C.UTF-8"}, "en"},
		{map[string]string{"LANG": "rw_RW"}, "en"},
		{map[string]string{"LANG": "run"}, "en"},
		{map[string]string{"LC_MESSAGES": "ru_RU.UTF-8", "LANG": "en_US.UTF-8"}, "ru"},
		{map[string]string{"LC_ALL": "en_GB.UTF-8", "LC_MESSAGES": "ru_RU.UTF-8"}, "en"},
		{map[string]string{"LC_ALL": "ru_RU.UTF-8", "LANG": "en_US.UTF-8"}, "ru"},
	} {
		got := localeLang(func(k string) string { return tc.env[k] })
		require.Equal(t, tc.want, got, "%v", tc.env)
	}
}
