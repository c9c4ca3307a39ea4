// Command payrun runs the whole system in one process, and makes keys.
//
//	payrun demo   pay samples/payroll.csv through the sandbox bank and write the reconciliation report
//	payrun up     run everything until stopped, with the upload and report endpoints on a local port
//	payrun keys   make and rotate the keys that seal card numbers (README "Keys")
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/payrun/payrun/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	cli.Exit("payrun", err)
}

const usageText = `payrun pays payroll and mass-payout files through Bank 131.

Usage:

	payrun demo [--file samples/payroll.csv] [--data payrun-data]   pay a file through the sandbox bank, print the summary, write the report
	payrun up   [--listen 127.0.0.1:8080] [--webhook-listen 127.0.0.1:8081] [--data payrun-data/up]   run everything until stopped (uploads, reports, metrics; the bank's webhooks on their own listener)
	payrun keys init|rotate|retire|list [--dir payrun-data/up]      make and rotate the keys that seal card numbers
	payrun --version

Run "payrun COMMAND -h" for a command's flags. The separate commands for production are
ingest, ledger, processor, hookrelay and bank131-sandbox.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return &cli.UsageError{Err: fmt.Errorf("no command"), Reported: true}
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stderr, usageText)
		return nil
	case "version", "-version", "--version":
		return cli.ErrVersion
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "up":
		return up(ctx, args[1:], stdout, stderr)
	case "keys":
		return keys(args[1:], stdout, stderr)
	}
	return cli.Usagef("unknown command %q (want demo, up or keys)", args[0])
}
