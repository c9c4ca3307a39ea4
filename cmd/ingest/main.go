// Command ingest validates a payout file completely and then reads it into
// JetStream as one batch. See the README's "ingest" section.
//
//	ingest [flags] FILE
//	ingest template --method METHOD [--lang ru|en] [--format csv|xlsx] [--out FILE]
//
// Exit status: 0 published (or already there, or valid with --validate),
// 3 the file is invalid (nothing published), 2 bad flags, 1 cannot run.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
