package processor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestZeroConfigIsDefault holds withDefaults to DefaultConfig: a zero
// Config (payrun up's, but for its ack wait) runs with the defaults the
// processor's flags show.
func TestZeroConfigIsDefault(t *testing.T) {
	got := Config{}.withDefaults()
	want := DefaultConfig()
	want.Worker, want.Logger = got.Worker, got.Logger
	require.Equal(t, want, got)
	require.NotEmpty(t, got.Worker)
	require.Zero(t, Config{CallRetries: -1}.withDefaults().CallRetries, "a negative CallRetries means none")
}
