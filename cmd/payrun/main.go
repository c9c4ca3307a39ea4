// Command payrun runs the whole system in one process.
//
//	payrun demo   pay samples/payroll.csv through the sandbox bank and write the reconciliation report
//	payrun up     run everything until stopped, with the upload and report endpoints on a local port
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "payrun:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, `payrun pays payroll and mass-payout files through Bank 131.

Usage:

	payrun demo [--file samples/payroll.csv] [--data payrun-data]   pay a file through the sandbox bank, print the summary, write the report
	payrun up   [--listen 127.0.0.1:8080] [--webhook-listen 127.0.0.1:8081] [--data payrun-data/up]   run everything until stopped (uploads, reports, metrics; the bank's webhooks on their own listener)

Run "payrun COMMAND -h" for a command's flags. The separate commands for production are
ingest, ledger, processor, hookrelay and bank131-sandbox.
`)
		if len(args) == 0 {
			return flag.ErrHelp
		}
		return nil
	}
	switch args[0] {
	case "demo":
		return demo(ctx, args[1:], os.Stdout, os.Stderr)
	case "up":
		return up(ctx, args[1:], os.Stdout, os.Stderr)
	}
	return fmt.Errorf("unknown command %q (want demo or up)", args[0])
}
