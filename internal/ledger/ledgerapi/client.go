package ledgerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Client calls the ledger over NATS request/reply.
type Client struct {
	nc      *nats.Conn
	timeout time.Duration
}

// NewClient returns a client; timeout bounds each request when the context
// has no earlier deadline (default 10s).
func NewClient(nc *nats.Conn, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Client{nc: nc, timeout: timeout}
}

// ErrUnavailable wraps failures to reach the ledger (no responders,
// timeouts): the caller should retry later, nothing was decided.
var ErrUnavailable = errors.New("ledger unavailable")

func (c *Client) call(ctx context.Context, subject string, req, reply any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", subject, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	msg, err := c.nc.RequestWithContext(ctx, subject, body)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", subject, ErrUnavailable, err)
	}
	if svcErr := msg.Header.Get("Nats-Service-Error"); svcErr != "" && len(msg.Data) == 0 {
		return fmt.Errorf("%s: %w: %s", subject, ErrUnavailable, svcErr)
	}
	if err := json.Unmarshal(msg.Data, reply); err != nil {
		return fmt.Errorf("decode %s reply: %w", subject, err)
	}
	return nil
}

// Get returns a row's current state.
func (c *Client) Get(ctx context.Context, req RowRequest) (*RowState, error) {
	var r RowReply
	if err := c.call(ctx, SubjectRowGet, req, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return r.Row, nil
}

// Transition asks for a transition. A refused transition returns the reply
// (with the current row) and its *Error.
func (c *Client) Transition(ctx context.Context, t Transition) (*TransitionReply, error) {
	var r TransitionReply
	if err := c.call(ctx, SubjectRowTransition, t, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return &r, r.Error
	}
	return &r, nil
}

// Gate asks whether a ready_to_confirm session may be confirmed.
func (c *Client) Gate(ctx context.Context, g GateRequest) (*GateReply, error) {
	var r GateReply
	if err := c.call(ctx, SubjectRowGate, g, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return &r, r.Error
	}
	return &r, nil
}

// Batch returns one batch's summary.
func (c *Client) Batch(ctx context.Context, batch string) (*BatchSummary, error) {
	var r BatchReply
	if err := c.call(ctx, SubjectBatchGet, BatchRequest{Batch: batch}, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return r.Batch, nil
}

// Batches lists batches, newest first.
func (c *Client) Batches(ctx context.Context, limit int) ([]BatchSummary, error) {
	var r BatchListReply
	if err := c.call(ctx, SubjectBatchList, BatchListRequest{Limit: limit}, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return r.Batches, nil
}
