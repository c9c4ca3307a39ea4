// Command hookrelay receives Bank 131's webhooks, verifies their signature
// with the bank's public key and publishes them to JetStream.
//
//	hookrelay --listen 127.0.0.1:8080 --bank-public-key FILE --nats-url URL
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
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "hookrelay:", err)
		}
		os.Exit(1)
	}
}
