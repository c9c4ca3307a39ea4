// Command hookrelay receives Bank 131's webhooks, verifies their signature
// with the bank's public key and publishes them to JetStream.
//
//	hookrelay --listen 127.0.0.1:8080 --bank-public-key FILE --nats-url URL
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
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	cli.Exit("hookrelay", err)
}
