package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// decideCommand sends a person's decision on a batch or a row to the
// ledger's HTTP API (ledger run --http, payrun up): hold, resume, release
// or drop a held row, resubmit failed rows; cancel and approve too when
// given --url or --row.
type decideCommand struct {
	name   string
	stdout io.Writer // default os.Stdout
}

// decideUsage is each decision's usage line.
var decideUsage = map[string]string{
	"hold":     "ledger hold     --batch ID [--row N] --reason TEXT [--by NAME] [--url URL]   nothing new starts until resumed",
	"resume":   "ledger resume   --batch ID [--row N] --reason TEXT [--by NAME] [--url URL]   end a hold (a person's or the breaker's)",
	"release":  "ledger release  --batch ID --row N --reason TEXT [--by NAME] [--url URL]     pay a row the duplicate guard held",
	"drop":     "ledger drop     --batch ID --row N --reason TEXT [--by NAME] [--url URL]     never pay a row the duplicate guard held",
	"resubmit": "ledger resubmit --batch ID (--rows 1,2,5 | --failed) --reason TEXT [--by NAME] [--url URL]",
	"cancel":   "ledger cancel   --batch ID [--row N] --reason TEXT [--by NAME] [--url URL | --nats-url URL]",
	"approve":  "ledger approve  --batch ID [--row N --reason TEXT] [--by NAME] [--url URL | --nats-url URL]   (--row: release a held row)",
}

func (c *decideCommand) Usage() { fmt.Fprintln(os.Stderr, "usage: "+decideUsage[c.name]) }

// defaultLedgerURL is where decisions go without --url: $PAYRUN_LEDGER_URL,
// else payrun up's listener.
func defaultLedgerURL() string {
	if u := os.Getenv("PAYRUN_LEDGER_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:8080"
}

// decision is what the flags of a decision say.
type decision struct {
	batch, by, reason, url string
	row                    int
	rows                   []int
	failed                 bool
}

func (c *decideCommand) flags(fs *flag.FlagSet, d *decision) *string {
	fs.StringVar(&d.batch, "batch", "", "batch `id`")
	fs.IntVar(&d.row, "row", 0, "row `number` (1-based; none: the batch)")
	fs.StringVar(&d.reason, "reason", "", "why (recorded with the decision)")
	fs.StringVar(&d.by, "by", os.Getenv("USER"), "who decides")
	fs.StringVar(&d.url, "url", defaultLedgerURL(), "the ledger's HTTP `URL` ($PAYRUN_LEDGER_URL)")
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
	rows := c.flags(fs, &d)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(&d, *rows); err != nil {
		fs.Usage()
		return err
	}
	return c.send(ctx, d)
}

// check reads and checks the flags of a decision.
func (c *decideCommand) check(d *decision, rows string) error {
	switch {
	case d.batch == "":
		return errors.New("--batch is required")
	case d.reason == "" && c.name != "approve":
		return errors.New("--reason is required: every decision is recorded with why")
	case (c.name == "release" || c.name == "drop") && d.row < 1:
		return errors.New("--row is required")
	case d.row < 0:
		return errors.New("--row must be a row number")
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
			return errors.New("give --rows or --failed")
		}
	}
	return nil
}

// send posts the decision and prints the batch it leaves.
func (c *decideCommand) send(ctx context.Context, d decision) error {
	action := c.name
	if action == "approve" && d.row > 0 {
		action = "release"
		if d.reason == "" {
			return errors.New("--reason is required to release a held row")
		}
	}
	path := "/batches/" + d.batch + "/" + action
	if d.row > 0 {
		path = "/batches/" + d.batch + "/rows/" + strconv.Itoa(d.row) + "/" + action
	}
	body, _ := json.Marshal(ledger.DecisionRequest{By: d.by, Reason: d.reason, Rows: d.rows, Failed: d.failed})
	stdout := c.stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	if action == "resubmit" {
		var reply ledgerapi.ResubmitReply
		if err := postDecision(ctx, d.url, path, body, &reply); err != nil {
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
	if err := postDecision(ctx, d.url, path, body, &reply); err != nil {
		return err
	}
	return printBatches(stdout, []ledgerapi.BatchSummary{*reply.Batch})
}

// postDecision posts body to the ledger's HTTP API and decodes the answer
// into reply, or returns its error answer as a *ledgerapi.Error.
func postDecision(ctx context.Context, base, path string, body []byte, reply any) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("ledger at %s: %w", base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ledger at %s: %w", base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("ledger at %s: %w", base, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error *ledgerapi.Error `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != nil {
			return e.Error
		}
		return fmt.Errorf("ledger at %s: %s", base, resp.Status)
	}
	if err := json.Unmarshal(data, reply); err != nil {
		return fmt.Errorf("ledger at %s: read the answer: %w", base, err)
	}
	return nil
}
