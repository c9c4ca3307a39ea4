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
	"strings"
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

// TestIngestAfterCrash publishes half of the rows as a crashed upload would
// have, then runs the full ingest: every row once and one manifest.
func TestIngestAfterCrash(t *testing.T) {
	e := startJS(t)
	ctx := context.Background()
	opts := testOptions(t)
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	id := payout.BatchID(sum[:])
	publishPrefix(t, e.js, id, data, opts.Sealer, 10)
	stored := streamMsgs(t, e.js)
	require.Len(t, stored, 10)

	res, err := Ingest(ctx, e.js, samplePath, opts)
	require.NoError(t, err)
	require.Equal(t, StatusCreated, res.Status)
	require.Equal(t, 10, res.AlreadyStored)
	require.Equal(t, 13, res.Published)
	checkBatch(t, e.js, res)
	// The stored rows were kept as they were, card numbers sealed by the
	// crashed upload: this one sealed its own, to the same key.
	for i, m := range streamMsgs(t, e.js)[:10] {
		require.Equal(t, stored[i].Data, m.Data)
	}
}

// TestIngestAfterCrashOtherKeys refuses to seal a batch whose stored rows
// were digested with other upload keys: it cannot tell they are the same.
func TestIngestAfterCrashOtherKeys(t *testing.T) {
	e := startJS(t)
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	other, _ := testutil.Keys(t)
	publishPrefix(t, e.js, payout.BatchID(sum[:]), data, other, 3)

	_, err = Ingest(context.Background(), e.js, samplePath, testOptions(t))
	require.ErrorContains(t, err, "already holds different data for row 1 (was it uploaded with other upload keys?)")
	for _, m := range streamMsgs(t, e.js) {
		require.NotEqual(t, "manifest", m.Header.Get(queue.HeaderKind))
	}
}

// TestIngestAfterCrashBeforeUpgrade: an upload that stopped before
// public-key sealing stored rows without keyed digests, their card numbers
// sealed with the old shared key. The next upload compares what it can
// (everything but the sealed number), keeps them, and the manifest covers
// them by the SHA-256 of their messages, as the ledger recorded them.
func TestIngestAfterCrashBeforeUpgrade(t *testing.T) {
	e := startJS(t)
	ctx := context.Background()
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	id := payout.BatchID(sum[:])
	publishLegacyPrefix(t, e.js, id, data, 8, nil)

	res, err := Ingest(ctx, e.js, samplePath, testOptions(t))
	require.NoError(t, err)
	require.Equal(t, StatusCreated, res.Status)
	require.Equal(t, 8, res.AlreadyStored)
	checkBatch(t, e.js, res)

	// A stored row whose other fields differ is refused.
	e2 := startJS(t)
	publishLegacyPrefix(t, e2.js, id, data, 3, func(r *payout.Row) {
		if r.Index == 2 {
			r.Amount.Minor++
		}
	})
	_, err = Ingest(ctx, e2.js, samplePath, testOptions(t))
	require.ErrorContains(t, err, "already holds different data for row 2")
}

// TestReingestSealsAnew: the same file ingested into two streams seals its
// card numbers differently (HPKE is randomized) but digests every row the
// same, so the manifests agree, and the processor opens both.
func TestReingestSealsAnew(t *testing.T) {
	ctx := context.Background()
	var runs [2][]*jetstream.RawStreamMsg
	var manifests [2]*payout.Manifest
	for i := range runs {
		e := startJS(t)
		res, err := Ingest(ctx, e.js, samplePath, testOptions(t))
		require.NoError(t, err)
		runs[i], manifests[i] = streamMsgs(t, e.js), res.Manifest
	}
	require.Equal(t, manifests[0].RowDigestsSHA256, manifests[1].RowDigestsSHA256)
	cards := 0
	for i := range runs[0] {
		a, b := runs[0][i], runs[1][i]
		if a.Header.Get(queue.HeaderKind) != "row" {
			continue
		}
		ma, err := intake.DecodeRow(a.Data)
		require.NoError(t, err)
		mb, err := intake.DecodeRow(b.Data)
		require.NoError(t, err)
		require.Len(t, ma.Digest, 64)
		require.Equal(t, ma.Digest, mb.Digest, "row %d", ma.Index)
		if ma.Card == nil {
			require.Equal(t, string(a.Data), string(b.Data), "a row without a card number is written the same")
			continue
		}
		cards++
		require.NotEqual(t, ma.Card.Sealed, mb.Card.Sealed, "row %d sealed anew", ma.Index)
		require.Equal(t, ma.Card.Fingerprint, mb.Card.Fingerprint)
		require.Len(t, ma.Card.Fingerprint, 32)
		pa, err := testOpener.Open(ma.Card.Sealed, ma.Batch+"/"+strconv.Itoa(ma.Index))
		require.NoError(t, err)
		pb, err := testOpener.Open(mb.Card.Sealed, mb.Batch+"/"+strconv.Itoa(mb.Index))
		require.NoError(t, err)
		require.Equal(t, pa, pb)
		require.Contains(t, testPANs, pa)
	}
	require.NotZero(t, cards)
}

// publishLegacyPrefix publishes the first n rows as payrun wrote them
// before public-key sealing: no digest, no fingerprint, the number sealed
// with a shared key (here an opaque base64 text: ingest never opens it).
// change, if set, alters a row first.
func publishLegacyPrefix(t *testing.T, js jetstream.JetStream, id string, data []byte, n int, change func(*payout.Row)) {
	t.Helper()
	seal := func(pan string, row int) string { return "bGVnYWN5LXNlYWxlZC0" + strconv.Itoa(row) + "=" }
	for row, err := range batch.Rows(bytes.NewReader(data), batch.Options{Now: testNow}, seal) {
		require.NoError(t, err)
		if row.Index > n {
			break
		}
		row.Batch = id
		if change != nil {
			change(row)
		}
		publishRow(t, js, id, row.Index, intake.EncodeRow(row))
	}
}

// publishPrefix publishes the first n rows the way Ingest does, sealed
// and digested by sealer.
func publishPrefix(t *testing.T, js jetstream.JetStream, id string, data []byte, sealer *secret.Sealer, n int) {
	t.Helper()
	env, err := sealer.Begin()
	require.NoError(t, err)
	var number string
	seal := func(pan string, row int) string { number = pan; return env.Seal(pan, id+"/"+strconv.Itoa(row)) }
	for row, err := range batch.Rows(bytes.NewReader(data), batch.Options{Now: testNow}, seal) {
		require.NoError(t, err)
		if row.Index > n {
			break
		}
		row.Batch = id
		b, _, err := rowMessage(nil, env, row, number)
		require.NoError(t, err)
		number = ""
		publishRow(t, js, id, row.Index, b)
	}
}

// publishRow publishes row n's message with the headers Ingest sets.
func publishRow(t *testing.T, js jetstream.JetStream, id string, n int, b []byte) {
	t.Helper()
	msg := &nats.Msg{Subject: queue.IntakeRowSubject(id), Data: b, Header: nats.Header{}}
	msg.Header.Set(queue.HeaderBatch, id)
	msg.Header.Set(queue.HeaderRow, strconv.Itoa(n))
	msg.Header.Set(queue.HeaderKind, "row")
	_, err := js.PublishMsg(context.Background(), msg, jetstream.WithMsgID(queue.RowMsgID(id, n)))
	require.NoError(t, err)
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
		require.Equal(t, 23, published, "round %d: each row counted as published by one upload", round)
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

// resavedCopies writes the sample as finance might save it again: CRLF,
// extra blank lines at the end, a BOM, all of them.
func resavedCopies(t *testing.T) (map[string][]byte, []string) {
	t.Helper()
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	copies := map[string][]byte{
		"lf":        data,
		"crlf":      crlf,
		"newlines":  append(bytes.Clone(data), "\n\n\n"...),
		"bom":       append([]byte("\uFEFF"), data...),
		"bom+crlf":  append([]byte("\uFEFF"), append(bytes.Clone(crlf), "\r\n"...)...),
		"no-ending": bytes.TrimSuffix(data, []byte("\n")),
	}
	order := []string{"lf", "crlf", "newlines", "bom", "bom+crlf", "no-ending"}
	return copies, order
}

// TestIngestResavedCopy: the same payroll saved with other line endings,
// extra blank lines at the end or a BOM is the same batch: the second
// upload reports it as existing and publishes nothing.
func TestIngestResavedCopy(t *testing.T) {
	e := startJS(t)
	ctx := context.Background()
	copies, order := resavedCopies(t)
	dir := t.TempDir()
	var first *Result
	for _, name := range order {
		p := filepath.Join(dir, name+".csv")
		require.NoError(t, os.WriteFile(p, copies[name], 0o600))
		res, err := Ingest(ctx, e.js, p, testOptions(t))
		require.NoError(t, err, name)
		sum := sha256.Sum256(copies[name])
		require.Equal(t, hex.EncodeToString(sum[:]), res.FileSHA256, "%s: the result shows this file's own hash", name)
		if first == nil {
			first = res
			require.Equal(t, StatusCreated, res.Status)
			require.Equal(t, payout.BatchID(sum[:]), res.Batch, "a file in the canonical form keeps the id it always had")
			continue
		}
		require.Equal(t, StatusExisting, res.Status, name)
		require.Equal(t, first.Batch, res.Batch, name)
		require.Zero(t, res.Published, name)
		require.Equal(t, first.FileSHA256, res.Manifest.FileSHA256, "%s: the manifest keeps the first file's hash", name)
	}
	require.Len(t, streamMsgs(t, e.js), 24, "one batch: 23 rows and one manifest")
	checkBatch(t, e.js, first)
}

// TestIngestLegacyBatchID: a file sealed before batch ids ignored line
// endings (its id is the SHA-256 of its CRLF bytes) is recognised when
// the same file is uploaded again.
func TestIngestLegacyBatchID(t *testing.T) {
	e := startJS(t)
	ctx := context.Background()
	copies, _ := resavedCopies(t)
	p := filepath.Join(t.TempDir(), "crlf.csv")
	require.NoError(t, os.WriteFile(p, copies["crlf"], 0o600))
	sum := sha256.Sum256(copies["crlf"])
	legacy := payout.BatchID(sum[:])
	opts := testOptions(t)
	publishPrefix(t, e.js, legacy, copies["crlf"], opts.Sealer, 23)
	stream, err := e.js.Stream(ctx, queue.StreamIntake)
	require.NoError(t, err)
	sealed, err := publishManifest(ctx, e.js, stream, &payout.Manifest{Batch: legacy, FileName: "crlf.csv",
		FileSHA256: hex.EncodeToString(sum[:]), Rows: 23, CreatedAt: testNow()})
	require.NoError(t, err)
	require.Nil(t, sealed)

	res, err := Ingest(ctx, e.js, p, opts)
	require.NoError(t, err)
	require.Equal(t, StatusExisting, res.Status)
	require.Equal(t, legacy, res.Batch)
	require.Len(t, streamMsgs(t, e.js), 24)

	// Check alone names the new id: the look-up is Publish's.
	checked, err := Check(p, opts)
	require.NoError(t, err)
	require.NotEqual(t, legacy, checked.Batch)
}

// lostAnswer is JetStream whose first manifest publish is stored but
// answered with a timeout, as when the answer is lost on the way back.
type lostAnswer struct {
	jetstream.JetStream
	lost bool
}

func (l *lostAnswer) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := l.JetStream.PublishMsg(ctx, msg, opts...)
	if err == nil && !l.lost && msg.Header.Get(queue.HeaderKind) == "manifest" {
		l.lost = true
		return nil, nats.ErrTimeout
	}
	return ack, err
}

// TestPublishManifestOnce: a batch's second manifest is refused even when
// its message id would no longer deduplicate it, and the caller gets the
// stored one; an upload whose own manifest was stored but whose answer was
// lost still knows it sealed the batch.
func TestPublishManifestOnce(t *testing.T) {
	e := startJS(t)
	ctx := context.Background()
	stream, err := e.js.Stream(ctx, queue.StreamIntake)
	require.NoError(t, err)

	once, lostID := payout.BatchID(bytes.Repeat([]byte{1}, 32)), payout.BatchID(bytes.Repeat([]byte{2}, 32))
	first := &payout.Manifest{Batch: once, Name: "first", Rows: 1, CreatedAt: testNow()}
	sealed, err := publishManifest(ctx, e.js, stream, first)
	require.NoError(t, err)
	require.Nil(t, sealed, "the first one seals it")

	// Another message id, so only the expected subject sequence refuses it.
	second := &payout.Manifest{Batch: once, Name: "second", Rows: 1, CreatedAt: testNow()}
	data, err := intake.EncodeManifest(second)
	require.NoError(t, err)
	_, err = e.js.PublishMsg(ctx, &nats.Msg{Subject: queue.IntakeManifestSubject(once), Data: data},
		jetstream.WithMsgID("another-id"), jetstream.WithExpectLastSequencePerSubject(0))
	require.True(t, wrongLastSequence(err), "got %v", err)

	sealed, err = publishManifest(ctx, e.js, stream, second)
	require.NoError(t, err)
	require.NotNil(t, sealed)
	require.Equal(t, "first", sealed.Name)

	lost := &lostAnswer{JetStream: e.js}
	sealed, err = publishManifest(ctx, lost, stream, &payout.Manifest{Batch: lostID, Rows: 1, CreatedAt: testNow()})
	require.NoError(t, err)
	require.True(t, lost.lost)
	require.Nil(t, sealed, "its own manifest, stored by the attempt whose answer was lost")

	n := 0
	for _, m := range streamMsgs(t, e.js) {
		if m.Header.Get(queue.HeaderKind) == "manifest" {
			n++
			require.NotEmpty(t, m.Header.Get(queue.HeaderUpload))
		}
	}
	require.Equal(t, 2, n, "one manifest per batch")
}

// TestPublishChangedFile: a file changed between Check and Publish (here
// a row's amount, still valid) publishes none of the rows from the
// changed one on and is not sealed: the second read compares every record
// with what Check validated.
func TestPublishChangedFile(t *testing.T) {
	e := startJS(t)
	ctx := context.Background()
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "payroll.csv")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	opts := testOptions(t)
	checked, err := Check(path, opts)
	require.NoError(t, err)
	require.Equal(t, StatusValid, checked.Status)

	changed := strings.Replace(string(data), "58 350,75", "58 350,76", 1) // row 5
	require.NotEqual(t, string(data), changed)
	require.NoError(t, os.WriteFile(path, []byte(changed), 0o600))
	_, err = Publish(ctx, e.js, path, checked, opts)
	require.ErrorContains(t, err, "changed since it was validated")
	msgs := streamMsgs(t, e.js)
	require.LessOrEqual(t, len(msgs), 4, "only rows before the changed one")
	for _, m := range msgs {
		require.NotEqual(t, "manifest", m.Header.Get(queue.HeaderKind), "not sealed")
	}
}
