package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// Decisions over HTTP: what a person decides on a batch or a row, served
// by NewHTTPHandler when it has the running service (WithService). Each
// route takes a JSON body {"by": "…", "reason": "…"} (resubmit adds
// "rows": [1, 2] or "failed": true) and answers {"batch": BatchSummary}
// (resubmit: ledgerapi.ResubmitReply, the child batch), or httpapi's error
// answer. Who decides is the authenticated principal of the request (the
// guard put it in the context; a maker acts only on batches they
// uploaded); only without one (a handler served outside httpapi's guard,
// in tests) the body's "by", or an Actor (WithActor). Every decision is
// written to the audit log with its outcome. Approving, rejecting and
// cancelling a batch are the command handler's (httpcmd.go: bound to what
// the checker saw).
//
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
	type decision struct {
		do  func(context.Context, ledgerapi.RowCommand) error
		act auth.Action
	}
	batch := map[string]decision{
		"hold":   {h.svc.Hold, auth.ActHold},
		"resume": {h.svc.Resume, auth.ActResume},
	}
	for name, d := range batch {
		mux.HandleFunc("POST /batches/{id}/"+name, h.decide(false, d.act, d.do))
	}
	row := map[string]decision{
		"cancel": {h.svc.CancelRow, auth.ActCancel}, "hold": {h.svc.Hold, auth.ActHold}, "resume": {h.svc.Resume, auth.ActResume},
		"release": {h.svc.ReleaseHeld, auth.ActReleaseHeld}, "drop": {h.svc.DropHeld, auth.ActDropHeld},
	}
	for name, d := range row {
		mux.HandleFunc("POST /batches/{id}/rows/{row}/"+name, h.decide(true, d.act, d.do))
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
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		by = p.Name // DecideAs checks what p may decide
	} else if h.actor != nil {
		if by, err = h.actor(r, by); err != nil {
			h.fail(w, r, err)
			return cmd, req, false
		}
	}
	cmd.By, cmd.Reason = by, strings.TrimSpace(req.Reason)
	return cmd, req, true
}

// do runs a decision as the request's principal (Service.DecideAs: the
// rules, and the audit entry in the decision's transaction); without one
// (no person, nothing to record) as the command says.
func (h *httpHandler) do(r *http.Request, act auth.Action, cmd ledgerapi.RowCommand, fn func(context.Context, ledgerapi.RowCommand) error) error {
	// The decision is recorded whatever happens to the connection.
	ctx := context.WithoutCancel(r.Context())
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		return h.svc.DecideAs(ctx, p, act, cmd, fn)
	}
	return fn(ctx, cmd)
}

func (h *httpHandler) decide(withRow bool, act auth.Action, do func(context.Context, ledgerapi.RowCommand) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cmd, _, ok := h.readDecision(w, r, withRow)
		if !ok {
			return
		}
		if err := h.do(r, act, cmd, do); err != nil {
			h.fail(w, r, h.svc.apiError(err))
			return
		}
		sum, err := h.db.Batch(r.Context(), cmd.Batch)
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
	var reply *ledgerapi.ResubmitReply
	err := h.do(r, auth.ActResubmit, cmd, func(ctx context.Context, cmd ledgerapi.RowCommand) error {
		var err error
		reply, err = h.svc.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: cmd.Batch, Rows: req.Rows,
			Failed: req.Failed, By: cmd.By, ByUserID: principalID(r), Reason: cmd.Reason})
		return err
	})
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
		list = []DecisionRecord{}
	}
	h.writeJSON(w, http.StatusOK, struct {
		Decisions []DecisionRecord `json:"decisions"`
	}{list})
}

// principalID is the signed-in person's user id, 0 without one.
func principalID(r *http.Request) int64 {
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		return p.UserID
	}
	return 0
}
