package processor

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/ratelimit"
)

// TestFenceStopsEveryCall: every call that opens or starts work at the
// bank (bpa/calculate, session/create, session/init/payout,
// multi/init/payment, session/start/payout) is recorded in the ledger
// after the limiter let it go and before it leaves. A row on hold, or
// cancelled, meanwhile sends nothing: the job ends (hold) or the row is
// settled without the bank (cancel). A resume gives the row a new job that
// sends the call.
func TestFenceStopsEveryCall(t *testing.T) {
	const senderToken = "tok_sender_9a8b7c6d"
	tests := []struct {
		name string
		row  string
		flow CardFlow
		at   payout.State
		call string
	}{
		{"bpa/calculate", transferRow("F-1", "1001.00", senderToken), CardTwoStep, payout.StateClaimed, bank131.PathCalculate},
		{"session/create", tokenRow("F-2", "102.00", "tok_f2"), CardTwoStep, payout.StateOpening, bank131.PathSessionCreate},
		{"session/init/payout", cardRow("F-3", "103.00", "4242424242424242"), CardSingleRequest, payout.StateOpening, bank131.PathInitPayout},
		{"multi/init/payment", transferRow("F-4", "1004.00", senderToken), CardTwoStep, payout.StateOpening, bank131.PathMultiInitPayment},
		{"session/start/payout", tokenRow("F-5", "105.00", "tok_f5"), CardTwoStep, payout.StateStarting, bank131.PathStartPayout},
	}
	for _, stop := range []string{"hold row", "hold batch", "cancel row"} {
		t.Run(stop, func(t *testing.T) {
			h := newHarness(t)
			procs := map[CardFlow]*Processor{CardSingleRequest: h.processor(CardSingleRequest), CardTwoStep: h.processor(CardTwoStep)}
			var rows []string
			for _, tt := range tests {
				rows = append(rows, tt.row)
			}
			batch := h.ingest(rows...)
			runs := make([]*run, len(tests))
			for i, tt := range tests {
				runs[i] = h.run(procs[tt.flow], batch, i+1)
				h.stepTo(runs[i], tt.at)
			}
			// The calls wait in the limiter (their runs hold the row as it
			// was) while a person stops the rows.
			cmd := func(row int) ledgerapi.RowCommand {
				return ledgerapi.RowCommand{Batch: batch, Row: row, By: "anna", Reason: "wrong account"}
			}
			switch stop {
			case "hold batch":
				require.NoError(t, h.svc.Hold(h.ctx, cmd(0)))
			default:
				for i := range tests {
					if stop == "hold row" {
						require.NoError(t, h.svc.Hold(h.ctx, cmd(i+1)))
					} else {
						require.NoError(t, h.svc.CancelRow(h.ctx, cmd(i+1)))
					}
				}
			}
			before := h.calls.snapshot()
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := runs[i]
					done, err := r.step(h.ctx)
					if stop == "cancel row" {
						if tt.at != payout.StateClaimed {
							// The cancel gave the row a new pay job; this one
							// is stale and sends nothing.
							require.ErrorIs(t, err, errDrop)
							require.NoError(t, procs[tt.flow].pay(h.ctx, &progressCount{}, h.job(batch, i+1)))
						}
						require.Nil(t, h.calls.since(before), "nothing reached the bank")
						st := h.row(batch, i+1)
						require.Equal(t, payout.StateCancelled, st.State)
						if tt.at != payout.StateClaimed {
							require.Equal(t, "row_cancelled", st.ErrorCode)
						}
						return
					}
					require.NoError(t, err)
					require.Nil(t, h.calls.since(before), "nothing reached the bank")
					st := h.row(batch, i+1)
					require.False(t, done, "the fence refused: the next step sees the hold")
					require.True(t, r.st.OnHold)
					done, err = r.step(h.ctx)
					require.NoError(t, err)
					require.True(t, done, "on hold: the job ends")
					require.Equal(t, tt.at, st.State, "the row waits where it stood")
				})
			}
			require.Nil(t, h.calls.since(before), "nothing reached the bank while stopped")
			if stop == "cancel row" {
				sum, err := h.db.Batch(h.ctx, batch)
				require.NoError(t, err)
				require.Equal(t, len(tests), sum.ByState[payout.StateCancelled])
				return
			}

			// The sweeper leaves rows on hold alone.
			h.now.Add(2 * time.Minute)
			res, err := h.svc.Sweep(h.ctx)
			require.NoError(t, err)
			require.Zero(t, res.Requeued)

			if stop == "hold batch" {
				require.NoError(t, h.svc.Resume(h.ctx, cmd(0)))
			} else {
				for i := range tests {
					require.NoError(t, h.svc.Resume(h.ctx, cmd(i+1)))
				}
			}
			for i, tt := range tests {
				gen := runs[i].st.Gen
				st := h.row(batch, i+1)
				require.Equal(t, gen+1, st.Gen, "row %d has a new pay job", i+1)
				require.False(t, st.OnHold)
				snap := h.calls.snapshot()
				if err := procs[tt.flow].pay(h.ctx, &progressCount{}, h.job(batch, i+1)); !errors.Is(err, errDrop) {
					require.NoError(t, err)
				}
				require.Equal(t, 1, h.calls.since(snap)[tt.call], "%s: resumed, the call is sent", tt.name)
			}
		})
	}
}

// TestGateWaitsOnHold: a session at ready_to_confirm of a row on hold is
// neither confirmed nor cancelled; the resume asks the gate again with the
// webhook the bank sent (a hook job), and the row is paid once.
func TestGateWaitsOnHold(t *testing.T) {
	for _, method := range []string{"token", "transfer"} {
		t.Run(method, func(t *testing.T) {
			h := newHarness(t)
			p := h.processor(CardTwoStep)
			row := tokenRow("W-1", "301.00", "tok_w1")
			if method == "transfer" {
				row = transferRow("W-1", "1000.00", "tok_sender_9a8b7c6d")
			}
			batch := h.ingest(row)
			require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(batch, 1)))
			st := h.row(batch, 1)
			require.Equal(t, payout.StatePayoutStarted, st.State)
			cmd := ledgerapi.RowCommand{Batch: batch, Row: 1, By: "anna", Reason: "check the account"}
			require.NoError(t, h.svc.Hold(h.ctx, cmd))

			before := h.calls.snapshot()
			ready := h.hooks(bank131.HookReadyToConfirm, st.SessionID, 1)[0]
			require.NoError(t, p.handleHook(h.ctx, ready))
			require.Nil(t, h.calls.since(before), "no confirm, no cancel while on hold")
			require.Equal(t, payout.StatePayoutStarted, h.row(batch, 1).State)

			require.NoError(t, h.svc.Resume(h.ctx, cmd))
			job := h.nextJob(ledgerapi.JobHook)
			require.Equal(t, 1, job.Row)
			require.NoError(t, p.replay(h.ctx, job))
			st = h.row(batch, 1)
			require.Contains(t, []payout.State{payout.StateConfirmed, payout.StateActionRequired}, st.State)
			require.Equal(t, map[string]int{bank131.PathConfirm: 1}, h.calls.since(before))
			require.Equal(t, 1, sandboxPayout(t, h, st.SessionID).ConfirmsAccepted)
		})
	}
}

// nextJob waits for a job of kind in PAYRUN_JOBS and returns the latest.
func (h *harness) nextJob(kind string) ledgerapi.Job {
	t := h.t
	t.Helper()
	stream, err := h.js.Stream(h.ctx, queue.StreamJobs)
	require.NoError(t, err)
	var found *ledgerapi.Job
	require.Eventually(t, func() bool {
		info, err := stream.Info(h.ctx)
		require.NoError(t, err)
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
			m, err := stream.GetMsg(h.ctx, seq)
			if err != nil {
				continue
			}
			var j ledgerapi.Job
			if json.Unmarshal(m.Data, &j) == nil && j.Kind == kind {
				found = &j
			}
		}
		return found != nil
	}, 5*time.Second, 20*time.Millisecond, "a %s job", kind)
	return *found
}

// TestBankFaultsSlowTheLimiter: the bank answering 5xx, or not at all,
// slows the limiter down and fails no row: the job is handed back.
func TestBankFaultsSlowTheLimiter(t *testing.T) {
	for _, faults := range []sandbox.Faults{{ServerErrors: 1}, {Lost: 1}} {
		h := newHarness(t)
		p := h.processor(CardTwoStep)
		p.lim = ratelimit.New(100, 5)
		t.Cleanup(p.lim.Close)
		batch := h.ingest(tokenRow("B-1", "201.00", "tok_b1"))
		r := h.run(p, batch, 1)
		h.stepTo(r, payout.StateOpening)
		h.sb.SetFaults(faults)
		_, err := r.step(context.Background())
		if faults.ServerErrors > 0 {
			require.ErrorContains(t, err, "retry later", "the job is handed back")
		} else {
			require.NoError(t, err, "session/create unknown: a new attempt")
		}
		h.sb.SetFaults(noFaults)
		st := h.row(batch, 1)
		require.NotEqual(t, payout.StateFailed, st.State)
		stats := p.lim.Stats()
		require.NotZero(t, stats.Slowed)
		require.Less(t, stats.Limit, 100.0, "the limiter slowed down")
	}
}

// TestResubmittedRowPaysFromItsParentsMessage: a child row of a resubmit
// reads its parent's intake message, opens the card number sealed for the
// parent's row, and names itself to the bank (metadata, keys); the webhook
// settles the child, not the parent.
func TestResubmittedRowPaysFromItsParentsMessage(t *testing.T) {
	for _, flow := range []CardFlow{CardSingleRequest, CardTwoStep} {
		t.Run(string(flow), func(t *testing.T) {
			h := newHarness(t)
			p := h.processor(flow)
			parent := h.ingest(cardRow("R-1", "301.00", "4242424242424242"), tokenRow("R-2", "302.00", "tok_r2"))
			for n := 1; n <= 2; n++ {
				_, err := h.svc.Transition(h.ctx, ledgerapi.Transition{Batch: parent, Row: n, To: payout.StateClaimed, Gen: 1})
				require.NoError(t, err)
				_, err = h.svc.Transition(h.ctx, ledgerapi.Transition{Batch: parent, Row: n, To: payout.StateFailed,
					ErrorCode: "authentication_error", Reason: "wrong key"})
				require.NoError(t, err)
			}
			reply, err := h.svc.Resubmit(h.ctx, ledgerapi.ResubmitCommand{Batch: parent, Failed: true, By: "anna", Reason: "key fixed"})
			require.NoError(t, err)
			child := reply.Batch.Batch
			require.Eventually(t, func() bool {
				b, err := h.db.Batch(h.ctx, child)
				return err == nil && b.ByState[payout.StateQueued] == 2
			}, 5*time.Second, 10*time.Millisecond)
			for n := 1; n <= 2; n++ {
				require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(child, n)))
				st := h.row(child, n)
				require.Equal(t, payout.StatePayoutStarted, st.State, "row %d", n)
				po := sandboxPayout(t, h, st.SessionID)
				ref, err := payout.ParseBankRef(po.Metadata)
				require.NoError(t, err)
				require.Equal(t, payout.BankRef{Batch: child, Row: n, Reference: "R-" + itoa(n)}, ref, "the bank knows the child row")
				if n == 1 {
					require.Equal(t, "card/bank_card", po.Method, "the card number opened with the parent's row")
					require.Equal(t, "4242", po.Last4)
				}
			}
			// The first row's webhook settles the child row; the parent
			// stays failed.
			st := h.row(child, 1)
			if flow == CardTwoStep {
				require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookReadyToConfirm, st.SessionID, 1)[0]))
			}
			require.NoError(t, p.handleHook(h.ctx, h.hooks(bank131.HookPaymentFinished, st.SessionID, 1)[0]))
			require.Equal(t, payout.StateSucceeded, h.row(child, 1).State)
			require.Equal(t, payout.StateFailed, h.row(parent, 1).State)
		})
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

// TestPaysFromChunk: ingest publishes a file of 66 rows as a chunk of
// rows 1–64 and rows 65 and 66 alone; the processor finds a row in its
// chunk by number and checks that row's own bytes against the ledger's
// digest (another row's digest is refused), pays it, and a resubmitted
// row pays from its parent's chunk.
func TestPaysFromChunk(t *testing.T) {
	h := newHarness(t)
	p := h.processor(CardSingleRequest)
	rows := make([]string, 66)
	for i := range rows {
		rows[i] = tokenRow("C-"+strconv.Itoa(i+1), "10"+strconv.Itoa(i%10)+".00", "tok_c"+strconv.Itoa(i+1))
	}
	rows[2] = cardRow("C-3", "303.00", "4242424242424242")
	parent := h.ingest(rows...)
	first, last, alone := h.row(parent, 1), h.row(parent, 64), h.row(parent, 65)
	require.Equal(t, first.IntakeSeq, last.IntakeSeq, "rows 1–64 in one chunk")
	require.NotEqual(t, first.IntakeSeq, alone.IntakeSeq)
	for _, n := range []int{1, 3, 64, 65, 66} {
		st := h.row(parent, n)
		row, err := p.loadRow(h.ctx, st)
		require.NoError(t, err, "row %d", n)
		require.Equal(t, n, row.Index)
		require.Equal(t, "C-"+strconv.Itoa(n), row.Reference)
	}
	wrong := *h.row(parent, 4)
	wrong.RowDigest = h.row(parent, 5).RowDigest
	_, err := p.loadRow(h.ctx, &wrong)
	require.ErrorContains(t, err, "does not match the ledger's digest")

	for _, n := range []int{3, 65} {
		_, err := h.svc.Transition(h.ctx, ledgerapi.Transition{Batch: parent, Row: n, To: payout.StateClaimed, Gen: 1})
		require.NoError(t, err)
		_, err = h.svc.Transition(h.ctx, ledgerapi.Transition{Batch: parent, Row: n, To: payout.StateFailed,
			ErrorCode: "authentication_error", Reason: "wrong key"})
		require.NoError(t, err)
	}
	reply, err := h.svc.Resubmit(h.ctx, ledgerapi.ResubmitCommand{Batch: parent, Failed: true, By: "anna", Reason: "key fixed"})
	require.NoError(t, err)
	child := reply.Batch.Batch
	require.Eventually(t, func() bool {
		b, err := h.db.Batch(h.ctx, child)
		return err == nil && b.ByState[payout.StateQueued] == 2
	}, 5*time.Second, 10*time.Millisecond)
	for n, ref := range map[int]string{1: "C-3", 2: "C-65"} {
		require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(child, n)))
		st := h.row(child, n)
		require.Equal(t, payout.StatePayoutStarted, st.State, "row %d", n)
		po := sandboxPayout(t, h, st.SessionID)
		bref, err := payout.ParseBankRef(po.Metadata)
		require.NoError(t, err)
		require.Equal(t, payout.BankRef{Batch: child, Row: n, Reference: ref}, bref)
		if ref == "C-3" {
			require.Equal(t, first.IntakeSeq, st.IntakeSeq, "the parent's chunk")
			require.Equal(t, "card/bank_card", po.Method, "the card number opened with the parent's row, from its chunk")
			require.Equal(t, "4242", po.Last4)
		}
	}
}
