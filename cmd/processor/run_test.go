package main

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/processor"
	"github.com/payrun/payrun/internal/secret"
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

// TestCardKeys: a processor refuses to start without its card keys unless
// told no batch has card rows, and says what to do.
func TestCardKeys(t *testing.T) {
	dir := t.TempDir()
	partner := []string{"--private-key", "../../samples/keys/partner_private.pem"}
	missing := filepath.Join(dir, "card.key")
	err := run(context.Background(), append(partner, "--card-key", missing), io.Discard)
	require.Equal(t, cli.ExitFailed, cli.ExitCode(err))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "a processor needs the card keys to pay rows paid by card number (make them with payrun keys init), or --no-card-rows when no batch has such rows")

	err = run(context.Background(), append(partner, "--no-card-rows", "--card-key", missing), io.Discard)
	require.Equal(t, cli.ExitUsage, cli.ExitCode(err))

	_, err = secret.EnsureKeys(dir)
	require.NoError(t, err)
	bad := filepath.Join(dir, "data.key")
	require.NoError(t, os.WriteFile(bad, []byte("c2VjcmV0\n"), 0o600))
	err = run(context.Background(), append(partner, "--card-key", missing, "--data-key", bad), io.Discard)
	require.EqualError(t, err, "data key "+bad+": want 64 hex characters (32 bytes) on one line, as payrun up wrote it")

	o, err := opener(flag.NewFlagSet("p", flag.ContinueOnError), missing, "", false)
	require.NoError(t, err)
	require.Len(t, o.KeyIDs(), 1)
	require.False(t, o.Legacy())
	o, err = opener(flag.NewFlagSet("p", flag.ContinueOnError), filepath.Join(dir, "nope"), "", true)
	require.NoError(t, err)
	require.Nil(t, o, "--no-card-rows reads no key")
}
