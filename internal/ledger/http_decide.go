package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// Decisions over HTTP: what a person decides on a batch or a row, served
// by NewHTTPHandler when it has the running service (WithService). Each
// route takes a JSON body {"by": "…", "reason": "…"} (resubmit adds
// "rows": [1, 2] or "failed": true) and answers {"batch": BatchSummary}
// (resubmit: ledgerapi.ResubmitReply, the child batch), or httpapi's error
// answer. Who decides is the body's "by" unless an Actor says otherwise
// (WithActor: the identity of an authenticated request).
//
//	POST /batches/{id}/approve               approve a batch that waits for approval
//	POST /batches/{id}/cancel                cancel a batch
//	POST /batches/{id}/hold                  put a batch on hold
//	POST /batches/{id}/resume                resume a batch on hold (the breaker's too)
//	POST /batches/{id}/resubmit              a child batch of failed rows
//	POST /batches/{id}/rows/{row}/cancel     cancel one row
//	POST /batches/{id}/rows/{row}/hold       put one row on hold
//	POST /batches/{id}/rows/{row}/resume     resume one row
//	POST /batches/{id}/rows/{row}/release    release a row the duplicate guard held
//	POST /batches/{id}/rows/{row}/drop       drop a row the duplicate guard held
//	GET  /batches/{id}/held                  the rows the guard held, with the decisions
//	GET  /batches/{id}/decisions             every decision taken on the batch

// WithService serves the decision routes with the running service.
func WithService(s *Service) HTTPOption {
	return func(h *httpHandler) { h.svc = s }
}

// Actor says who makes a decision over HTTP: given the request and the
// body's "by", it returns the name recorded with the decision, or an
// error (a *ledgerapi.Error with CodeUnauthorized refuses the request).
type Actor func(r *http.Request, by string) (string, error)

// WithActor sets who decides (default: the body's "by", required).
func WithActor(a Actor) HTTPOption {
	return func(h *httpHandler) { h.actor = a }
}

// DecisionRequest is the body of a decision route.
type DecisionRequest struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
	Rows   []int  `json:"rows,omitempty"`   // resubmit
	Failed bool   `json:"failed,omitempty"` // resubmit
}

// maxDecisionBody caps a decision's body.
const maxDecisionBody = 64 << 10

func (h *httpHandler) decisionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /batches/{id}/held", h.held)
	mux.HandleFunc("GET /batches/{id}/decisions", h.decisions)
	if h.svc == nil {
		return
	}
	batch := map[string]func(context.Context, ledgerapi.RowCommand) error{
		"approve": func(ctx context.Context, c ledgerapi.RowCommand) error {
			return h.svc.Approve(ctx, ledgerapi.BatchCommand{Batch: c.Batch, By: c.By, Reason: c.Reason})
		},
		"cancel": func(ctx context.Context, c ledgerapi.RowCommand) error {
			if strings.TrimSpace(c.Reason) == "" {
				return fmt.Errorf("%w: a reason is required", errInvalid)
			}
			return h.svc.Cancel(ctx, ledgerapi.BatchCommand{Batch: c.Batch, By: c.By, Reason: c.Reason})
		},
		"hold":   h.svc.Hold,
		"resume": h.svc.Resume,
	}
	for name, do := range batch {
		mux.HandleFunc("POST /batches/{id}/"+name, h.decide(false, do))
	}
	row := map[string]func(context.Context, ledgerapi.RowCommand) error{
		"cancel": h.svc.CancelRow, "hold": h.svc.Hold, "resume": h.svc.Resume,
		"release": h.svc.ReleaseHeld, "drop": h.svc.DropHeld,
	}
	for name, do := range row {
		mux.HandleFunc("POST /batches/{id}/rows/{row}/"+name, h.decide(true, do))
	}
	mux.HandleFunc("POST /batches/{id}/resubmit", h.resubmit)
}

// readDecision reads a decision's batch, row and body, and who decides.
func (h *httpHandler) readDecision(w http.ResponseWriter, r *http.Request, withRow bool) (ledgerapi.RowCommand, DecisionRequest, bool) {
	var cmd ledgerapi.RowCommand
	var req DecisionRequest
	id, ok := h.batchID(w, r)
	if !ok {
		return cmd, req, false
	}
	cmd.Batch = id
	if withRow {
		n, err := strconv.Atoi(r.PathValue("row"))
		if err != nil || n < 1 {
			h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeInvalid, "row must be a row number"))
			return cmd, req, false
		}
		cmd.Row = n
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDecisionBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeTooLarge, "the request body is over %d bytes", maxDecisionBody))
		} else {
			h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeInvalid, "read the request body: %v", err))
		}
		return cmd, req, false
	}
	if err := json.Unmarshal(body, &req); err != nil {
		h.fail(w, r, ledgerapi.Errorf(ledgerapi.CodeInvalid, `the body must be JSON {"by": "…", "reason": "…"}: %v`, err))
		return cmd, req, false
	}
	by := strings.TrimSpace(req.By)
	if h.actor != nil {
		if by, err = h.actor(r, by); err != nil {
			h.fail(w, r, err)
			return cmd, req, false
		}
	}
	cmd.By, cmd.Reason = by, strings.TrimSpace(req.Reason)
	return cmd, req, true
}

func (h *httpHandler) decide(withRow bool, do func(context.Context, ledgerapi.RowCommand) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cmd, _, ok := h.readDecision(w, r, withRow)
		if !ok {
			return
		}
		// The decision is recorded whatever happens to the connection.
		ctx := context.WithoutCancel(r.Context())
		if err := do(ctx, cmd); err != nil {
			h.fail(w, r, h.svc.apiError(err))
			return
		}
		sum, err := h.db.Batch(ctx, cmd.Batch)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.writeJSON(w, http.StatusOK, ledgerapi.BatchReply{Batch: sum})
	}
}

func (h *httpHandler) resubmit(w http.ResponseWriter, r *http.Request) {
	cmd, req, ok := h.readDecision(w, r, false)
	if !ok {
		return
	}
	reply, err := h.svc.Resubmit(context.WithoutCancel(r.Context()), ledgerapi.ResubmitCommand{Batch: cmd.Batch, Rows: req.Rows,
		Failed: req.Failed, By: cmd.By, Reason: cmd.Reason})
	if err != nil {
		h.fail(w, r, h.svc.apiError(err))
		return
	}
	h.writeJSON(w, http.StatusCreated, reply)
}

func (h *httpHandler) held(w http.ResponseWriter, r *http.Request) {
	id, ok := h.batchID(w, r)
	if !ok {
		return
	}
	if _, err := h.db.Batch(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	list, err := h.db.Holds(r.Context(), id, 0)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []Hold{}
	}
	h.writeJSON(w, http.StatusOK, struct {
		Held []Hold `json:"held"`
	}{list})
}

func (h *httpHandler) decisions(w http.ResponseWriter, r *http.Request) {
	id, ok := h.batchID(w, r)
	if !ok {
		return
	}
	if _, err := h.db.Batch(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	list, err := h.db.Decisions(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []Decision{}
	}
	h.writeJSON(w, http.StatusOK, struct {
		Decisions []Decision `json:"decisions"`
	}{list})
}
