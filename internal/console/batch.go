package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/report"
)

// stateOrder is the order the batch page lists states in: the way a row
// goes, then how it ends.
var stateOrder = []payout.State{payout.StateReceived, payout.StateScheduled, payout.StateAwaitingApproval, payout.StateQueued,
	payout.StateClaimed, payout.StateQuoted, payout.StateOpening, payout.StateSessionOpen, payout.StateStarting,
	payout.StatePayoutStarted, payout.StateConfirming, payout.StateConfirmed, payout.StateActionRequired, payout.StateInDoubt,
	payout.StateSucceeded, payout.StateFailed, payout.StateCancelled, payout.StateReturned}

// stateGroup is a state's group on the progress bar and its colour class.
func stateGroup(s payout.State) string {
	switch s {
	case payout.StateReceived, payout.StateScheduled, payout.StateAwaitingApproval:
		return "waiting"
	case payout.StateActionRequired:
		return "action"
	case payout.StateInDoubt:
		return "doubt"
	case payout.StateSucceeded:
		return "paid"
	case payout.StateFailed, payout.StateReturned:
		return "failed"
	case payout.StateCancelled:
		return "cancelled"
	}
	return "progress"
}

var groupOrder = []string{"paid", "failed", "cancelled", "doubt", "action", "progress", "waiting"}

type stateLine struct {
	State  payout.State
	Group  string
	Rows   int
	Totals money.Totals
}

// segment is a part of the progress bar: a group of states, its rows, and
// where it is drawn (percent of the bar, for the SVG's attributes: a
// picture's geometry, not money).
type segment struct {
	Group string
	Rows  int
	X, W  string
}

type rowLine struct {
	ledger.RowView
	Explained
	Acts     []Action // the row actions that apply to it and the viewer may use
	LinkForm bool     // the viewer may issue a recipient link for it
}

// issuedLink is a recipient link just issued, shown once on the page.
type issuedLink struct {
	Row       int
	URL       string
	ExpiresAt time.Time
}

// PaidOther reports whether the bank paid another amount than the row's
// (a transfer's destination currency).
func (l rowLine) PaidOther() bool { return l.Paid != nil && *l.Paid != l.Amount }

type batchData struct {
	B          *ledger.BatchItem
	States     []stateLine
	Bar        []segment
	Terminal   int
	Final      bool
	Paid       money.Totals
	Failed     money.Totals
	Approvals  []ledgerapi.Approval
	TotalsJSON string
	Uploader   bool // the viewer uploaded it
	CanApprove bool
	CanCancel  bool
	Rows       []rowLine
	Filter     rowFilterForm
	Next       string
	First      string
	LiveURL    string
	Exceptions []ledger.QueueItem
	Reports    []reportLink
	Methods    []payout.Method
	States4    []payout.State // the rows filter's states
	Actions    []Action       // the batch actions that apply and this principal may use
	RowActs    []Action       // the row actions this principal may use
	Link       *issuedLink    // a recipient link just issued
}

type rowFilterForm struct {
	State, Method string
	Failed, Held  bool
	After         int
}

// query is the filter as a query string (without the cursor).
func (f rowFilterForm) query() url.Values {
	q := url.Values{}
	if f.State != "" {
		q.Set("state", f.State)
	}
	if f.Method != "" {
		q.Set("method", f.Method)
	}
	if f.Failed {
		q.Set("failed", "1")
	}
	if f.Held {
		q.Set("held", "1")
	}
	return q
}

func (c *Console) batchData(ctx context.Context, r *http.Request, id string, l Lang) (*batchData, error) {
	if !payout.ValidBatchID(id) {
		return nil, ledgerapi.Errorf(ledgerapi.CodeNotFound, "no batch %q", id)
	}
	b, err := c.db.BatchItem(ctx, id)
	if err != nil {
		return nil, err
	}
	p := auth.PrincipalFrom(ctx)
	d := &batchData{B: b, Paid: money.Totals{}, Failed: money.Totals{}, Terminal: b.Terminal,
		Methods: []payout.Method{payout.MethodCard, payout.MethodToken, payout.MethodEncryptedCard, payout.MethodTransfer},
		States4: stateOrder, Reports: reportLinks()}
	d.Final = final(&b.BatchSummary, b.Terminal)
	sums, err := c.db.StateSums(ctx, id)
	if err != nil {
		return nil, err
	}
	byState := map[payout.State]*stateLine{}
	groups := map[string]int{}
	for _, s := range sums {
		l := byState[s.State]
		if l == nil {
			l = &stateLine{State: s.State, Group: stateGroup(s.State), Totals: money.Totals{}}
			byState[s.State] = l
		}
		l.Rows += s.Rows
		l.Totals[s.Currency] += s.Minor
		groups[l.Group] += s.Rows
		switch s.State {
		case payout.StateSucceeded:
			d.Paid[s.Currency] += s.Minor
		case payout.StateFailed, payout.StateCancelled, payout.StateReturned:
			d.Failed[s.Currency] += s.Minor
		}
	}
	for _, st := range stateOrder {
		if l := byState[st]; l != nil {
			d.States = append(d.States, *l)
			delete(byState, st)
		}
	}
	for _, l := range byState { // states this console does not list (issue 11's)
		d.States = append(d.States, *l)
	}
	all := 0
	for _, n := range groups {
		all += n
	}
	x := 0.0
	for _, g := range groupOrder {
		if groups[g] > 0 {
			w := 100 * float64(groups[g]) / float64(all)
			d.Bar = append(d.Bar, segment{Group: g, Rows: groups[g], X: fmt.Sprintf("%.3f", x), W: fmt.Sprintf("%.3f", w)})
			x += w
		}
	}
	if d.Approvals, err = c.db.Approvals(ctx, id); err != nil {
		return nil, err
	}
	tj, _ := json.Marshal(b.Totals)
	d.TotalsJSON = string(tj)
	d.Uploader = p != nil && b.UploadedBy != "" && strings.EqualFold(p.Name, b.UploadedBy)
	d.CanApprove = p.Can(auth.PermApprove) && b.Status == payout.BatchAwaitingApproval
	open := b.Status != payout.BatchDone && b.Status != payout.BatchRejected && b.Status != payout.BatchCancelled
	d.CanCancel = open && (p.Roles.Has(auth.RoleChecker) || p.Can(auth.PermCancel) && d.Uploader)
	failed := 0
	for _, l := range d.States {
		if l.State == payout.StateFailed {
			failed += l.Rows
		}
	}
	for _, a := range BatchActions {
		if p.Can(a.Perm) && a.Show(b, failed, nil) {
			d.Actions = append(d.Actions, a)
		}
	}
	for _, a := range RowActions {
		// The uploader never releases or drops their batch's held rows
		// (the ledger refuses it: ledger.Service.DecideAs).
		if p.Can(a.Perm) && !(d.Uploader && a.Perm == auth.PermReleaseHeld) {
			d.RowActs = append(d.RowActs, a)
		}
	}
	if d.Exceptions, _, err = c.db.ExceptionQueue(ctx, ledger.ExceptionFilter{Batch: id, Limit: 20}); err != nil {
		return nil, err
	}

	// The rows: a page of the filtered rows.
	q := r.URL.Query()
	d.Filter = rowFilterForm{State: q.Get("state"), Method: q.Get("method"), Failed: q.Get("failed") == "1", Held: q.Get("held") == "1"}
	rf := ledger.RowFilter{Batch: id}
	if d.Filter.After, err = ledger.ParseRowCursor(q.Get("after")); err != nil {
		return nil, err
	}
	rf.After = d.Filter.After
	if d.Filter.State != "" {
		rf.States = append(rf.States, payout.State(d.Filter.State))
	}
	if d.Filter.Failed {
		rf.States = append(rf.States, payout.StateFailed)
	}
	rf.Held = d.Filter.Held
	if d.Filter.Method != "" {
		m, ok := payout.ParseMethod(d.Filter.Method)
		if !ok {
			return nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "unknown method %q", d.Filter.Method)
		}
		rf.Method = m
	}
	rows, next, err := c.db.RowPage(ctx, rf)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		line := rowLine{RowView: row, Explained: explain(l, row, b.Status, c.cfg.ThreeDSWindow)}
		line.LinkForm = c.cfg.Links != nil && row.CardWait && row.State == payout.StateReceived && row.Stop != "cancel" &&
			p.Can(auth.PermUpload) && d.Uploader && b.Status != payout.BatchCancelled
		for _, a := range d.RowActs {
			if a.Show(b, failed, &row) {
				line.Acts = append(line.Acts, a)
			}
		}
		d.Rows = append(d.Rows, line)
	}
	fq := d.Filter.query()
	base := "/console/batches/" + id
	if next != 0 {
		nq := d.Filter.query()
		nq.Set("after", itoa(next))
		d.Next = base + "?" + nq.Encode() + "#rows"
	}
	if d.Filter.After > 0 {
		d.First = base + "?" + fq.Encode() + "#rows"
	}
	lq := d.Filter.query()
	if d.Filter.After > 0 {
		lq.Set("after", itoa(d.Filter.After))
	}
	d.LiveURL = base + "/live?" + lq.Encode()
	return d, nil
}

// batchPage shows one batch.
func (c *Console) batchPage(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "batches", "")
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	d, err := c.batchData(ctx, r, r.PathValue("id"), v.L)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	v.Data = d
	v.Title = d.B.Name
	if v.Title == "" {
		v.Title = d.B.FileName
	}
	c.render(w, r, http.StatusOK, "batch", v)
}

// batchLive answers the batch page's live part (progress and rows) for
// its script to put in place.
func (c *Console) batchLive(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "batches", "")
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	d, err := c.batchData(ctx, r, r.PathValue("id"), v.L)
	if err != nil {
		httpErrorFragment(w, r, c, err)
		return
	}
	v.Data = d
	r.Header.Set("X-Console-Fragment", "update")
	c.render(w, r, http.StatusOK, "batch", v)
}

func httpErrorFragment(w http.ResponseWriter, r *http.Request, c *Console, err error) {
	e := ledgerapi.AsError(err)
	if e.Code == ledgerapi.CodeInternal {
		c.log.Error("console live update failed", "path", httpapi.LogPath(r.URL.Path), "error", logText(err))
	}
	w.WriteHeader(statusOf(err))
}

// decide approves or rejects for the checker signed in: the form carries
// the file hash and totals the page showed (what the approval binds to).
func (c *Console) decide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := c.newView(w, r, "batches", "")
		id := r.PathValue("id")
		if err := parseForm(w, r); err != nil {
			c.fail(w, r, v, err)
			return
		}
		var totals money.Totals
		if approve {
			if err := json.Unmarshal([]byte(r.PostFormValue("totals")), &totals); err != nil {
				c.fail(w, r, v, ledgerapi.Errorf(ledgerapi.CodeInvalid, "the approval form has no totals"))
				return
			}
		}
		_, err := c.svc.Decide(r.Context(), actor(r), ledger.Decision{Batch: id, Approve: approve,
			FileSHA256: strings.ToLower(strings.TrimSpace(r.PostFormValue("file_sha256"))), Totals: totals,
			Reason: r.PostFormValue("reason")})
		if err != nil {
			c.batchRefused(w, r, v, id, err)
			return
		}
		key := "approved"
		if !approve {
			key = "rejected"
		}
		back(w, r, "/console/batches/"+id, key)
	}
}

// cancel cancels a batch with a reason.
func (c *Console) cancel(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "batches", "")
	id := r.PathValue("id")
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, v, err)
		return
	}
	if _, err := c.svc.CancelAs(r.Context(), actor(r), id, strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		c.batchRefused(w, r, v, id, err)
		return
	}
	back(w, r, "/console/batches/"+id, "cancelled")
}

// batchRefused shows the batch page again with the refusal on top.
func (c *Console) batchRefused(w http.ResponseWriter, r *http.Request, v *view, id string, err error) {
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	d, derr := c.batchData(ctx, r, id, v.L)
	if derr != nil {
		c.fail(w, r, v, err)
		return
	}
	v.Data, v.Title, v.Err = d, d.B.Name, errorFor(err)
	if r.Header.Get("X-Console-Fragment") != "" {
		r.Header.Del("X-Console-Fragment")
	}
	c.render(w, r, statusOf(err), "batch", v)
}

// reportLink is a report's download: its format (the label's key) and the
// path after /batches/{id}/ (ledger.ReportPath).
type reportLink struct{ Format, Path string }

func reportLinks() []reportLink {
	out := make([]reportLink, 0, len(report.Formats))
	for _, f := range report.Formats {
		out = append(out, reportLink{Format: strings.ReplaceAll(f, ".", "_"), Path: ledger.ReportPath(f)})
	}
	return out
}

// issueLink issues a recipient link for a widget row and shows it once
// (the ledger keeps no way to show it again: issuing a new one revokes it).
func (c *Console) issueLink(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "batches", "")
	id := r.PathValue("id")
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, v, err)
		return
	}
	if c.cfg.Links == nil {
		c.batchRefused(w, r, v, id, ledgerapi.Errorf(ledgerapi.CodeNotFound, "recipient links are not set up (ledger run --widget-script)"))
		return
	}
	row, err := strconv.Atoi(r.PathValue("row"))
	if err != nil || row < 1 {
		c.batchRefused(w, r, v, id, ledgerapi.Errorf(ledgerapi.CodeInvalid, "row %q: a row number is needed", r.PathValue("row")))
		return
	}
	u, exp, err := c.cfg.Links.Issue(r.Context(), auth.PrincipalFrom(r.Context()), id, row)
	if err != nil {
		c.batchRefused(w, r, v, id, err)
		return
	}
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	d, err := c.batchData(ctx, r, id, v.L)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d.Link = &issuedLink{Row: row, URL: u, ExpiresAt: exp}
	v.Data, v.Title, v.Notice = d, d.B.Name, "done.link_issued"
	c.render(w, r, http.StatusOK, "batch", v)
}
