package hookrelay

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/testutil"
)

// TestReadyIsAStoreCheck: connected is not ready. /readyz answers from a
// probe that stores a message (cached for a second); a store that cannot
// take one is 503 while the connection stays up.
func TestReadyIsAStoreCheck(t *testing.T) {
	e := testutil.NATS(t)
	nc, js := testutil.JetStream(t, e.URL())
	require.NoError(t, queue.EnsureStreams(context.Background(), js, queue.Config{}))
	var failing atomic.Bool
	probe := StoreProbe(js, "test")
	relay := New(Config{JS: js, Conn: nc, Logger: testutil.QuietLogger(), Probe: func(ctx context.Context) error {
		if failing.Load() {
			return errors.New("nats: timeout")
		}
		return probe(ctx)
	}})
	srv := httptest.NewServer(relay)
	defer srv.Close()
	ready := func() (int, string) {
		resp, err := http.Get(srv.URL + "/readyz")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := ready()
	require.Equal(t, http.StatusOK, code, body)
	// The probe was stored, at its full size.
	st, err := js.Stream(context.Background(), queue.StreamProbe)
	require.NoError(t, err)
	m, err := st.GetLastMsgForSubject(context.Background(), queue.ProbeSubject("hookrelay", "test"))
	require.NoError(t, err)
	require.Len(t, m.Data, queue.ProbeSize)

	failing.Store(true)
	code, _ = ready()
	require.Equal(t, http.StatusOK, code, "a probe's answer serves for a second")
	time.Sleep(probeTTL + 100*time.Millisecond)
	code, body = ready()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "cannot store webhooks: nats: timeout")
	require.True(t, nc.IsConnected(), "still connected, yet not ready")

	failing.Store(false)
	time.Sleep(probeTTL + 100*time.Millisecond)
	code, body = ready()
	require.Equal(t, http.StatusOK, code, body)

	// Without PAYRUN_HOOKS there is nowhere to store a webhook.
	require.NoError(t, js.DeleteStream(context.Background(), queue.StreamHooks))
	time.Sleep(probeTTL + 100*time.Millisecond)
	code, body = ready()
	require.Equal(t, http.StatusServiceUnavailable, code, body)
}
