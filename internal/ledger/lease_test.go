package ledger

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/testutil"
)

// TestWriteFence: once the lease could not be renewed for 4/5 of its TTL
// the writer commits nothing, and the lease reports itself lost.
func TestWriteFence(t *testing.T) {
	srv := testutil.NATS(t)
	_, js := testutil.JetStream(t, srv.URL())
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"))
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	lease, err := AcquireLease(ctx, js, LeaseConfig{Holder: "test", TTL: time.Second, Logger: testutil.QuietLogger()})
	require.NoError(t, err)
	db.SetWriteFence(lease.Fence)
	w := newWriter(db, 8)
	go w.run()
	defer w.stop()
	write := func(v string) error {
		return w.Do(ctx, func(tx *Tx) error {
			_, err := tx.Exec(`INSERT INTO cursors (name, seq) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET seq = seq + 1`, v)
			return err
		})
	}
	require.NoError(t, write("fence"))
	time.Sleep(400 * time.Millisecond)
	require.NoError(t, write("fence"), "renewed: still writing")

	srv.Close() // renewals fail from now on
	time.Sleep(time.Second)
	require.ErrorIs(t, lease.Fence(), ErrLeaseLost)
	require.ErrorIs(t, write("fence"), ErrLeaseLost)
	var seq int
	require.NoError(t, db.r.QueryRow(`SELECT seq FROM cursors WHERE name = 'fence'`).Scan(&seq))
	require.Equal(t, 2, seq, "the refused write committed nothing")
	select {
	case <-lease.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("the lease was not reported lost")
	}
}
