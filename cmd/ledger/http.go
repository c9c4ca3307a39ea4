package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/logkey"
)

// serveHTTP serves ledger.NewHTTPHandler (batches and report downloads)
// on addr until ctx ends. An empty addr serves nothing. It returns the
// bound address.
func serveHTTP(ctx context.Context, addr string, db *ledger.DB, log *slog.Logger) (string, error) {
	if addr == "" {
		return "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("reports listener %s: %w", addr, err)
	}
	srv := &http.Server{Handler: ledger.NewHTTPHandler(db, ledger.WithHTTPLogger(log)), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("reports server stopped", logkey.Error, err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("batches and reports over HTTP", "http", "http://"+ln.Addr().String()+"/batches")
	return ln.Addr().String(), nil
}
