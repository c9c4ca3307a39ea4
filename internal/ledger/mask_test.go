package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

// measured are the texts issue 10 measured passing the report's and the
// log's old maskers unchanged, and how the one masker shows them.
var measured = []struct{ raw, masked string }{
	{"card 4111.1111.1111.1111 refused", "card 411111******1111 refused"},
	{"card 4242\u00a04242\u00a04242\u00a04242 refused", "card 424242******4242 refused"},
}

// syncBuffer is a log destination for goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestLogMasksCardNumbers: who cancelled a batch and why is user text; the
// log line shows it masked.
func TestLogMasksCardNumbers(t *testing.T) {
	var logs syncBuffer
	db := openDB(t, t.TempDir(), newClock())
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	s := NewService(db, cfg)
	noApprovals(t, s)
	t.Cleanup(func() {
		s.Close()
		db.Close()
	})
	b := makeBatch(2, t.Name())
	record(t, s, b.msgs(1))
	require.NoError(t, s.Cancel(context.Background(), ledgerapi.BatchCommand{Batch: b.ID, By: measured[1].raw, Reason: measured[0].raw}))

	var line struct{ Msg, By, Reason string }
	for _, l := range bytes.Split([]byte(logs.String()), []byte("\n")) {
		if bytes.Contains(l, []byte(`"batch cancelled"`)) {
			require.NoError(t, json.Unmarshal(l, &line))
		}
	}
	require.Equal(t, "batch cancelled", line.Msg, logs.String())
	require.Equal(t, measured[1].masked, line.By)
	require.Equal(t, measured[0].masked, line.Reason)
	for _, m := range measured {
		require.NotContains(t, logs.String(), m.raw)
	}
}

// TestHTTPErrorMasksCardNumbers: an error answer that echoes the request
// (the batch id of the path) shows card numbers masked, and so does the
// ledger's NATS error answer.
func TestHTTPErrorMasksCardNumbers(t *testing.T) {
	s, _ := newService(t)
	srv := httptest.NewServer(NewHTTPHandler(s.db, WithHTTPLogger(quiet)))
	defer srv.Close()
	for path, want := range map[string]string{
		"/batches/card%204111.1111.1111.1111%20refused":           `batch "card 411111******1111 refused": not found`,
		"/batches/4242%C2%A04242%C2%A04242%C2%A04242/report.csv":  `batch "424242******4242": not found`,
		"/batches/card%204242%C2%A04242%C2%A04242%C2%A04242%20ok": `batch "card 424242******4242 ok": not found`,
	} {
		resp, body := get(t, srv, path)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		require.NoError(t, json.Unmarshal(body, &e), string(body))
		require.Equal(t, want, e.Error.Message, path)
		require.NotContains(t, string(body), "4111.1111", path)
		require.NotContains(t, string(body), `4242\u00a04242`, path)
	}

	for _, m := range measured {
		e := s.apiError(fmt.Errorf("%w: batch %s", errInvalid, m.raw))
		require.Equal(t, ledgerapi.CodeInvalid, e.Code)
		require.Equal(t, "invalid: batch "+m.masked, e.Message)
	}
}
