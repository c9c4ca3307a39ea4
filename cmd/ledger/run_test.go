package main

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger"
)

// TestRunFlagDefaults fails when a flag of `ledger run` defaults to a number
// of its own: payrun up runs the ledger with ledger.DefaultConfig, and the
// two must not diverge.
func TestRunFlagDefaults(t *testing.T) {
	fs := flag.NewFlagSet("ledger run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := configFlags(fs)
	require.NoError(t, fs.Parse(nil))
	require.Equal(t, ledger.DefaultConfig(), *cfg)

	require.NoError(t, fs.Parse([]string{"--stuck-after", "1m", "--fx-tolerance-bp", "7"}))
	require.Equal(t, "1m0s", cfg.StuckAfter.String(), "the flag fills the config")
	require.EqualValues(t, 7, cfg.FXToleranceBps)
}
