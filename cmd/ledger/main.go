// Command ledger runs payrun's system of record and talks to it:
//
//	ledger run     --db FILE --nats-url URL   run intake, release, API and sweeper until SIGTERM
//	ledger status  [--db FILE | --nats-url URL] [--batch ID]
//	ledger cancel  --batch ID --reason TEXT   (via NATS, to the running ledger)
//	ledger approve --batch ID                 (via NATS, to the running ledger)
//	ledger report  --batch ID --format csv|json|xlsx [--out FILE]   (read-only)
//	ledger import-report FILE|URL|- [FILE...]  (the bank's daily report, or its parts; via NATS, or --db)
//	ledger import-report --watch DIR          (every report that appears in an SFTP drop folder)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand.
type command interface {
	Run(ctx context.Context, args []string) error
	Usage()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ledger:", err)
		}
		os.Exit(1)
	}
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
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		if len(args) == 0 {
			return flag.ErrHelp
		}
		return nil
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		usage()
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd.Run(ctx, args[1:])
}

func usage() {
	fmt.Fprint(os.Stderr, `ledger is payrun's system of record.

Usage:

	ledger run     --db FILE --nats-url URL [--http ADDR] [--stuck-after D] [--poll-after D] [--doubt-deadline D] [--release-interval D] [--report-zone Z] [--report-parts N]
	ledger status  [--db FILE | --nats-url URL] [--batch ID] [--json]
	ledger cancel  --batch ID --reason TEXT [--nats-url URL]
	ledger approve --batch ID [--nats-url URL]
	ledger report  --batch ID [--format csv|json|xlsx] [--out FILE] [--db FILE]
	ledger import-report [--nats-url URL | --db FILE] [--date YYYY-MM-DD]... FILE|URL|- [FILE...]
	ledger import-report [--nats-url URL | --db FILE] --watch DIR [--settle D] [--interval D]

Run "ledger COMMAND -h" for a command's flags.
`)
}
