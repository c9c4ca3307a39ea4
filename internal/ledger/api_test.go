package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/testutil"
)

// TestRefusalsInProcessAndOverNATS: the in-process Service and the NATS
// Client answer every refusal the same way, a reply with the current row
// and the same *ledgerapi.Error, so callers check it the same way
// whichever they hold.
func TestRefusalsInProcessAndOverNATS(t *testing.T) {
	env := startNATS(t)
	db := openDB(t, t.TempDir(), newClock())
	t.Cleanup(func() { db.Close() })
	s := startService(t, db, env, testConfig())
	client := ledgerapi.NewClient(env.nc, 5*time.Second)
	ctx := context.Background()

	b := makeBatch(3, t.Name())
	b.publish(t, env.js)
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := len(jobs(t, env.js)); n != 3 {
			return fmt.Errorf("%d jobs", n)
		}
		return nil
	})
	// Row 1 has session ps_1 open, row 2 is queued, row 3 is at the bank
	// with session ps_3.
	drive(t, s, b.ID, 1, ledgerapi.Transition{To: payout.StateClaimed, Gen: 1},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: "k1"},
		ledgerapi.Transition{To: payout.StateSessionOpen, SessionID: "ps_1"})
	drive(t, s, b.ID, 3, ledgerapi.Transition{To: payout.StateClaimed, Gen: 1},
		ledgerapi.Transition{To: payout.StateOpening, IdemKey: "k3"},
		ledgerapi.Transition{To: payout.StatePayoutStarted, SessionID: "ps_3", PayoutID: "po_3"})

	transitions := []struct {
		name string
		tr   ledgerapi.Transition
		code ledgerapi.Code
	}{
		{"stale gen", ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateStarting, Gen: 2}, ledgerapi.CodeStale},
		{"stale expect", ledgerapi.Transition{Batch: b.ID, Row: 1, To: payout.StateStarting, Expect: []payout.State{payout.StateQuoted}}, ledgerapi.CodeStale},
		{"illegal", ledgerapi.Transition{Batch: b.ID, Row: 2, To: payout.StateSucceeded}, ledgerapi.CodeIllegal},
		{"conflict", ledgerapi.Transition{Batch: b.ID, Row: 3, To: payout.StatePayoutStarted, SessionID: "ps_3", PayoutID: "po_other"}, ledgerapi.CodeConflict},
		{"foreign session", ledgerapi.Transition{Batch: b.ID, Row: 3, To: payout.StateFailed, SessionID: "ps_other"}, ledgerapi.CodeForeignSession},
		{"unknown row", ledgerapi.Transition{Batch: b.ID, Row: 99, To: payout.StateClaimed}, ledgerapi.CodeNotFound},
		{"unknown state", ledgerapi.Transition{Batch: b.ID, Row: 1, To: "paid"}, ledgerapi.CodeInvalid},
	}
	for _, tt := range transitions {
		t.Run(tt.name, func(t *testing.T) {
			inReply, inErr := s.Transition(ctx, tt.tr)
			natsReply, natsErr := client.Transition(ctx, tt.tr)
			require.True(t, ledgerapi.IsCode(inErr, tt.code), "in process: got %v", inErr)
			if tt.code == ledgerapi.CodeForeignSession {
				// The first answer recorded the session as foreign; the
				// second says so.
				require.True(t, ledgerapi.IsCode(natsErr, tt.code), "over NATS: got %v", natsErr)
			} else {
				require.Equal(t, inErr, natsErr)
			}
			require.Equal(t, inErr, error(inReply.Error), "the reply carries the refusal")
			require.Equal(t, inReply.Row == nil, natsReply.Row == nil)
			if inReply.Row != nil {
				require.Equal(t, inReply.Row.State, natsReply.Row.State)
			}
		})
	}

	gates := []struct {
		name string
		g    ledgerapi.GateRequest
		code ledgerapi.Code
	}{
		{"no session", ledgerapi.GateRequest{Batch: b.ID, Row: 2}, ledgerapi.CodeInvalid},
		{"unknown row", ledgerapi.GateRequest{Batch: b.ID, Row: 99, SessionID: "ps_99"}, ledgerapi.CodeNotFound},
		{"session not started", ledgerapi.GateRequest{Batch: b.ID, Row: 1, SessionID: "ps_1"}, ledgerapi.CodeIllegal},
	}
	for _, tt := range gates {
		t.Run("gate "+tt.name, func(t *testing.T) {
			_, inErr := s.Gate(ctx, tt.g)
			_, natsErr := client.Gate(ctx, tt.g)
			require.True(t, ledgerapi.IsCode(inErr, tt.code), "in process: got %v", inErr)
			require.Equal(t, inErr, natsErr)
		})
	}

	t.Run("get unknown row", func(t *testing.T) {
		for _, req := range []ledgerapi.RowRequest{{Batch: b.ID, Row: 99}, {SessionID: "ps_unknown"}} {
			_, inErr := s.Get(ctx, req)
			_, natsErr := client.Get(ctx, req)
			require.True(t, ledgerapi.IsCode(inErr, ledgerapi.CodeNotFound), "in process: got %v", inErr)
			require.Equal(t, inErr, natsErr)
		}
		in, err := s.Get(ctx, ledgerapi.RowRequest{SessionID: "ps_3"})
		require.NoError(t, err)
		over, err := client.Get(ctx, ledgerapi.RowRequest{SessionID: "ps_3"})
		require.NoError(t, err)
		require.Equal(t, in, over)
	})
}
