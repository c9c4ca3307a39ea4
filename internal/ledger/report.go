package ledger

import (
	"context"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/reconcile"
	"github.com/payrun/payrun/internal/report"
)

// Report reconciles the batch (reading only) and builds its report in
// memory, in English (the layout is internal/report's), with each row's
// description, meta_ columns and the ledger's notes. It is ReportSource's
// rows kept; a download streams them instead.
func (db *DB) Report(ctx context.Context, batch string) (*report.Report, error) {
	src, done, err := db.ReportSource(ctx, batch, reason.English)
	if err != nil {
		return nil, err
	}
	defer done()
	rows := []report.Row{}
	rep, err := src.Rows(nil, func(r *report.Row) error {
		rows = append(rows, *r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Rows = rows
	return rep, nil
}

// Report builds the batch's report from the reconciliation. Its rows have
// no description or meta (the reconciliation does not read them);
// DB.Report adds them.
func (rec *Reconciliation) Report() *report.Report {
	return report.Build(rec.sum, rec.data, &rec.Result)
}

// ReportSource is the batch's report in lang as a stream (report.Source):
// each time its rows are asked for, the batch is read chunk by chunk in
// row order (the chunks' reads are not one transaction: a batch archived
// while it is read fails the report), and each row is reconciled
// (reconcile.Run) and laid out (report.Builder) as it is read, so that
// what a report holds is a few chunks of rows whatever the batch's size
// (issue 17). A batch that is not there is an error here, before anything
// is written. done ends what the source holds.
func (db *DB) ReportSource(ctx context.Context, batch, lang string) (src *report.Source, done func(), err error) {
	sc, err := db.openScan(ctx, batch)
	if err != nil {
		return nil, nil, err
	}
	first := sc // read by the first call, opened to find the batch
	src = &report.Source{Batch: batch, Lang: reason.Lang(lang),
		Rows: func(start func([]string) error, fn func(*report.Row) error) (*report.Report, error) {
			s := first
			if s == nil {
				var err error
				if s, err = db.openScan(ctx, batch); err != nil {
					return nil, err
				}
			}
			first = nil
			defer s.Close()
			return s.report(ctx, reason.Lang(lang), start, fn, fn != nil)
		}}
	return src, func() {
		if first != nil {
			first.Close()
			first = nil
		}
	}, nil
}

// reportSummary streams the batch's report in lang (ReportSource) to fn,
// its rows without the notes (description, meta, held, decision,
// resubmit: what the reconciliation's report has), and returns it
// without its rows, with the batch's summary counted from the rows read
// (DB.Batch's counts).
func (db *DB) reportSummary(ctx context.Context, batch, lang string, fn func(*report.Row) error) (*report.Report, *ledgerapi.BatchSummary, error) {
	sc, err := db.openScan(ctx, batch)
	if err != nil {
		return nil, nil, err
	}
	defer sc.Close()
	rep, err := sc.report(ctx, reason.Lang(lang), nil, fn, false)
	if err != nil {
		return nil, nil, err
	}
	return rep, sc.sum, nil
}

// report reads the batch's rows (with their notes when notes is set) and
// lays out its report (ReportSource).
func (sc *batchScan) report(ctx context.Context, lang string, start func([]string) error, fn func(*report.Row) error,
	notes bool) (*report.Report, error) {
	if start != nil {
		keys, err := sc.metaKeys(ctx)
		if err != nil {
			return nil, err
		}
		if err := start(keys); err != nil {
			return nil, err
		}
	}
	run := sc.d.Start()
	bl := report.NewBuilder(sc.sum, sc.d, lang)
	// One Row laid out into for every row (fn copies what it keeps,
	// report.Source): a Row each was ~680 B of a report's ~5.2 KB
	// allocated per row.
	var row report.Row
	err := sc.each(ctx, notes, func(r *reconcile.Row, n *report.Note) error {
		rr, excs := run.Row(r)
		if fn == nil {
			bl.Add(r, excs) // the summary alone
			return nil
		}
		row = bl.Row(r, rr, excs, n)
		return fn(&row)
	})
	if err != nil {
		return nil, err
	}
	return bl.Finish(sc.d, run.Finish()), nil
}

// decodeMeta decodes a row's meta as the intake message carries it
// (intake.DecodeMeta, the one decoder of that format).
func decodeMeta(text string) (map[string]string, error) { return intake.DecodeMeta([]byte(text)) }

// ReportGCPercent is the collector's target (GOGC) of `ledger report`, a
// process that streams one report: what it holds is a few chunks of rows
// (~20 MB live) and it allocates ~2.8 KB a row, so at the default target
// of 100 the collector ran every ~20–40 MB and was ~1/5 of the report's
// CPU. A 1M-row CSV (BenchmarkReportFile, which sets it as the command
// does; measured under load): 22.2 → 18.9 cpu-s. `ledger run` keeps the
// default: with this target its heap grows to its soft limit
// (--memory-limit-mb) while a report streams (8 downloads of a 100k-row
// CSV: 321 MB of RSS against 88 MB; bench/README.md, s3).
const ReportGCPercent = 400
