package httpserve_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
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
