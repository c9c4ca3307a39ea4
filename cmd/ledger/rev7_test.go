package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
)

// TestRev7ImportReportWithDBIsAudited: `ledger import-report --db` on the
// ledger's host settles rows (in doubt → paid, or not paid: then
// resubmittable) as the API's import does, so it is in the audit log as
// the host's user; and it refuses a ledger file a running ledger holds
// (its flag says "only when no ledger runs on it": a second writer beside
// the ledger, outside its lease and fence).
func TestRev7ImportReportWithDBIsAudited(t *testing.T) {
	ctx := context.Background()
	t.Setenv("USER", "olga")
	path := emptyLedger(t)
	report := filepath.Join(reportFixtures, "payrun_2026-11-25_2026-11-25.csv")

	lock, err := ledger.LockFile(path)
	require.NoError(t, err)
	err = (&importReportCommand{stdout: &bytes.Buffer{}}).Run(ctx, []string{"--db", path, "--log-format", "text", report})
	require.ErrorIs(t, err, ledger.ErrLocked, "a running ledger holds the file")
	require.NoError(t, lock.Close())

	var out bytes.Buffer
	require.NoError(t, (&importReportCommand{stdout: &out}).Run(ctx, []string{"--db", path, "--log-format", "text", report}))
	require.Contains(t, out.String(), "3 new")

	db, err := ledger.Open(path)
	require.NoError(t, err)
	defer db.Close()
	entries, err := db.AuditEntries(ctx, ledger.AuditFilter{})
	require.NoError(t, err)
	var imports []auth.Entry
	for _, e := range entries {
		if e.Action == auth.ActImportReport {
			imports = append(imports, e)
		}
	}
	require.Len(t, imports, 1, "the import, once: %+v", entries)
	require.Equal(t, "olga", imports[0].User)
	require.Equal(t, auth.ViaHost, imports[0].Via)
	require.Equal(t, auth.OutcomeOK, imports[0].Outcome)
	require.Contains(t, imports[0].Target, "payrun_2026-11-25_2026-11-25.csv")
}
