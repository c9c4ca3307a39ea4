package processor

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

// TestStep makes one step of the step table (docs/ARCHITECTURE.md, "The
// processor") from each state, with each outcome of its bank call, against
// the in-process ledger and the sandbox bank.
func TestStep(t *testing.T) {
	const senderToken = "tok_sender_9a8b7c6d"
	tests := []struct {
		name   string
		row    string
		flow   CardFlow
		from   payout.State   // reached by steps without faults
		faults sandbox.Faults // while the step under test runs
		want   payout.State
		done   bool           // the job has nothing more to do
		err    string         // the job is handed back with this error
		calls  map[string]int // the bank calls the step makes
		check  func(t *testing.T, h *harness, r *run)
	}{
		{name: "queued: claim", row: tokenRow("S-01", "101.00", "tok_s01"), from: payout.StateQueued, want: payout.StateClaimed},
		{name: "claimed, transfer: quote", row: transferRow("S-02", "1000.00", senderToken), from: payout.StateClaimed,
			want: payout.StateQuoted, calls: map[string]int{bank131.PathCalculate: 1},
			check: func(t *testing.T, h *harness, r *run) {
				require.NotNil(t, r.st.Quote)
				require.Equal(t, money.New(100000, "RUB"), r.st.Quote.Source)
				require.Equal(t, "TRY", r.st.Quote.Destination.Currency)
			}},
		{name: "claimed, token: intent to create", row: tokenRow("S-03", "103.00", "tok_s03"), from: payout.StateClaimed,
			want: payout.StateOpening, check: wantKey(createKey, 0)},
		{name: "claimed, card two-step: intent to create", row: cardRow("S-04", "104.00", "4242424242424242"), flow: CardTwoStep,
			from: payout.StateClaimed, want: payout.StateOpening, check: wantKey(createKey, 0)},
		{name: "claimed, card single-request: intent to init", row: cardRow("S-05", "105.00", "4242424242424242"), flow: CardSingleRequest,
			from: payout.StateClaimed, want: payout.StateOpening,
			check: func(t *testing.T, h *harness, r *run) {
				require.Equal(t, singleKey(r.st.Batch, r.st.Row, r.st.Attempt), r.st.IdemKey)
			}},
		{name: "quoted: intent to init the transfer", row: transferRow("S-06", "1006.00", senderToken), from: payout.StateQuoted,
			want: payout.StateOpening, check: wantKey(transferKey, 0)},
		{name: "opening, session/create ok", row: tokenRow("S-07", "107.00", "tok_s07"), from: payout.StateOpening,
			want: payout.StateSessionOpen, calls: map[string]int{bank131.PathSessionCreate: 1},
			check: func(t *testing.T, h *harness, r *run) {
				require.NotEmpty(t, r.st.SessionID)
				s, err := h.bank.Status(h.ctx, r.st.SessionID)
				require.NoError(t, err)
				require.Equal(t, bank131.SessionCreated, s.Session.Status, "an empty session at the bank")
			}},
		{name: "opening, session/create unknown: new attempt", row: tokenRow("S-08", "108.00", "tok_s08"), from: payout.StateOpening,
			faults: dropAnswers, want: payout.StateOpening, calls: map[string]int{bank131.PathSessionCreate: 1},
			check: func(t *testing.T, h *harness, r *run) {
				require.Equal(t, 1, r.st.Attempt)
				wantKey(createKey, 1)(t, h, r)
				require.Empty(t, r.st.SessionID, "the orphan session is not the row's")
			}},
		{name: "opening, session/init/payout ok", row: cardRow("S-09", "109.00", "4242424242424242"), flow: CardSingleRequest,
			from: payout.StateOpening, want: payout.StatePayoutStarted, calls: map[string]int{bank131.PathInitPayout: 1},
			check: func(t *testing.T, h *harness, r *run) {
				require.True(t, r.st.Sent, "the send was recorded before it left")
				require.NotEmpty(t, r.st.PayoutID)
				require.Equal(t, "card/bank_card", sandboxPayout(t, h, r.st.SessionID).Method)
			}},
		{name: "opening, session/init/payout refused", row: cardRow("S-10", "110.00", sandbox.CardRejectNotExist), flow: CardSingleRequest,
			from: payout.StateOpening, want: payout.StateFailed, calls: map[string]int{bank131.PathInitPayout: 1},
			check: wantError(bank131.CodeCardNumberNotExist)},
		{name: "opening, session/init/payout unknown: in doubt", row: cardRow("S-11", "111.00", "4242424242424242"), flow: CardSingleRequest,
			from: payout.StateOpening, faults: dropAnswers, want: payout.StateInDoubt, done: true,
			calls: map[string]int{bank131.PathInitPayout: 1},
			check: func(t *testing.T, h *harness, r *run) {
				require.Equal(t, singleKey(r.st.Batch, r.st.Row, r.st.Attempt), r.st.IdemKey, "never a new key")
				require.Equal(t, 0, r.st.Attempt)
			}},
		{name: "opening, multi/init/payment ok", row: transferRow("S-12", "1012.00", senderToken), from: payout.StateOpening,
			want: payout.StatePayoutStarted, calls: map[string]int{bank131.PathMultiInitPayment: 1},
			check: func(t *testing.T, h *harness, r *run) {
				require.Equal(t, "bank_account/iban", sandboxPayout(t, h, r.st.SessionID).Method)
			}},
		{name: "opening, multi/init/payment refused", row: transferRow("S-13", "1013.00", "tok_sender_"+sandbox.TokenRejectExpired),
			from: payout.StateOpening, want: payout.StateFailed, calls: map[string]int{bank131.PathMultiInitPayment: 1},
			check: wantError(bank131.CodeBankCardExpired)},
		{name: "opening, multi/init/payment unknown: same key again, then a new attempt", row: transferRow("S-14", "1014.00", senderToken),
			from: payout.StateOpening, faults: dropAnswers, want: payout.StateOpening, err: "retry later",
			calls: map[string]int{bank131.PathMultiInitPayment: 1},
			check: func(t *testing.T, h *harness, r *run) {
				require.Equal(t, 0, r.st.Attempt, "kept opening with its key")
				// The redelivery sends the same key: the bank has it
				// (idempotency_key_already_exists) but does not say which
				// session, so the row takes a new attempt; the gate
				// cancels the orphan.
				done, err := r.step(h.ctx)
				require.NoError(t, err)
				require.False(t, done)
				require.Equal(t, payout.StateOpening, r.st.State)
				require.Equal(t, 1, r.st.Attempt)
				wantKey(transferKey, 1)(t, h, r)
			}},
		{name: "session_open: intent to start", row: tokenRow("S-15", "115.00", "tok_s15"), from: payout.StateSessionOpen,
			want: payout.StateStarting, check: wantKey(startKey, 0)},
		{name: "starting, session/start/payout ok", row: tokenRow("S-16", "116.00", "tok_s16"), from: payout.StateStarting,
			want: payout.StatePayoutStarted, done: true, calls: map[string]int{bank131.PathStartPayout: 1},
			check: func(t *testing.T, h *harness, r *run) {
				require.NotEmpty(t, r.st.PayoutID)
				require.Equal(t, "card/tokenized_card", sandboxPayout(t, h, r.st.SessionID).Method)
			}},
		{name: "starting, session/start/payout refused", row: tokenRow("S-17", "117.00", "tok_s17_"+sandbox.TokenRejectNotExist),
			from: payout.StateStarting, want: payout.StateFailed, calls: map[string]int{bank131.PathStartPayout: 1},
			check: wantError(bank131.CodeCardNumberNotExist)},
		{name: "starting, session/start/payout unknown: started", row: tokenRow("S-18", "118.00", "tok_s18"),
			from: payout.StateStarting, faults: dropAnswers, want: payout.StatePayoutStarted, done: true,
			calls: map[string]int{bank131.PathStartPayout: 1},
			check: func(t *testing.T, h *harness, r *run) {
				require.Empty(t, r.st.PayoutID, "webhooks or session/status tell the rest")
			}},
		{name: "payout_started: only the bank moves it", row: tokenRow("S-19", "119.00", "tok_s19"),
			from: payout.StatePayoutStarted, want: payout.StatePayoutStarted, done: true},
	}

	h := newHarness(t)
	procs := map[CardFlow]*Processor{CardSingleRequest: h.processor(CardSingleRequest), CardTwoStep: h.processor(CardTwoStep)}
	var rows []string
	for _, tt := range tests {
		rows = append(rows, tt.row)
	}
	batch := h.ingest(rows...)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flow := tt.flow
			if flow == "" {
				flow = CardTwoStep
			}
			r := h.run(procs[flow], batch, i+1)
			h.stepTo(r, tt.from)
			before := h.calls.snapshot()
			h.sb.SetFaults(tt.faults)
			done, err := r.step(h.ctx)
			h.sb.SetFaults(noFaults)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.done, done, "done")
			require.Equal(t, tt.want, r.st.State)
			require.Equal(t, tt.want, h.row(batch, i+1).State, "the ledger's record")
			require.Equal(t, tt.calls, h.calls.since(before), "bank calls of the step")
			if tt.check != nil {
				tt.check(t, h, r)
			}
		})
	}
}

// wantKey checks the idempotency key the row's intent recorded.
func wantKey(key func(string, int, int) string, attempt int) func(*testing.T, *harness, *run) {
	return func(t *testing.T, _ *harness, r *run) {
		require.Equal(t, key(r.st.Batch, r.st.Row, attempt), r.st.IdemKey)
	}
}

// wantError checks the bank's code and a plain reason on a failed row.
func wantError(code string) func(*testing.T, *harness, *run) {
	return func(t *testing.T, _ *harness, r *run) {
		require.Equal(t, code, r.st.ErrorCode)
		require.Equal(t, bank131.Reason(code), r.st.Reason)
	}
}

// sandboxPayout is the bank's record of a session's payout.
func sandboxPayout(t *testing.T, h *harness, session string) sandbox.PayoutInfo {
	t.Helper()
	for _, p := range h.sb.Payouts() {
		if p.SessionID == session {
			return p
		}
	}
	t.Fatalf("the bank has no payout in session %q", session)
	return sandbox.PayoutInfo{}
}

// TestPay drives a row from queued to the bank in one job, for each flow,
// signalling progress after every step that leaves work to do.
func TestPay(t *testing.T) {
	tests := []struct {
		name     string
		row      string
		flow     CardFlow
		progress int
	}{
		// claimed, opening, session_open, starting; payout_started ends the job
		{"token, two-step", tokenRow("P-1", "201.00", "tok_p1"), CardTwoStep, 4},
		{"card, two-step", cardRow("P-2", "202.00", "4242424242424242"), CardTwoStep, 4},
		// claimed, opening, payout_started; then nothing to do
		{"card, single-request", cardRow("P-3", "203.00", "4242424242424242"), CardSingleRequest, 3},
		// claimed, quoted, opening, payout_started
		{"transfer", transferRow("P-4", "1000.00", "tok_sender_9a8b7c6d"), CardTwoStep, 4},
	}
	h := newHarness(t)
	procs := map[CardFlow]*Processor{CardSingleRequest: h.processor(CardSingleRequest), CardTwoStep: h.processor(CardTwoStep)}
	var rows []string
	for _, tt := range tests {
		rows = append(rows, tt.row)
	}
	batch := h.ingest(rows...)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := &progressCount{}
			require.NoError(t, procs[tt.flow].pay(h.ctx, msg, h.job(batch, i+1)))
			st := h.row(batch, i+1)
			require.Equal(t, payout.StatePayoutStarted, st.State)
			require.Equal(t, "w-test", st.Worker)
			require.Equal(t, tt.progress, msg.n, "progress signals")
			sandboxPayout(t, h, st.SessionID)
		})
	}
}

// TestPayDropsStaleWork: a job older than the row's gen, or a worker whose
// row was handed to newer work meanwhile, changes nothing and calls
// nobody.
func TestPayDropsStaleWork(t *testing.T) {
	h := newHarness(t)
	p := h.processor(CardTwoStep)
	batch := h.ingest(tokenRow("G-1", "301.00", "tok_g1"), tokenRow("G-2", "302.00", "tok_g2"))
	old := h.job(batch, 1)
	r := h.run(p, batch, 2)
	h.stepTo(r, payout.StateClaimed)

	// Both rows stop moving and their jobs are lost (PAYRUN_JOBS purged):
	// the sweeper re-enqueues them with gen 2.
	jobs, err := h.js.Stream(h.ctx, queue.StreamJobs)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := jobs.Info(h.ctx)
		return err == nil && info.State.Msgs == 2
	}, 10*time.Second, 10*time.Millisecond, "both jobs published")
	require.NoError(t, jobs.Purge(h.ctx))
	h.now.Add(2 * time.Minute)
	requeued := 0
	require.Eventually(t, func() bool {
		res, err := h.svc.Sweep(h.ctx)
		require.NoError(t, err)
		requeued += res.Requeued
		return requeued >= 2
	}, 10*time.Second, 20*time.Millisecond, "the ledger records both jobs' acknowledgements, then finds them gone")
	require.Equal(t, 2, requeued)
	require.Equal(t, 2, h.row(batch, 1).Gen)

	require.ErrorIs(t, p.pay(h.ctx, &progressCount{}, old), errDrop, "a job of gen 1 for a row at gen 2")
	done, err := r.step(h.ctx)
	require.ErrorIs(t, err, errDrop, "the worker of gen 1 is refused as stale")
	require.False(t, done)
	require.Equal(t, payout.StateQueued, h.row(batch, 1).State)
	require.Equal(t, payout.StateClaimed, h.row(batch, 2).State)
	require.Zero(t, h.calls.total())

	// The new job continues from where the row stands.
	require.NoError(t, p.pay(h.ctx, &progressCount{}, h.job(batch, 2)))
	require.Equal(t, payout.StatePayoutStarted, h.row(batch, 2).State)
}

// TestPayCancelledBatch: rows of a cancelled batch that a processor was
// opening get a new job, which settles them without calling the bank.
func TestPayCancelledBatch(t *testing.T) {
	tests := []struct {
		name string
		row  string
		flow CardFlow
		at   payout.State
		sent bool // the single-request send was recorded (a crash before its answer)
		want payout.State
	}{
		{"claimed: cancelled by the ledger", tokenRow("C-1", "401.00", "tok_c1"), CardTwoStep, payout.StateClaimed, false, payout.StateCancelled},
		{"opening, two-step", tokenRow("C-2", "402.00", "tok_c2"), CardTwoStep, payout.StateOpening, false, payout.StateCancelled},
		{"session_open", tokenRow("C-3", "403.00", "tok_c3"), CardTwoStep, payout.StateSessionOpen, false, payout.StateCancelled},
		{"starting", tokenRow("C-4", "404.00", "tok_c4"), CardTwoStep, payout.StateStarting, false, payout.StateCancelled},
		{"opening, transfer", transferRow("C-5", "1000.00", "tok_sender_9a8b7c6d"), CardTwoStep, payout.StateOpening, false, payout.StateCancelled},
		{"opening, single-request never sent", cardRow("C-6", "406.00", "4242424242424242"), CardSingleRequest, payout.StateOpening, false, payout.StateCancelled},
		{"opening, single-request sent: in doubt", cardRow("C-7", "407.00", "4242424242424242"), CardSingleRequest, payout.StateOpening, true, payout.StateInDoubt},
		{"payout_started: the bank's word settles it", tokenRow("C-8", "408.00", "tok_c8"), CardTwoStep, payout.StatePayoutStarted, false, payout.StatePayoutStarted},
	}
	h := newHarness(t)
	procs := map[CardFlow]*Processor{CardSingleRequest: h.processor(CardSingleRequest), CardTwoStep: h.processor(CardTwoStep)}
	var rows []string
	for _, tt := range tests {
		rows = append(rows, tt.row)
	}
	// One more row: a single-request payout whose send waits in the
	// limiter while the batch is cancelled.
	rows = append(rows, cardRow("C-9", "409.00", "4242424242424242"))
	batch := h.ingest(rows...)
	for i, tt := range tests {
		r := h.run(procs[tt.flow], batch, i+1)
		h.stepTo(r, tt.at)
		if tt.sent {
			require.NoError(t, r.fence(h.ctx, "session/init/payout"))
		}
	}
	waiting := h.run(procs[CardSingleRequest], batch, len(rows))
	h.stepTo(waiting, payout.StateOpening)

	before := h.calls.total()
	require.NoError(t, h.svc.Cancel(h.ctx, ledgerapi.BatchCommand{Batch: batch, By: "anna", Reason: "duplicate payroll"}))

	done, err := waiting.step(h.ctx)
	require.True(t, done)
	require.ErrorIs(t, err, errDrop, "the send is refused: the row went to newer work")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := procs[tt.flow].pay(h.ctx, &progressCount{}, h.job(batch, i+1))
			if !errors.Is(err, errDrop) { // a finished row: the job is acknowledged
				require.NoError(t, err)
			}
			st := h.row(batch, i+1)
			require.Equal(t, tt.want, st.State)
			if tt.want == payout.StateCancelled && tt.at != payout.StateClaimed {
				require.Equal(t, "batch_cancelled", st.ErrorCode)
			}
		})
	}
	require.NoError(t, procs[CardSingleRequest].pay(h.ctx, &progressCount{}, h.job(batch, len(rows))))
	require.Equal(t, payout.StateCancelled, h.row(batch, len(rows)).State, "the new job settles the waiting send")
	require.Equal(t, before, h.calls.total(), "nothing was sent after the cancel")
}

// TestLoadRowChecksTheDigest: a row whose intake message is not the one
// the ledger recorded is not paid.
func TestLoadRowChecksTheDigest(t *testing.T) {
	h := newHarness(t)
	p := h.processor(CardTwoStep)
	batch := h.ingest(tokenRow("D-1", "501.00", "tok_d1"), tokenRow("D-2", "502.00", "tok_d2"))
	st := h.row(batch, 1)
	other := h.row(batch, 2)
	st.RowDigest = other.RowDigest
	_, err := p.loadRow(h.ctx, st)
	require.ErrorContains(t, err, "does not match the ledger's digest")
	require.True(t, !errors.Is(err, errDrop))
}
