package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Duration("wait", 0, "wait this long")
		return fs
	}
	tests := []struct {
		args     []string
		noArgs   bool
		want     error
		code     int
		reported bool
	}{
		{args: nil, want: nil, code: ExitOK},
		{args: []string{"-h"}, want: flag.ErrHelp, code: ExitOK},
		{args: []string{"--help"}, want: flag.ErrHelp, code: ExitOK},
		{args: []string{"--version"}, want: ErrVersion, code: ExitOK},
		{args: []string{"-version", "--wait", "1s"}, want: ErrVersion, code: ExitOK},
		{args: []string{"--nope"}, code: ExitUsage, reported: true},
		{args: []string{"--wait", "soon"}, code: ExitUsage, reported: true},
		{args: []string{"extra"}, want: nil, code: ExitOK},
		{args: []string{"extra"}, noArgs: true, code: ExitUsage},
	}
	for _, tt := range tests {
		name := fmt.Sprint(tt.args, tt.noArgs)
		parse := Parse
		if tt.noArgs {
			parse = NoArgs
		}
		err := parse(newFS(), tt.args)
		require.Equal(t, tt.code, ExitCode(err), name)
		if tt.code == ExitUsage {
			var u *UsageError
			require.ErrorAs(t, err, &u, name)
			require.Equal(t, tt.reported, u.Reported, name)
			continue
		}
		require.ErrorIs(t, err, tt.want, name)
	}
}

func TestReport(t *testing.T) {
	tests := []struct {
		name           string
		err            error
		code           int
		stdout, stderr string
	}{
		{"ok", nil, 0, "", ""},
		{"help", flag.ErrHelp, 0, "", ""},
		{"wrapped help", fmt.Errorf("x: %w", flag.ErrHelp), 0, "", ""},
		{"usage", Usagef("--format %q: want csv", "pdf"), 2, "", "cmd: --format \"pdf\": want csv\n"},
		{"usage the flag package printed", &UsageError{Err: errors.New("flag provided but not defined: -x"), Reported: true}, 2, "", ""},
		{"failure", errors.New("listen tcp 127.0.0.1:8080: bind: address already in use"), 1, "",
			"cmd: listen tcp 127.0.0.1:8080: bind: address already in use\n"},
		{"several lines become one", errors.Join(errors.New("stop processor: x"), errors.New("close ledger: y")), 1, "",
			"cmd: stop processor: x; close ledger: y\n"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		require.Equal(t, tt.code, Report("cmd", tt.err, &stdout, &stderr), tt.name)
		require.Equal(t, tt.stdout, stdout.String(), tt.name)
		require.Equal(t, tt.stderr, stderr.String(), tt.name)
	}
	var stdout bytes.Buffer
	require.Equal(t, 0, Report("cmd", ErrVersion, &stdout, io.Discard))
	require.True(t, strings.HasPrefix(stdout.String(), "cmd "), stdout.String())
	require.Equal(t, 1, strings.Count(stdout.String(), "\n"))
}

func TestLogFormatIsAUsageError(t *testing.T) {
	l := LogFlags{Format: "xml"}
	_, err := l.Logger(io.Discard)
	require.Equal(t, ExitUsage, ExitCode(err))
	require.EqualError(t, err, `--log-format: log format "xml" is not auto, text or json`)
}
