package sandbox_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/testutil"
)

// A key whose first request failed: released (the default), kept (the
// repeat gets idempotency_key_already_exists), or kept with the first
// error replayed. Nothing is ever paid twice.
func TestIdempotencyFailedFirstRequest(t *testing.T) {
	tests := []struct {
		mode     string
		wantCode string // of the repeat
		payouts  int
	}{
		{"", "", 1},
		{"release", "", 1},
		{"keep", bank131.CodeIdempotencyConflict, 0},
		{"keep-replay", bank131.CodeInternal, 0},
	}
	for _, tt := range tests {
		t.Run("mode "+tt.mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.IdempotencyFailed = tt.mode })
			c := e.client(projSingle)
			req := initReq(sandbox.AmountInternalOnce)
			_, err := c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b/1/init"))
			require.Equal(t, bank131.CodeInternal, bank131.ErrorCode(err))
			_, err = c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b/1/init"))
			require.Equal(t, tt.wantCode, bank131.ErrorCode(err), "%v", err)
			require.Len(t, e.srv.Payouts(), tt.payouts)
			// A new key is a new request in every mode.
			_, err = c.InitPayout(ctx, req, bank131.WithIdempotencyKey("b/1/init-2"))
			require.NoError(t, err)
			require.Len(t, e.srv.Payouts(), tt.payouts+1)
		})
	}
}

func TestIdempotencyScope(t *testing.T) {
	tests := []struct {
		mode                      string
		otherMethod, otherProject bool // a repeat of the key there is a new request
	}{
		{"", false, true},
		{"project", false, true},
		{"method", true, true},
		{"partner", false, false},
	}
	for _, tt := range tests {
		t.Run("mode "+tt.mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.IdempotencyScope = tt.mode })
			key := bank131.WithIdempotencyKey("shared")
			_, err := e.client(projTwoStep).CreateSession(ctx, bank131.CreateSessionRequest{}, key)
			require.NoError(t, err)
			_, err = e.client(projTwoStep).CreateSession(ctx, bank131.CreateSessionRequest{}, key)
			require.True(t, bank131.IsIdempotencyConflict(err), "the same method and project")
			_, err = e.client(projTwoStep).InitPayout(ctx, initReq(100), key)
			require.Equal(t, tt.otherMethod, err == nil, "another method: %v", err)
			_, err = e.client(projAuto).CreateSession(ctx, bank131.CreateSessionRequest{}, key)
			require.Equal(t, tt.otherProject, err == nil, "another project: %v", err)
		})
	}
}

func TestIdempotencyTTL(t *testing.T) {
	clock := testutil.NewClock(time.Now())
	e := newEnv(t, func(c *sandbox.Config) { c.Modes.IdempotencyTTL = time.Hour; c.Now = clock.Now })
	c := e.client(projSingle)
	key := bank131.WithIdempotencyKey("b/1/init")
	_, err := c.InitPayout(ctx, initReq(100), key)
	require.NoError(t, err)
	clock.Add(59 * time.Minute)
	_, err = c.InitPayout(ctx, initReq(100), key)
	require.True(t, bank131.IsIdempotencyConflict(err))
	clock.Add(2 * time.Minute)
	_, err = c.InitPayout(ctx, initReq(100), key)
	require.NoError(t, err, "after its TTL a key is a new request")
	require.Len(t, e.srv.Payouts(), 2)
}

func TestIdempotencyBody(t *testing.T) {
	tests := []struct {
		mode string
		code string // of the same key with another body
	}{
		{"", bank131.CodeIdempotencyConflict}, // ignored: an ordinary repeat
		{"ignore", bank131.CodeIdempotencyConflict},
		{"conflict", bank131.CodeIdempotencyConflict},
		{"invalid", bank131.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run("mode "+tt.mode, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.IdempotencyBody = tt.mode; c.IdempotencyReplay = true })
			c := e.client(projSingle)
			key := bank131.WithIdempotencyKey("b/1/init")
			first, err := c.InitPayout(ctx, initReq(100), key)
			require.NoError(t, err)
			again, err := c.InitPayout(ctx, initReq(100), key)
			require.NoError(t, err, "the same body is replayed")
			require.Equal(t, first.Session.ID, again.Session.ID)
			other, err := c.InitPayout(ctx, initReq(200), key)
			if tt.mode == "" || tt.mode == "ignore" {
				require.NoError(t, err, "another body under a known key is replayed like a repeat")
				require.Equal(t, first.Session.ID, other.Session.ID)
			} else {
				require.Equal(t, tt.code, bank131.ErrorCode(err))
			}
			require.Len(t, e.srv.Payouts(), 1)
		})
	}
}

func TestIdempotencyKeyFormat(t *testing.T) {
	tests := []struct {
		mode string
		key  string
		ok   bool
	}{
		{"", "b0123456789abcdef0123/1/a1/create", true},
		{"any", "ключ с пробелами", true},
		{"short", "b0123456789abcdef0123-1-a1-create", true},
		{"short", "b0123456789abcdef0123/1/a1/create", false},
		{"short", strings.Repeat("a", 65), false},
		{"uuid", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", true},
		{"uuid", "b/1/a1/create", false},
	}
	for _, tt := range tests {
		t.Run(tt.mode+" "+tt.key, func(t *testing.T) {
			e := newEnv(t, func(c *sandbox.Config) { c.Modes.IdempotencyFormat = tt.mode })
			_, err := e.client(projTwoStep).CreateSession(ctx, bank131.CreateSessionRequest{}, bank131.WithIdempotencyKey(tt.key))
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.Equal(t, bank131.CodeInvalidRequest, bank131.ErrorCode(err))
		})
	}
}
