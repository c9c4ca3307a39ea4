package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/payrun/payrun/internal/httpserve"
	"github.com/payrun/payrun/internal/ledger"
)

// serveHTTP serves ledger.NewHTTPHandler (batches and report downloads)
// on addr until ctx ends. An empty addr serves nothing. It returns the
// bound address.
func serveHTTP(ctx context.Context, addr string, db *ledger.DB, log *slog.Logger) (string, error) {
	if addr == "" {
		return "", nil
	}
	srv, err := httpserve.Serve(ctx, addr, ledger.NewHTTPHandler(db, ledger.WithHTTPLogger(log)), httpserve.Logger(log))
	if err != nil {
		return "", fmt.Errorf("reports listener: %w", err)
	}
	log.Info("batches and reports over HTTP", "http", srv.URL()+"/batches")
	return srv.Addr(), nil
}
