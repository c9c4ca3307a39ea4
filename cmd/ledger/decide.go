package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// decideCommand sends a person's decision on a batch or a row to the
// ledger's authenticated HTTP API (ledger run --http, payrun up) with
// their token: hold, resume, release or drop a held row, resubmit failed
// rows; a row's cancel, and approve --row (a held row's release). The
// ledger names who decided from the token.
type decideCommand struct {
	name   string
	stdout io.Writer // default os.Stdout
}

// decideUsage is each decision's usage line.
var decideUsage = map[string]string{
	"hold":     "ledger hold     --batch ID [--row N] --reason TEXT [--api URL] [--token-file FILE]   nothing new starts until resumed",
	"resume":   "ledger resume   --batch ID [--row N] --reason TEXT [--api URL] [--token-file FILE]   end a hold (a person's or the breaker's)",
	"release":  "ledger release  --batch ID --row N --reason TEXT [--api URL] [--token-file FILE]     pay a row the duplicate guard held",
	"drop":     "ledger drop     --batch ID --row N --reason TEXT [--api URL] [--token-file FILE]     never pay a row the duplicate guard held",
	"resubmit": "ledger resubmit --batch ID (--rows 1,2,5 | --failed) --reason TEXT [--api URL] [--token-file FILE]",
	"cancel":   "ledger cancel   --batch ID --row N --reason TEXT [--api URL] [--token-file FILE]   cancel one row",
	"approve":  "ledger approve  --batch ID --row N --reason TEXT [--api URL] [--token-file FILE]   release a row the duplicate guard held",
}

func (c *decideCommand) Usage() { fmt.Fprintln(os.Stderr, "usage: "+decideUsage[c.name]) }

// decision is what the flags of a decision say.
type decision struct {
	batch, reason string
	row           int
	rows          []int
	failed        bool
}

func (c *decideCommand) flags(fs *flag.FlagSet, d *decision, api *cli.APIFlags) *string {
	fs.StringVar(&d.batch, "batch", "", "batch `id`")
	fs.IntVar(&d.row, "row", 0, "row `number` (1-based; none: the batch)")
	fs.StringVar(&d.reason, "reason", "", "why (recorded with the decision and in the audit log)")
	api.Register(fs)
	rows := ""
	if c.name == "resubmit" {
		fs.StringVar(&rows, "rows", "", "failed rows to resubmit, comma-separated (`1,2,5`)")
		fs.BoolVar(&d.failed, "failed", false, "resubmit every failed row that can go")
	}
	return &rows
}

func (c *decideCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger "+c.name, flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	var d decision
	var api cli.APIFlags
	rows := c.flags(fs, &d, &api)
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	if err := c.check(&d, *rows); err != nil {
		fs.Usage()
		return cli.Usagef("%v", err)
	}
	client, err := api.Client()
	if err != nil {
		return err
	}
	return c.send(ctx, client, d)
}

// check reads and checks the flags of a decision.
func (c *decideCommand) check(d *decision, rows string) error {
	switch {
	case d.batch == "":
		return fmt.Errorf("--batch is required")
	case d.reason == "":
		return fmt.Errorf("--reason is required: every decision is recorded with why")
	case (c.name == "release" || c.name == "drop" || c.name == "approve" || c.name == "cancel") && d.row < 1:
		return fmt.Errorf("--row is required")
	case d.row < 0:
		return fmt.Errorf("--row must be a row number")
	}
	if c.name == "resubmit" {
		for _, f := range strings.Split(rows, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				return fmt.Errorf("--rows: %q is not a row number", f)
			}
			d.rows = append(d.rows, n)
		}
		if len(d.rows) > 0 == d.failed {
			return fmt.Errorf("give --rows or --failed")
		}
	}
	return nil
}

// send posts the decision and prints the batch it leaves.
func (c *decideCommand) send(ctx context.Context, client apiClient, d decision) error {
	action := c.name
	if action == "approve" {
		action = "release"
	}
	path := "/batches/" + d.batch + "/" + action
	if d.row > 0 {
		path = "/batches/" + d.batch + "/rows/" + strconv.Itoa(d.row) + "/" + action
	}
	body := ledger.DecisionRequest{Reason: d.reason, Rows: d.rows, Failed: d.failed}
	stdout := c.stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	if action == "resubmit" {
		var reply ledgerapi.ResubmitReply
		if err := client.Do(ctx, "POST", path, body, &reply); err != nil {
			return err
		}
		var moved []string
		for _, m := range reply.Rows {
			moved = append(moved, fmt.Sprintf("%d→%d", m.ParentRow, m.ChildRow))
		}
		fmt.Fprintf(stdout, "resubmitted rows %s of %s as batch %s\n\n", strings.Join(moved, ", "), d.batch, reply.Batch.Batch)
		return printBatches(stdout, []ledgerapi.BatchSummary{*reply.Batch})
	}
	var reply ledgerapi.BatchReply
	if err := client.Do(ctx, "POST", path, body, &reply); err != nil {
		return err
	}
	return printBatches(stdout, []ledgerapi.BatchSummary{*reply.Batch})
}

// apiClient is what a decision needs of httpapi.Client.
type apiClient interface {
	Do(ctx context.Context, method, path string, in, out any) error
}
