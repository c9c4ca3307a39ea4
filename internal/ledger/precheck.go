package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	return s.db.Precheck(ctx, req, s.cfg.RepeatRetention, s.cfg.DuplicateWindow)
}

// precheckLive lists the rows that count for the guard (paid or in flight,
// their batch not rejected).
const precheckLive = ` AND o.state NOT IN ('failed', 'cancelled', 'returned')
	AND (SELECT b.status FROM batches b WHERE b.id = o.batch_id) <> 'rejected' AND o.batch_id <> ?
	ORDER BY o.state = 'succeeded' DESC, o.batch_id, o.row_no LIMIT 1`

// Precheck is Service.Precheck on a database (read-only works).
func (db *DB) Precheck(ctx context.Context, req ledgerapi.PrecheckRequest, retention, window time.Duration) (*ledgerapi.PrecheckReply, error) {
	if len(req.Rows) > ledgerapi.PrecheckChunk {
		return nil, fmt.Errorf("%w: at most %d rows per request", errInvalid, ledgerapi.PrecheckChunk)
	}
	now := db.Now()
	conn, err := db.r.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("precheck: %w", err)
	}
	defer conn.Close()
	byRef, err := conn.PrepareContext(ctx, `SELECT o.batch_id, o.row_no, o.reference, o.state, o.moved_at FROM rows o
		WHERE o.reference = ? AND o.received_at >= ?`+precheckLive)
	if err != nil {
		return nil, fmt.Errorf("precheck: %w", err)
	}
	defer byRef.Close()
	byPayee, err := conn.PrepareContext(ctx, `SELECT o.batch_id, o.row_no, o.reference, o.state, o.moved_at FROM rows o
		WHERE o.payee = ? AND o.amount_minor = ? AND o.currency = ? AND o.reference <> ? AND o.received_at >= ?`+precheckLive)
	if err != nil {
		return nil, fmt.Errorf("precheck: %w", err)
	}
	defer byPayee.Close()
	refSince, payeeSince := formatTime(now.Add(-retention)), formatTime(now.Add(-window))
	reply := &ledgerapi.PrecheckReply{}
	for _, r := range req.Rows {
		e := &earlierRow{kind: HoldRepeat}
		err := byRef.QueryRowContext(ctx, r.Reference, refSince, req.Batch).Scan(&e.batch, &e.no, &e.reference, &e.state, &e.movedAt)
		if errors.Is(err, sql.ErrNoRows) && r.Payee != "" {
			var k payout.PayeeKey
			if k, err = payout.ParsePayeeKey(r.Payee); err != nil {
				return nil, fmt.Errorf("%w: line %d: %w", errInvalid, r.Line, err)
			}
			amount := norm(r.Amount)
			e = &earlierRow{kind: HoldDuplicate, payee: k.Bytes(), amount: amount}
			err = byPayee.QueryRowContext(ctx, k.Bytes(), amount.Minor, amount.Currency, r.Reference, payeeSince, req.Batch).
				Scan(&e.batch, &e.no, &e.reference, &e.state, &e.movedAt)
		}
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("precheck line %d: %w", r.Line, err)
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
