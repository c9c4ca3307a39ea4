package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/testutil"
)

const sample = "../../samples/payroll.csv"

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestValidateOnly(t *testing.T) {
	code, stdout, stderr := run(t, "--validate", "--offline", sample)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, `batch:    bb4963472404661e1edc1
file:     payroll.csv
rows:     23
total:    15000.00 KGS
total:    1079332.77 RUB
total:    12500.00 TRY
total:    300.00 USD
sha256:   b4963472404661e1edc1f6cdea321627469d02fa9781a4f4270aa3e5a076d36e
repeats:  not run: --offline; only this file was checked
status:   valid; not published (--validate)
`, stdout)
	require.Empty(t, stderr)

	// Without a reachable NATS the cross-file check is not run, and says so.
	code, stdout, stderr = run(t, "--validate", "--nats-url", "nats://127.0.0.1:1", sample)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "repeats:  not run: no NATS at nats://127.0.0.1:1; only this file was checked\n")
}

func TestInvalidFile(t *testing.T) {
	file := "../../internal/batch/testdata/validate/amounts.csv"
	out := filepath.Join(t.TempDir(), "errors.csv")
	code, stdout, stderr := run(t, "--validate", file, "--errors-csv", out)
	require.Equal(t, 2, code)
	require.Empty(t, stdout)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Equal(t, file+`:4: amount: "1500.555" has more than 2 decimal places`, lines[0])
	require.Equal(t, file+`:12: currency: "USD" is not allowed for method card: domestic payouts are in RUB`, lines[8])
	require.Equal(t, file+": 9 errors; nothing published", lines[9])
	require.Equal(t, file+": rows with their errors written to "+out, lines[10])
	report, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(report), `A-3,card,1500.555,,Ivan Petrov,424242******4242,amount,"amount: ""1500.555"" has more than 2 decimal places"`)

	// --json: the same errors for programs, nothing on stderr.
	code, stdout, stderr = run(t, "--validate", "--json", file)
	require.Equal(t, 2, code)
	require.Empty(t, stderr)
	var res struct {
		Status     string `json:"status"`
		ErrorCount int    `json:"error_count"`
		Errors     []struct {
			Line    int    `json:"line"`
			Column  string `json:"column"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Equal(t, "invalid", res.Status)
	require.Equal(t, 9, res.ErrorCount)
	require.Equal(t, 4, res.Errors[0].Line)
	require.Equal(t, "amount", res.Errors[0].Column)
}

func TestErrorsCSVNotWrittenForValidFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "errors.csv")
	code, _, stderr := run(t, "--validate", "--errors-csv", out, sample)
	require.Equal(t, 0, code, stderr)
	_, err := os.Stat(out)
	require.ErrorIs(t, err, os.ErrNotExist)
	left, _ := os.ReadDir(filepath.Dir(out))
	require.Empty(t, left, "no temporary report left behind")
}

func TestCannotRun(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{"--validate"}, "ingest: give exactly one FILE"},
		{"missing file", []string{"--validate", filepath.Join(dir, "nope.csv")}, "no such file"},
		{"bad flag", []string{"--frobnicate", sample}, "flag provided but not defined"},
		{"bad schedule", []string{"--schedule-at", "tomorrow", sample}, "--schedule-at: schedule \"tomorrow\" is not an RFC 3339 time"},
		{"bad max amount", []string{"--max-amount", "lots", sample}, `--max-amount "lots"`},
		{"no key", []string{"--data-key", filepath.Join(dir, "data.key"), sample},
			"no data key at " + filepath.Join(dir, "data.key") + ": set $PAYRUN_DATA_KEY, point --data-key at the key file, or add --create-key"},
		{"nats unreachable", []string{"--data-key", filepath.Join(dir, "k"), "--create-key", "--nats-url", "nats://127.0.0.1:1", sample},
			"ingest: cannot reach NATS at nats://127.0.0.1:1"},
	}
	t.Setenv("PAYRUN_DATA_KEY", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.args...)
			require.Equal(t, 1, code, stderr)
			require.Contains(t, stderr, tt.want)
		})
	}
}

func TestPublish(t *testing.T) {
	e := testutil.NATS(t)
	t.Setenv("PAYRUN_DATA_KEY", "")
	key := filepath.Join(t.TempDir(), "data.key")
	args := []string{"--nats-url", e.URL(), "--data-key", key, "--create-key", "--name", "November",
		"--schedule-at", "2026-12-25T09:00:00+03:00", "--require-approval", "--expect-count", "23", sample}

	code, stdout, stderr := run(t, args...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "batch:    bb4963472404661e1edc1\n")
	require.Contains(t, stdout, "name:     November\nschedule: 2026-12-25T09:00:00+03:00\napproval: required\n")
	require.True(t, strings.HasSuffix(stdout, "status:   published 23 rows and sealed the batch\n"), stdout)
	info, err := os.Stat(key)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	// Again: recognised, nothing published.
	code, stdout, stderr = run(t, "--nats-url", e.URL(), "--data-key", key, sample)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "status:   already ingested at ")
	require.Contains(t, stdout, "; nothing published\n")
	require.Contains(t, stdout, "name:     November\n", "the existing batch's options")

	// A control total on a file in several currencies is a file error.
	code, _, stderr = run(t, "--nats-url", e.URL(), "--data-key", key, "--expect-total", "10", sample)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, sample+": a control total needs a file in one currency; this file has KGS, RUB, TRY, USD\n")
}
