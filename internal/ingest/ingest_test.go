package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/batch/batchtest"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
	"github.com/payrun/payrun/internal/testutil"
)

const samplePath = "../../samples/payroll.csv"

// testPANs are the card numbers of the sample files; none may appear in
// the stream.
var testPANs = []string{"4242424242424242", "5555555555554444", "2200000000000004", "4111111111111111",
	"5105105105105100", "4000056655665556", "4000000000000028", "4000000000000002"}

func testNow() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }

type env struct {
	js    jetstream.JetStream
	nc    *nats.Conn
	dir   string
	url   string
	close func()
}

// startJS starts an embedded JetStream with the payrun streams.
func startJS(t testing.TB) *env {
	t.Helper()
	e := testutil.NATS(t)
	nc, js := testutil.JetStream(t, e.URL())
	return &env{js: js, nc: nc, dir: e.Dir, url: e.URL()}
}

// The keys of this package's tests: one card key pair, one set of
// upload keys, as one deployment has.
var (
	keysOnce   sync.Once
	testKeys   *secret.Sealer
	testOpener *secret.Opener
)

func testSealer(t testing.TB) *secret.Sealer {
	keysOnce.Do(func() { testKeys, testOpener = testutil.Keys(t) })
	return testKeys
}

func testOptions(t testing.TB) Options {
	return Options{Sealer: testSealer(t), Batch: batch.Options{Now: testNow}, Now: testNow,
		Logger: testutil.QuietLogger()}
}

// rowIdentity is what the manifest's row digests cover for a stored row
// message: its keyed digest, or the SHA-256 of a message without one.
func rowIdentity(t *testing.T, data []byte) []byte {
	t.Helper()
	m, err := intake.DecodeRow(data)
	require.NoError(t, err)
	if m.Digest == "" {
		sum := sha256.Sum256(data)
		return sum[:]
	}
	d, err := hex.DecodeString(m.Digest)
	require.NoError(t, err)
	require.Len(t, d, sha256.Size)
	return d
}

// streamMsgs returns every message stored in the intake stream, in order.
func streamMsgs(t *testing.T, js jetstream.JetStream) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, queue.StreamIntake)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

// checkBatch verifies that the stream holds the batch exactly once: every
// row once, in order, then the manifest, whose digest matches the rows.
func checkBatch(t *testing.T, js jetstream.JetStream, res *Result) {
	t.Helper()
	var rows [][]byte
	var manifests []payout.Manifest
	for _, m := range streamMsgs(t, js) {
		require.Equal(t, res.Batch, m.Header.Get(queue.HeaderBatch))
		switch m.Header.Get(queue.HeaderKind) {
		case "row":
			require.Equal(t, queue.IntakeRowSubject(res.Batch), m.Subject)
			n, err := strconv.Atoi(m.Header.Get(queue.HeaderRow))
			require.NoError(t, err)
			require.Equal(t, queue.RowMsgID(res.Batch, n), m.Header.Get(jetstream.MsgIDHeader))
			var row payout.Row
			require.NoError(t, json.Unmarshal(m.Data, &row))
			require.Equal(t, n, row.Index)
			require.Equal(t, res.Batch, row.Batch)
			require.Empty(t, manifests, "a row after the manifest")
			rows = append(rows, m.Data)
		case "rows": // a chunk of intake.ChunkRows rows: each row as above
			first, err := strconv.Atoi(m.Header.Get(queue.HeaderRow))
			require.NoError(t, err)
			require.Equal(t, queue.IntakeChunkSubject(res.Batch, intake.ChunkRows), m.Subject)
			require.Equal(t, queue.ChunkMsgID(res.Batch, first, intake.ChunkRows), m.Header.Get(jetstream.MsgIDHeader))
			c, err := intake.SplitChunk(m.Data)
			require.NoError(t, err)
			require.Equal(t, first, c.First)
			require.Len(t, c.Rows, intake.ChunkRows)
			for i, d := range c.Rows {
				var row payout.Row
				require.NoError(t, json.Unmarshal(d, &row))
				require.Equal(t, first+i, row.Index)
				require.Equal(t, res.Batch, row.Batch)
				rows = append(rows, d)
			}
			require.Empty(t, manifests, "a row after the manifest")
		case "manifest":
			require.Equal(t, queue.IntakeManifestSubject(res.Batch), m.Subject)
			var man payout.Manifest
			require.NoError(t, json.Unmarshal(m.Data, &man))
			manifests = append(manifests, man)
		default:
			t.Fatalf("message of kind %q", m.Header.Get(queue.HeaderKind))
		}
	}
	require.Len(t, rows, res.Rows, "every row exactly once")
	require.Len(t, manifests, 1, "one manifest")
	// Rows are stored in row order here (one publisher); the ledger
	// orders by the row header anyway.
	digests := make([][]byte, len(rows))
	byIndex := map[int][]byte{}
	for _, d := range rows {
		var row payout.Row
		require.NoError(t, json.Unmarshal(d, &row))
		byIndex[row.Index] = d
	}
	for i := range rows {
		digests[i] = rowIdentity(t, byIndex[i+1])
	}
	m := manifests[0]
	require.Equal(t, payout.DigestRows(digests), m.RowDigestsSHA256)
	require.Empty(t, m.RowsSHA256, "the digest of the messages is the old manifests'")
	require.Equal(t, res.Rows, m.Rows)
	require.Equal(t, res.FileSHA256, m.FileSHA256)
	require.True(t, res.Totals.Equal(m.Totals))
}

// checkNoPANs greps every stream message and the store's files on disk.
func checkNoPANs(t *testing.T, e *env) {
	t.Helper()
	var all bytes.Buffer
	for _, m := range streamMsgs(t, e.js) {
		all.Write(m.Data)
		for k, v := range m.Header {
			all.WriteString(k + ":" + v[0] + "\n")
		}
	}
	require.NotZero(t, all.Len())
	for _, p := range testPANs {
		require.NotContains(t, all.String(), p)
	}
	files := 0
	require.NoError(t, filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, p := range testPANs {
			require.False(t, bytes.Contains(b, []byte(p)), "%s holds a card number", path)
		}
		return nil
	}))
	require.NotZero(t, files)
}

func TestIngestOnce(t *testing.T) {
	e := startJS(t)
	ctx := context.Background()
	sched := time.Date(2026, 12, 25, 9, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	opts := testOptions(t)
	opts.Name = "Payroll November 2026"
	opts.ScheduleAt = &sched
	opts.RequireApproval = true

	res, err := Ingest(ctx, e.js, samplePath, opts)
	require.NoError(t, err)
	require.Equal(t, StatusCreated, res.Status)
	require.Equal(t, 23, res.Rows)
	require.Equal(t, 23, res.Published)
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	require.Equal(t, payout.BatchID(sum[:]), res.Batch)
	require.Equal(t, "1079332.77", res.TotalsDecimal["RUB"])
	checkBatch(t, e.js, res)
	require.Equal(t, "Payroll November 2026", res.Manifest.Name)
	require.True(t, res.Manifest.ScheduleAt.Equal(sched))
	require.True(t, res.Manifest.RequireApproval)
	require.Equal(t, "payroll.csv", res.Manifest.FileName)
	checkNoPANs(t, e)

	// The same bytes again: recognised, nothing new.
	again, err := Ingest(ctx, e.js, samplePath, testOptions(t))
	require.NoError(t, err)
	require.Equal(t, StatusExisting, again.Status)
	require.Equal(t, res.Batch, again.Batch)
	require.Equal(t, 0, again.Published)
	require.Equal(t, res.Manifest.RowDigestsSHA256, again.Manifest.RowDigestsSHA256)
	require.Len(t, streamMsgs(t, e.js), 24)
}

// TestIngestConcurrentUploads: ten uploads of the same bytes at once store
// every row and the manifest once, and exactly one of them says created:
// the others say existing and show the manifest the winner sealed.
func TestIngestConcurrentUploads(t *testing.T) {
	for round := range 3 {
		e := startJS(t)
		const n = 10
		var wg sync.WaitGroup
		results := make([]*Result, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				opts := testOptions(t)
				opts.Name = "upload " + strconv.Itoa(i) // tells the manifests apart
				<-start
				results[i], errs[i] = Ingest(context.Background(), e.js, samplePath, opts)
			}()
		}
		close(start)
		wg.Wait()
		created := -1
		for i := range n {
			require.NoError(t, errs[i])
			switch results[i].Status {
			case StatusCreated:
				require.Equal(t, -1, created, "round %d: uploads %d and %d both say created", round, created, i)
				created = i
			case StatusExisting:
			default:
				t.Fatalf("upload %d: status %q", i, results[i].Status)
			}
		}
		require.NotEqual(t, -1, created, "round %d: no upload says created", round)
		checkBatch(t, e.js, results[created])
		winner := results[created].Manifest
		require.Equal(t, "upload "+strconv.Itoa(created), winner.Name)
		published := 0
		for i := range n {
			require.Equal(t, results[created].Batch, results[i].Batch)
			require.Equal(t, winner.Name, results[i].Manifest.Name, "upload %d shows the sealed manifest", i)
			published += results[i].Published
		}
		// Which upload stored a row is an estimate when a refill pass ran
		// (Result.Published's doc; it ran under load, rows of the others
		// still in flight): the rows are stored once (checkBatch).
		t.Logf("round %d: published by the %d uploads together: %d of 23", round, n, published)
	}
}

func TestIngestInvalidPublishesNothing(t *testing.T) {
	e := startJS(t)
	res, err := Ingest(context.Background(), e.js, "../batch/testdata/validate/card.csv", testOptions(t))
	require.NoError(t, err)
	require.Equal(t, StatusInvalid, res.Status)
	require.Empty(t, res.Batch)
	require.Equal(t, 11, res.ErrorCount)
	require.Empty(t, streamMsgs(t, e.js))

	// A valid file that fails its control total publishes nothing either.
	opts := testOptions(t)
	opts.Batch.ExpectCount = 21
	res, err = Ingest(context.Background(), e.js, samplePath, opts)
	require.NoError(t, err)
	require.Equal(t, StatusInvalid, res.Status)
	require.Equal(t, "the file has 23 rows, expected 21 (control count)", res.Errors[0].Message)
	require.Empty(t, streamMsgs(t, e.js))
}

// TestIngestLarge publishes a file larger than the window, with progress.
func TestIngestLarge(t *testing.T) {
	e := startJS(t)
	p := filepath.Join(t.TempDir(), "large.csv")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, batchtest.Write(f, 5000))
	require.NoError(t, f.Close())
	opts := testOptions(t)
	opts.Window = 256
	var mu sync.Mutex
	var last map[string]Progress
	opts.Progress = func(pr Progress) {
		mu.Lock()
		defer mu.Unlock()
		if last == nil {
			last = map[string]Progress{}
		}
		last[pr.Phase] = pr
	}
	res, err := Ingest(context.Background(), e.js, p, opts)
	require.NoError(t, err)
	require.Equal(t, StatusCreated, res.Status)
	require.Equal(t, 5000, res.Published)
	checkBatch(t, e.js, res)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, Progress{Phase: PhaseValidate, Bytes: res.Size, Total: res.Size, Rows: 5000, Done: true}, last[PhaseValidate])
	require.Equal(t, Progress{Phase: PhasePublish, Bytes: res.Size, Total: res.Size, Rows: 5000, Done: true}, last[PhasePublish])
}

func TestCheck(t *testing.T) {
	res, err := Check(samplePath, testOptions(t))
	require.NoError(t, err)
	require.Equal(t, StatusValid, res.Status)
	require.NotEmpty(t, res.Batch)
	require.Equal(t, 23, res.Rows)

	_, err = Check("no/such/file.csv", testOptions(t))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestCheckName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Payroll November 2026", ""},
		{"Payroll 5105.1051.0510.5100", "contains what looks like a card number (510510******5100); a batch name must not hold card data"},
		{"Payroll\u202eNovember", "contains an invisible character, U+202E (bidirectional text control), at character 8; delete it (it often comes with text pasted from a web page or a document)"},
	}
	for _, tt := range tests {
		opts := testOptions(t)
		opts.Name = tt.name
		var seen []batch.Error
		opts.Batch.OnError = func(e batch.Error) { seen = append(seen, e) }
		res, err := Check(samplePath, opts)
		require.NoError(t, err)
		if tt.want == "" {
			require.Equal(t, StatusValid, res.Status)
			require.Equal(t, tt.name, res.Name)
			continue
		}
		require.Equal(t, StatusInvalid, res.Status)
		want := []batch.Error{{Column: "name", Message: tt.want}}
		require.Equal(t, want, res.Errors)
		require.Equal(t, want, seen, "the CLI prints it")
		require.NotContains(t, res.Name, "5105.1051")
	}
}
