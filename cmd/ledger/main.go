// Command ledger runs payrun's system of record and talks to it:
//
//	ledger run     --db FILE --nats-url URL   run intake, release, API and sweeper until SIGTERM
//	ledger status  [--db FILE | --nats-url URL] [--batch ID]
//	ledger cancel  --batch ID [--row N] --reason TEXT   (via NATS, or the ledger's HTTP API with --url or --row)
//	ledger approve --batch ID [--row N]       (via NATS, or HTTP; --row releases a row the duplicate guard held)
//	ledger hold|resume   --batch ID [--row N] --reason TEXT   (the ledger's HTTP API)
//	ledger release|drop  --batch ID --row N --reason TEXT     (a row the duplicate guard held; HTTP)
//	ledger resubmit --batch ID (--rows 1,2|--failed) --reason TEXT   (failed rows as a child batch; HTTP)
//	ledger report  --batch ID --format csv|json|xlsx [--out FILE]   (read-only)
//	ledger import-report FILE|URL|-           (the bank's daily report; via NATS, or --db)
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
		"hold":          &decideCommand{name: "hold"},
		"resume":        &decideCommand{name: "resume"},
		"release":       &decideCommand{name: "release"},
		"drop":          &decideCommand{name: "drop"},
		"resubmit":      &decideCommand{name: "resubmit"},
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

	ledger run     --db FILE --nats-url URL [--http ADDR] [--stuck-after D] [--poll-after D] [--doubt-deadline D] [--release-interval D]
	               [--repeat-retention D] [--duplicate-window D] [--held-need-approval] [--breaker-failures N --breaker-window N]
	ledger status  [--db FILE | --nats-url URL] [--batch ID] [--json]
	ledger cancel  --batch ID [--row N] --reason TEXT [--by NAME] [--url URL | --nats-url URL]
	ledger approve --batch ID [--row N --reason TEXT] [--by NAME] [--url URL | --nats-url URL]
	ledger hold     --batch ID [--row N] --reason TEXT [--by NAME] [--url URL]
	ledger resume   --batch ID [--row N] --reason TEXT [--by NAME] [--url URL]
	ledger release  --batch ID --row N --reason TEXT [--by NAME] [--url URL]
	ledger drop     --batch ID --row N --reason TEXT [--by NAME] [--url URL]
	ledger resubmit --batch ID (--rows 1,2,5 | --failed) --reason TEXT [--by NAME] [--url URL]
	ledger report  --batch ID [--format csv|json|xlsx] [--out FILE] [--db FILE]
	ledger import-report [--nats-url URL | --db FILE] [--date YYYY-MM-DD]... FILE|URL|-

Run "ledger COMMAND -h" for a command's flags.
`)
}
