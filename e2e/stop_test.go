package e2e

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

// countStates counts the batch's rows in the states given (0 while the
// ledger does not know the batch).
func (s *system) countStates(batch string, states ...payout.State) int {
	b, err := s.ledger.Batch(context.Background(), batch)
	if err != nil {
		return 0
	}
	n := 0
	for _, st := range states {
		n += b.ByState[st]
	}
	return n
}

// waitNoneAtTheBank waits until the calls a hold let go have had their
// answers: a second for what passed its fence before the hold to leave
// (a call that waits in the limiter longer than 50 ms asks its fence
// again and is refused), then until no row waits for the bank's word on a
// payout it started. A count taken after the second alone missed the
// answers a loaded machine had not delivered yet. (Rows whose fence
// refused stay in opening or starting.)
func (s *system) waitNoneAtTheBank(batch string) {
	s.t.Helper()
	time.Sleep(time.Second)
	testutil.Eventually(s.t, 60*time.Second, 50*time.Millisecond, func() error {
		if n := s.countStates(batch, payout.StatePayoutStarted, payout.StateConfirming, payout.StateConfirmed); n > 0 {
			return fmt.Errorf("%d rows at the bank", n)
		}
		return nil
	})
}

// TestCancelStopsCallsWaitingInTheLimiter: a two-step batch (and card rows
// paid by session/init/payout) at --rate 3, with 16 rows waiting in the
// limiter, is cancelled. Not one session/start/payout or
// session/init/payout reaches the bank after the cancel (the sandbox's
// payouts by the time they were created): every such call is fenced by the
// ledger after the limiter lets it go. Every process is restarted after
// the cancel; nothing is paid.
func TestCancelStopsCallsWaitingInTheLimiter(t *testing.T) {
	// Sixteen calls at 3/s wait up to 5.3 s in the limiter: the job's
	// ack wait and the ledger's stuck deadline must be longer, or the row
	// is handed to newer work while its call waits (docs/ARCHITECTURE.md).
	s := startSystem(t, options{processorArgs: []string{"--rate", "3", "--burst", "1", "--ack-wait", "20s"},
		ledgerArgs: []string{"--stuck-after", "20s"}})
	var rows []map[string]string
	for i := 1; i <= 24; i++ {
		if i%4 == 0 {
			rows = append(rows, cardRow("L-"+itoa(i), itoa(200+i)+".00", "Ivanov Ivan", "4242424242424242"))
		} else {
			rows = append(rows, tokenRow("L-"+itoa(i), itoa(100+i)+".00", "Petrova Anna", "tok_limit_"+itoa(i)))
		}
	}
	batch := s.ingest(payoutFile(t, s.dir, "limited.csv", rows))
	// The creates go first; then sixteen workers wait in the limiter, most
	// with their session/start/payout (the card rows' session/init/payout).
	testutil.Eventually(t, 60*time.Second, 20*time.Millisecond, func() error {
		waiting := s.countStates(batch, payout.StateOpening, payout.StateStarting)
		if n := s.countStates(batch, payout.StateStarting); n < 12 || waiting < 16 {
			return fmt.Errorf("%d rows waiting in the limiter, %d of them to start", waiting, n)
		}
		return nil
	})
	t.Logf("waiting in the limiter at the cancel: %d rows, %d of them to start",
		s.countStates(batch, payout.StateOpening, payout.StateStarting), s.countStates(batch, payout.StateStarting))
	before := time.Now()
	s.decide("cancel", "--batch", batch, "--reason", "wrong file")
	after := time.Now()
	inFlight := s.payoutsOf(batch, before)
	require.LessOrEqual(t, inFlight, 1, "at most the one call the limiter let go before the cancel")

	s.restart()
	s.waitFinal(batch, len(rows), 60*time.Second, func(st payout.State) bool { return st.Terminal() || st == payout.StateInDoubt })
	time.Sleep(3 * time.Second) // every waiting call had its turn at 3/s
	require.Zero(t, s.payoutsOf(batch, after), "no session/start/payout or session/init/payout after the cancel")
	t.Logf("payouts at the bank: %d before the cancel, %d during it", s.payoutsOf(batch, time.Time{})-inFlight, inFlight)
	// Rows the bank had confirmed before the cancel finish as it says;
	// the ledger and the bank agree row by row.
	s.agree(batch, len(rows))
}

// TestHoldResumeAndCancelRow: a batch on hold starts nothing new (no
// payout is created at the bank while it is held) and its sessions at
// ready_to_confirm wait, neither confirmed nor cancelled; one row is
// cancelled and one held on its own; every process is restarted while
// held; the resume pays the rest (the waiting sessions asked again), the
// row's resume pays it, the cancelled row is never paid.
func TestHoldResumeAndCancelRow(t *testing.T) {
	s := startSystem(t, options{processorArgs: []string{"--rate", "4", "--burst", "1"}})
	var rows []map[string]string
	for i := 1; i <= 10; i++ {
		rows = append(rows, tokenRow("H-"+itoa(i), itoa(300+i)+".00", "Petrova Anna", "tok_hold_"+itoa(i)))
	}
	batch := s.ingest(payoutFile(t, s.dir, "hold.csv", rows))
	testutil.Eventually(t, 30*time.Second, 20*time.Millisecond, func() error {
		if n := s.countStates(batch, payout.StatePayoutStarted, payout.StateConfirming, payout.StateConfirmed, payout.StateSucceeded); n < 2 {
			return fmt.Errorf("%d rows started", n)
		}
		return nil
	})
	s.decide("hold", "--batch", batch, "--reason", "the account is being checked")
	held := time.Now()
	sum, err := s.ledger.Batch(context.Background(), batch)
	require.NoError(t, err)
	require.NotNil(t, sum.Hold)
	time.Sleep(500 * time.Millisecond) // a confirm the gate allowed before the hold lands
	confirmedAtHold := s.countStates(batch, payout.StateConfirmed, payout.StateConfirming, payout.StateSucceeded)

	// One row before the bank is cancelled, another held on its own.
	var cancel, own int
	for n := len(rows); n >= 1 && (cancel == 0 || own == 0); n-- {
		switch s.row(batch, n).State {
		case payout.StateQueued, payout.StateClaimed, payout.StateOpening, payout.StateSessionOpen, payout.StateStarting:
			if cancel == 0 {
				cancel = n
			} else {
				own = n
			}
		}
	}
	require.NotZero(t, own, "rows still before the bank")
	s.decide("cancel", "--batch", batch, "--row", itoa(cancel), "--reason", "left the company")
	s.decide("hold", "--batch", batch, "--row", itoa(own), "--reason", "check this one")

	time.Sleep(2 * time.Second) // sessions reach ready_to_confirm and wait
	s.restart()
	time.Sleep(2 * time.Second)
	require.LessOrEqual(t, s.payoutsOf(batch, held.Add(300*time.Millisecond)), 0, "nothing new reached the bank while on hold")
	require.Equal(t, confirmedAtHold, s.countStates(batch, payout.StateConfirmed, payout.StateConfirming, payout.StateSucceeded),
		"no session was confirmed while on hold")
	for _, ps := range s.bankPayouts() {
		for _, p := range ps {
			require.NotEqual(t, "cancelled", p.SessionStatus, "a waiting session was not cancelled")
		}
	}
	require.Equal(t, payout.StateCancelled, s.row(batch, cancel).State)

	s.decide("resume", "--batch", batch, "--reason", "checked")
	s.waitFinal(batch, len(rows)-1, 60*time.Second, func(st payout.State) bool {
		return st == payout.StateSucceeded || st == payout.StateCancelled
	})
	require.True(t, s.row(batch, own).OnHold)
	require.NotEqual(t, payout.StateSucceeded, s.row(batch, own).State)
	s.decide("resume", "--batch", batch, "--row", itoa(own), "--reason", "fine")
	sum = s.waitFinal(batch, len(rows), 60*time.Second, nil)
	require.Equal(t, len(rows)-1, sum.ByState[payout.StateSucceeded])
	require.Equal(t, 1, sum.ByState[payout.StateCancelled])
	s.agree(batch, len(rows))
	for ref, n := range s.paidByReference() {
		require.Equal(t, 1, n, ref)
	}
}

// TestBreakerHoldsTheBatch: every row fails with the same bank code (a
// sandbox trigger); with the breaker at 5 of the last 10 finished rows the
// batch puts itself on hold after its fifth failure, an exception names
// the code, and the rest waits, through a restart of every process, until
// a person resumes (it trips again) and then cancels it.
func TestBreakerHoldsTheBatch(t *testing.T) {
	s := startSystem(t, options{processorArgs: []string{"--rate", "10", "--burst", "1"},
		ledgerArgs: []string{"--breaker-failures", "5", "--breaker-window", "10"}})
	var rows []map[string]string
	for i := 1; i <= 30; i++ {
		rows = append(rows, tokenRow("B-"+itoa(i), itoa(400+i)+".00", "Petrova Anna", "tok_breaker_"+itoa(i)+"_dead0001"))
	}
	batch := s.ingest(payoutFile(t, s.dir, "breaker.csv", rows))
	var sum *ledgerapi.BatchSummary
	testutil.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error {
		var err error
		if sum, err = s.ledger.Batch(context.Background(), batch); err != nil {
			return err
		}
		if sum.Hold == nil {
			return fmt.Errorf("not on hold: %v", sum.ByState)
		}
		return nil
	})
	require.Equal(t, ledgerapi.HoldByBreaker, sum.Hold.Source)
	require.Contains(t, sum.Hold.Reason, "failed with the bank's code card_number_does_not_exist")
	s.waitNoneAtTheBank(batch) // calls in flight at the trip finish
	failed := s.countStates(batch, payout.StateFailed)
	require.GreaterOrEqual(t, failed, 5)
	require.LessOrEqual(t, failed, 7, "within the threshold, and the calls in flight when it tripped")
	s.restart()
	time.Sleep(3 * time.Second)
	require.Equal(t, failed, s.countStates(batch, payout.StateFailed), "nothing new starts while on hold")
	exc := s.httpGet("/exceptions?batch=" + batch)
	require.Contains(t, exc, `"category": "bank_failures"`)
	require.Contains(t, exc, "card_number_does_not_exist")

	s.decide("resume", "--batch", batch, "--reason", "the bank says it is fixed")
	testutil.Eventually(t, 60*time.Second, 50*time.Millisecond, func() error {
		b, err := s.ledger.Batch(context.Background(), batch)
		if err != nil {
			return err
		}
		if b.Hold == nil {
			return fmt.Errorf("not on hold again: %v", b.ByState)
		}
		return nil
	})
	s.waitNoneAtTheBank(batch)
	again := s.countStates(batch, payout.StateFailed)
	require.LessOrEqual(t, again, failed+7, "five more, and the calls in flight")
	s.decide("cancel", "--batch", batch, "--reason", "the bank is not fixed")
	sum = s.waitFinal(batch, len(rows), 60*time.Second, nil)
	require.Equal(t, payout.BatchCancelled, sum.Status)
	require.Equal(t, len(rows)-again, sum.ByState[payout.StateCancelled])
	require.Zero(t, sum.Exceptions, "the breaker's exception closed with the cancel")
	s.agree(batch, len(rows))
}
