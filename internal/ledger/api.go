package ledger

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/micro"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
)

// Get returns a row's current state, by batch and row or by session
// (ledgerapi.RowRequest). An unknown row is a CodeNotFound *ledgerapi.Error.
func (s *Service) Get(ctx context.Context, req ledgerapi.RowRequest) (*ledgerapi.RowState, error) {
	var row *ledgerapi.RowState
	var err error
	if req.Batch == "" && req.SessionID != "" {
		row, err = s.db.RowBySession(req.SessionID)
	} else {
		row, err = s.db.Row(req.Batch, req.Row)
	}
	if err != nil {
		return nil, s.apiError(err)
	}
	return row, nil
}

// Transition applies a transition (see ledgerapi.Transition). It answers
// as ledgerapi.Client does: a refusal returns the reply, with the current
// row, and its *ledgerapi.Error; a failure of the ledger is a CodeInternal
// *ledgerapi.Error (logged in full).
func (s *Service) Transition(ctx context.Context, t ledgerapi.Transition) (*ledgerapi.TransitionReply, error) {
	var reply *ledgerapi.TransitionReply
	err := s.w.Do(ctx, func(tx *Tx) error {
		var err error
		reply, err = s.transition(tx, &t)
		return err
	})
	if err != nil {
		return nil, s.apiError(err)
	}
	if reply.Error != nil {
		return reply, reply.Error
	}
	return reply, nil
}

// Gate asks the gate (see ledgerapi.GateRequest). Refusals and failures
// come back as from Transition.
func (s *Service) Gate(ctx context.Context, g ledgerapi.GateRequest) (*ledgerapi.GateReply, error) {
	var reply *ledgerapi.GateReply
	err := s.w.Do(ctx, func(tx *Tx) error {
		var err error
		reply, err = s.gate(tx, &g)
		return err
	})
	if err != nil {
		return nil, s.apiError(err)
	}
	if reply.Error != nil {
		return reply, reply.Error
	}
	return reply, nil
}

// startAPI serves the ledgerapi endpoints as the micro service
// ledgerapi.ServiceName. Transitions and the gate do not block the
// subscription: the request goes to the writer, whose group commit answers
// it after the commit, so many requests share one transaction.
func (s *Service) startAPI() error {
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        ledgerapi.ServiceName,
		Version:     "1.0.0",
		Description: "payrun ledger: row transitions, the confirm gate, batch commands",
	})
	if err != nil {
		return fmt.Errorf("start ledger API: %w", err)
	}
	endpoints := []struct {
		name, subject string
		h             micro.HandlerFunc
	}{
		{"row_get", ledgerapi.SubjectRowGet, s.handleRowGet},
		{"row_transition", ledgerapi.SubjectRowTransition, s.handleTransition},
		{"row_gate", ledgerapi.SubjectRowGate, s.handleGate},
		{"batch_get", ledgerapi.SubjectBatchGet, s.handleBatchGet},
		{"batch_list", ledgerapi.SubjectBatchList, s.handleBatchList},
		{"report_import", ledgerapi.SubjectReportImport, s.handleReportImport},
		// No subject approves, rejects or cancels a batch: those are
		// people's actions, which reach the ledger only through its
		// authenticated HTTP API (a name typed into a NATS request proves
		// nothing). `ledger import-report` goes through the API too.
		{"batch_precheck", ledgerapi.SubjectBatchPrecheck, s.handlePrecheck},
	}
	for _, e := range endpoints {
		if err := svc.AddEndpoint(e.name, e.h, micro.WithEndpointSubject(e.subject),
			micro.WithEndpointPendingLimits(-1, -1)); err != nil {
			svc.Stop()
			return fmt.Errorf("start ledger API %s: %w", e.subject, err)
		}
	}
	s.svc = svc
	return nil
}

// apiError turns an error into the protocol's error: a ledgerapi code and
// the message users may see (ledgerapi.ErrorMessage); an internal failure
// is logged in full and answered as "internal error".
func (s *Service) apiError(err error) *ledgerapi.Error {
	if ledgerapi.ErrorCode(err) == ledgerapi.CodeInternal {
		s.log.Error("ledger request failed", logkey.Error, cardmask.Redact(err.Error()))
	}
	// The message may echo the request: answered with card numbers masked.
	e := ledgerapi.AsError(err)
	return &ledgerapi.Error{Code: e.Code, Message: cardmask.Redact(e.Message)}
}

func respond(req micro.Request, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		req.Error("500", "encode reply", nil)
		return
	}
	req.Respond(data)
}

func decode(req micro.Request, v any) *ledgerapi.Error {
	if err := json.Unmarshal(req.Data(), v); err != nil {
		return ledgerapi.Errorf(ledgerapi.CodeInvalid, "request is not valid JSON: %v", err)
	}
	return nil
}

func (s *Service) handleTransition(req micro.Request) {
	t := new(ledgerapi.Transition)
	if e := decode(req, t); e != nil {
		respond(req, ledgerapi.TransitionReply{Error: e})
		return
	}
	var reply *ledgerapi.TransitionReply
	s.w.Submit(func(tx *Tx) error {
		var err error
		reply, err = s.transition(tx, t)
		return err
	}, func(err error) {
		if err != nil {
			reply = &ledgerapi.TransitionReply{Error: s.apiError(err)}
		}
		go respond(req, reply)
	})
}

func (s *Service) handleGate(req micro.Request) {
	g := new(ledgerapi.GateRequest)
	if e := decode(req, g); e != nil {
		respond(req, ledgerapi.GateReply{Error: e})
		return
	}
	var reply *ledgerapi.GateReply
	s.w.Submit(func(tx *Tx) error {
		var err error
		reply, err = s.gate(tx, g)
		return err
	}, func(err error) {
		if err != nil {
			reply = &ledgerapi.GateReply{Error: s.apiError(err)}
		}
		go respond(req, reply)
	})
}

func (s *Service) handleRowGet(req micro.Request) {
	var r ledgerapi.RowRequest
	if e := decode(req, &r); e != nil {
		respond(req, ledgerapi.RowReply{Error: e})
		return
	}
	row, err := s.Get(context.Background(), r)
	if err != nil {
		respond(req, ledgerapi.RowReply{Error: ledgerapi.AsError(err)})
		return
	}
	respond(req, ledgerapi.RowReply{Row: row})
}

func (s *Service) handleBatchGet(req micro.Request) {
	var r ledgerapi.BatchRequest
	if e := decode(req, &r); e != nil {
		respond(req, ledgerapi.BatchReply{Error: e})
		return
	}
	b, err := s.db.Batch(context.Background(), r.Batch)
	if err != nil {
		respond(req, ledgerapi.BatchReply{Error: s.apiError(err)})
		return
	}
	respond(req, ledgerapi.BatchReply{Batch: b})
}

func (s *Service) handleBatchList(req micro.Request) {
	var r ledgerapi.BatchListRequest
	if e := decode(req, &r); e != nil {
		respond(req, ledgerapi.BatchListReply{Error: e})
		return
	}
	list, err := s.db.Batches(context.Background(), r.Limit)
	if err != nil {
		respond(req, ledgerapi.BatchListReply{Error: s.apiError(err)})
		return
	}
	respond(req, ledgerapi.BatchListReply{Batches: list})
}
