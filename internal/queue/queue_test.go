package queue

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/queue/natsserver"
)

func TestToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ready_to_confirm", "ready_to_confirm"},
		{"a.b*c>d e", "a_b_c_d_e"},
		{"", "_"},
		{"тип", "______"},
	}
	for _, tt := range tests {
		if got := Token(tt.in); got != tt.want {
			t.Errorf("Token(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	got := RedactURL("nats://user:secret@h1:4222,nats://h2:4222")
	if got != "nats://***@h1:4222,nats://h2:4222" {
		t.Errorf("got %q", got)
	}
}

func TestEmbeddedStreams(t *testing.T) {
	e, err := natsserver.Start(natsserver.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	defer e.Close()
	nc, err := Connect(e.URL(), "test")
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, EnsureStreams(ctx, js, Config{}))
	require.NoError(t, EnsureStreams(ctx, js, Config{}), "second call must be a no-op")

	// A retried publish with the same id is stored once.
	for i := 0; i < 2; i++ {
		_, err := js.Publish(ctx, IntakeRowSubject("b0123456789abcdef0123"), []byte("x"), jetstream.WithMsgID(RowMsgID("b0123456789abcdef0123", 1)))
		require.NoError(t, err)
	}
	s, err := js.Stream(ctx, StreamIntake)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.Msgs)
}

func TestConnectUnreachable(t *testing.T) {
	_, err := Connect("nats://127.0.0.1:1", "test")
	require.Error(t, err)
	require.Contains(t, err.Error(), "cannot reach NATS")
}

func TestHookToken(t *testing.T) {
	long := strings.Repeat("ready_to_confirm", 400)
	for _, c := range []struct{ in, want string }{
		{"payment_finished", "payment_finished"},
		{"", "_"},
		{"a.b c>", "a_b_c_"},
		{strings.Repeat("a", 64), strings.Repeat("a", 64)},
	} {
		require.Equal(t, c.want, HookToken(c.in))
	}
	got := HookToken(long)
	require.Len(t, got, 50)
	require.True(t, strings.HasPrefix(got, long[:32]+"_h"), got)
	require.NotEqual(t, got, HookToken(long+"x"), "types with one beginning stay apart")
	require.Equal(t, got, HookToken(long), "the same type, the same token")
	require.Equal(t, HooksPrefix+got, HookSubject(long))
	require.NotEqual(t, HookToken(strings.Repeat("a", 65)), strings.Repeat("a", 65))
}

// ExitOnClose ends its context when the connection closes for good, as
// nats.go does after a protocol error (here: a subject longer than the
// server's control line, the hookrelay's old failure); a context that
// ends otherwise has no ClosedError.
func TestExitOnClose(t *testing.T) {
	srv, err := natsserver.Start(natsserver.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	nc, err := Connect(srv.URL(), "test")
	require.NoError(t, err)
	defer nc.Close()
	ctx := ExitOnClose(context.Background(), nc, nil)
	require.NoError(t, ClosedError(ctx))
	_ = nc.Publish(strings.Repeat("s", 8000), []byte("x"))
	_ = nc.Flush()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("the context lives on; connection closed: %v, last error %v", nc.IsClosed(), nc.LastError())
	}
	require.ErrorIs(t, ClosedError(ctx), ErrConnClosed)

	nc2, err := Connect(srv.URL(), "test2")
	require.NoError(t, err)
	parent, cancel := context.WithCancel(context.Background())
	ctx2 := ExitOnClose(parent, nc2, nil)
	cancel()
	nc2.Close()
	<-ctx2.Done()
	require.NoError(t, ClosedError(ctx2), "a stop asked for is not a closed connection")
}
