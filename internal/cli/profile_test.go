package cli

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProfileFlag: without --cpuprofile nothing is written; with it the
// profile is in the file once stopped; a file that cannot be made is an
// error naming the flag.
func TestProfileFlag(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string // file expected, "" for none
		err  string
	}{
		{nil, "", ""},
		{[]string{"--cpuprofile", filepath.Join(dir, "cpu.prof")}, filepath.Join(dir, "cpu.prof"), ""},
		{[]string{"--cpuprofile", filepath.Join(dir, "missing", "cpu.prof")}, "", "--cpuprofile"},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		var p ProfileFlag
		p.Register(fs)
		require.NoError(t, fs.Parse(c.args))
		stop, err := p.Start()
		if c.err != "" {
			require.ErrorContains(t, err, c.err)
			continue
		}
		require.NoError(t, err)
		stop()
		if c.want != "" {
			st, err := os.Stat(c.want)
			require.NoError(t, err)
			require.NotZero(t, st.Size(), "a profile was written")
		}
	}
}
