package report

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/reason"
	"github.com/payrun/payrun/internal/reconcile"
)

// stateOrder is the order states are listed in.
var stateOrder = []payout.State{
	payout.StateReceived, payout.StateScheduled, payout.StateAwaitingApproval, payout.StateQueued,
	payout.StateClaimed, payout.StateQuoted, payout.StateOpening, payout.StateSessionOpen, payout.StateStarting,
	payout.StatePayoutStarted, payout.StateConfirming, payout.StateConfirmed, payout.StateActionRequired,
	payout.StateInDoubt, payout.StateSucceeded, payout.StateFailed, payout.StateCancelled, payout.StateReturned,
}

// totalNames are the summary's sums, in order (the manifest's follows);
// totalNotes (words.go) say what each sums.
var totalNames = []string{"requested", "paid", "returned", "failed", "cancelled", "pending", "fees", "commission",
	"paid_source", "paid_as_reported", "bank_reported"}

// noMeta is the Meta of a row without meta_ columns: one empty map shared
// by every such row (never written to), so that JSON shows {}.
var noMeta = map[string]string{}

// Build lays out the report of a batch, in English: its summary (sum), the
// state the reconciliation read (b) and what it found (rec, whose rows are
// b's in the same order). Its rows have no description or meta (the
// reconciliation does not read them); AddNotes adds them. Localize puts
// its words in another language. It is a Builder over rows held in
// memory.
func Build(sum *ledgerapi.BatchSummary, b *reconcile.Batch, rec *reconcile.Result) *Report {
	byRow := map[int][]reconcile.OpenException{}
	for _, e := range rec.Exceptions {
		if e.Row > 0 {
			byRow[e.Row] = append(byRow[e.Row], e)
		}
	}
	bl := NewBuilder(sum, b, reason.English)
	rows := make([]Row, 0, len(b.Rows))
	for i, r := range b.Rows {
		rows = append(rows, bl.Row(r, rec.Rows[i], byRow[r.No], nil))
	}
	rep := bl.Finish(b, rec)
	rep.Rows = rows
	return rep
}

// Builder lays a report out row by row, for a reader that streams the
// rows (reconcile.Run says each row's status and exceptions): NewBuilder
// with the batch's head, Row for every row in row order, then Finish for
// the summary. It holds the sums and the references of the rows with
// exceptions, never the rows.
type Builder struct {
	rep      *Report
	lang     string
	rejected bool
	states   map[payout.State]*sums
	totals   map[string]*sums
	reported *sums
	refs     map[int]string // the references of the rows with exceptions
	rows     int
}

// NewBuilder starts the report of the batch sum, whose manifest b has
// (b's rows are not read), with its words in lang (reason.Lang).
func NewBuilder(sum *ledgerapi.BatchSummary, b *reconcile.Batch, lang string) *Builder {
	bl := &Builder{
		rep: &Report{
			Batch: Batch{
				ID: sum.Batch, Name: sum.Name, FileName: sum.FileName, FileSHA256: sum.FileSHA256, Status: string(sum.Status),
				Reason: cardmask.Redact(sum.Reason), CreatedAt: timeText(&sum.CreatedAt), ScheduleAt: timeText(sum.ScheduleAt),
				RequireApproval: sum.RequireApproval, ApprovedBy: sum.ApprovedBy, ReleasedAt: timeText(sum.ReleasedAt),
				FinishedAt: timeText(sum.FinishedAt), ManifestRows: b.ManifestRows, ManifestTotals: amounts(b.ManifestTotals),
			},
			Lang: reason.Lang(lang),
			Rows: []Row{},
		},
		lang: reason.Lang(lang), rejected: sum.Status == payout.BatchRejected,
		states: map[payout.State]*sums{}, totals: map[string]*sums{}, reported: newSums(), refs: map[int]string{},
	}
	for _, w := range totalNames {
		bl.totals[w] = newSums()
	}
	return bl
}

// Row lays out the next row: its status (rr) and open exceptions (excs)
// as reconcile.Run.Row says, with its note (nil: none), in the builder's
// language; and adds it to the summary.
func (bl *Builder) Row(r *reconcile.Row, rr reconcile.RowResult, excs []reconcile.OpenException, note *Note) Row {
	bl.Add(r, excs)
	row := reportRow(r, rr.Status)
	for _, e := range excs {
		row.Exceptions = append(row.Exceptions, Exception{Category: e.Category, Label: e.Category.Label(), Row: e.Row,
			Reference: r.Reference, Detail: cardmask.Redact(e.Detail), OpenedAt: e.OpenedAt})
	}
	if rr.Status == reconcile.StatusException && len(row.Exceptions) == 0 && bl.rejected {
		row.Exceptions = []Exception{{Category: reconcile.Manifest, Label: reconcile.Manifest.Label(),
			Row: r.No, Reference: r.Reference, Detail: "batch rejected: " + bl.rep.Batch.Reason}}
	}
	if note != nil {
		row.setNote(note)
	}
	row.explain(bl.lang)
	return row
}

// Add adds the next row to the summary without laying it out (Row does
// both): for the summary alone.
func (bl *Builder) Add(r *reconcile.Row, excs []reconcile.OpenException) {
	bl.rows++
	if len(excs) > 0 {
		bl.refs[r.No] = r.Reference
	}
	totals := bl.totals
	st := bl.states[r.State]
	if st == nil {
		st = newSums()
		bl.states[r.State] = st
	}
	st.add(r.Amount)
	totals["requested"].add(r.Amount)
	switch r.State {
	case payout.StateSucceeded:
		totals["paid"].add(r.Amount)
	case payout.StateReturned:
		totals["returned"].add(r.Amount)
	case payout.StateFailed:
		totals["failed"].add(r.Amount)
	case payout.StateCancelled:
		totals["cancelled"].add(r.Amount)
	default:
		totals["pending"].add(r.Amount)
	}
	if r.Fee != nil {
		totals["fees"].add(*r.Fee)
	}
	if r.State == payout.StateSucceeded || r.State == payout.StateReturned {
		transfer := payout.Method(r.Method) == payout.MethodTransfer
		switch {
		case transfer && r.QuoteSource != nil && r.QuoteDest != nil:
			totals["paid_source"].add(*r.QuoteSource)
			totals["paid_as_reported"].add(*r.QuoteDest)
		default:
			totals["paid_source"].add(r.Amount)
			totals["paid_as_reported"].add(r.Amount)
		}
		if transfer && r.QuoteFee != nil {
			totals["commission"].add(*r.QuoteFee)
		}
	}
	bl.addOps(r.Lines)
}

// addOps adds the paid operations of report lines to the bank's sum,
// once per operation.
func (bl *Builder) addOps(lines []*reconcile.Line) {
	for i, l := range lines {
		if l.Type == bank131.ReportAdvice && !slices.ContainsFunc(lines[:i], sameOp(l)) {
			bl.reported.add(l.Amount)
		}
	}
}

// Finish makes the report's summary once every row was laid out: b is
// the batch as read (its AsOf and Orphans), rec the reconciliation's
// result (counts and open exceptions). The report it returns has no rows.
func (bl *Builder) Finish(b *reconcile.Batch, rec *reconcile.Result) *Report {
	rep := bl.rep
	rep.AsOf = reconcile.TimeText(b.AsOf)
	excCount := map[reconcile.Category]int{}
	for _, e := range rec.Exceptions {
		x := Exception{Category: e.Category, Label: e.Category.Label(), Row: e.Row, Reference: bl.refs[e.Row],
			Detail: cardmask.Redact(e.Detail), OpenedAt: e.OpenedAt}
		rep.Summary.Exceptions = append(rep.Summary.Exceptions, x)
		excCount[e.Category]++
	}
	if rep.Summary.Exceptions == nil {
		rep.Summary.Exceptions = []Exception{}
	}
	bl.addOps(b.Orphans)
	totals := bl.totals
	totals["bank_reported"] = bl.reported

	s := &rep.Summary
	s.Rows = bl.rows
	s.ByState = []StateCount{}
	for _, st := range stateOrder {
		if v := bl.states[st]; v != nil {
			s.ByState = append(s.ByState, StateCount{State: string(st), Rows: v.rows, Amounts: v.amounts()})
		}
	}
	for _, st := range reconcile.Statuses {
		s.ByReconciliation = append(s.ByReconciliation, StatusCount{Status: st, Rows: rec.Counts[st]})
	}
	for _, w := range totalNames {
		s.Totals = append(s.Totals, TotalLine{What: w, Rows: totals[w].rows, Amounts: totals[w].amounts(), Note: totalNotes[w].EN})
	}
	s.Totals = append(s.Totals, TotalLine{What: "manifest", Rows: b.ManifestRows, Amounts: amounts(b.ManifestTotals),
		Note: totalNotes["manifest"].EN})
	cats := make([]reconcile.Category, 0, len(excCount))
	for c := range excCount {
		cats = append(cats, c)
	}
	reconcile.SortCategories(cats)
	s.ExceptionCounts = []CategoryCount{}
	for _, c := range cats {
		s.ExceptionCounts = append(s.ExceptionCounts, CategoryCount{Category: c, Label: c.Label(), Count: excCount[c]})
	}
	rep.Localize(bl.lang)
	return rep
}

// sameOp matches a report line of the same operation (in another report).
func sameOp(l *reconcile.Line) func(*reconcile.Line) bool {
	return func(o *reconcile.Line) bool { return o.Type == l.Type && o.Op == l.Op }
}

// reportRow lays a row out for the report (its words in English:
// Localize).
func reportRow(r *reconcile.Row, status reconcile.Status) Row {
	row := Row{
		Row: r.No, Reference: r.Reference, Method: r.Method, Recipient: r.Recipient, Destination: r.Destination,
		Amount: r.Amount.Decimal(), Currency: r.Amount.Currency, AmountMinor: r.Amount.Minor,
		Status: string(r.State), BankSession: r.OwnSession(), BankPayout: r.PayoutID,
		ErrorCode: r.ErrorCode, ReasonDetail: cardmask.Redact(r.Reason), TCN: tcnText(r.TCN),
		ReceivedAt: reconcile.TimeText(r.ReceivedAt), UpdatedAt: reconcile.TimeText(r.UpdatedAt), Attempts: r.Attempt,
		SessionStatus: r.StatusSays, Reconciliation: string(status), Meta: noMeta,
	}
	if r.State.Terminal() {
		row.FinishedAt = reconcile.TimeText(r.MovedAt)
	}
	if r.Fee != nil {
		row.Fee, row.FeeCurrency = r.Fee.Decimal(), r.Fee.Currency
	}
	if r.QuoteDest != nil {
		row.FXRate = r.QuoteRate
		row.DestinationAmount, row.DestinationCurrency = r.QuoteDest.Decimal(), r.QuoteDest.Currency
	}
	if r.QuoteSource != nil {
		row.SourceAmount, row.SourceCurrency = r.QuoteSource.Decimal(), r.QuoteSource.Currency
	}
	if r.QuoteFee != nil {
		row.Commission, row.CommissionCurrency = r.QuoteFee.Decimal(), r.QuoteFee.Currency
	}
	if r.ActionURL != "" {
		row.ActionURL = cardmask.Redact(r.ActionURL)
		if !r.ActionAt.IsZero() {
			row.ActionAt = reconcile.TimeText(r.ActionAt)
			row.ActionExpiresAt = reconcile.TimeText(r.ActionAt.Add(bank131.ThreeDSLinkLifetime))
		}
	}
	if h := r.Hook; h != nil {
		switch {
		case h.Type == "payment_refunded":
			row.Webhook = "refunded"
		default:
			row.Webhook = h.PayoutStatus
			if h.Amount != nil && h.PayoutStatus == "succeeded" {
				row.Webhook += " " + h.Amount.Decimal() + " " + h.Amount.Currency
			}
			if h.ErrorCode != "" {
				row.Webhook += " (" + h.ErrorCode + ")"
			}
		}
	}
	var lines []string
	for i, l := range r.Lines {
		if slices.ContainsFunc(r.Lines[:i], sameOp(l)) {
			continue // the same operation in another report
		}
		lines = append(lines, l.Type+" "+l.Op+" "+l.Amount.Decimal()+" "+l.Amount.Currency+" "+l.Date)
	}
	row.BankReport = strings.Join(lines, "; ")
	return row
}

// Localize puts the report's words in lang ("ru" Russian, else English;
// reason.Lang): each row's reason and what to do next (internal/reason's
// catalogue), exception labels and the totals' notes. The data, codes and
// JSON keys do not change, so Localize may be called again.
func (rep *Report) Localize(lang string) {
	lang = reason.Lang(lang)
	rep.Lang = lang
	for i := range rep.Rows {
		rep.Rows[i].explain(lang)
	}
	labels := func(xs []Exception) {
		for i := range xs {
			xs[i].Label = exceptionLabel(lang, xs[i].Category)
		}
	}
	labels(rep.Summary.Exceptions)
	for i := range rep.Summary.ExceptionCounts {
		c := &rep.Summary.ExceptionCounts[i]
		c.Label = exceptionLabel(lang, c.Category)
	}
	for i := range rep.Summary.Totals {
		t := &rep.Summary.Totals[i]
		t.Note = totalNotes[t.What].In(lang)
	}
}

// explain sets the row's reason, what to do next and its exceptions'
// labels in lang. The reason is the catalogue's for the error code, else
// for the state (in doubt, waiting for 3-D Secure, returned, cancelled,
// failed); a paid row has none. What to do next follows the row's first
// exception when it has one (the bank may have paid a row we recorded
// failed: "upload it again" would pay twice), else its state when money
// may still move or came back (in doubt, 3-D Secure, returned), else the
// error code of a failed or cancelled row. ReasonDetail, what the ledger
// recorded, is cleared when it only repeats the catalogue.
func (row *Row) explain(lang string) {
	for i := range row.Exceptions {
		row.Exceptions[i].Label = exceptionLabel(lang, row.Exceptions[i].Category)
	}
	st := payout.State(row.Status)
	state, hasState := reason.Lookup(reason.State, row.Status)
	var code reason.Entry
	switch {
	case row.ErrorCode != "":
		code = reason.Error(row.ErrorCode)
		if row.ReasonDetail == code.Reason.EN {
			row.ReasonDetail = ""
		}
	case hasState && row.ReasonDetail == state.Reason.EN:
		row.ReasonDetail = ""
	}
	row.Reason, row.NextStep = "", ""
	switch {
	case st == payout.StateSucceeded:
	case row.ErrorCode != "":
		row.Reason = code.Reason.In(lang)
	case hasState:
		row.Reason = state.Reason.In(lang)
	}
	switch {
	case len(row.Exceptions) > 0:
		if e, ok := reason.Lookup(reason.Exception, string(row.Exceptions[0].Category)); ok {
			row.NextStep = e.Next.In(lang)
		}
	case hasState && (st == payout.StateInDoubt || st == payout.StateActionRequired || st == payout.StateReturned):
		row.NextStep = state.Next.In(lang)
	case row.ErrorCode != "" && (st == payout.StateFailed || st == payout.StateCancelled):
		row.NextStep = code.Next.In(lang)
	case hasState:
		row.NextStep = state.Next.In(lang)
	}
}

// tcnPattern is the transfer control number's documented form,
// NNNNNN-NNNNNNNN (shared/bank131-api.md, the sandbox's conformance row 79).
var tcnPattern = regexp.MustCompile(`^[0-9]{6}-[0-9]{8}$`)

// tcnText is the TCN for the report: as the bank gave it when it has the
// documented form (one in ten would pass the Luhn check and be masked as
// a card number, which would keep the recipient from the money), else
// through the card-number redaction like any text from outside.
func tcnText(tcn string) string {
	if tcnPattern.MatchString(tcn) {
		return tcn
	}
	return cardmask.Redact(tcn)
}

func amount(a money.Amount) Amount {
	return Amount{Amount: a.Decimal(), Currency: a.Currency, Minor: a.Minor}
}

func amounts(t money.Totals) []Amount {
	out := []Amount{}
	for _, a := range t.Amounts() {
		out = append(out, amount(a))
	}
	return out
}

// sums adds amounts per currency and counts what it added.
type sums struct {
	rows   int
	totals money.Totals
	counts map[string]int
}

func newSums() *sums { return &sums{totals: money.Totals{}, counts: map[string]int{}} }

func (s *sums) add(a money.Amount) {
	s.rows++
	s.totals.Add(a)
	s.counts[a.Currency]++
}

func (s *sums) amounts() []Amount {
	out := amounts(s.totals)
	for i := range out {
		out[i].Rows = s.counts[out[i].Currency]
	}
	return out
}

// timeText formats a time as RFC 3339 UTC to the second; "" for none.
func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return reconcile.TimeText(*t)
}
