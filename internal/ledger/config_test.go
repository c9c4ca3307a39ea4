package ledger

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestZeroConfigIsDefault holds withDefaults to DefaultConfig: a zero
// Config (payrun up's, but for its release interval) runs with the
// defaults `ledger run`'s flags show.
func TestZeroConfigIsDefault(t *testing.T) {
	got := Config{}.withDefaults()
	want := DefaultConfig()
	want.Logger = got.Logger
	require.Equal(t, want, got)
	require.NotNil(t, got.Logger)
}
