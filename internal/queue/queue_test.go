package queue

import (
	"context"
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
