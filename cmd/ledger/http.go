package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/httpserve"
	"github.com/payrun/payrun/internal/ledger"
)

// serveHTTP serves ledger.NewHTTPHandler (batches, report downloads and
// the decisions of people on batches and rows) on addr until ctx ends. An empty addr serves nothing. It returns the
// bound address.
func serveHTTP(ctx context.Context, addr string, svc *ledger.Service, log *slog.Logger) (string, error) {
	if addr == "" {
		return "", nil
	}
	h := ledger.NewHTTPHandler(svc.DB(), ledger.WithHTTPLogger(log), ledger.WithService(svc))
	routes := httpapi.Routes{Reports: h, Decisions: h}
	srv, err := httpserve.Serve(ctx, addr, routes.Handler(), httpserve.Logger(log))
	if err != nil {
		return "", fmt.Errorf("reports listener: %w", err)
	}
	log.Info("batches and reports over HTTP", "http", srv.URL()+"/batches")
	return srv.Addr(), nil
}
