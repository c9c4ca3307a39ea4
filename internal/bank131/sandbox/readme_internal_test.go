package sandbox

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEListsEveryMode keeps the conformance page honest: every mode
// of modeSpecs is in its modes table with all its values, default first,
// and in the conformance table.
func TestREADMEListsEveryMode(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(b)
	_, conformance, ok := strings.Cut(readme, "## Conformance table")
	require.True(t, ok)
	conformance, _, _ = strings.Cut(conformance, "## Modes")
	for _, spec := range modeSpecs {
		quoted := make([]string, len(spec.values))
		for i, v := range spec.values {
			quoted[i] = "`" + v + "`"
		}
		row := regexp.MustCompile("(?m)^\\| `--" + regexp.QuoteMeta(spec.flag) + "` \\| `[A-Za-z]+` \\| " + regexp.QuoteMeta(strings.Join(quoted, ` \| `)) + " \\|$")
		require.Regexp(t, row, readme, "the modes table lists --%s with %v", spec.flag, spec.values)
		require.Contains(t, conformance, "(`--"+spec.flag+"`", "the conformance table names --%s", spec.flag)
	}
	rows := regexp.MustCompile(`(?m)^\| \d+ \|`).FindAllString(conformance, -1)
	require.GreaterOrEqual(t, len(rows), 90)
}
