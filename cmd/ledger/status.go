package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/report"
)

// statusCommand prints batches with their counts by state and totals,
// from the SQLite file (read-only) or from the running ledger over NATS:
// both are a statusSource, read the same way (readStatus).
type statusCommand struct {
	stdout io.Writer // default os.Stdout
}

func (c *statusCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger status [--db FILE | --nats-url URL] [--batch ID] [--json]")
}

func (c *statusCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger status", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	dbPath := fs.String("db", "ledger.db", "SQLite database `file`, read-only")
	var nf cli.NATSFlags
	nf.Register(fs, "", "ask the running ledger at this NATS `URL` instead of reading the file")
	batch := fs.String("batch", "", "only this batch `id`")
	limit := fs.Int("limit", 50, "at most this many batches")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	stdout := c.stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	var src statusSource
	if nf.URL != "" {
		nc, err := nf.Connect("payrun-ledger-status", nil)
		if err != nil {
			return err
		}
		defer nc.Close()
		src = ledgerapi.NewClient(nc, 30*time.Second)
	} else {
		if _, err := os.Stat(*dbPath); err != nil {
			return fmt.Errorf("ledger database: %w", err)
		}
		db, err := ledger.OpenReadOnly(*dbPath)
		if err != nil {
			return err
		}
		defer db.Close()
		src = db
	}
	st, err := readStatus(ctx, src, *batch, *limit, !*asJSON)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st.Batches)
	}
	if err := printBatches(stdout, st.Batches); err != nil {
		return err
	}
	if *batch != "" && len(st.Batches) == 1 {
		if err := printStops(stdout, &st.Batches[0]); err != nil {
			return err
		}
	}
	if st.Reconciliation != nil {
		if err := printReconciliation(stdout, st.Reconciliation); err != nil {
			return err
		}
		return printTransfers(stdout, st.Reconciliation.Report())
	}
	return nil
}

// statusSource is where `ledger status` reads: *ledger.DB (the file) and
// *ledgerapi.Client (the running ledger) answer with the same summaries
// and the same errors (an unknown batch is a ledgerapi.CodeNotFound error).
type statusSource interface {
	Batch(ctx context.Context, id string) (*ledgerapi.BatchSummary, error)
	Batches(ctx context.Context, limit int) ([]ledgerapi.BatchSummary, error)
}

// reconciler is a statusSource that reconciles a batch too (the file).
type reconciler interface {
	Reconcile(ctx context.Context, batch string) (*ledger.Reconciliation, error)
}

// batchStatus is what `ledger status` shows.
type batchStatus struct {
	Batches []ledgerapi.BatchSummary
	// Reconciliation is the batch's rows by reconciliation status and its
	// open exceptions, when one batch was asked for with reconcile and the
	// source reconciles.
	Reconciliation *ledger.Reconciliation
}

// readStatus reads one batch (batch not empty) or the newest limit batches
// from src.
func readStatus(ctx context.Context, src statusSource, batch string, limit int, reconcile bool) (*batchStatus, error) {
	st := &batchStatus{}
	if batch == "" {
		list, err := src.Batches(ctx, limit)
		if err != nil {
			return nil, err
		}
		st.Batches = list
		return st, nil
	}
	b, err := src.Batch(ctx, batch)
	if err != nil {
		return nil, err
	}
	st.Batches = []ledgerapi.BatchSummary{*b}
	if r, ok := src.(reconciler); ok && reconcile {
		if st.Reconciliation, err = r.Reconcile(ctx, batch); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// maxExceptionsShown bounds the exceptions `ledger status --batch` lists.
const maxExceptionsShown = 20

// printReconciliation writes a batch's rows by reconciliation status and
// its open exceptions.
func printReconciliation(w io.Writer, rec *ledger.Reconciliation) error {
	fmt.Fprintln(w)
	var parts []string
	for _, st := range reconcile.Statuses {
		parts = append(parts, fmt.Sprintf("%s %d", st, rec.Counts[st]))
	}
	fmt.Fprintf(w, "RECONCILIATION  %s  (as of %s)\n", strings.Join(parts, " · "), rec.AsOf.UTC().Format(time.RFC3339))
	if len(rec.Exceptions) == 0 {
		_, err := fmt.Fprintln(w, "no open exceptions")
		return err
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tEXCEPTION\tDETAIL")
	for i, e := range rec.Exceptions {
		if i == maxExceptionsShown {
			fmt.Fprintf(tw, "…\t%d more\t(ledger report --batch %s)\n", len(rec.Exceptions)-i, rec.Batch)
			break
		}
		row := "batch"
		if e.Row > 0 {
			row = fmt.Sprint(e.Row)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", row, e.Category, e.Detail)
	}
	return tw.Flush()
}

// maxTransfersShown bounds the transfers `ledger status --batch` lists.
const maxTransfersShown = 20

// printTransfers writes the batch's transfers: what the recipient gets at
// which rate and commission, the transfer control number, and for those
// waiting for their sender the 3-D Secure link and until when it is open.
func printTransfers(w io.Writer, rep *report.Report) error {
	var rows []report.Row
	for _, r := range rep.Rows {
		if r.Method == string(payout.MethodTransfer) {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSFER\tREFERENCE\tSTATE\tPAID FROM\tRECIPIENT GETS\tRATE\tCOMMISSION\tTCN\t3-D SECURE LINK\tLINK OPEN UNTIL")
	for i, r := range rows {
		if i == maxTransfersShown {
			fmt.Fprintf(tw, "…\t%d more\t(ledger report --batch %s)\n", len(rows)-i, rep.Batch.ID)
			break
		}
		link, until := dash(r.ActionURL), dash(r.ActionExpiresAt)
		if r.ActionURL != "" && r.Status != string(payout.StateActionRequired) {
			until = "(" + r.Status + ")" // the link is spent
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Row, r.Reference, r.Status,
			dash(amountText(r.SourceAmount, r.SourceCurrency)), dash(amountText(r.DestinationAmount, r.DestinationCurrency)),
			dash(r.FXRate), dash(amountText(r.Commission, r.CommissionCurrency)), dash(r.TCN), link, until)
	}
	return tw.Flush()
}

func amountText(amount, currency string) string {
	if amount == "" {
		return ""
	}
	return amount + " " + currency
}

// stateOrder is the column order of the counts.
var stateOrder = []payout.State{
	payout.StateReceived, payout.StateScheduled, payout.StateAwaitingApproval, payout.StateQueued,
	payout.StateClaimed, payout.StateQuoted, payout.StateOpening, payout.StateSessionOpen, payout.StateStarting,
	payout.StatePayoutStarted, payout.StateConfirming, payout.StateConfirmed, payout.StateActionRequired,
	payout.StateInDoubt, payout.StateSucceeded, payout.StateFailed, payout.StateCancelled, payout.StateReturned,
}

// printBatches writes two terminal tables: the batches with their totals,
// then their rows counted by state (only states that occur are shown).
func printBatches(w io.Writer, list []ledgerapi.BatchSummary) error {
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no batches")
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH\tSTATUS\tROWS\tTOTAL\tPAID\tFAILED\tEXCEPTIONS\tHELD\tNAME\tREASON")
	for _, b := range list {
		status := string(b.Status)
		if b.Hold != nil {
			status += " (on hold)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", b.Batch, status, b.Rows, dash(b.Totals.String()),
			dash(b.PaidTotals.String()), dash(b.FailedTotals.String()), b.Exceptions, b.Held, dash(b.Name), dash(b.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var cols []payout.State
	for _, st := range stateOrder {
		for _, b := range list {
			if b.ByState[st] > 0 {
				cols = append(cols, st)
				break
			}
		}
	}
	if len(cols) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	head := []string{"BATCH"}
	for _, st := range cols {
		head = append(head, strings.ToUpper(string(st)))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, b := range list {
		line := []string{b.Batch}
		for _, st := range cols {
			line = append(line, fmt.Sprint(b.ByState[st]))
		}
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printStops writes what stops a batch: its hold, the rows the duplicate
// guard held with the decisions about them (who and why), and the batches
// it was resubmitted from or to.
func printStops(w io.Writer, b *ledgerapi.BatchSummary) error {
	if h := b.Hold; h != nil {
		fmt.Fprintf(w, "\nON HOLD since %s by %s (%s): %s\n", h.Since.UTC().Format(time.RFC3339), h.By, h.Source, h.Reason)
	}
	if b.RowsOnHold > 0 {
		fmt.Fprintf(w, "\n%d rows on hold one by one\n", b.RowsOnHold)
	}
	if b.Parent != "" {
		fmt.Fprintf(w, "\nresubmits failed rows of batch %s\n", b.Parent)
	}
	if len(b.Children) > 0 {
		fmt.Fprintf(w, "\nfailed rows resubmitted in %s\n", strings.Join(b.Children, ", "))
	}
	if len(b.HeldRows) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nHELD BY THE DUPLICATE GUARD  %d waiting for a decision\n", b.Held)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tREFERENCE\tAMOUNT\tKIND\tWHY\tDECISION")
	for _, h := range b.HeldRows {
		decision := "waiting: ledger release|drop --batch " + b.Batch + " --row " + fmt.Sprint(h.Row)
		if h.Decision != "" {
			decision = h.Decision + " by " + h.DecidedBy
			if h.DecidedAt != nil {
				decision += " at " + h.DecidedAt.UTC().Format(time.RFC3339)
			}
			if h.DecisionReason != "" {
				decision += ": " + h.DecisionReason
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", h.Row, h.Reference, h.Amount, h.Kind, h.Reason, cardmask.Redact(decision))
	}
	if b.Held > len(b.HeldRows)-countDecided(b.HeldRows) {
		fmt.Fprintf(tw, "…\t\t\t\t(GET /batches/%s/held lists them all)\t\n", b.Batch)
	}
	return tw.Flush()
}

func countDecided(list []ledgerapi.Hold) int {
	n := 0
	for _, h := range list {
		if h.Decision != "" {
			n++
		}
	}
	return n
}
