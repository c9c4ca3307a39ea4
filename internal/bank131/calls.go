package bank131

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// API paths, relative to Config.BaseURL. Session methods use API v1 names.
const (
	PathToken            = "/api/v1/token"
	PathTokenInfo        = "/api/v1/token/info"
	PathSessionCreate    = "/api/v1/session/create"
	PathStartPayout      = "/api/v1/session/start/payout"
	PathInitPayout       = "/api/v1/session/init/payout"
	PathConfirm          = "/api/v1/session/confirm"
	PathCancel           = "/api/v1/session/cancel"
	PathStatus           = "/api/v1/session/status"
	PathCalculate        = "/api/v1/bpa/calculate"
	PathMultiInitPayment = "/api/v1.1/bpa/session/multi/init/payment"
	PathWalletBalance    = "/api/v1/wallet/balance"
)

// DefaultBPAVersion is the API version of bpa/session/multi/init/payment
// when Config.BPAVersion is empty: seed 003's "Адрес для отправки запроса"
// and its curl use /api/v1.1/; its heading says /api/v1/.
const DefaultBPAVersion = "v1.1"

// MultiInitPaymentPath returns the path of bpa/session/multi/init/payment
// for an API version, "v1.1" or "v1".
func MultiInitPaymentPath(version string) (string, error) {
	switch version {
	case "v1.1", "v1":
		return "/api/" + version + "/bpa/session/multi/init/payment", nil
	}
	return "", fmt.Errorf("bank131: BPA version %q: want v1.1 or v1", version)
}

func (c *Client) session(ctx context.Context, method, path string, req any, opts []CallOption) (*SessionResponse, error) {
	var out SessionResponse
	if err := c.call(ctx, method, path, req, &out, opts); err != nil {
		return nil, err
	}
	if out.Session == nil {
		return nil, &UnreadableError{Method: method, HTTPStatus: 200, Err: errors.New("answer has no session")}
	}
	return &out, nil
}

// CreateSession calls session/create. The answer's session is "created".
func (c *Client) CreateSession(ctx context.Context, req CreateSessionRequest, opts ...CallOption) (*SessionResponse, error) {
	return c.session(ctx, "session/create", PathSessionCreate, req, opts)
}

// StartPayout calls session/start/payout on a created session. The bank
// answers with the session in_progress; ready_to_confirm (or, with
// automatic confirmation, payment_finished) follows as a webhook.
func (c *Client) StartPayout(ctx context.Context, req StartPayoutRequest, opts ...CallOption) (*SessionResponse, error) {
	if req.SessionID == "" {
		return nil, errors.New("bank131 session/start/payout: no session id")
	}
	return c.session(ctx, "session/start/payout", PathStartPayout, req, opts)
}

// InitPayout calls session/init/payout: session and payout in one call (the
// single-request flow). Always pass an idempotency key: a lost answer can
// only be recovered through it.
func (c *Client) InitPayout(ctx context.Context, req InitPayoutRequest, opts ...CallOption) (*SessionResponse, error) {
	return c.session(ctx, "session/init/payout", PathInitPayout, req, opts)
}

// Confirm calls session/confirm. confirmInfo is the confirm_information of
// the ready_to_confirm webhook exactly as received (nil when the webhook had
// none); it is embedded in the request byte for byte, never re-encoded.
func (c *Client) Confirm(ctx context.Context, sessionID string, confirmInfo json.RawMessage, opts ...CallOption) (*SessionResponse, error) {
	const method = "session/confirm"
	if sessionID == "" {
		return nil, fmt.Errorf("bank131 %s: no session id", method)
	}
	body, err := confirmBody(sessionID, confirmInfo)
	if err != nil {
		return nil, fmt.Errorf("bank131 %s: %w", method, err)
	}
	var out SessionResponse
	if err := c.send(ctx, method, PathConfirm, body, &out, opts); err != nil {
		return nil, err
	}
	if out.Session == nil {
		return nil, &UnreadableError{Method: method, HTTPStatus: 200, Err: errors.New("answer has no session")}
	}
	return &out, nil
}

// confirmBody writes {"session_id":"…","confirm_information":<raw>} with raw
// copied verbatim (json.Marshal would compact and re-escape it).
func confirmBody(sessionID string, confirmInfo json.RawMessage) ([]byte, error) {
	id, err := encode(sessionID)
	if err != nil {
		return nil, err
	}
	if len(confirmInfo) == 0 {
		return append(append([]byte(`{"session_id":`), id...), '}'), nil
	}
	if !json.Valid(confirmInfo) {
		return nil, errors.New("confirm_information is not valid JSON")
	}
	b := make([]byte, 0, len(id)+len(confirmInfo)+40)
	b = append(b, `{"session_id":`...)
	b = append(b, id...)
	b = append(b, `,"confirm_information":`...)
	b = append(b, confirmInfo...)
	return append(b, '}'), nil
}

// Cancel calls session/cancel. The answer may still show the session as it
// was before the cancel; the result follows in payment_finished or
// session/status.
func (c *Client) Cancel(ctx context.Context, sessionID string, opts ...CallOption) (*SessionResponse, error) {
	if sessionID == "" {
		return nil, errors.New("bank131 session/cancel: no session id")
	}
	return c.session(ctx, "session/cancel", PathCancel, SessionRequest{SessionID: sessionID}, opts)
}

// Status calls session/status and returns the session's current snapshot.
func (c *Client) Status(ctx context.Context, sessionID string, opts ...CallOption) (*SessionResponse, error) {
	if sessionID == "" {
		return nil, errors.New("bank131 session/status: no session id")
	}
	return c.session(ctx, "session/status", PathStatus, SessionRequest{SessionID: sessionID}, opts)
}

// IssuePublicToken calls token and returns the public token for the bank's
// JavaScript widgets (e.g. the tokenization widget).
func (c *Client) IssuePublicToken(ctx context.Context, req PublicTokenRequest, opts ...CallOption) (*PublicTokenResponse, error) {
	var out PublicTokenResponse
	if err := c.call(ctx, "token", PathToken, req, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// TokenInfo calls token/info, e.g. to learn a card token's last four digits.
func (c *Client) TokenInfo(ctx context.Context, req TokenInfoRequest, opts ...CallOption) (*TokenInfoResponse, error) {
	var out TokenInfoResponse
	if err := c.call(ctx, "token/info", PathTokenInfo, req, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// Calculate calls bpa/calculate for a cross-border quote.
func (c *Client) Calculate(ctx context.Context, req CalculateRequest, opts ...CallOption) (*CalculateResponse, error) {
	var out CalculateResponse
	if err := c.call(ctx, "bpa/calculate", PathCalculate, req, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// MultiInitPayment calls bpa/session/multi/init/payment (API v1.1, or the
// version of Config.BPAVersion) to start a cross-border transfer.
// ready_to_confirm with confirm_information follows.
func (c *Client) MultiInitPayment(ctx context.Context, req MultiInitPaymentRequest, opts ...CallOption) (*SessionResponse, error) {
	path, _ := MultiInitPaymentPath(c.cfg.BPAVersion) // checked by NewClient
	return c.session(ctx, "bpa/session/multi/init/payment", path, req, opts)
}
