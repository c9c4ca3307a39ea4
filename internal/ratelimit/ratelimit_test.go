package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/testutil"
)

func TestUnlimitedNeverWaits(t *testing.T) {
	l := New(Unlimited, 1)
	defer l.Close()
	for i := 0; i < 1000; i++ {
		if err := l.Wait(context.Background(), Low); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Stats().Granted[Low]; got != 1000 {
		t.Errorf("granted %d, want 1000", got)
	}
}

func TestHighBeforeLow(t *testing.T) {
	// 20 tokens/s: the bucket's one token goes at once, then one per 50ms.
	l := New(20, 1)
	defer l.Close()
	ctx := context.Background()
	if err := l.Wait(ctx, Low); err != nil { // drain the burst
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	start := func(name string, p Priority) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Wait(ctx, p); err != nil {
				t.Error(err)
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
		}()
	}
	for _, n := range []string{"low1", "low2", "low3"} {
		start(n, Low)
	}
	waitQueued(t, l, Low, 3)
	start("high", High)
	waitQueued(t, l, High, 1)
	wg.Wait()
	// The dispatcher may already have picked the first low waiter when the
	// high one arrived; the high one must beat every other low waiter.
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	if pos["high"] > 1 {
		t.Errorf("order %v: high served after %d low waiters", order, pos["high"])
	}
}

func waitQueued(t *testing.T, l *Limiter, p Priority, n int) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, time.Millisecond, func() error {
		l.mu.Lock()
		got := len(l.queues[p])
		l.mu.Unlock()
		if got < n {
			return fmt.Errorf("%d of %d waiters queued", got, n)
		}
		return nil
	})
}

func TestCancelledWaiterGivesTokenBack(t *testing.T) {
	l := New(5, 1)
	defer l.Close()
	if err := l.Wait(context.Background(), Low); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, Low); err == nil {
		t.Fatal("cancelled wait returned nil")
	}
	// The next caller still gets a token.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if err := l.Wait(ctx2, High); err != nil {
		t.Fatalf("wait after cancel: %v", err)
	}
}

func TestThrottledHalvesAndRecovers(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(100, 1)
	defer l.Close()
	l.mu.Lock()
	l.clock = func() time.Time { return now }
	l.mu.Unlock()

	l.Throttled()
	if got := l.Stats().Limit; got != 50 {
		t.Fatalf("after one 429: limit %v, want 50", got)
	}
	l.Throttled() // same burst of 429s: counted once
	if got := l.Stats().Limit; got != 50 {
		t.Fatalf("same burst: limit %v, want 50", got)
	}
	for i := 0; i < 10; i++ {
		now = now.Add(300 * time.Millisecond)
		l.Throttled()
	}
	if got := l.Stats().Limit; got != 10 {
		t.Fatalf("floor: limit %v, want 10", got)
	}
	for i := 0; i < 12; i++ {
		now = now.Add(time.Second)
		l.mu.Lock()
		l.recover()
		l.mu.Unlock()
	}
	if got := l.Stats().Limit; got != 100 {
		t.Fatalf("recovered limit %v, want 100", got)
	}
	if got := l.Stats().Throttled; got != 12 {
		t.Errorf("throttled count %d, want 12", got)
	}
}

func TestBucketKeepsTheAllowanceBack(t *testing.T) {
	for _, tc := range []struct {
		rate  float64
		burst int
		want  int
	}{
		{200, 20, 8}, // 200 × 60 ms = 12 held back
		{100, 10, 4}, // 6 held back
		{300, 10, 1}, // 18 held back
		{10, 5, 4},   // a fraction of a token rounds up to one
		{1000, 1, 1}, // never below one
		{0.5, 3, 2},
	} {
		require.Equal(t, tc.want, bucketSize(tc.rate, tc.burst), "rate %v burst %d", tc.rate, tc.burst)
	}
}

// immediate counts the tokens l grants within d to callers that ask at once.
func immediate(t *testing.T, l *Limiter, d time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n := 0
	for l.Wait(ctx, Low) == nil {
		n++
	}
	return n
}

func TestBurstNeverExceedsTheBucket(t *testing.T) {
	// 10/s: the next token is 100 ms away, so only the bucket is granted at once.
	l := New(10, 5)
	defer l.Close()
	require.Equal(t, 4, immediate(t, l, 40*time.Millisecond))

	// A token the dispatcher took for a caller that gave up is banked, but
	// after the bucket refilled it is worth nothing more: the burst stays 4.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	require.Error(t, l.Wait(ctx, Low))
	cancel()
	time.Sleep(600 * time.Millisecond) // the bucket refills; the banked token must not add to it
	require.Equal(t, 4, immediate(t, l, 40*time.Millisecond))
}

// A fault of the bank (5xx, no answer) slows the limiter as a 429 does,
// counted apart.
func TestSlowHalvesLikeThrottled(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(100, 1)
	defer l.Close()
	l.mu.Lock()
	l.clock = func() time.Time { return now }
	l.mu.Unlock()
	l.Slow()
	st := l.Stats()
	if st.Limit != 50 || st.Slowed != 1 || st.Throttled != 0 {
		t.Fatalf("after one fault: %+v, want limit 50, slowed 1, throttled 0", st)
	}
	now = now.Add(300 * time.Millisecond)
	l.Throttled()
	if got := l.Stats().Limit; got != 25 {
		t.Fatalf("a 429 after the fault: limit %v, want 25", got)
	}
	for i := 0; i < 12; i++ {
		now = now.Add(time.Second)
		l.mu.Lock()
		l.recover()
		l.mu.Unlock()
	}
	if got := l.Stats().Limit; got != 100 {
		t.Fatalf("recovered limit %v, want 100", got)
	}
}

// TestPaceSpreadsHeldUpCalls: calls granted one by one but held up on their
// way (the ledger's fence, a stalled process) and then released together
// leave at the limiter's rate after its burst, not as one bunch: the bank
// counts sends. Calls that go as granted are not slowed by Pace.
func TestPaceSpreadsHeldUpCalls(t *testing.T) {
	const r, burst, n = 50.0, 5, 30
	l := New(r, burst)
	defer l.Close()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		require.NoError(t, l.Wait(ctx, Low))
	}
	// All n granted, none sent yet: they leave together now.
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, l.Pace(ctx))
		}()
	}
	wg.Wait()
	// The bucket at once, the rest at r.
	require.GreaterOrEqual(t, time.Since(start), time.Duration(float64(n-bucketSize(r, burst)-1)/r*float64(time.Second)))

	// Sent as granted: Pace adds nothing to the grants' pace.
	l2 := New(r, burst)
	defer l2.Close()
	start = time.Now()
	for i := 0; i < n; i++ {
		require.NoError(t, l2.Wait(ctx, Low))
		require.NoError(t, l2.Pace(ctx))
	}
	t.Logf("%d calls granted and paced in %s (the grants alone need %s)", n, time.Since(start).Round(time.Millisecond),
		time.Duration(float64(n-bucketSize(r, burst))/r*float64(time.Second)))
	require.Equal(t, uint64(n), l2.Stats().Granted[Low])
}

// TestPaceHoldsTheBoundAcrossARateChange: calls queued in Pace at one rate
// (after a stall, Wait and Pace run at the same rate, so the queue stays)
// when the rate rises (a processor takes a dead one's shares). A wait
// scheduled at the old rate must not go out on the old schedule while the
// new rate schedules the next ones as if the old ones were paid for: in
// that overlap the sends ran at old + new rate, and the sandbox counted
// 112–113 in a second against R + B = 110. In any window of w the sends
// stay within the new rate × w + the new bucket (+1: a send is noted after
// its token, before the next one's).
func TestPaceHoldsTheBoundAcrossARateChange(t *testing.T) {
	const n = 30
	l := New(50, 5)
	defer l.Close()
	var mu sync.Mutex
	var sent []time.Time
	l.sent = func(at time.Time) {
		mu.Lock()
		sent = append(sent, at)
		mu.Unlock()
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	pace := func() {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, l.Pace(ctx))
			}()
		}
	}
	pace()
	time.Sleep(30 * time.Millisecond) // all n wait in Pace at 50/s
	l.SetRate(100, 10)
	pace()
	wg.Wait()

	slices.SortFunc(sent, func(a, b time.Time) int { return a.Compare(b) })
	const w = 300 * time.Millisecond
	bound := int(100*w.Seconds()) + bucketSize(100, 10) + 1
	most, j := 0, 0
	for i := range sent {
		for sent[i].Sub(sent[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	t.Logf("%d sends in %s; most in any %s: %d (bound %d)", len(sent), sent[len(sent)-1].Sub(sent[0]).Round(time.Millisecond), w, most, bound)
	require.Len(t, sent, 2*n)
	require.LessOrEqual(t, most, bound)
}
