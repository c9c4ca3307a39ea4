package main

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/processor"
)

// TestSystemFlagDefaults fails when demo's and up's processor flags default
// to numbers of their own instead of processor.DefaultConfig's, the
// defaults of the processor command's flags.
func TestSystemFlagDefaults(t *testing.T) {
	fs := flag.NewFlagSet("payrun up", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f systemFlags
	f.register(fs, "data")
	require.NoError(t, fs.Parse(nil))
	d := processor.DefaultConfig()
	require.Equal(t, d.Rate, f.rate)
	require.Equal(t, d.Burst, f.burst)
	require.Equal(t, d.Concurrency, f.concurrency)
	require.True(t, f.walletCheck, "demo and up read the wallet before each release chunk, as ledger run --wallet-check")
}
