package main

import (
	"flag"
	"io"
	"testing"
	"time"

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

// TestSweepEvery: without --sweep-interval the sweeper runs at least five
// times per --stuck-after; a given interval is kept.
func TestSweepEvery(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 10 * time.Second}, // --stuck-after 5m: the default 10 s
		{[]string{"--stuck-after", "10s"}, 2 * time.Second},
		{[]string{"--stuck-after", "1m"}, 10 * time.Second},
		{[]string{"--stuck-after", "10s", "--sweep-interval", "30s"}, 30 * time.Second},
		{[]string{"--stuck-after", "3s", "--sweep-interval", "250ms"}, 250 * time.Millisecond},
	} {
		fs := flag.NewFlagSet("ledger run", flag.ContinueOnError)
		cfg := configFlags(fs)
		require.NoError(t, fs.Parse(c.args))
		sweepEvery(fs, cfg)
		require.Equal(t, c.want, cfg.SweepInterval, "%v", c.args)
	}
}
