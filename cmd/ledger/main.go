// Command ledger runs payrun's system of record and talks to it:
//
//	ledger run     --db FILE --nats-url URL   run intake, release, API and sweeper until SIGTERM
//	ledger status  [--db FILE | --nats-url URL] [--batch ID]
//	ledger approve|reject|cancel --batch ID   (a person's decision, through the HTTP API with a token)
//	ledger cancel|approve --batch ID --row N  (a row: cancel it; release a row the duplicate guard held)
//	ledger hold|resume   --batch ID [--row N] --reason TEXT   (through the HTTP API with a token)
//	ledger release|drop  --batch ID --row N --reason TEXT     (a row the duplicate guard held)
//	ledger resubmit --batch ID (--rows 1,2|--failed) --reason TEXT   (failed rows as a child batch)
//	ledger report  --batch ID --format csv|summary.csv|json|xlsx [--lang en|ru] [--out FILE]   (read-only)
//	ledger import-report FILE|URL|- [FILE...]  (the bank's daily report, or its parts; through the HTTP API, or --db)
//	ledger import-report --watch DIR          (every report that appears in an SFTP drop folder; a component, over NATS)
//	ledger users|tokens|policy ...            (on the ledger's host, against its database)
//	ledger audit   [--batch ID] [--since DAY] (the audit log: --db on the host, or the HTTP API)
//	ledger migrate --db FILE [--dry-run]      (apply, or list, the schema migrations without running)
//	ledger restore --replica URL --db FILE    (bring a ledger back from its Litestream replica)
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
		"reject":        &batchCommand{name: "reject"},
		"users":         &hostCommand{name: "users"},
		"tokens":        &hostCommand{name: "tokens"},
		"policy":        &hostCommand{name: "policy"},
		"audit":         &auditCommand{},
		"report":        &reportCommand{},
		"import-report": &importReportCommand{},
		"hold":          &decideCommand{name: "hold"},
		"resume":        &decideCommand{name: "resume"},
		"release":       &decideCommand{name: "release"},
		"drop":          &decideCommand{name: "drop"},
		"resubmit":      &decideCommand{name: "resubmit"},
		"migrate":       &migrateCommand{},
		"restore":       &restoreCommand{},
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

	ledger run     --db FILE --nats-url URL [--http ADDR --host NAME... --card-public-key FILE --upload-key FILE] [--stuck-after D] [--poll-after D] [--doubt-deadline D] [--release-interval D] [--report-zone Z] [--report-parts N]
	               [--repeat-retention D] [--duplicate-window D] [--held-need-approval] [--breaker-failures N --breaker-window N]
	ledger status  [--db FILE | --nats-url URL] [--batch ID] [--json]
	ledger approve --batch ID [--sha256 HEX --totals RUB=1500.00] [--api URL] [--token-file FILE]
	ledger reject  --batch ID --reason TEXT [--api URL] [--token-file FILE]
	ledger cancel  --batch ID --reason TEXT [--api URL] [--token-file FILE]
	ledger cancel|approve --batch ID --row N --reason TEXT [--api URL] [--token-file FILE]
	ledger hold     --batch ID [--row N] --reason TEXT [--api URL] [--token-file FILE]
	ledger resume   --batch ID [--row N] --reason TEXT [--api URL] [--token-file FILE]
	ledger release  --batch ID --row N --reason TEXT [--api URL] [--token-file FILE]
	ledger drop     --batch ID --row N --reason TEXT [--api URL] [--token-file FILE]
	ledger resubmit --batch ID (--rows 1,2,5 | --failed) --reason TEXT [--api URL] [--token-file FILE]
	ledger report  --batch ID [--format csv|summary.csv|json|xlsx] [--lang en|ru] [--csv-dialect excel-ru|rfc4180] [--zone Z] [--out FILE] [--db FILE]
	ledger import-report [--api URL --token-file FILE | --db FILE] [--date YYYY-MM-DD]... FILE|URL|- [FILE...]
	ledger import-report [--nats-url URL | --db FILE] --watch DIR [--settle D] [--interval D]
	ledger users   add|list|disable|enable|roles|password|totp [--db FILE] ...
	ledger tokens  create|list|revoke [--db FILE] ...
	ledger policy  show|set [--db FILE] [FILE|-]
	ledger audit   [--db FILE | --api URL --token-file FILE] [--batch ID] [--since DAY] [--format csv|json] [--verify]
	ledger migrate --db FILE [--dry-run]
	ledger restore --replica URL --db FILE [--litestream PATH]

A person's commands (approve, reject, cancel, import-report, audit) go through the
authenticated HTTP API of "ledger run --http" with an API token (--token-file or
$PAYRUN_TOKEN); users, tokens and policy are set on the ledger's host.

Run "ledger COMMAND -h" for a command's flags; "ledger --version" prints the build.
`)
}
