package metrics

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGroupsAreDisjoint: every family belongs to exactly one component, and
// a group registers once however often its component is made.
func TestGroupsAreDisjoint(t *testing.T) {
	owner := map[string]string{}
	for name, g := range map[string]*Group{"ledger": Ledger, "processor": Processor, "relay": Relay, "ingest": Ingest} {
		names := g.Names()
		require.NotEmpty(t, names, name)
		for _, n := range names {
			require.True(t, strings.HasPrefix(n, "payrun_"), n)
			require.NotContains(t, owner, n, "%s is %s's and %s's", n, owner[n], name)
			owner[n] = name
		}
	}
	require.Equal(t, "ledger", owner["payrun_ledger_commit_seconds"])
	require.Equal(t, "processor", owner["payrun_bank_call_seconds"])
	Relay.Register()
	Relay.Register() // a second relay in one process: no duplicate registration panic
}
