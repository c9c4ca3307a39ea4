package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/hookrelay"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/testutil"
)

func TestError(t *testing.T) {
	notFound := &ledgerapi.Error{Code: ledgerapi.CodeNotFound} // a mark wrapped with context
	tests := []struct {
		name   string
		err    error
		status int
		code   ledgerapi.Code
		msg    string
		logged bool
	}{
		{"invalid", ledgerapi.Errorf(ledgerapi.CodeInvalid, "limit must be a positive number"), 400, "invalid", "limit must be a positive number", false},
		{"wrapped mark", fmt.Errorf("batch %s: %w", "b1", notFound), 404, "not_found", "batch b1: not found", false},
		{"wrapped error", fmt.Errorf("read: %w", ledgerapi.Errorf(ledgerapi.CodeTooLarge, "over 10 bytes")), 413, "too_large", "read: over 10 bytes", false},
		{"unauthorized", ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "signature does not verify"), 401, "unauthorized", "signature does not verify", false},
		{"stale", ledgerapi.Errorf(ledgerapi.CodeStale, "row is at gen 2"), 409, "stale", "row is at gen 2", false},
		{"unavailable", ledgerapi.Errorf(ledgerapi.CodeUnavailable, "try again later"), 503, "unavailable", "try again later", false},
		{"too many", ledgerapi.Errorf(ledgerapi.CodeTooMany, "2 uploads of yours are running"), 429, "too_many", "2 uploads of yours are running", false},
		{"timeout", ledgerapi.Errorf(ledgerapi.CodeTimeout, "the body did not arrive within 5m0s"), 408, "timeout", "the body did not arrive within 5m0s", false},
		{"plain error", errors.New("disk full at /var/lib/payrun"), 500, "internal", "internal error", true},
		{"internal code", ledgerapi.Errorf(ledgerapi.CodeInternal, "sqlite: locked"), 500, "internal", "internal error", true},
		{"unknown code", ledgerapi.Errorf("teapot", "short and stout"), 500, "teapot", "short and stout", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/batches/b1", nil)
			httpapi.Error(w, r, slog.New(slog.NewTextHandler(&logs, nil)), tt.err)
			require.Equal(t, tt.status, w.Code)
			require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
			require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			var body map[string]map[string]string
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
			require.Equal(t, map[string]map[string]string{"error": {"code": string(tt.code), "message": tt.msg}}, body)
			if tt.logged {
				require.Contains(t, logs.String(), tt.err.Error(), "the full error is logged")
				require.Contains(t, logs.String(), "/batches/b1")
			} else {
				require.Empty(t, logs.String())
			}
		})
	}
}

func TestWriteJSONCannotEncode(t *testing.T) {
	w := httptest.NewRecorder()
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"f": func() {}}, slog.New(slog.DiscardHandler))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.JSONEq(t, `{"error":{"code":"internal","message":"internal error"}}`, w.Body.String())
}

// TestRoutes: every route goes to its handler; the webhook path is the
// relay's.
func TestRoutes(t *testing.T) {
	require.Equal(t, hookrelay.Path, httpapi.WebhookPath)
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, name) })
	}
	db, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	require.NoError(t, err)
	defer db.Close()
	svc := ledger.NewService(db, ledger.Config{Logger: testutil.QuietLogger()})
	defer svc.Close()
	ctx := context.Background()
	_, err = svc.AddUser(ctx, auth.HostActor("test"), ledger.NewUser{Name: "all", Roles: auth.AllRoles})
	require.NoError(t, err)
	tok, _, err := svc.CreateToken(ctx, auth.HostActor("test"), ledger.NewToken{User: "all", Name: "test"})
	require.NoError(t, err)
	g := httpapi.NewGuard(httpapi.GuardConfig{Directory: svc, Hosts: []string{"example.com"}, Logger: testutil.QuietLogger()})
	routes := httpapi.Routes{Webhooks: named("webhooks"), Uploads: named("uploads"), Reports: named("reports"), Metrics: named("metrics"),
		Commands: named("commands"), Decisions: named("decisions"), Pages: named("pages"), Guard: g}
	h := routes.Handler()
	tests := []struct{ method, path, want string }{
		{"POST", "/webhooks/bank131", "webhooks"},
		{"GET", "/healthz", "webhooks"},
		{"GET", "/readyz", "webhooks"},
		{"POST", "/batches", "uploads"},
		{"POST", "/batches/validate", "uploads"},
		{"GET", "/templates/card.xlsx", "uploads"},
		{"GET", "/batches", "reports"},
		{"GET", "/batches/b0123456789abcdef0123/report.csv", "reports"},
		{"GET", "/exceptions", "reports"},
		{"GET", "/batches/b0123456789abcdef0123/held", "reports"},
		{"POST", "/batches/b0123456789abcdef0123/hold", "decisions"},
		{"POST", "/batches/b0123456789abcdef0123/rows/3/release", "decisions"},
		{"GET", "/metrics", "metrics"},
		{"POST", "/batches/b0123456789abcdef0123/approve", "commands"},
		{"GET", "/audit", "commands"},
		{"PUT", "/policy", "commands"},
		{"POST", "/tokens/3/revoke", "commands"},
		{"GET", "/", "pages"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(tt.method, tt.path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(w, req)
		require.Equal(t, tt.want, w.Body.String(), "%s %s", tt.method, tt.path)
	}
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	httpapi.Routes{Reports: named("reports"), Guard: g}.Handler().ServeHTTP(w, req)
	require.Equal(t, http.StatusNotFound, w.Code, "a route without its handler is not mounted")
}
