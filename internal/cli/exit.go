package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/payrun/payrun/internal/buildinfo"
)

// Exit statuses of every payrun command (ingest adds 3: the file is
// invalid).
const (
	ExitOK     = 0 // done; also -h and --version
	ExitFailed = 1 // could not run or start: a missing key, a port in use, NATS unreachable
	ExitUsage  = 2 // called wrongly: an unknown flag, a bad flag value, a missing or extra argument
)

// ErrVersion is returned by Parse when --version was given: the command
// stops, and Report prints the version.
var ErrVersion = errors.New("version requested")

// UsageError is a command called wrongly. Its exit status is ExitUsage.
type UsageError struct {
	Err error
	// Reported is set when the flag package already printed the error
	// and the usage.
	Reported bool
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a usage error.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Parse parses args into fs, adding the flag every command has
// (--version). It returns flag.ErrHelp for -h (the flag package printed the
// usage), ErrVersion for --version, a *UsageError for what the flag package
// refused (printed already, with the usage), or nil.
// Parse may be called again on the same fs (ingest parses flags around
// its file name).
func Parse(fs *flag.FlagSet, args []string) error {
	if fs.Lookup("version") == nil {
		fs.Bool("version", false, "print the version and exit")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Err: err, Reported: true}
	}
	if v, ok := fs.Lookup("version").Value.(flag.Getter); ok && v.Get() == true {
		return ErrVersion
	}
	return nil
}

// NoArgs parses args like Parse and refuses positional arguments.
func NoArgs(fs *flag.FlagSet, args []string) error {
	if err := Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected arguments %q", fs.Args())
	}
	return nil
}

// ExitCode is the exit status for what a command returned: ExitOK for nil,
// flag.ErrHelp and ErrVersion, ExitUsage for a *UsageError, ExitFailed for
// any other error.
func ExitCode(err error) int {
	var usage *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp), errors.Is(err, ErrVersion):
		return ExitOK
	case errors.As(err, &usage):
		return ExitUsage
	}
	return ExitFailed
}

// Report prints what a command returned, the way every payrun command
// ends: the version on stdout for ErrVersion, the error as one line
// "name: error" on stderr (an error of several lines, errors.Join's, is
// joined with "; ") (unless the flag package printed it), and
// returns the exit status.
func Report(name string, err error, stdout, stderr io.Writer) int {
	var usage *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, ErrVersion):
		fmt.Fprintln(stdout, name, buildinfo.Read())
	case errors.As(err, &usage) && usage.Reported:
	default:
		fmt.Fprintf(stderr, "%s: %s\n", name, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return ExitCode(err)
}

// Exit ends the process the way Report says.
func Exit(name string, err error) {
	os.Exit(Report(name, err, os.Stdout, os.Stderr))
}
