package ledger

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/testutil"
)

// TestHookCardNumberIsNotRecorded: a webhook an older relay published with
// a card number in the bank's free text (rev7: hook_events kept the error
// text and the body as received) is recorded with it masked, in the
// error text and in the kept body; the id it came with stays.
func TestHookCardNumberIsNotRecorded(t *testing.T) {
	env := startNATS(t)
	db := openDB(t, t.TempDir(), newClock())
	t.Cleanup(func() { db.Close() })
	startService(t, db, env, testConfig())

	body := `{"type":"payment_finished","session":{"id":"ps_9001","status":"error","error":{"code":"card_declined","description":"card 4111-1111-1111-1111 declined"}}}`
	publishHook(t, env.js, "payment_finished", []byte(body))
	var text string
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		err := db.r.QueryRow(`SELECT error_text FROM bank_events WHERE session_id = 'ps_9001'`).Scan(&text)
		if err != nil {
			return fmt.Errorf("not recorded yet: %w", err)
		}
		return nil
	})
	require.Equal(t, "card 411111******1111 declined", text)
	kept, err := db.HookBody(context.Background(), HashDestination(body))
	require.NoError(t, err)
	require.Equal(t, strings.Replace(body, "4111-1111-1111-1111", "411111******1111", 1), string(kept))
}
