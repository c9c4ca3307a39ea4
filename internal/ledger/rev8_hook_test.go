package ledger

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/testutil"
)

// TestRev8HookMetadataStillNamesItsRow: the bank echoes our metadata,
// {"payrun":"<batch>/<row>"}, in every webhook; the ledger finds a row by
// it (bank_events.ref_batch/ref_row: a restored ledger adopts a session
// the lost tail started by it, adoptReplayed, and notsent.go takes a row
// with a webhook naming it as sent). cardmask.RedactJSON (in hookrelay and
// in parseHook) read the batch id's last hex digits, the slash and the row
// number as one chain of digit groups: for this batch and row the chain
// (85757367707/398, 14 digits) passes the Luhn check and was masked, so
// the webhook named no row. A batch id ending in k digits puts at risk
// its rows whose numbers have 13-k digits or more, a tenth of them (the
// Luhn check): about 4 % of batch ids end in seven digits or more (rows
// from 100 000 on), about 1 % in ten or more (rows from 100 on).
func TestRev8HookMetadataStillNamesItsRow(t *testing.T) {
	const ref = "be81c16bdc85757367707/398"
	_, found := cardmask.Find(ref)
	require.True(t, found, "the masker reads %s as a card number", ref)

	env := startNATS(t)
	db := openDB(t, t.TempDir(), newClock())
	t.Cleanup(func() { db.Close() })
	startService(t, db, env, testConfig())
	body := `{"type":"payment_finished","session":{"id":"ps_138586000003","status":"accepted","payments":[{"id":"po_138586000004",` +
		`"status":"succeeded","amount_details":{"amount":10600,"currency":"rub"},"metadata":{"payrun":"` + ref + `","reference":"F-00006"}}]}}`
	publishHook(t, env.js, "payment_finished", []byte(body))
	var batch string
	var row int
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		err := db.r.QueryRow(`SELECT ref_batch, coalesce(ref_row, 0) FROM bank_events WHERE session_id = 'ps_138586000003'`).Scan(&batch, &row)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("not recorded yet")
		}
		return err
	})
	require.Equal(t, "be81c16bdc85757367707", batch, "the webhook names its batch")
	require.Equal(t, 398, row, "and its row")
	kept, err := db.HookBody(t.Context(), HashDestination(body))
	require.NoError(t, err)
	require.Equal(t, body, string(kept), "the body holds no card number: kept as the bank sent it")
}
