package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/micro"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// Precheck answers, before an upload, which rows of a file the duplicate
// guard would hold: the same rules as at intake (guard.go), against the
// rows in the ledger now, read from the read pool; nothing is recorded.
// Repeats inside the file itself are for ingest to find (it has the whole
// file).
func (s *Service) Precheck(ctx context.Context, req ledgerapi.PrecheckRequest) (*ledgerapi.PrecheckReply, error) {
	if len(req.Rows) > ledgerapi.PrecheckChunk {
		return nil, fmt.Errorf("%w: at most %d rows per request", errInvalid, ledgerapi.PrecheckChunk)
	}
	g, err := s.guardIndex()
	if err != nil {
		return nil, err
	}
	refs := g.refs.Load()
	now := s.db.Now()
	byRef, err := s.db.r.PrepareContext(ctx, `SELECT o.batch_id, o.row_no, o.reference, o.state, o.moved_at FROM rows o
		WHERE o.reference = ? AND o.received_at >= ? AND o.state NOT IN ('failed', 'cancelled', 'returned')
		AND (SELECT b.status FROM batches b WHERE b.id = o.batch_id) <> 'rejected' AND o.batch_id <> ?
		ORDER BY o.state = 'succeeded' DESC, o.batch_id, o.row_no LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("precheck: %w", err)
	}
	defer byRef.Close()
	refSince := formatTime(now.Add(-s.cfg.RepeatRetention))
	window := now.Add(-s.cfg.DuplicateWindow)
	reply := &ledgerapi.PrecheckReply{}
	for _, r := range req.Rows {
		e := &earlierRow{kind: HoldRepeat}
		err := sql.ErrNoRows
		if refs.mayHave(r.Reference) {
			err = byRef.QueryRowContext(ctx, r.Reference, refSince, req.Batch).Scan(&e.batch, &e.no, &e.reference, &e.state, &e.movedAt)
		}
		switch {
		case errors.Is(err, sql.ErrNoRows) && r.Payee != "":
			k, kerr := payout.ParsePayeeKey(r.Payee)
			if kerr != nil {
				return nil, fmt.Errorf("%w: line %d: %w", errInvalid, r.Line, kerr)
			}
			// The same file, uploaded before, is no duplicate of itself.
			if e, err = earlierPayee(s.db.r, g.payees, k.Bytes(), norm(r.Amount), r.Reference, rowRef{batch: req.Batch}, window, nil, false); err != nil {
				return nil, err
			}
		case errors.Is(err, sql.ErrNoRows):
			e = nil
		case err != nil:
			return nil, fmt.Errorf("precheck line %d: %w", r.Line, err)
		}
		if e == nil {
			continue
		}
		reply.Hits = append(reply.Hits, ledgerapi.PrecheckHit{Line: r.Line, Kind: e.kind, EarlierBatch: e.batch,
			EarlierRow: e.no, Reason: e.reason(r.Reference)})
	}
	return reply, nil
}

func (s *Service) handlePrecheck(req micro.Request) {
	var r ledgerapi.PrecheckRequest
	if e := decode(req, &r); e != nil {
		respond(req, ledgerapi.PrecheckReply{Error: e})
		return
	}
	go func() {
		reply, err := s.Precheck(context.Background(), r)
		if err != nil {
			respond(req, ledgerapi.PrecheckReply{Error: s.apiError(err)})
			return
		}
		respond(req, reply)
	}()
}
