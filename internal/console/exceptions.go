package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/reconcile"
)

type categoryCount struct {
	Category reconcile.Category
	Open     int
}

type exceptionLine struct {
	ledger.QueueItem
	Comments []ledger.ExceptionComment
}

type exceptionsData struct {
	Counts     []categoryCount
	TotalOpen  int
	Categories []reconcile.Category
	Items      []exceptionLine
	Filter     exceptionFilterForm
	Users      []string
	Next       string
	First      string
	Back       string // this page, for the forms to come back to
	CanWork    bool
}

type exceptionFilterForm struct {
	Category, Batch, Assignee string
	Closed                    bool
}

func (f exceptionFilterForm) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"category": f.Category, "batch": f.Batch, "assignee": f.Assignee} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Closed {
		q.Set("closed", "1")
	}
	return q
}

// exceptionsPage is the queue: counts per category, filters, the oldest
// first, and each exception's work (assign, comment, resolve).
func (c *Console) exceptionsPage(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "exceptions", "")
	v.Title = v.L.T("exceptions.title")
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	q := r.URL.Query()
	d := &exceptionsData{Categories: reconcile.Categories, CanWork: v.P.Can(auth.PermExceptions),
		Filter: exceptionFilterForm{Category: q.Get("category"), Batch: maskEcho(strings.TrimSpace(q.Get("batch"))),
			Assignee: q.Get("assignee"), Closed: q.Get("closed") == "1"}}
	v.Data = d
	if d.Filter.Assignee == "me" {
		d.Filter.Assignee = v.P.Name
	}
	counts, err := c.db.ExceptionCounts(ctx)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	var cats []reconcile.Category
	for cat, n := range counts {
		cats = append(cats, cat)
		d.TotalOpen += n
	}
	reconcile.SortCategories(cats)
	for _, cat := range cats {
		d.Counts = append(d.Counts, categoryCount{cat, counts[cat]})
	}
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	items, next, err := c.db.ExceptionQueue(ctx, ledger.ExceptionFilter{Category: reconcile.Category(d.Filter.Category),
		Batch: d.Filter.Batch, Assignee: d.Filter.Assignee, Closed: d.Filter.Closed, After: after})
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	for _, it := range items {
		line := exceptionLine{QueueItem: it}
		if it.Comments > 0 {
			if line.Comments, err = c.db.ExceptionComments(ctx, it.ID); err != nil {
				c.fail(w, r, v, err)
				return
			}
		}
		d.Items = append(d.Items, line)
	}
	if d.CanWork {
		users, err := c.db.Users(ctx)
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		for _, u := range users {
			if !u.Disabled {
				d.Users = append(d.Users, u.Name)
			}
		}
	}
	fq := d.Filter.query()
	if next != 0 {
		nq := d.Filter.query()
		nq.Set("after", strconv.FormatInt(next, 10))
		d.Next = "/console/exceptions?" + nq.Encode()
	}
	if after > 0 {
		d.First = "/console/exceptions?" + fq.Encode()
	}
	d.Back = "/console/exceptions?" + fq.Encode()
	c.render(w, r, http.StatusOK, "exceptions", v)
}

// exceptionAction assigns (assignee), comments (comment) or resolves
// (reason) an exception as the signed-in checker.
func (c *Console) exceptionAction(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "exceptions", "")
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, v, err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.fail(w, r, v, ledgerapi.Errorf(ledgerapi.CodeNotFound, "no exception %q", r.PathValue("id")))
		return
	}
	by := actor(r)
	switch r.PathValue("action") {
	case "assign":
		who := r.PostFormValue("assignee")
		if who == "me" {
			who = by.Name
		}
		err = c.svc.AssignException(r.Context(), by, id, who)
	case "comment":
		err = c.svc.CommentException(r.Context(), by, id, r.PostFormValue("comment"))
	case "resolve":
		err = c.svc.ResolveException(r.Context(), by, id, r.PostFormValue("reason"))
	default:
		err = ledgerapi.Errorf(ledgerapi.CodeNotFound, "no such action %q", r.PathValue("action"))
	}
	if err != nil {
		v.Title = v.L.T("exceptions.title")
		c.fail(w, r, v, err)
		return
	}
	back(w, r, "/console/exceptions", "exception_"+r.PathValue("action"))
}
