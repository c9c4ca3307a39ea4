// Command processor pays released rows through Bank 131: it consumes pay and
// poll jobs and verified webhooks from JetStream, calls the bank through one
// rate limiter, and records every step in the ledger.
//
//	processor --nats-url URL --bank-url URL --project NAME --private-key FILE [--rate R --burst B]
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/payrun/payrun/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	cli.Exit("processor", err)
}
