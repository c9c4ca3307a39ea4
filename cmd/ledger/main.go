// Command ledger runs payrun's system of record and talks to it:
//
//	ledger run     --db FILE --nats-url URL   run intake, release, API and sweeper until SIGTERM
//	ledger status  [--db FILE | --nats-url URL] [--batch ID]
//	ledger cancel  --batch ID --reason TEXT   (via NATS, to the running ledger)
//	ledger approve --batch ID                 (via NATS, to the running ledger)
//	ledger report  --batch ID --format csv|json|xlsx [--out FILE]   (read-only)
//	ledger import-report FILE|URL|-           (the bank's daily report; via NATS, or --db)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/payrun/payrun/internal/cli"
)

// command is one subcommand.
type command interface {
	Run(ctx context.Context, args []string) error
	Usage()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	cli.Exit("ledger", err)
}

func run(ctx context.Context, args []string) error {
	cmds := map[string]command{
		"run":           &runCommand{},
		"status":        &statusCommand{},
		"cancel":        &batchCommand{name: "cancel"},
		"approve":       &batchCommand{name: "approve"},
		"report":        &reportCommand{},
		"import-report": &importReportCommand{},
	}
	if len(args) == 0 {
		usage()
		return &cli.UsageError{Err: errors.New("no command"), Reported: true}
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage()
		return nil
	case "version", "-version", "--version":
		return cli.ErrVersion
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		usage()
		return cli.Usagef("unknown command %q", args[0])
	}
	return cmd.Run(ctx, args[1:])
}

func usage() {
	fmt.Fprint(os.Stderr, `ledger is payrun's system of record.

Usage:

	ledger run     --db FILE --nats-url URL [--http ADDR] [--stuck-after D] [--poll-after D] [--doubt-deadline D] [--release-interval D]
	ledger status  [--db FILE | --nats-url URL] [--batch ID] [--json]
	ledger cancel  --batch ID --reason TEXT [--nats-url URL]
	ledger approve --batch ID [--nats-url URL]
	ledger report  --batch ID [--format csv|json|xlsx] [--out FILE] [--db FILE]
	ledger import-report [--nats-url URL | --db FILE] [--date YYYY-MM-DD]... FILE|URL|-

Run "ledger COMMAND -h" for a command's flags; "ledger --version" prints the build.
`)
}
