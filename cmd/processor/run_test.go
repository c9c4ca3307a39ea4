package main

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/processor"
)

// TestFlagDefaults fails when a flag of the processor defaults to a number
// of its own: payrun up runs its processor with processor.DefaultConfig,
// and the two must not diverge.
func TestFlagDefaults(t *testing.T) {
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := configFlags(fs)
	require.NoError(t, fs.Parse(nil))
	require.Equal(t, processor.DefaultConfig(), *cfg)

	require.NoError(t, fs.Parse([]string{"--card-flow", "two-step", "--concurrency", "3"}))
	require.Equal(t, processor.CardTwoStep, cfg.CardFlow, "the flag fills the config")
	require.Equal(t, 3, cfg.Concurrency)
}
