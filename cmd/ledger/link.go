package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/recipient"
)

// linkCommand issues a recipient link for a widget row (an encrypted_card
// row uploaded without its card) through the ledger's authenticated HTTP
// API, as the token's person (a maker, on a batch they uploaded). The
// link is printed once; issuing another revokes it.
type linkCommand struct {
	stdout io.Writer // default os.Stdout
}

func (c *linkCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger link --batch ID --row N [--api URL] [--token-file FILE]   a recipient link for a widget row")
}

func (c *linkCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger link", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	batch := fs.String("batch", "", "batch `id`")
	row := fs.Int("row", 0, "row `number` (1-based) of an encrypted_card row waiting for its card")
	var api cli.APIFlags
	api.Register(fs)
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	if *batch == "" || *row < 1 {
		fs.Usage()
		return cli.Usagef("--batch and --row are required")
	}
	client, err := api.Client()
	if err != nil {
		return err
	}
	var a recipient.LinkAnswer
	if err := client.Do(ctx, "POST", "/batches/"+*batch+"/rows/"+strconv.Itoa(*row)+"/link", nil, &a); err != nil {
		return err
	}
	out := c.stdout
	if out == nil {
		out = os.Stdout
	}
	fmt.Fprintf(out, "%s\nopen until %s; send it to the recipient only (it is not shown again)\n", a.URL, a.ExpiresAt.Format(time.RFC3339))
	return nil
}
