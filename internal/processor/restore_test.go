package processor

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// TestTransferAfterRestore: a transfer reaches ready_to_confirm at the
// bank, then the ledger's disk is lost and it is restored from a replica
// that lacks the quote and the session (the replica's last second). The
// replay of the webhooks adopts the session: the row is in_doubt without a
// quote. The way out, in both ways the bank's decision comes back:
//
//   - the ready_to_confirm is delivered again: the processor fetches a new
//     quote (bpa/calculate) for the gate, which records it and checks the
//     bank's confirm_information against it — confirmed, never a
//     gate_mismatch for the missing quote;
//   - the webhook had been acknowledged (the lost tail took the decision):
//     the ledger's poll names the webhook it recorded, session/status
//     shows the session still waits for our confirm, and the processor
//     handles that webhook again, as above.
//
// Either way the bank accepts one confirm, and the row is paid once.
func TestTransferAfterRestore(t *testing.T) {
	for _, way := range []string{"webhook again", "poll"} {
		t.Run(way, func(t *testing.T) {
			h := newHarness(t)
			p := h.processor(CardTwoStep)
			batch := h.ingest(transferRow("RT-1", "1000.00", "tok_sender_9a8b7c6d"))
			replica := filepath.Join(t.TempDir(), "replica.db")
			snapshot(t, h.db.Path(), replica) // the replica: the row queued, no quote

			require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(batch, 1)))
			session := h.row(batch, 1).SessionID
			require.NotEmpty(t, session)
			ready := h.hooks(bank131.HookReadyToConfirm, session, 1)[0]

			h.restore(replica)
			p = h.processor(CardTwoStep)
			st := h.row(batch, 1)
			require.Equal(t, payout.StateInDoubt, st.State, "the replay adopted the bank's session")
			require.Equal(t, session, st.SessionID)
			require.Nil(t, st.Quote, "the quote was lost with the replica's last second")

			before := h.calls.snapshot()
			switch way {
			case "webhook again":
				require.NoError(t, p.handleHook(h.ctx, ready))
			case "poll":
				h.now.Add(3 * time.Minute) // past PollAfter
				_, err := h.svc.Sweep(h.ctx)
				require.NoError(t, err)
				job := h.nextJob(ledgerapi.JobPoll)
				require.Equal(t, session, job.SessionID)
				md, err := ready.Metadata()
				require.NoError(t, err)
				require.Equal(t, md.Sequence.Stream, job.HookSeq, "the poll names the ready_to_confirm the ledger recorded")
				require.NoError(t, p.poll(h.ctx, &progressCount{}, job))
			}
			st = h.row(batch, 1)
			require.Contains(t, []payout.State{payout.StateConfirmed, payout.StateActionRequired}, st.State, "%s: %s", st.ErrorCode, st.Reason)
			require.NotNil(t, st.Quote, "the quote fetched for the gate is recorded")
			calls := h.calls.since(before)
			require.Equal(t, 1, calls[bank131.PathConfirm], "%v", calls)
			require.Equal(t, 1, calls[bank131.PathCalculate], "%v", calls)
			require.Zero(t, calls[bank131.PathCancel], "%v", calls)

			require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookPaymentFinished, session, 1)[0]))
			st = h.row(batch, 1)
			require.Equal(t, payout.StateSucceeded, st.State)
			po := sandboxPayout(t, h, session)
			require.Equal(t, 1, po.ConfirmsAccepted)
			require.Len(t, h.sb.Payouts(), 1, "one session at the bank: nothing paid twice")
		})
	}
}

// snapshot copies the ledger's database at path to to, as a replica holds
// it at this moment.
func snapshot(t *testing.T, path, to string) {
	t.Helper()
	c, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Exec(`VACUUM INTO ?`, to)
	require.NoError(t, err)
}

// restore loses the ledger and brings it back from the replica, as
// `ledger restore` and the next `ledger run` do: the restore is recorded,
// and the new service replays the webhooks before it serves.
func (h *harness) restore(replica string) {
	t := h.t
	t.Helper()
	h.svc.Close()
	require.NoError(t, h.db.Close())
	db, err := ledger.Open(replica)
	require.NoError(t, err)
	db.Now = h.now.Now
	_, err = db.RecordRestore(h.ctx, "file://"+replica)
	require.NoError(t, err)
	h.db = db
	h.svc = ledger.NewService(h.db, ledger.Config{StuckAfter: time.Minute, ReleaseInterval: 20 * time.Millisecond,
		SweepInterval: time.Hour, Logger: quiet})
	require.NoError(t, h.svc.Start(h.ctx, h.nc))
}
