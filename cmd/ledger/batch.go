package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// batchCommand sends cancel or approve to the running ledger over NATS
// (the ledger is the database's only writer).
type batchCommand struct {
	name string
}

func (c *batchCommand) Usage() {
	if c.name == "cancel" {
		fmt.Fprintln(os.Stderr, "usage: ledger cancel --batch ID --reason TEXT [--nats-url URL]")
		return
	}
	fmt.Fprintln(os.Stderr, "usage: ledger approve --batch ID [--nats-url URL]")
}

func (c *batchCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger "+c.name, flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	batch := fs.String("batch", "", "batch `id`")
	reason := fs.String("reason", "", "why (shown in the report)")
	by := fs.String("by", os.Getenv("USER"), "who asks")
	var nf cli.NATSFlags
	nf.Register(fs, cli.NATSURL(), "NATS server `URL`")
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	if *batch == "" {
		fs.Usage()
		return cli.Usagef("--batch is required")
	}
	if c.name == "cancel" && *reason == "" {
		fs.Usage()
		return cli.Usagef("--reason is required")
	}
	nc, err := nf.Connect("payrun-ledger-"+c.name, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	client := ledgerapi.NewClient(nc, 2*time.Minute)
	cmd := ledgerapi.BatchCommand{Batch: *batch, By: *by, Reason: *reason}
	var sum *ledgerapi.BatchSummary
	if c.name == "cancel" {
		sum, err = client.Cancel(ctx, cmd)
	} else {
		sum, err = client.Approve(ctx, cmd)
	}
	if err != nil {
		return err
	}
	return printBatches(os.Stdout, []ledgerapi.BatchSummary{*sum})
}
