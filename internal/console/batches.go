package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// batchStatuses are the statuses the list filters by, in the order a
// batch goes through them.
var batchStatuses = []payout.BatchStatus{payout.BatchReceiving, payout.BatchAwaitingApproval, payout.BatchScheduled,
	payout.BatchReleased, payout.BatchDone, payout.BatchCancelled, payout.BatchRejected}

type batchesData struct {
	Items     []ledger.BatchItem
	Statuses  []payout.BatchStatus
	Status    string
	From, To  string // YYYY-MM-DD as typed
	Next      string // the next page's URL, "" at the end
	FirstPage string // "" on the first page
}

// batchesPage lists batches newest first: status and date filters (days
// in the console's zone), keyset paging (?before=cursor).
func (c *Console) batchesPage(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "batches", "")
	v.Title = v.L.T("batches.title")
	q := r.URL.Query()
	d := &batchesData{Statuses: batchStatuses, Status: q.Get("status"), From: q.Get("from"), To: q.Get("to")}
	v.Data = d
	f := ledger.BatchFilter{Before: q.Get("before")}
	if d.Status != "" {
		st := payout.BatchStatus(d.Status)
		known := false
		for _, s := range batchStatuses {
			known = known || s == st
		}
		if !known {
			c.fail(w, r, v, ledgerapi.Errorf(ledgerapi.CodeInvalid, "unknown status %q", d.Status))
			return
		}
		f.Status = st
	}
	var err error
	if f.From, err = c.day(d.From, 0); err == nil {
		f.To, err = c.day(d.To, 1)
	}
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	items, next, err := c.db.BatchPage(ctx, f)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d.Items = items
	if next != "" {
		nq := url.Values{}
		for _, k := range []string{"status", "from", "to"} {
			if q.Get(k) != "" {
				nq.Set(k, q.Get(k))
			}
		}
		nq.Set("before", next)
		d.Next = "/console/batches?" + nq.Encode()
	}
	if f.Before != "" {
		fq := url.Values{}
		for _, k := range []string{"status", "from", "to"} {
			if q.Get(k) != "" {
				fq.Set(k, q.Get(k))
			}
		}
		d.FirstPage = "/console/batches?" + fq.Encode()
	}
	c.render(w, r, http.StatusOK, "batches", v)
}

// day reads a YYYY-MM-DD date in the console's zone, plus days; "" is
// the zero time.
func (c *Console) day(s string, plus int) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, c.cfg.Zone)
	if err != nil {
		return time.Time{}, ledgerapi.Errorf(ledgerapi.CodeInvalid, "%q is not a date such as 2026-11-25", s)
	}
	return t.AddDate(0, 0, plus), nil
}

// final reports whether nothing more happens to the batch's rows.
func final(b *ledgerapi.BatchSummary, terminal int) bool {
	switch b.Status {
	case payout.BatchDone, payout.BatchRejected:
		return true
	case payout.BatchCancelled:
		return terminal >= b.Rows
	}
	return false
}
