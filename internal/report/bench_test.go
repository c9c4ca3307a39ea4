package report

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reconcile"
)

// benchReport builds the report of n card rows as the ledger's
// BenchmarkReport100k has them (95 % paid with a fee, a webhook and a
// report line, 5 % failed; a description and two meta columns each), from
// memory, so the writers alone are measured.
func benchReport(n int) *Report {
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	b := &reconcile.Batch{ID: "bbench", Status: payout.BatchDone, AsOf: at, Covered: map[string]bool{"2026-11-25": true}}
	notes := make([]Note, 0, n)
	for i := 1; i <= n; i++ {
		a := money.New(int64(100000+i), "RUB")
		r := &reconcile.Row{No: i, Reference: fmt.Sprintf("E-%06d/2026-11", i), Method: "card", Recipient: "Иванов Иван Иванович",
			Destination: "card 424242******4242", Amount: a, Attempt: 1, SessionID: fmt.Sprintf("ps_%d", i),
			ReceivedAt: at, MovedAt: at.Add(time.Duration(i) * time.Second), UpdatedAt: at.Add(time.Duration(i) * time.Second)}
		if i%20 == 0 {
			r.State, r.ErrorCode, r.Reason = payout.StateFailed, "provider_timeout", "The recipient's bank did not answer in time."
		} else {
			fee := money.New(2500, "RUB")
			r.State, r.PayoutID, r.Fee, r.Paid = payout.StateSucceeded, fmt.Sprintf("po_%d", i), &fee, &a
			r.Hook = &reconcile.Hook{Type: "payment_finished", PayoutStatus: "succeeded", Amount: &a}
			r.Lines = []*reconcile.Line{{Report: "r1", Line: i, Op: r.PayoutID, Session: r.SessionID, Type: bank131.ReportAdvice,
				Date: "2026-11-25", Amount: a, RefRow: i}}
		}
		b.Rows = append(b.Rows, r)
		notes = append(notes, Note{Row: i, Description: fmt.Sprintf("Salary November 2026, employee %d", i),
			Meta: map[string]string{"department": "IT", "employee": fmt.Sprint(i)}})
	}
	sum := &ledgerapi.BatchSummary{Batch: b.ID, Name: "bench", FileName: "bench.csv", Status: payout.BatchDone, CreatedAt: at}
	rep := Build(sum, b, b.Reconcile())
	rep.AddNotes(notes)
	return rep
}

// BenchmarkWrite100k writes a 100k-row report in each format, in English
// and Russian (the ledger's BenchmarkReport100k measures the whole report,
// reading and reconciling included).
func BenchmarkWrite100k(b *testing.B) {
	rep := benchReport(100_000)
	for _, lang := range []string{"en", "ru"} {
		rep.Localize(lang)
		for _, f := range Formats {
			b.Run(lang+"/"+f, func(b *testing.B) {
				var buf bytes.Buffer
				for b.Loop() {
					buf.Reset()
					if err := rep.Write(&buf, f); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(buf.Len())/1e6, "MB")
			})
		}
	}
}
