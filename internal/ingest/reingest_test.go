// Uploads of a file the stream already holds, whole or in part: after a
// crash, under other keys, from before an upgrade, re-saved copies and
// legacy batch ids.

package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
	"github.com/payrun/payrun/internal/testutil"
)

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
