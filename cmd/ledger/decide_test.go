package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// TestDecideCommands: hold, resume, cancel a row, resubmit through the
// ledger's HTTP API, as finance runs them.
func TestDecideCommands(t *testing.T) {
	ctx := context.Background()
	srv := testutil.NATS(t)
	nc, js := testutil.JetStream(t, srv.URL())
	db, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	require.NoError(t, err)
	defer db.Close()
	quiet := testutil.QuietLogger()
	svc := ledger.NewService(db, ledger.Config{ReleaseInterval: 20 * time.Millisecond, Logger: quiet})
	require.NoError(t, svc.Start(ctx, nc))
	defer svc.Close()
	host := auth.HostActor("test")
	_, err = svc.SetPolicy(ctx, host, auth.Policy{Approvals: 1}) // released without approval: this is about what follows
	require.NoError(t, err)
	batch := publishRows(t, js, 3)
	testutil.Eventually(t, 30*time.Second, 5*time.Millisecond, func() error {
		b, err := db.Batch(ctx, batch)
		if err != nil {
			return err
		}
		if b.ByState[payout.StateQueued] != 3 {
			return fmt.Errorf("not released: %v", b.ByState)
		}
		return nil
	})
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	addr, closeHTTP, err := serveHTTP(hctx, httpFlags{addr: "127.0.0.1:0"}, svc, nil, quiet)
	require.NoError(t, err)
	defer closeHTTP()
	url := "http://" + addr
	// anna makes and checks payrolls (both roles): a component published
	// this batch, so no maker's own.
	_, err = svc.AddUser(ctx, host, ledger.NewUser{Name: "anna", Roles: auth.Roles{auth.RoleMaker, auth.RoleChecker}})
	require.NoError(t, err)
	tok, _, err := svc.CreateToken(ctx, host, ledger.NewToken{User: "anna", Name: "test"})
	require.NoError(t, err)
	tokenFile := filepath.Join(t.TempDir(), "anna.token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(tok), 0o600))
	do := func(name string, args ...string) (string, error) {
		var out bytes.Buffer
		c := &decideCommand{name: name, stdout: &out}
		err := c.Run(ctx, append([]string{"--api", url, "--token-file", tokenFile, "--batch", batch}, args...))
		return out.String(), err
	}

	out, err := do("hold", "--reason", "month end")
	require.NoError(t, err)
	require.Contains(t, out, "released (on hold)")
	require.Equal(t, "month end", summaryOf(t, db, batch).Hold.Reason)
	_, err = do("resume", "--reason", "go")
	require.NoError(t, err)
	require.Nil(t, summaryOf(t, db, batch).Hold)
	// ledger cancel --row goes to the HTTP API.
	bc := &batchCommand{name: "cancel"}
	require.NoError(t, bc.Run(ctx, []string{"--api", url, "--token-file", tokenFile, "--batch", batch, "--row", "2", "--reason", "left the company"}))
	row, err := db.Row(batch, 2)
	require.NoError(t, err)
	require.Equal(t, payout.StateCancelled, row.State)

	// Row 1 fails at the bank; it is resubmitted in a child batch.
	for _, tr := range []ledgerapi.Transition{{To: payout.StateClaimed}, {To: payout.StateFailed, ErrorCode: "bank_card_expired"}} {
		tr.Batch, tr.Row = batch, 1
		_, err := svc.Transition(ctx, tr)
		require.NoError(t, err)
	}
	out, err = do("resubmit", "--failed", "--reason", "new card")
	require.NoError(t, err)
	require.Contains(t, out, "resubmitted rows 1→1 of "+batch+" as batch ")
	require.Len(t, summaryOf(t, db, batch).Children, 1)

	// Refusals: what the ledger says.
	_, err = do("release", "--row", "3", "--reason", "x")
	require.ErrorContains(t, err, "was not held by the duplicate guard")
	_, err = do("hold")
	require.ErrorContains(t, err, "--reason is required")
	_, err = do("resubmit", "--reason", "x")
	require.ErrorContains(t, err, "give --rows or --failed")
	_, err = do("resubmit", "--reason", "x", "--rows", "1,x")
	require.ErrorContains(t, err, `"x" is not a row number`)
}

func summaryOf(t *testing.T, db *ledger.DB, batch string) *ledgerapi.BatchSummary {
	t.Helper()
	b, err := db.Batch(context.Background(), batch)
	require.NoError(t, err)
	return b
}
