// Package httpserve is how payrun serves HTTP: every listener of every
// command (the all-in-one `payrun up`, the relay, the ledger's reports, the
// metrics listeners and the sandbox bank) is a Server with the same
// timeouts and the same graceful shutdown. It knows nothing of payrun's
// routes or error answers (internal/httpapi), so the sandbox uses it too.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Defaults of every Server.
const (
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes keep-alive connections that stay unused.
	IdleTimeout = 2 * time.Minute
	// Grace is how long a shutdown waits for the requests in flight before
	// it closes their connections.
	Grace = 5 * time.Second
)

// Option tunes a Server.
type Option func(*Server)

// ReadTimeout bounds reading a whole request, body included (default: no
// bound beyond the headers', for uploads of any size).
func ReadTimeout(d time.Duration) Option { return func(s *Server) { s.srv.ReadTimeout = d } }

// WriteTimeout bounds writing an answer (default: none, for downloads of
// any size).
func WriteTimeout(d time.Duration) Option { return func(s *Server) { s.srv.WriteTimeout = d } }

// ShutdownGrace sets how long a shutdown waits for requests in flight
// (default Grace).
func ShutdownGrace(d time.Duration) Option { return func(s *Server) { s.grace = d } }

// Logger sets where a failure to serve is logged (default slog.Default()).
func Logger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// Server is one HTTP listener. Listen binds it, so its address is known
// (and can be handed to whoever calls it) before it serves; Start serves in
// the background; Shutdown stops it.
type Server struct {
	srv   *http.Server
	ln    net.Listener
	grace time.Duration
	log   *slog.Logger

	start sync.Once
	stop  sync.Once
	done  chan struct{} // closed when Serve returned (or at a shutdown before Start)
	err   error         // Serve's failure, if any; set before done closes
}

// Listen binds addr ("127.0.0.1:8080", ":0") for h.
func Listen(addr string, h http.Handler, opts ...Option) (*Server, error) {
	s := &Server{
		srv:   &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout},
		grace: Grace,
		log:   slog.Default(),
		done:  make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.ln = ln
	return s, nil
}

// Serve listens on addr and serves h in the background until ctx ends,
// then shuts down gracefully. It returns the running server.
func Serve(ctx context.Context, addr string, h http.Handler, opts ...Option) (*Server, error) {
	s, err := Listen(addr, h, opts...)
	if err != nil {
		return nil, err
	}
	s.Start()
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		_ = s.Shutdown()
	}()
	return s, nil
}

// Addr is the bound address ("127.0.0.1:43117").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is http:// and the bound address.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Start serves in the background; a failure to serve is logged and
// returned by Shutdown and Run. Starting twice does nothing.
func (s *Server) Start() {
	s.start.Do(func() {
		go func() {
			defer close(s.done)
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.err = fmt.Errorf("serve %s: %w", s.Addr(), err)
				s.log.Error("HTTP server stopped", "addr", s.Addr(), "error", err)
			}
		}()
	})
}

// Run serves until ctx ends or serving fails, then shuts down.
func (s *Server) Run(ctx context.Context) error {
	s.Start()
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	return s.Shutdown()
}

// Shutdown stops accepting connections, lets the requests in flight finish
// within the grace period, then closes what is left. It returns a failure
// to serve, if there was one. A server that never started is closed.
func (s *Server) Shutdown() error {
	s.stop.Do(func() {
		started := true
		s.start.Do(func() { started = false; close(s.done) })
		if !started {
			s.err = s.ln.Close()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.grace)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			// Requests still running after the grace period: cut them.
			_ = s.srv.Close()
		}
		<-s.done
	})
	return s.err
}
