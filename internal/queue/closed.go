package queue

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go"
)

// ErrConnClosed is the cause of a context ExitOnClose ended: the NATS
// connection closed for good. nats.go reconnects for ever (Connect sets
// MaxReconnects -1), so it closes only on a protocol error it does not
// recover from, such as a subject longer than the server's control line.
var ErrConnClosed = errors.New("the NATS connection closed for good")

// ExitOnClose returns a context that ends, with cause ErrConnClosed, when
// nc closes for good while ctx still lives. A long-running command serves
// with it and returns context.Cause(ctx) (ClosedError) when it ends, so it
// exits non-zero and its supervisor (systemd's Restart=) starts it afresh,
// instead of answering 503 for ever.
func ExitOnClose(ctx context.Context, nc *nats.Conn, log *slog.Logger) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	closed := func() {
		if ctx.Err() == nil && log != nil {
			log.Error("NATS connection closed for good; exiting so the supervisor restarts this process", "last_error", errString(nc.LastError()))
		}
		cancel(ErrConnClosed)
	}
	nc.SetClosedHandler(func(*nats.Conn) { closed() })
	if nc.IsClosed() {
		closed()
	}
	return ctx
}

// ClosedError returns ErrConnClosed when ctx (from ExitOnClose) ended
// because the connection closed, else nil.
func ClosedError(ctx context.Context) error {
	if err := context.Cause(ctx); errors.Is(err, ErrConnClosed) {
		return err
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
