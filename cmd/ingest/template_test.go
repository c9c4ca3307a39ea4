package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTemplate: ingest template writes each method's template, which
// ingest refuses as it is (the example row) and validates once its
// example row is a payout.
func TestTemplate(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"card", "token", "encrypted_card", "transfer"} {
		for _, lang := range []string{"en", "ru"} {
			for _, format := range []string{"csv", "xlsx"} {
				out := filepath.Join(dir, m+"-"+lang+"."+format)
				code, stdout, stderr := run(t, "template", "--method", m, "--lang", lang, "--format", format, "--out", out)
				require.Equal(t, 0, code, stderr)
				require.Empty(t, stdout)
				code, _, stderr = run(t, "--validate", "--lang", lang, out)
				require.Equal(t, 2, code, stderr)
				require.Contains(t, stderr, out+`:2: reference: "EXAMPLE-1"`)
				if format == "csv" {
					data, err := os.ReadFile(out)
					require.NoError(t, err)
					require.NoError(t, os.WriteFile(out, []byte(strings.Replace(string(data), "EXAMPLE-1", "E-001/2026-11", 1)), 0o600))
					code, stdout, stderr = run(t, "--validate", out)
					require.Equal(t, 0, code, stderr)
					require.Contains(t, stdout, "rows:     1\n")
				}
			}
		}
	}
	code, stdout, _ := run(t, "template", "--method", "card")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(stdout, "reference,full_name,card_number,amount,"), stdout)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"template"}, `--method "": use card, token, encrypted_card or transfer`},
		{[]string{"template", "--method", "card", "--format", "pdf"}, `--format: template format "pdf": use csv or xlsx`},
		{[]string{"template", "--method", "card", "--lang", "de"}, `--lang: language "de": use ru or en`},
		{[]string{"template", "--method", "card", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, stderr := run(t, tt.args...)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, tt.want)
	}
}
