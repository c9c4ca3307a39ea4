package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDemo runs the README's demo end to end: the sample payroll through
// the embedded system and the sandbox bank, 3-D Secure completed, the
// summary printed and the reconciliation report written.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := demo(ctx, []string{"--data", dir, "--file", "../../samples/payroll.csv", "--keys", "../../samples/keys"}, &stdout, &stderr)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	out := stdout.String()
	require.Contains(t, out, "summary of bb4963472404661e1edc1 (done): failed 3 · succeeded 20")
	require.Equal(t, 6, strings.Count(out, "3-D Secure: T-"), out)
	require.Contains(t, out, "E-015/2026-11  failed    52000.00 RUB  The recipient's card has expired.")
	require.Contains(t, out, "bank report payrun_")
	require.Contains(t, out, "bank report payrun-card_")
	require.Regexp(t, `fees       \d+\.\d\d RUB \(the bank's, 20 rows\)`, out, "every paid row has the bank's fee")
	require.Regexp(t, `commission \d+\.\d\d RUB \(the transfers' quotes, 6 rows\)`, out)
	require.Contains(t, out, "reconciled matched 23 · awaiting_bank 0 · awaiting_report 0 · exception 0")
	// Four eyes: the maker uploaded through the API, the checker approved.
	require.Contains(t, out, "people:   admin (token in ")
	require.Contains(t, out, "approval: uploaded by mia; approved by carl (1 of 1), bound to sha256 b4963472404661e1…")
	tok, err := filepath.Glob(filepath.Join(dir, "demo-*", "admin.token"))
	require.NoError(t, err)
	require.Len(t, tok, 1)
	st, err := os.Stat(tok[0])
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	reports, err := filepath.Glob(filepath.Join(dir, "demo-*", "payrun-report-bb4963472404661e1edc1*"))
	require.NoError(t, err)
	base := filepath.Join(filepath.Dir(reports[0]), "payrun-report-bb4963472404661e1edc1")
	var names []string
	for _, r := range reports {
		names = append(names, strings.TrimPrefix(r, base))
	}
	require.ElementsMatch(t, []string{".csv", "-summary.csv", ".xlsx", "-ru.csv", "-ru-summary.csv", "-ru.xlsx"}, names,
		"the English report and the Russian one next to it: rows, summary, workbook")
	for _, r := range reports {
		require.Contains(t, out, r, "the demo prints where it wrote each")
	}
	summary, err := os.ReadFile(base + "-summary.csv")
	require.NoError(t, err)
	require.Contains(t, string(summary), "reconciliation,matched,,23", "every row matched against the bank's report")
	csv, err := os.ReadFile(base + ".csv")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(csv)), "\r\n")
	require.Len(t, lines, 24, "a header and a line per row")
	paid := 0
	for _, l := range lines[1:] { // every paid row has the fee of the bank's report
		f := strings.Split(l, ",")
		if f[7] == "succeeded" {
			paid++
			require.NotEmpty(t, f[8], "fee of %s", l)
		}
	}
	require.Equal(t, 20, paid)
	ru, err := os.ReadFile(base + "-ru.csv")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(ru), "\uFEFFСтрока;Номер;"), "excel-ru, Russian headers")
	require.Contains(t, string(ru), ";выплачено;")
	require.Contains(t, string(ru), "Срок действия карты получателя истёк.")

	// No full card number anywhere in the data folder: JetStream store,
	// ledger, logs, reports.
	pans := []string{"4242424242424242", "5555555555554444", "2200000000000004", "4111111111111111",
		"5105105105105100", "4000056655665556", "4000000000000028", "4000000000000002"}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, pan := range pans {
			require.NotContains(t, string(b), pan, path)
		}
		return nil
	}))
}
