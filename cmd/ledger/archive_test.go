package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// TestArchiveCommand archives a finished batch next to the running ledger;
// its report still comes out of `ledger report` and the HTTP API, byte for
// byte as before, while its rows are gone from the ledger file.
func TestArchiveCommand(t *testing.T) {
	dir := t.TempDir()
	srv := testutil.NATS(t)
	nc, js := testutil.JetStream(t, srv.URL())
	ctx := context.Background()
	batch := publishRows(t, js, 3)
	dbPath := filepath.Join(dir, "ledger.db")
	db, err := ledger.Open(dbPath)
	require.NoError(t, err)
	defer db.Close()
	quiet := testutil.QuietLogger()
	svc := ledger.NewService(db, ledger.Config{ReleaseInterval: 20 * time.Millisecond, Logger: quiet})
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
		if n := b.ByState[payout.StateQueued]; n != 3 {
			return fmt.Errorf("release: %d of 3 rows queued", n)
		}
		return nil
	})
	for row := 1; row <= 3; row++ {
		s, po := fmt.Sprintf("ps_%d", row), fmt.Sprintf("po_%d", row)
		paid := money.New(int64(1000+row), "RUB")
		last := ledgerapi.Transition{To: payout.StateSucceeded, SessionID: s, PayoutID: po, Paid: &paid,
			Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook}}
		if row == 3 {
			last = ledgerapi.Transition{To: payout.StateFailed, SessionID: s, ErrorCode: "card_expired",
				Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook}}
		}
		for _, tr := range []ledgerapi.Transition{
			{To: payout.StateClaimed, Worker: "w1"},
			{To: payout.StateOpening, IdemKey: fmt.Sprintf("%s/%d/init", batch, row)},
			{To: payout.StatePayoutStarted, SessionID: s, PayoutID: po},
			last,
		} {
			tr.Batch, tr.Row = batch, row
			r, err := client.Transition(ctx, tr)
			require.NoError(t, err)
			require.True(t, r.Applied, "%+v", r.Error)
		}
	}
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if b, err := db.Batch(ctx, batch); err != nil || b.Status != payout.BatchDone {
			return fmt.Errorf("batch not done: %v", err)
		}
		return nil
	})

	hctx, stop := context.WithCancel(ctx)
	defer stop()
	addr, closeHTTP, err := serveHTTP(hctx, httpFlags{addr: "127.0.0.1:0"}, svc, nil, quiet)
	require.NoError(t, err)
	defer closeHTTP()
	_, err = svc.AddUser(ctx, auth.HostActor("test"), ledger.NewUser{Name: "vera", Roles: auth.Roles{auth.RoleViewer}})
	require.NoError(t, err)
	tok, _, err := svc.CreateToken(ctx, auth.HostActor("test"), ledger.NewToken{User: "vera", Name: "test"})
	require.NoError(t, err)
	download := func(format string) []byte {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/batches/"+batch+"/report."+format, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		return body
	}
	cliReport := func(format string) []byte {
		t.Helper()
		var out bytes.Buffer
		require.NoError(t, (&reportCommand{stdout: &out}).Run(ctx, []string{"--db", dbPath, "--batch", batch, "--format", format}))
		return out.Bytes()
	}
	beforeCSV, beforeJSON, beforeHTTP := cliReport("csv"), cliReport("json"), download("csv")
	require.Contains(t, string(beforeCSV), "1,K-1,card,")

	var out bytes.Buffer
	ac := &archiveCommand{stdout: &out}
	archive := filepath.Join(dir, "archive", batch+".ledger.db")
	require.NoError(t, os.Mkdir(filepath.Dir(archive), 0o700))
	err = ac.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--out", archive})
	require.ErrorContains(t, err, "less than 9600h0m0s ago", "the default minimum age: the repeat retention")
	require.Error(t, ac.Run(ctx, []string{"--db", dbPath, "--batch", batch}), "--out is needed")
	require.Error(t, ac.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--out", archive, "--older-than", "1h"}))
	require.NoError(t, ac.Run(ctx, []string{"--db", dbPath, "--batch", batch, "--out", archive, "--min-age", "0s"}))
	require.Contains(t, out.String(), "archived "+batch+": 3 rows")
	out.Reset()
	require.NoError(t, ac.Run(ctx, []string{"--db", dbPath, "--older-than", "1ns", "--min-age", "0s", "--out-dir", dir}))
	require.Equal(t, "no batch to archive\n", out.String(), "archived already")

	ro, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=5000")
	require.NoError(t, err)
	defer ro.Close()
	require.Equal(t, 0, query(t, ro, `SELECT count(*) FROM rows WHERE batch_id = ?`, batch), "pruned")
	require.Equal(t, 0, query(t, ro, `SELECT count(*) FROM transitions WHERE batch_id = ?`, batch), "pruned")
	require.Equal(t, 3, query(t, ro, `SELECT rows FROM archives WHERE batch_id = ?`, batch))
	require.Equal(t, beforeCSV, cliReport("csv"), "ledger report reads the archive")
	require.Equal(t, beforeJSON, cliReport("json"))
	require.Equal(t, beforeHTTP, download("csv"), "the HTTP API serves it from the archive")
	download("xlsx")
	sum, err := db.Batch(ctx, batch)
	require.NoError(t, err)
	require.Equal(t, map[payout.State]int{payout.StateSucceeded: 2, payout.StateFailed: 1}, sum.ByState, "status keeps the counts")
	require.True(t, strings.Contains(string(beforeCSV), "card_expired") || strings.Contains(string(beforeCSV), "failed"))
}
