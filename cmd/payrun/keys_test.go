package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/secret"
)

func runKeys(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout bytes.Buffer
	err := keys(args, &stdout, &bytes.Buffer{})
	return stdout.String(), err
}

func TestKeysCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	out, err := runKeys(t, "init", "--dir", dir)
	require.NoError(t, err)
	require.Contains(t, out, "made "+filepath.Join(dir, "card.key")+" (processors only, mode 0600)\n")
	require.Contains(t, out, "made "+filepath.Join(dir, "card.pub")+" (the upload side: ingest, the upload API)\n")
	require.Contains(t, out, "made "+filepath.Join(dir, "upload.key")+" (the upload side only, mode 0600)\n")
	first, err := secret.ReadCardKeys(filepath.Join(dir, "card.key"))
	require.NoError(t, err)
	require.Len(t, first, 1)
	a := first[0].ID
	require.Contains(t, out, "card.pub   "+a+" (uploads seal to "+a+")\n")

	out, err = runKeys(t, "init", "--dir", dir)
	require.NoError(t, err)
	require.Contains(t, out, "has its keys already; nothing made")

	out, err = runKeys(t, "rotate", "--dir", dir)
	require.NoError(t, err)
	now, err := secret.ReadCardKeys(filepath.Join(dir, "card.key"))
	require.NoError(t, err)
	require.Len(t, now, 2)
	b := now[1].ID
	require.True(t, strings.HasPrefix(out, "added card key "+b+", last in card.key and card.pub."), out)
	require.Contains(t, out, "payrun keys retire --key-id "+a+" --dir "+dir)

	out, err = runKeys(t, "list", "--dir", dir)
	require.NoError(t, err)
	require.Equal(t, "card.key   "+a+", "+b+"\ncard.pub   "+a+", "+b+" (uploads seal to "+b+")\nupload.key row digest and card fingerprint keys\n", out)

	out, err = runKeys(t, "retire", "--key-id", a, "--dir", dir)
	require.NoError(t, err)
	require.Contains(t, out, "card.pub   "+b+" (uploads seal to "+b+")\n")

	_, err = runKeys(t, "retire", "--key-id", b, "--dir", dir)
	require.ErrorContains(t, err, "the only one")
	require.Equal(t, cli.ExitFailed, cli.ExitCode(err))

	for _, args := range [][]string{{}, {"frobnicate"}, {"retire", "--dir", dir}, {"list", "--key-id", a}, {"list", "extra"}} {
		_, err := runKeys(t, args...)
		require.Equal(t, cli.ExitUsage, cli.ExitCode(err), "%q", args)
	}
	_, err = runKeys(t, "list", "--dir", t.TempDir())
	require.ErrorContains(t, err, "no key files in")
	fi, err := os.Stat(filepath.Join(dir, "card.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}
