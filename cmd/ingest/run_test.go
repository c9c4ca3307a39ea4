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

	"github.com/payrun/payrun/internal/secret"
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
	require.Equal(t, file+": the failed rows and their lines written to "+out+"; fix them in "+file+" and upload it again", lines[10])
	report, err := os.ReadFile(out)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(report), "\uFEFFline;reference;method;amount;"), "excel-ru by default")
	require.Contains(t, string(report), "\r\n4;A-3;card;1500,555;;Ivan Petrov;424242******4242;amount;\"amount: \"\"1500.555\"\" has more than 2 decimal places\"\r\n")
	require.Len(t, strings.Split(strings.TrimSpace(string(report)), "\r\n"), 1+9, "the header and the failed rows")

	// --csv-dialect rfc4180.
	code, _, _ = run(t, "--validate", file, "--errors-csv", out, "--csv-dialect", "rfc4180")
	require.Equal(t, 2, code)
	report, err = os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(report), "\r\n4,A-3,card,1500.555,,Ivan Petrov,424242******4242,amount,\"amount: \"\"1500.555\"\" has more than 2 decimal places\"\r\n")

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
	keys := testKeys(t)
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"no file", []string{"--validate"}, "ingest: give exactly one FILE", 2},
		{"two files", []string{"--validate", sample, sample}, "ingest: give exactly one FILE", 2},
		{"missing file", []string{"--validate", filepath.Join(dir, "nope.csv")}, "no such file", 1},
		{"bad flag", []string{"--frobnicate", sample}, "flag provided but not defined", 2},
		{"bad progress", []string{"--progress", "sometimes", sample}, `ingest: --progress "sometimes": use auto, always or never`, 2},
		{"bad schedule", []string{"--schedule-at", "tomorrow", sample}, "--schedule-at: schedule \"tomorrow\" is not an RFC 3339 time", 2},
		{"bad max amount", []string{"--max-amount", "lots", sample}, `--max-amount "lots"`, 2},
		{"no public key", []string{"--card-public-key", filepath.Join(dir, "card.pub"), "--upload-key", filepath.Join(keys, "upload.key"), sample},
			"ingest: card public keys: open " + filepath.Join(dir, "card.pub") + ": no such file or directory; copy card.pub and upload.key from where the keys were made (payrun keys init), or point --card-public-key and --upload-key at them", 1},
		{"no upload key", []string{"--card-public-key", filepath.Join(keys, "card.pub"), "--upload-key", filepath.Join(dir, "upload.key"), sample},
			"ingest: upload keys: open " + filepath.Join(dir, "upload.key") + ": no such file or directory", 1},
		{"keys swapped", []string{"--card-public-key", filepath.Join(keys, "upload.key"), "--upload-key", filepath.Join(keys, "card.pub"), sample},
			`ingest: card public keys ` + filepath.Join(keys, "upload.key") + `: PEM block 1 is "PAYRUN ROW DIGEST KEY", want "PAYRUN CARD PUBLIC KEY"`, 1},
		{"nats unreachable", []string{"--card-public-key", filepath.Join(keys, "card.pub"), "--upload-key", filepath.Join(keys, "upload.key"), "--nats-url", "nats://127.0.0.1:1", sample},
			"ingest: cannot reach NATS at nats://127.0.0.1:1", 1},
		{"bad method", []string{"--method", "cash", sample}, `--method "cash": use card, token, encrypted_card or transfer`, 2},
		{"bad lang", []string{"--lang", "de", sample}, `--lang: language "de": use ru or en`, 2},
		{"bad dialect", []string{"--csv-dialect", "excel", sample}, `--csv-dialect: CSV dialect "excel": use excel-ru or rfc4180`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.args...)
			require.Equal(t, tt.code, code, stderr)
			require.Contains(t, stderr, tt.want)
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, stdout, stderr := run(t, "-h")
	require.Equal(t, 0, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "usage: ingest [flags] FILE")
	code, stdout, _ = run(t, "--version")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(stdout, "ingest "), stdout)
}

// testKeys makes a folder with the upload side's key files only: card.pub
// and upload.key, no private key (ingest seals, it never opens).
func testKeys(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	_, err := secret.EnsureKeys(dir)
	require.NoError(t, err)
	require.NoError(t, os.Rename(filepath.Join(dir, "card.key"), filepath.Join(t.TempDir(), "card.key")))
	return dir
}

func TestPublish(t *testing.T) {
	e := testutil.NATS(t)
	keys := testKeys(t)
	key := []string{"--card-public-key", filepath.Join(keys, "card.pub"), "--upload-key", filepath.Join(keys, "upload.key")}
	args := append(append([]string{"--nats-url", e.URL()}, key...), "--name", "November",
		"--schedule-at", "2026-12-25T09:00:00+03:00", "--require-approval", "--expect-count", "23", sample)

	code, stdout, stderr := run(t, args...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "batch:    bb4963472404661e1edc1\n")
	require.Contains(t, stdout, "name:     November\nschedule: 2026-12-25T09:00:00+03:00\napproval: required\n")
	require.True(t, strings.HasSuffix(stdout, "status:   published 23 rows and sealed the batch\n"), stdout)

	// Again: recognised, nothing published.
	code, stdout, stderr = run(t, append(append([]string{"--nats-url", e.URL()}, key...), sample)...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "status:   already ingested at ")
	require.Contains(t, stdout, "; nothing published\n")
	require.Contains(t, stdout, "name:     November\n", "the existing batch's options")

	// A control total on a file in several currencies is a file error.
	code, _, stderr = run(t, append(append([]string{"--nats-url", e.URL()}, key...), "--expect-total", "10", sample)...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, sample+": a control total needs a file in one currency; this file has KGS, RUB, TRY, USD\n")
}

// TestRussianExport: a 1C export with Russian headers, no method column
// and a totals line validates as it is.
func TestRussianExport(t *testing.T) {
	code, stdout, stderr := run(t, "--validate", "--method", "card", "../../internal/batch/testdata/golden/1c_totals.csv")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "rows:     5\ntotal:    324950.75 RUB\nchecked:  totals line 7 (Итого): 5 rows, 324950.75 RUB\n")
	code, _, stderr = run(t, "--validate", "--lang", "ru", "../../internal/batch/testdata/golden/1c_totals_wrong.csv")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "1c_totals_wrong.csv:7: в строке итогов число строк 6, а в файле над ней строк: 5\n")
}
