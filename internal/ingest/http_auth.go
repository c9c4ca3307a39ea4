package ingest

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// uploader names the authenticated person uploading (the guard put the
// principal in the request's context), for the manifest.
func uploader(r *http.Request) (string, int64) {
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		return p.Name, p.UserID
	}
	return "", 0
}

// uploadKey names who uploads for the per-uploader limit: the signed-in
// person (their user id), else the client's address.
func uploadKey(r *http.Request) string {
	if p := auth.PrincipalFrom(r.Context()); p != nil && p.UserID != 0 {
		return fmt.Sprintf("user:%d", p.UserID)
	}
	return remoteIP(r)
}

// audit records an upload or a validation and how it ended.
func (h *Handler) audit(r *http.Request, publish bool, file string, res *Result, err error) {
	if h.cfg.Audit == nil {
		return
	}
	act := auth.ActValidate
	if publish {
		act = auth.ActUpload
	}
	var a auth.Actor
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		a = p.Actor()
	}
	e := auth.NewEntry(a, act, auth.OutcomeOK)
	e.Target = file
	switch {
	case err != nil:
		e.Outcome, e.Detail = auth.OutcomeFailed, ledgerapi.ErrorMessage(err)
		if c := ledgerapi.ErrorCode(err); c != ledgerapi.CodeInternal && c != ledgerapi.CodeUnavailable {
			e.Outcome = auth.OutcomeRefused
		}
	case res == nil:
		e.Outcome, e.Detail = auth.OutcomeFailed, "no result"
	case res.Status == StatusInvalid:
		e.Outcome, e.Detail = auth.OutcomeRefused, fmt.Sprintf("invalid: %d errors; nothing published", res.ErrorCount)
	default:
		e.Batch = res.Batch
		e.Detail = fmt.Sprintf("%s: %d rows, %s, sha256 %s", res.Status, res.Rows, res.Totals, res.FileSHA256)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if aerr := h.cfg.Audit(ctx, e); aerr != nil {
		h.cfg.Logger.Error("audit upload", "error", aerr)
	}
}
