// The manifest is published once, whatever answers are lost, and a file
// changed between its check and its publishing is refused.

package ingest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/batch/batchtest"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

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

// rowCounts counts the stored row messages of a batch by row number.
func rowCounts(t *testing.T, js jetstream.JetStream, batchID string) map[int]int {
	t.Helper()
	counts := map[int]int{}
	for _, m := range streamMsgs(t, js) {
		if m.Header.Get(queue.HeaderBatch) != batchID || m.Header.Get(queue.HeaderKind) != "row" && m.Header.Get(queue.HeaderKind) != "rows" {
			continue
		}
		n, err := strconv.Atoi(m.Header.Get(queue.HeaderRow))
		require.NoError(t, err)
		for i := range intake.MessageRows(m.Data) { // a chunk counts each of its rows
			counts[n+i]++
		}
	}
	return counts
}

// TestPublishSparseAcks: a lone upload asks for an acknowledgement every
// defaultAckEvery rows and publishes nothing twice; a row the server lost
// is found by its span's stream sequences and published again; a loss the
// sequences cannot see (another message stored in its place) is found by
// the count of the batch's rows, and the file is published again, the
// stored rows skipped. Every time each row is stored exactly once and the
// batch is sealed.
func TestPublishSparseAcks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "large.csv")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, batchtest.Write(f, 3000))
	require.NoError(t, f.Close())
	check := func(t *testing.T, e *env, res *Result) {
		t.Helper()
		require.Equal(t, StatusCreated, res.Status)
		counts := rowCounts(t, e.js, res.Batch)
		require.Len(t, counts, 3000)
		for row, n := range counts {
			require.Equal(t, 1, n, "row %d", row)
		}
		require.Equal(t, 3000, res.Published+res.AlreadyStored)
	}

	t.Run("alone", func(t *testing.T) {
		e := startJS(t)
		res, err := Ingest(context.Background(), e.js, p, testOptions(t))
		require.NoError(t, err)
		check(t, e, res)
		checkBatch(t, e.js, res)
		require.Equal(t, 3000, res.Published)
		require.Zero(t, res.resends, "every span added up")
		require.False(t, res.refilled)
	})

	lost := map[int]bool{5: true, 700: true, 701: true, 2999: true}
	t.Run("lost", func(t *testing.T) {
		e := startJS(t)
		testLoseRow = func(row int) bool { return lost[row] }
		defer func() { testLoseRow = nil }()
		res, err := Ingest(context.Background(), e.js, p, testOptions(t))
		require.NoError(t, err)
		check(t, e, res)
		checkBatch(t, e.js, res)
		require.Equal(t, 3000, res.Published)
		require.Positive(t, res.resends)
		require.Less(t, res.resends, 4*2*defaultAckEvery, "only the spans with a lost row")
		require.False(t, res.refilled)
	})

	t.Run("lost unseen", func(t *testing.T) {
		e := startJS(t)
		other := queue.IntakeRowSubject(payout.BatchID(bytes.Repeat([]byte{9}, 32)))
		testLoseRow = func(row int) bool {
			if !lost[row] {
				return false
			}
			// Another message in its place, on the same connection, so
			// the span's sequences add up.
			require.NoError(t, e.js.Conn().Publish(other, []byte("{}")))
			return true
		}
		defer func() { testLoseRow = nil }()
		res, err := Ingest(context.Background(), e.js, p, testOptions(t))
		require.NoError(t, err)
		check(t, e, res)
		require.True(t, res.refilled, "found by the count")
		require.Zero(t, res.resends)
		require.Equal(t, 3000, res.Published, "this upload stored every row")
	})
}
