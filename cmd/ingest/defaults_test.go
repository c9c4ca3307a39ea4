package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/batch"
)

// TestMaxAmountDefault fails when --max-amount defaults to a limit of its
// own instead of batch.DefaultMaxAmount, the limit of every other intake.
func TestMaxAmountDefault(t *testing.T) {
	c, err := parseArgs([]string{"payroll.csv"}, io.Discard)
	require.NoError(t, err)
	opts, err := c.options()
	require.NoError(t, err)
	require.Equal(t, batch.DefaultMaxAmount, opts.Batch.MaxAmount)
}
