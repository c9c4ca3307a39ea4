package httpserve_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/httpserve"
)

var quiet = httpserve.Logger(slog.New(slog.DiscardHandler))

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestShutdownLetsRequestsFinish: a request in flight when the shutdown
// starts gets its whole answer; new connections are refused.
func TestShutdownLetsRequestsFinish(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv, err := httpserve.Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	}), quiet)
	require.NoError(t, err)
	require.Equal(t, "http://"+srv.Addr(), srv.URL())
	srv.Start()

	type answer struct {
		status int
		body   string
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		status, body, err := get(srv.URL())
		got <- answer{status, body, err}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown() }()
	select {
	case err := <-stopped:
		t.Fatalf("shutdown returned before the request finished: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	a := <-got
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "done", a.body)
	require.NoError(t, <-stopped)
	require.NoError(t, srv.Shutdown(), "a second shutdown is harmless")
	_, _, err = get(srv.URL())
	require.Error(t, err, "no longer listening")
}

// TestShutdownGrace: a request that outlives the grace period is cut.
func TestShutdownGrace(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	srv, err := httpserve.Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
	}), httpserve.ShutdownGrace(20*time.Millisecond), quiet)
	require.NoError(t, err)
	srv.Start()
	got := make(chan error, 1)
	go func() {
		_, _, err := get(srv.URL())
		got <- err
	}()
	<-entered
	require.NoError(t, srv.Shutdown())
	require.Error(t, <-got, "the connection was closed")
}

// TestShutdownBeforeStart frees the address.
func TestShutdownBeforeStart(t *testing.T) {
	srv, err := httpserve.Listen("127.0.0.1:0", http.NotFoundHandler(), quiet)
	require.NoError(t, err)
	require.NoError(t, srv.Shutdown())
	again, err := httpserve.Listen(srv.Addr(), http.NotFoundHandler(), quiet)
	require.NoError(t, err, "the address is free again")
	require.NoError(t, again.Shutdown())
}

// TestServeUntilContextEnds: Serve answers until its context ends; Run
// returns then.
func TestServeUntilContextEnds(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := httpserve.Serve(ctx, "127.0.0.1:0", ok, quiet)
	require.NoError(t, err)
	status, body, err := get(srv.URL())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ok", body)
	cancel()
	require.Eventually(t, func() bool { _, _, err := get(srv.URL()); return err != nil }, 5*time.Second, 10*time.Millisecond)

	run, err := httpserve.Listen("127.0.0.1:0", ok, quiet)
	require.NoError(t, err)
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run.Run(ctx) }()
	require.Eventually(t, func() bool { _, _, err := get(run.URL()); return err == nil }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func TestListenRefusesABusyAddress(t *testing.T) {
	srv, err := httpserve.Listen("127.0.0.1:0", http.NotFoundHandler(), quiet)
	require.NoError(t, err)
	defer srv.Shutdown()
	_, err = httpserve.Listen(srv.Addr(), http.NotFoundHandler(), quiet)
	require.ErrorContains(t, err, "listen on "+srv.Addr())
}

// slowPost sends a POST announcing size bytes of body, then only first;
// the connection stays open until the test ends.
func slowPost(t *testing.T, addr string, size int, first string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", size, first)
	require.NoError(t, err)
	return c
}

// TestBodyTimeout: a body that does not arrive in time fails the
// handler's read with a deadline error; a handler may extend its own
// request's deadline, also behind a ResponseWriter wrapper without
// Unwrap; a handler that outlives the timeout after reading its body, or
// without a body, is not cancelled.
func TestBodyTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	type result struct {
		body   string
		err    error
		ctxErr error
	}
	got := make(chan result, 1)
	srv, err := httpserve.Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("extend") {
			// A wrapper that hides the connection, as some middleware does.
			hidden := struct{ http.ResponseWriter }{w}
			require.NoError(t, httpserve.SetBodyDeadline(hidden, r, time.Now().Add(10*timeout)))
		}
		b, err := io.ReadAll(r.Body)
		if err == nil {
			time.Sleep(2 * timeout) // work on after the body
		}
		got <- result{string(b), err, r.Context().Err()}
	}), quiet, httpserve.BodyTimeout(timeout))
	require.NoError(t, err)
	srv.Start()
	t.Cleanup(func() { srv.Shutdown() })

	// Never finished: cut off.
	slowPost(t, srv.Addr(), 100, "0123456789")
	r := <-got
	require.ErrorIs(t, r.err, os.ErrDeadlineExceeded)

	// Extended: the rest may come later than the default timeout.
	c, err := net.Dial("tcp", srv.Addr())
	require.NoError(t, err)
	defer c.Close()
	fmt.Fprintf(c, "POST /?extend HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
	time.Sleep(2 * timeout)
	io.WriteString(c, "56789")
	r = <-got
	require.NoError(t, r.err)
	require.Equal(t, "0123456789", r.body)
	require.NoError(t, r.ctxErr, "the deadline ends once the body was read")

	// A whole body, then work longer than the timeout.
	resp, err := http.Post(srv.URL(), "text/plain", strings.NewReader("hello"))
	require.NoError(t, err)
	resp.Body.Close()
	r = <-got
	require.NoError(t, r.err)
	require.NoError(t, r.ctxErr)

	// No body at all.
	resp, err = http.Get(srv.URL())
	require.NoError(t, err)
	resp.Body.Close()
	r = <-got
	require.NoError(t, r.err)
	require.NoError(t, r.ctxErr)
}

// TestReadTimeoutBoundsTheBody: with ReadTimeout set, the body timeout
// does not extend it.
func TestReadTimeoutBoundsTheBody(t *testing.T) {
	errs := make(chan error, 1)
	srv, err := httpserve.Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		errs <- err
	}), quiet, httpserve.ReadTimeout(200*time.Millisecond), httpserve.BodyTimeout(time.Hour))
	require.NoError(t, err)
	srv.Start()
	t.Cleanup(func() { srv.Shutdown() })
	slowPost(t, srv.Addr(), 100, "0123456789")
	select {
	case err := <-errs:
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	case <-time.After(30 * time.Second):
		t.Fatal("the body was not cut off by ReadTimeout")
	}
}
