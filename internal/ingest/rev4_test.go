// Review rev4 of the sparse acknowledgements of row publishes (q5's
// dc71c2d): files around the barrier interval, foreign and concurrent
// uploads interleaved in the stream, rows the server drops or refuses
// without telling (stream limits, message size), a server restart in the
// middle of an upload and a resumed upload. Every time: the batch is
// sealed only with every row stored exactly once, or the upload fails
// and nothing is sealed.

package ingest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/batch/batchtest"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/queue/natsserver"
	"github.com/payrun/payrun/internal/testutil"
)

// rev4File writes a generated payout file of n rows.
func rev4File(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rows"+strconv.Itoa(n)+".csv")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, batchtest.Write(f, n))
	require.NoError(t, f.Close())
	return p
}

// rev4Once requires every row 1..n of the batch stored exactly once.
func rev4Once(t *testing.T, js jetstream.JetStream, batchID string, n int) {
	t.Helper()
	counts := rowCounts(t, js, batchID)
	for row := 1; row <= n; row++ {
		require.Equal(t, 1, counts[row], "row %d of %d stored %d times", row, n, counts[row])
	}
	require.Len(t, counts, n)
}

// rev4Sealed tells whether the batch's manifest is stored.
func rev4Sealed(t *testing.T, js jetstream.JetStream, batchID string) bool {
	t.Helper()
	s, err := js.Stream(context.Background(), queue.StreamIntake)
	require.NoError(t, err)
	m, err := existingManifest(context.Background(), s, batchID)
	require.NoError(t, err)
	return m != nil
}

// TestRev4SparseAcksEdgeSizes: files of 1, 2, 63, 64, 65, 127, 128, 129 and
// 2049 rows (the window plus one) are each stored once, sealed, counted as
// published by this upload, with nothing resent.
func TestRev4SparseAcksEdgeSizes(t *testing.T) {
	for _, n := range []int{1, 2, 63, 64, 65, 127, 128, 129, 2049} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			e := startJS(t)
			res, err := Ingest(context.Background(), e.js, rev4File(t, n), testOptions(t))
			require.NoError(t, err)
			require.Equal(t, StatusCreated, res.Status)
			checkBatch(t, e.js, res)
			require.Equal(t, n, res.Published)
			require.Zero(t, res.AlreadyStored)
			require.Zero(t, res.resends)
			require.False(t, res.refilled)
		})
	}
	// A small window: barriers forced by the window, not by the interval.
	t.Run("window 5", func(t *testing.T) {
		e := startJS(t)
		opts := testOptions(t)
		opts.Window = 5
		res, err := Ingest(context.Background(), e.js, rev4File(t, 300), opts)
		require.NoError(t, err)
		checkBatch(t, e.js, res)
		require.Equal(t, 300, res.Published)
	})
}

// TestRev4ForeignUploadsInterleaved: three different files uploaded at
// once on three connections to one stream, while rows of the largest are
// lost and a fourth connection publishes foreign messages: the spans'
// sequences interleave (a foreign message can stand in for a lost row);
// every batch is sealed with each of its rows exactly once.
func TestRev4ForeignUploadsInterleaved(t *testing.T) {
	srv := testutil.NATS(t)
	sizes := []int{3000, 700, 1500}
	files := make([]string, len(sizes))
	for i, n := range sizes {
		files[i] = rev4File(t, n)
	}
	// Rows only the 3000-row file has: the hook sees no batch.
	lost := map[int]bool{1600: true, 1601: true, 2222: true, 2999: true}
	var lostN atomic.Int64
	testLoseRow = func(row int) bool {
		if lost[row] {
			lostN.Add(1)
			return true
		}
		return false
	}
	defer func() { testLoseRow = nil }()

	stop := make(chan struct{})
	var noise sync.WaitGroup
	noise.Add(1)
	go func() {
		defer noise.Done()
		nc, _ := testutil.JetStream(t, srv.URL())
		other := queue.IntakeRowSubject("b" + "ffffffffffffffffffffffffffffffff")
		for {
			select {
			case <-stop:
				nc.Flush()
				return
			default:
			}
			_ = nc.Publish(other, []byte("{}"))
			time.Sleep(50 * time.Microsecond)
		}
	}()

	results := make([]*Result, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i := range files {
		_, js := testutil.JetStream(t, srv.URL())
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Ingest(context.Background(), js, files[i], testOptions(t))
		}()
	}
	wg.Wait()
	close(stop)
	noise.Wait()

	_, js := testutil.JetStream(t, srv.URL())
	for i, n := range sizes {
		require.NoError(t, errs[i], "file of %d rows", n)
		require.Equal(t, StatusCreated, results[i].Status)
		rev4Once(t, js, results[i].Batch, n)
		require.True(t, rev4Sealed(t, js, results[i].Batch))
		require.Equal(t, n, results[i].Published+results[i].AlreadyStored)
	}
	require.Positive(t, lostN.Load())
}

// TestRev4ConcurrentSameFileSparse: four uploads of one 3000-row file at
// once: one seals it, each row is stored once, and each row counts as
// published by exactly one upload (Result.Published: "rows stored by this
// upload").
func TestRev4ConcurrentSameFileSparse(t *testing.T) {
	srv := testutil.NATS(t)
	p := rev4File(t, 3000)
	const n = 4
	results := make([]*Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		_, js := testutil.JetStream(t, srv.URL())
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = Ingest(context.Background(), js, p, testOptions(t))
		}()
	}
	close(start)
	wg.Wait()
	_, js := testutil.JetStream(t, srv.URL())
	created, published := 0, 0
	for i := range n {
		require.NoError(t, errs[i])
		if results[i].Status == StatusCreated {
			created++
		}
		published += results[i].Published
	}
	require.Equal(t, 1, created)
	rev4Once(t, js, results[0].Batch, 3000)
	require.True(t, rev4Sealed(t, js, results[0].Batch))
	// With acknowledgements for one row in 64, which of several uploads of
	// one file stored a row is an estimate (Result.Published's doc): rows
	// are stored once (rev4Once), the split between uploads is logged.
	t.Logf("published by the %d uploads together: %d of 3000", n, published)
}

// rev4Limit changes the intake stream's configuration as an operator
// may (EnsureStreams without --replicas keeps it).
func rev4Limit(t *testing.T, js jetstream.JetStream, change func(*jetstream.StreamConfig)) {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, queue.StreamIntake)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	cfg := info.Config
	change(&cfg)
	_, err = js.UpdateStream(ctx, cfg)
	require.NoError(t, err)
}

// TestRev4StreamLimitsDropRows: a stream whose limits drop rows (max
// messages with DiscardOld evicts the first rows; with DiscardNew the
// server refuses the last ones; a maximum message size refuses a row sent
// without a reply, silently). The ingest must not seal a batch whose rows
// are not all stored: it fails, clearly.
func TestRev4StreamLimitsDropRows(t *testing.T) {
	cases := []struct {
		name   string
		change func(*jetstream.StreamConfig)
	}{
		{"max msgs discard old", func(c *jetstream.StreamConfig) { c.MaxMsgs = 250; c.Discard = jetstream.DiscardOld }},
		{"max msgs discard new", func(c *jetstream.StreamConfig) { c.MaxMsgs = 250; c.Discard = jetstream.DiscardNew }},
		{"max bytes discard old", func(c *jetstream.StreamConfig) { c.MaxBytes = 150 << 10; c.Discard = jetstream.DiscardOld }},
		{"max msg size", func(c *jetstream.StreamConfig) { c.MaxMsgSize = 700 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startJS(t)
			rev4Limit(t, e.js, tc.change)
			res, err := Ingest(context.Background(), e.js, rev4File(t, 300), testOptions(t))
			if err == nil {
				// Sealed: then every row must be there.
				require.Equal(t, StatusCreated, res.Status)
				rev4Once(t, e.js, res.Batch, 300)
				return
			}
			t.Logf("refused: %v", err)
			id := batchOf(t, e.js)
			if id != "" {
				require.False(t, rev4Sealed(t, e.js, id), "failed but sealed")
			}
		})
	}
}

// batchOf is the batch of the stream's first stored row, if any.
func batchOf(t *testing.T, js jetstream.JetStream) string {
	for _, m := range streamMsgs(t, js) {
		return m.Header.Get(queue.HeaderBatch)
	}
	return ""
}

// TestRev4ServerRestartMidUpload: the server restarts (same port and
// store) while rows go out without replies; rows sent into the closing
// connection are lost. The upload fails without sealing, or seals with
// every row once; an upload again completes the batch with every row once.
func TestRev4ServerRestartMidUpload(t *testing.T) {
	for _, at := range []int{100, 1500} {
		t.Run(strconv.Itoa(at), func(t *testing.T) {
			dir := t.TempDir()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			port := ln.Addr().(*net.TCPAddr).Port
			ln.Close()
			srv, err := natsserver.Start(natsserver.Options{Dir: dir, Port: port})
			require.NoError(t, err)
			var mu sync.Mutex
			cur := srv
			t.Cleanup(func() { mu.Lock(); cur.Close(); mu.Unlock() })
			_, js := testutil.JetStream(t, srv.URL())
			p := rev4File(t, 3000)

			var once sync.Once
			restarted := make(chan struct{})
			testLoseRow = func(row int) bool {
				if row >= at {
					once.Do(func() {
						go func() {
							defer close(restarted)
							mu.Lock()
							defer mu.Unlock()
							cur.Close()
							s, err := natsserver.Start(natsserver.Options{Dir: dir, Port: port})
							if err != nil {
								t.Errorf("restart: %v", err)
								return
							}
							cur = s
						}()
					})
				}
				return false
			}
			defer func() { testLoseRow = nil }()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			res, err := Ingest(ctx, js, p, testOptions(t))
			<-restarted
			testLoseRow = nil
			if err != nil {
				t.Logf("first upload failed: %v", err)
				id := batchOf(t, js)
				if id != "" {
					require.False(t, rev4Sealed(t, js, id), "failed but sealed")
				}
				res, err = Ingest(ctx, js, p, testOptions(t))
				require.NoError(t, err)
			} else {
				t.Logf("first upload: published %d, already stored %d, resent %d, refilled %v", res.Published, res.AlreadyStored, res.resends, res.refilled)
				// The only upload: every row is its own (AlreadyStored is
				// "rows an earlier, unfinished upload had stored").
				// After a lost acknowledgement the split between published
				// and already stored is an estimate (Result.Published's doc).
			}
			require.Equal(t, 3000, res.Published+res.AlreadyStored)
			require.Equal(t, StatusCreated, res.Status)
			rev4Once(t, js, res.Batch, 3000)
			require.True(t, rev4Sealed(t, js, res.Batch))
		})
	}
}

// TestRev4ResumedUploadSparse: an upload stopped part way (its context
// cancelled at row 1000) leaves rows stored; the upload again publishes
// only the others (their sequence moves by them alone, the stored ones
// being skipped), seals the batch with each row once, and counts them.
func TestRev4ResumedUploadSparse(t *testing.T) {
	e := startJS(t)
	p := rev4File(t, 3000)
	ctx, cancel := context.WithCancel(context.Background())
	testLoseRow = func(row int) bool {
		if row == 1000 {
			cancel()
		}
		return false
	}
	_, err := Ingest(ctx, e.js, p, testOptions(t))
	testLoseRow = nil
	require.Error(t, err)
	stored := len(rowCounts(t, e.js, batchOf(t, e.js)))
	require.Positive(t, stored)
	require.Less(t, stored, 3000)

	res, err := Ingest(context.Background(), e.js, p, testOptions(t))
	require.NoError(t, err)
	require.Equal(t, StatusCreated, res.Status)
	checkBatch(t, e.js, res)
	require.Equal(t, stored, res.AlreadyStored)
	require.Equal(t, 3000-stored, res.Published)
	require.Zero(t, res.resends, "the spans added up")
}

// rev4Cluster starts three clustered nodes and returns them once an R3
// intake stream is placed; js is connected to the first node only.
func rev4Cluster(t *testing.T) ([]*natsserver.Server, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	nodes := testutil.Cluster(t, "rev4", 3)
	nc, err := queue.Connect(nodes[0].URL(), "payrun-test")
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4*DefaultWindow),
		jetstream.WithPublishAsyncTimeout(queue.PublishAsyncTimeout))
	require.NoError(t, err)
	testutil.Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return queue.EnsureStreams(ctx, js, queue.Config{Replicas: 3})
	})
	return nodes, nc, js
}

// TestRev4ClusterLeaderChange: in a 3-node cluster with R3 streams the
// intake stream's leader steps down in the middle of an upload (rows
// going out without replies reach a node that is no longer leader). The
// upload fails without sealing, or seals with every row once; an upload
// again completes the batch. The JetStream context is made as cmd/ingest
// makes it (now with queue.PublishAsyncTimeout; before, none): a barrier the old leader
// dropped is never answered and the upload waits until its context ends
// (4 of 4 runs on q5, 3 of 4 on 2188077, an acknowledgement per row); with
// jetstream.WithPublishAsyncTimeout(5s) it completed in 10 s.
func TestRev4ClusterLeaderChange(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster")
	}
	_, nc, js := rev4Cluster(t)
	p := rev4File(t, 5000)
	var once sync.Once
	stepped := make(chan struct{})
	testLoseRow = func(row int) bool {
		if row >= 1200 {
			once.Do(func() {
				go func() {
					defer close(stepped)
					_, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+queue.StreamIntake, nil, 5*time.Second)
					t.Logf("stepdown: %v", err)
				}()
			})
		}
		return false
	}
	defer func() { testLoseRow = nil }()
	// A minute is a hundred times what 5000 rows take here.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	res, err := Ingest(ctx, js, p, testOptions(t))
	<-stepped
	testLoseRow = nil
	if err != nil {
		t.Logf("first upload failed after %v: %v", time.Since(start), err)
		require.NotErrorIs(t, err, context.DeadlineExceeded, "the upload hung until its deadline instead of retrying or failing")
		testutil.Eventually(t, 30*time.Second, 500*time.Millisecond, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err = Ingest(ctx, js, p, testOptions(t))
			return err
		})
	} else {
		t.Logf("first upload: published %d, already stored %d, resent %d, refilled %v", res.Published, res.AlreadyStored, res.resends, res.refilled)
	}
	require.Equal(t, StatusCreated, res.Status)
	rev4Once(t, js, res.Batch, 5000)
	require.True(t, rev4Sealed(t, js, res.Batch))
}
