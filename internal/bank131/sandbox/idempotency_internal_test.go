package sandbox

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/testutil"
)

func internalServer(t *testing.T, modes Modes) *Server {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "keys", name))
		require.NoError(t, err)
		return b
	}
	pub, err := bank131.LoadPublicKey(read("partner_public.pem"))
	require.NoError(t, err)
	bank, err := bank131.LoadPrivateKey(read("bank_private.pem"))
	require.NoError(t, err)
	s, err := New(Config{Projects: []Project{{Name: "p", PublicKey: pub}}, BankKey: bank, Modes: modes, Logger: testutil.QuietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// A repeat while the first request still runs: idempotency_key_already_exists
// at once (the default), or it waits for the first and then answers as a
// repeat after it.
func TestIdempotencyInFlight(t *testing.T) {
	for _, mode := range []string{"error", "wait"} {
		t.Run(mode, func(t *testing.T) {
			s := internalServer(t, Modes{IdempotencyInFlight: mode})
			c := &call{project: s.projects["p"], version: "v1", method: "session/create", body: []byte(`{}`)}
			entered, release := make(chan struct{}), make(chan struct{})
			slow := func(*call) ([]byte, *apiError) {
				close(entered)
				<-release
				return []byte(`{"status":"ok"}`), nil
			}
			first := make(chan int, 1)
			go func() {
				status, _ := s.run(c, slow, "k")
				first <- status
			}()
			<-entered
			second := make(chan []byte, 1)
			go func() {
				_, body := s.run(c, func(*call) ([]byte, *apiError) { t.Error("the repeat ran the handler"); return nil, nil }, "k")
				second <- body
			}()
			if mode == "error" {
				require.Contains(t, string(<-second), "already in progress")
				close(release)
				require.Equal(t, http.StatusOK, <-first)
				return
			}
			select {
			case b := <-second:
				t.Fatalf("the repeat did not wait: %s", b)
			case <-time.After(50 * time.Millisecond):
			}
			close(release)
			require.Equal(t, http.StatusOK, <-first)
			require.Contains(t, string(<-second), bank131.CodeIdempotencyConflict)
		})
	}
}
