// Package httpserve is how payrun serves HTTP: every listener of every
// command (the all-in-one `payrun up`, the relay, the ledger's reports, the
// metrics listeners and the sandbox bank) is a Server with the same
// timeouts and the same graceful shutdown. It knows nothing of payrun's
// routes or error answers (internal/httpapi), so the sandbox uses it too.
//
// Every request is bounded: its headers by ReadHeaderTimeout, its body by
// a body timeout that starts when its handler starts (DefaultBodyTimeout;
// a handler that takes large bodies, the upload handler, sets its own with
// SetBodyDeadline), and an idle connection by IdleTimeout. The body bound
// is a read deadline set per request rather than http.Server.ReadTimeout,
// so it can differ per route; it ends when the body was read, so a handler
// that works longer than that (publishing an upload) is not cut by it.
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
	// DefaultBodyTimeout bounds how long a client may take to send a
	// request's body, from the moment its handler starts.
	DefaultBodyTimeout = time.Minute
)

// Option tunes a Server.
type Option func(*Server)

// ReadTimeout bounds reading a whole request, body included, from its
// first byte (default: none; the body timeout bounds the body).
func ReadTimeout(d time.Duration) Option { return func(s *Server) { s.srv.ReadTimeout = d } }

// WriteTimeout bounds writing an answer (default: none, for downloads of
// any size).
func WriteTimeout(d time.Duration) Option { return func(s *Server) { s.srv.WriteTimeout = d } }

// BodyTimeout sets how long a client may take to send a request's body
// (default DefaultBodyTimeout; 0 or less: no bound). With ReadTimeout set,
// ReadTimeout bounds the body instead.
func BodyTimeout(d time.Duration) Option { return func(s *Server) { s.body = d } }

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
	body  time.Duration
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
		body:  DefaultBodyTimeout,
		log:   slog.Default(),
		done:  make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	body := s.body
	if s.srv.ReadTimeout > 0 {
		body = 0 // the whole request's bound is the body's too
	}
	s.srv.Handler = boundBody(h, body)
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

// bodyKey is the context key of a request's *http.ResponseController
// over the server's own ResponseWriter.
type bodyKey struct{}

// boundBody gives every request with a body d to send it. net/http lifts
// the deadline itself once the body was read to its end (it then reads
// the connection in the background, without a deadline, to notice a
// client that went away), so a handler working on afterwards is not cut.
func boundBody(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if d > 0 {
			_ = rc.SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyKey{}, rc)))
	})
}

// SetBodyDeadline sets when the rest of r's body must have arrived (the
// zero time: no bound). A read after it fails with an error that
// errors.Is(err, os.ErrDeadlineExceeded). Under a Server it reaches the
// connection however middleware wrapped w; elsewhere it goes through
// http.ResponseController(w) and may fail with http.ErrNotSupported.
func SetBodyDeadline(w http.ResponseWriter, r *http.Request, t time.Time) error {
	if rc, ok := r.Context().Value(bodyKey{}).(*http.ResponseController); ok {
		return rc.SetReadDeadline(t)
	}
	return http.NewResponseController(w).SetReadDeadline(t)
}
