package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/report"
	"github.com/payrun/payrun/internal/testutil"
)

// TestStatusFileAndNATS: `ledger status` reads the file and the running
// ledger the same way: the same summaries, the same JSON, the same error
// for an unknown batch; only the file adds a batch's reconciliation.
func TestStatusFileAndNATS(t *testing.T) {
	dir := t.TempDir()
	srv := testutil.NATS(t)
	nc, js := testutil.JetStream(t, srv.URL())
	ctx := context.Background()
	batch := publishRows(t, js, 3)

	dbPath := filepath.Join(dir, "ledger.db")
	db, err := ledger.Open(dbPath)
	require.NoError(t, err)
	defer db.Close()
	svc := ledger.NewService(db, ledger.Config{ReleaseInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	// These tests are about what follows approval: no batch needs one.
	_, err = svc.SetPolicy(ctx, auth.HostActor("test"), auth.Policy{Approvals: 1})
	require.NoError(t, err)
	require.NoError(t, svc.Start(ctx, nc))
	defer svc.Close()
	testutil.Eventually(t, 30*time.Second, 10*time.Millisecond, func() error {
		b, err := db.Batch(ctx, batch)
		if err != nil {
			return err
		}
		if n := b.ByState[payout.StateQueued]; n != 3 {
			return fmt.Errorf("%d rows queued, want 3", n)
		}
		return nil
	})
	client := ledgerapi.NewClient(nc, 10*time.Second)

	sources := map[string]statusSource{"file": db, "nats": client}
	reads := map[string]*batchStatus{}
	for name, src := range sources {
		all, err := readStatus(ctx, src, "", 10, true)
		require.NoError(t, err, name)
		require.Len(t, all.Batches, 1, name)
		one, err := readStatus(ctx, src, batch, 10, true)
		require.NoError(t, err, name)
		require.Equal(t, all.Batches, one.Batches, name)
		reads[name] = one

		_, err = readStatus(ctx, src, "b00000000000000000000", 10, true)
		require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeNotFound), "%s: got %v", name, err)
		require.Equal(t, "batch b00000000000000000000: not found", err.Error(), name)
	}
	require.Equal(t, reads["file"].Batches, reads["nats"].Batches)
	require.NotNil(t, reads["file"].Reconciliation)
	require.Nil(t, reads["nats"].Reconciliation, "the running ledger answers summaries only")

	// The command: the same JSON either way; the table from the file ends
	// with the reconciliation.
	outputs := map[string]string{}
	for name, args := range map[string][]string{"file": {"--db", dbPath}, "nats": {"--nats-url", srv.URL()}} {
		var out bytes.Buffer
		require.NoError(t, (&statusCommand{stdout: &out}).Run(ctx, append(args, "--batch", batch, "--json")), name)
		var list []ledgerapi.BatchSummary
		require.NoError(t, json.Unmarshal(out.Bytes(), &list), name)
		require.Equal(t, batch, list[0].Batch)
		outputs[name] = out.String()
		out.Reset()
		require.NoError(t, (&statusCommand{stdout: &out}).Run(ctx, append(args, "--batch", batch)), name)
		require.Contains(t, out.String(), batch, name)
		require.Contains(t, out.String(), "QUEUED", name)
		if name == "file" {
			require.Contains(t, out.String(), "RECONCILIATION", name)
		}
	}
	require.Equal(t, outputs["file"], outputs["nats"])
}

// TestPrintTransfers: `ledger status --batch` lists the transfers with
// their rate, commission and control number, and the 3-D Secure link and
// its expiry of the ones waiting for their sender.
func TestPrintTransfers(t *testing.T) {
	rep := &report.Report{Batch: report.Batch{ID: "b1"}, Rows: []report.Row{
		{Row: 1, Reference: "E-1", Method: "card", Status: "succeeded"},
		{Row: 2, Reference: "T-1", Method: "transfer", Status: "action_required", SourceAmount: "40000.00", SourceCurrency: "RUB",
			DestinationAmount: "13333.33", DestinationCurrency: "TRY", FXRate: "3.0000", Commission: "40.00", CommissionCurrency: "RUB",
			TCN: "592174-69412211", ActionURL: "https://bank.example/3ds/ps_2", ActionExpiresAt: "2026-11-25T09:15:00Z"},
		{Row: 3, Reference: "T-2", Method: "transfer", Status: "succeeded", ActionURL: "https://bank.example/3ds/ps_3",
			ActionExpiresAt: "2026-11-25T09:15:00Z"},
	}}
	var out bytes.Buffer
	require.NoError(t, printTransfers(&out, rep))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3, out.String())
	require.Contains(t, lines[0], "TCN")
	require.Regexp(t, `^2\s+T-1\s+action_required\s+40000\.00 RUB\s+13333\.33 TRY\s+3\.0000\s+40\.00 RUB\s+592174-69412211\s+https://bank\.example/3ds/ps_2\s+2026-11-25T09:15:00Z$`, lines[1])
	require.Contains(t, lines[2], "(succeeded)", "a spent link says so")
	out.Reset()
	require.NoError(t, printTransfers(&out, &report.Report{Rows: rep.Rows[:1]}))
	require.Empty(t, out.String(), "no transfers, no table")
}
