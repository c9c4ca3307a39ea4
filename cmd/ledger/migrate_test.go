package main

import (
	"bytes"
	"database/sql"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/testutil"
)

// TestMigrateAndSchemaGuard: `ledger migrate --dry-run` lists what would
// be applied and changes nothing, `ledger migrate` applies it without
// running; a database with a migration this binary does not know (a
// rollback to older code) is refused by every command with one line that
// names it.
func TestMigrateAndSchemaGuard(t *testing.T) {
	bin := ledgerBinary(t)
	db := filepath.Join(t.TempDir(), "new", "ledger.db")
	ledger := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}

	out, err := ledger("migrate", "--db", db, "--dry-run")
	require.NoError(t, err, out)
	require.Contains(t, out, "0 applied")
	require.Contains(t, out, "would apply 0001_init.sql")
	require.Contains(t, out, "would apply 0080_restores.sql")
	require.NoFileExists(t, db, "a dry run changes nothing")

	out, err = ledger("migrate", "--db", db)
	require.NoError(t, err, out)
	require.Contains(t, out, "applied 0001_init.sql")
	out, err = ledger("migrate", "--db", db, "--dry-run")
	require.NoError(t, err, out)
	require.Contains(t, out, "0 to apply")
	require.NotContains(t, out, "would apply")

	// A newer ledger migrated this database; this binary is the rollback.
	w, err := sql.Open("sqlite3", "file:"+db)
	require.NoError(t, err)
	_, err = w.Exec(`INSERT INTO schema_migrations (name, applied_at) VALUES
		('migrations/0090_future.sql', '2027-01-01T00:00:00.000000000Z'), ('migrations/0091_later.sql', '2027-01-01T00:00:00.000000000Z')`)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	srv := testutil.NATS(t)
	for _, args := range [][]string{
		{"run", "--db", db, "--nats-url", srv.URL()},
		{"migrate", "--db", db},
		{"migrate", "--db", db, "--dry-run"},
		{"status", "--db", db},
	} {
		out, err := ledger(args...)
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%v: %s", args, out)
		require.Equal(t, 1, ee.ExitCode(), "%v: %s", args, out)
		line := strings.TrimSpace(out)
		require.NotContains(t, line, "\n", "%v: one line", args)
		require.Contains(t, line, "has migrations this binary does not know (0090_future.sql, 0091_later.sql)", "%v", args)
		t.Logf("%s: %s", args[0], line)
	}
}
