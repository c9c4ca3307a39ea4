package ledger

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSQLiteMemstatusOff: the ledger's SQLite keeps no memory statistics
// (sqlite_config.go), so it takes no global mutex per allocation: with an
// open ledger that has run statements, SQLite counts no bytes in use.
func TestSQLiteMemstatusOff(t *testing.T) {
	s, _ := newService(t)
	b := makeBatch(20, "memstatus")
	record(t, s, b.msgs(1))
	require.Equal(t, 20, summary(t, s.db, b.ID).Rows)
	require.Zero(t, sqliteMemoryUsed(), "SQLite's memory statistics are off")
}
