package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
)

// batchCommand is approve, reject or cancel: a person's decision, sent
// through the authenticated HTTP API with their token (never over NATS:
// the ledger names who acted from the token, not from a flag).
type batchCommand struct {
	name   string
	stdout io.Writer
}

func (c *batchCommand) Usage() {
	switch c.name {
	case "approve":
		fmt.Fprintln(os.Stderr, "usage: ledger approve --batch ID [--sha256 HEX --totals RUB=1500.00,...] [--api URL] [--token-file FILE]")
		fmt.Fprintln(os.Stderr, "       "+decideUsage["approve"])
	default:
		fmt.Fprintf(os.Stderr, "usage: ledger %s --batch ID --reason TEXT [--api URL] [--token-file FILE]\n", c.name)
		if u, ok := decideUsage[c.name]; ok {
			fmt.Fprintln(os.Stderr, "       "+u)
		}
	}
}

func (c *batchCommand) Run(ctx context.Context, args []string) error {
	// A row's cancel, and approve --row (the release of a row the
	// duplicate guard held), are row decisions (decide.go).
	for _, a := range args {
		if a == "--row" || a == "-row" || strings.HasPrefix(a, "--row=") || strings.HasPrefix(a, "-row=") {
			return (&decideCommand{name: c.name, stdout: c.stdout}).Run(ctx, args)
		}
	}
	fs := flag.NewFlagSet("ledger "+c.name, flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	batch := fs.String("batch", "", "batch `id`")
	reason := fs.String("reason", "", "why (shown in the report and the audit log)")
	sha := fs.String("sha256", "", "approve: the file `SHA-256` you checked (default: the batch's, shown before approving)")
	totals := fs.String("totals", "", "approve: the `totals` you checked, RUB=1500.00,USD=30.00 (default: the batch's, shown before approving)")
	var api cli.APIFlags
	api.Register(fs)
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	if *batch == "" {
		fs.Usage()
		return cli.Usagef("--batch is required")
	}
	if c.name != "approve" && *reason == "" {
		fs.Usage()
		return cli.Usagef("--reason is required")
	}
	client, err := api.Client()
	if err != nil {
		return err
	}
	stdout := c.stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	path := "/batches/" + *batch + "/" + c.name
	switch c.name {
	case "approve":
		in := struct {
			FileSHA256 string       `json:"file_sha256"`
			Totals     money.Totals `json:"totals"`
		}{FileSHA256: *sha}
		if *totals != "" {
			if in.Totals, err = parseTotals(*totals); err != nil {
				return err
			}
		}
		if in.FileSHA256 == "" || in.Totals == nil {
			// What the checker is shown is what the approval binds to.
			var sum ledgerapi.BatchSummary
			if err := client.Do(ctx, "GET", "/batches/"+*batch, nil, &struct {
				Batch *ledgerapi.BatchSummary `json:"batch"`
			}{&sum}); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "batch:    %s %s (%s, %d rows, uploaded by %s)\nsha256:   %s\ntotals:   %s\n",
				sum.Batch, sum.Name, sum.FileName, sum.Rows, dash(sum.UploadedBy), sum.FileSHA256, sum.Totals)
			if in.FileSHA256 == "" {
				in.FileSHA256 = sum.FileSHA256
			}
			if in.Totals == nil {
				in.Totals = sum.Totals
			}
		}
		var res ledger.DecisionResult
		if err := client.Do(ctx, "POST", path, in, &res); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "approval: %d of %d\n", res.Given, res.Required)
		return printBatches(stdout, []ledgerapi.BatchSummary{*res.Batch})
	case "reject":
		var res ledger.DecisionResult
		if err := client.Do(ctx, "POST", path, map[string]string{"reason": *reason}, &res); err != nil {
			return err
		}
		return printBatches(stdout, []ledgerapi.BatchSummary{*res.Batch})
	}
	var res struct {
		Batch *ledgerapi.BatchSummary `json:"batch"`
	}
	if err := client.Do(ctx, "POST", path, map[string]string{"reason": *reason}, &res); err != nil {
		return err
	}
	return printBatches(stdout, []ledgerapi.BatchSummary{*res.Batch})
}

// parseTotals reads RUB=1500.00,USD=30.00 into minor units.
func parseTotals(s string) (money.Totals, error) {
	out := money.Totals{}
	for _, part := range strings.Split(s, ",") {
		cur, amount, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("--totals %q: write CURRENCY=AMOUNT, comma-separated", part)
		}
		a, err := money.Parse(amount, cur)
		if err != nil {
			return nil, fmt.Errorf("--totals %q: %w", part, err)
		}
		out[a.Currency] += a.Minor
	}
	return out, nil
}
