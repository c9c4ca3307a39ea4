package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ingest"
)

func TestConsoleProgress(t *testing.T) {
	var b bytes.Buffer
	c := newConsole(&b, "always")
	c.progress(ingest.Progress{Phase: ingest.PhaseValidate, Bytes: 1 << 20, Total: 4 << 20, Rows: 1000})
	require.True(t, strings.HasPrefix(b.String(), "\r\033[Kvalidate [#######-----------------------]  25%  1000 rows  "), b.String())
	require.Contains(t, b.String(), "rows/s  ETA ")
	b.Reset()
	c.line("f.csv:2: amount: is required")
	require.Equal(t, "\r\033[Kf.csv:2: amount: is required\n", b.String(), "the bar is erased before a line")

	// Not a terminal (auto on a buffer), or a small file: no bar.
	b.Reset()
	newConsole(&b, "auto").progress(ingest.Progress{Phase: ingest.PhaseValidate, Bytes: 1, Total: 4 << 20})
	c.progress(ingest.Progress{Phase: ingest.PhasePublish, Bytes: 1, Total: 1000})
	require.Empty(t, b.String())
}
