package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/queue"
)

// batchCommand sends cancel or approve to the running ledger: over NATS
// (the ledger is the database's only writer), or with --url or --row to
// its HTTP API (decide.go).
type batchCommand struct {
	name string
}

func (c *batchCommand) Usage() { fmt.Fprintln(os.Stderr, "usage: "+decideUsage[c.name]) }

func (c *batchCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger "+c.name, flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	dc := &decideCommand{name: c.name}
	var d decision
	dc.flags(fs, &d)
	url := fs.String("nats-url", cli.NATSURL(), "NATS server `URL`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if d.batch == "" {
		fs.Usage()
		return errors.New("--batch is required")
	}
	if c.name == "cancel" && d.reason == "" {
		fs.Usage()
		return errors.New("--reason is required")
	}
	overHTTP := d.row > 0
	fs.Visit(func(f *flag.Flag) { overHTTP = overHTTP || f.Name == "url" })
	if overHTTP {
		if err := dc.check(&d, ""); err != nil {
			fs.Usage()
			return err
		}
		return dc.send(ctx, d)
	}
	nc, err := queue.Connect(*url, "payrun-ledger-"+c.name)
	if err != nil {
		return err
	}
	defer nc.Close()
	client := ledgerapi.NewClient(nc, 2*time.Minute)
	cmd := ledgerapi.BatchCommand{Batch: d.batch, By: d.by, Reason: d.reason}
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
