// Publishing a checked file: its rows through a bounded window of
// acknowledgements, then the manifest that seals the batch.

package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
)

// publisher publishes a batch's rows with a bounded window of
// unacknowledged publishes.
//
// Only some rows ask for an acknowledgement (a barrier: every ackEvery-th
// row of the file, its last, the first published, and one whenever the
// window fills); the rows between them are published without a reply
// subject (core NATS). JetStream stores the messages of one connection in
// the order they came, so a barrier's acknowledgement covers the rows
// before it, and its stream sequence tells whether they were all stored
// just now: a span is counted as published when the sequence moved by
// exactly the span's messages since the previous barrier, our own resent
// rows in that range left out. A span that does not add up (a concurrent
// upload, another batch's messages in between, a lost row, a duplicate or
// failed barrier) is published again with an acknowledgement each: its
// message ids make that safe (resend says which rows count as published
// by this upload). Whether every row is stored is checked at
// the end from the stream's count of the batch's row subject (storedCount);
// if any is missing, the file is published once more with an
// acknowledgement per row, skipping the rows stored. Measured
// (ingestbench -run sparse, 200k messages): an acknowledgement per message
// costs 3.1–3.2 CPU s, one per 64 1.65–2.0 CPU s.
type publisher struct {
	js        jetstream.JetStream
	stream    jetstream.Stream
	batch     string
	window    int
	ackEvery  int // 1: an acknowledgement per row
	stored    map[int]storedRow
	log       *slog.Logger
	ring      []barrier
	head, n   int
	inflight  int         // rows sent and not yet covered by an acknowledgement
	pending   []*nats.Msg // rows sent without a reply since the last barrier
	lastSeq   uint64      // stream sequence of the last barrier stored by us; 0: unknown
	resent    []uint64    // stream sequences of our resent rows after lastSeq
	started   bool
	resends   int  // rows published again with an acknowledgement
	refilled  bool // the file was published a second time (storedCount)
	published int
	skipped   int
	rows      atomic.Int64
}

// outMsg is a row message and whether the file asks for its
// acknowledgement.
type outMsg struct {
	msg     *nats.Msg
	barrier bool
}

// publishChunk is how many row messages go from the reading goroutine to
// the publishing one at a time.
const publishChunk = 256

// dataSlab is the size of the allocations row messages' data share.
const dataSlab = 64 << 10

// defaultAckEvery is how many rows one acknowledgement covers.
const defaultAckEvery = 64

// testLoseRow, if set by a test, is asked of every row as its message is
// published (each row of a chunk) and drops the message of a row it names
// instead of sending it without a reply (a message the server lost); a
// message with a reply is sent whatever it says.
var testLoseRow func(row int) bool

// testAckEvery, if set by a test, is how many rows an acknowledgement
// covers (defaultAckEvery): above intake.ChunkRows, chunks go without one.
var testAckEvery int

// publishFile reads the file a second time, seals its card numbers (one
// envelope for the upload), publishes every row not yet stored and waits
// for every acknowledgement. It returns the manifest's row digests
// (payout.DigestRows over every row's keyed digest, in order; for a row an
// older upload stored without one, the SHA-256 of its message).
//
// The rows are not validated again: every record is compared with its hash
// from Check (batch.RowsChecked), so only rows Check validated are
// published, and the file's SHA-256 is compared before the manifest seals
// the batch. Reading, sealing and encoding run in a goroutine of their own
// while this one publishes and collects the acknowledgements: with the
// server's work the ingest uses both cores.
func (p *publisher) publishFile(ctx context.Context, source Source, res *Result, opts Options) (string, error) {
	if p.window <= 0 {
		p.window = DefaultWindow
	}
	if p.ackEvery <= 0 {
		p.ackEvery = defaultAckEvery
		if testAckEvery > 0 {
			p.ackEvery = testAckEvery
		}
	}
	skipped0 := len(p.stored)
	rowsDigest, err := p.publishPass(ctx, source, res, opts)
	if err != nil {
		return "", err
	}
	n, err := p.storedCount(ctx)
	if err != nil {
		return "", err
	}
	if n == uint64(res.Rows) || n > uint64(res.Rows) && p.ackEvery == 1 {
		return rowsDigest, nil
	}
	if p.ackEvery == 1 {
		// Every row was acknowledged as stored, and yet some are gone.
		return "", p.notStored(n, res.Rows)
	}
	// Rows are missing (or stored twice, which only reading them tells):
	// publish the file once more, an acknowledgement per row, skipping
	// what is stored (the first pass's count of published rows is then an
	// estimate).
	p.log.Warn("rows not stored after publishing; publishing the missing ones again", "stored", n, "rows", res.Rows)
	if p.stored, err = storedRows(ctx, p.stream, p.batch); err != nil {
		return "", err
	}
	published := min(p.published, int(n)-skipped0) // an estimate: what was stored of ours
	p.ackEvery, p.published, p.skipped, p.started, p.lastSeq, p.resent, p.refilled = 1, 0, 0, false, 0, nil, true
	p.rows.Store(0)
	if rowsDigest, err = p.publishPass(ctx, source, res, opts); err != nil {
		return "", err
	}
	if n, err = p.storedCount(ctx); err != nil {
		return "", err
	}
	if n < uint64(res.Rows) {
		// A row the stream dropped again, or one its dedup window answers
		// as stored though its limits evicted it (rev4's
		// TestRev4StreamLimitsDropRows): never seal a batch with rows missing.
		return "", p.notStored(n, res.Rows)
	}
	p.published += max(published, 0)
	p.skipped = res.Rows - p.published
	return rowsDigest, nil
}

// notStored is the error of an upload whose rows the stream does not all
// hold after publishing them.
func (p *publisher) notStored(n uint64, rows int) error {
	return fmt.Errorf("only %d of %d rows of batch %s are stored in %s after publishing them (do the stream's limits drop messages: max messages, max bytes, max age?); the batch is not sealed, upload it again once the stream keeps them",
		n, rows, p.batch, queue.StreamIntake)
}

// storedCount is how many rows the stream holds on the batch's row and
// chunk subjects (batchRows).
func (p *publisher) storedCount(ctx context.Context) (uint64, error) {
	info, err := p.stream.Info(ctx, jetstream.WithSubjectFilter(queue.IntakeBatchSubjects(p.batch)))
	if err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", p.batch, err)
	}
	_, rows := batchRows(info, p.batch)
	return rows, nil
}

// publishPass is one pass of publishFile over the file.
func (p *publisher) publishPass(ctx context.Context, source Source, res *Result, opts Options) (string, error) {
	p.ring = make([]barrier, p.window)
	p.head, p.n, p.inflight, p.pending = 0, 0, 0, nil
	f, err := source.Open()
	if err != nil {
		return "", fmt.Errorf("open payout file: %w", err)
	}
	defer f.Close()
	env, err := opts.Sealer.Begin()
	if err != nil {
		return "", err
	}
	fileHash := sha256.New()
	var src io.Reader = io.TeeReader(f, fileHash)
	pr := newProgressReader(src, PhasePublish, res.Size, &p.rows, opts.Progress)
	if pr != nil {
		src = pr
		defer pr.stop() // after the last acknowledgement
	}

	chunks := make(chan []outMsg, 4)
	done := make(chan struct{})
	var rowsDigest string
	var readErr error
	var skipped int
	go func() {
		defer close(chunks)
		rowsDigest, skipped, readErr = p.readFile(src, fileHash, res, opts, env, chunks, done)
	}()
	var pubErr error
	for chunk := range chunks {
		if pubErr != nil {
			continue // drain until the reader sees done
		}
		for _, m := range chunk {
			if pubErr = p.publish(ctx, m.msg, m.barrier); pubErr != nil {
				close(done)
				break
			}
		}
	}
	// chunks is closed: the reader returned.
	if pubErr != nil {
		return "", pubErr
	}
	p.skipped += skipped
	if readErr != nil {
		p.drain(ctx) // let what was sent finish; the batch is not sealed
		return "", readErr
	}
	if err := p.drain(ctx); err != nil {
		return "", err
	}
	return rowsDigest, nil
}

// readFile is publishFile's reading goroutine: it reads the rows, builds
// their messages and sends them to chunks until done is closed. It
// returns the rows' digest and the rows an earlier upload stored.
func (p *publisher) readFile(src io.Reader, fileHash hash.Hash, res *Result, opts Options, env *secret.Envelope, chunks chan<- []outMsg, done <-chan struct{}) (string, int, error) {
	buf := make([]byte, 0, 2048)
	var blank []byte       // a stored row of an older upload is compared without its number
	digest := sha256.New() // DigestRows, incrementally
	subject := queue.IntakeRowSubject(p.batch)
	chunkSubject := queue.IntakeChunkSubject(p.batch, intake.ChunkRows)
	aadPrefix := p.batch + "/"
	var pan string // the card number of the row being read, if it has one
	seal := func(number string, row int) string {
		pan = number
		return env.Seal(number, aadPrefix+strconv.Itoa(row))
	}
	bopts := opts.Batch
	bopts.OnRecord, bopts.OnError, bopts.OnWarning = nil, nil, nil

	count, skipped := 0, 0
	var held outMsg // the last message, sent once the next is known (the last one asks for its acknowledgement)
	var data []byte
	var msgs []nats.Msg
	var vals [][4]string
	chunk := make([]outMsg, 0, publishChunk)
	// A block is the rows lo..lo+k-1 of the file (lo = 1, k+1, 2k+1…):
	// published as one chunk when all k are to be published, else (the
	// file's last, shorter block; a block an earlier upload stored some
	// rows of) its rows one message each, as before chunks. So a chunk's
	// rows and message id follow from the file alone, a chunk is never
	// published beside a row message of one of its rows by this upload, and
	// the stream's count of a batch's rows is its messages on the row subject
	// plus k a chunk (storedCount).
	k := intake.ChunkRows
	type blockRow struct{ index, start, end int }
	var block []blockRow
	var blockBuf []byte
	var emit func(m *nats.Msg, barrier bool) bool
	flush := func() bool {
		defer func() { block = block[:0] }()
		if len(block) == 0 {
			return true
		}
		first := block[0].index
		if len(block) == k && first%k == 1%k && block[k-1].index == first+k-1 {
			size := len(blockBuf) + k + 32
			c := make([]byte, 0, size)
			c = intake.AppendChunkHead(c, first, k)
			for _, r := range block {
				c = intake.AppendChunkRow(c, blockBuf[r.start:r.end])
			}
			if len(c) <= intake.MaxChunkBytes {
				id := queue.ChunkMsgID(p.batch, first, k)
				m := &nats.Msg{Subject: chunkSubject, Data: c, Header: nats.Header{
					jetstream.MsgIDHeader: []string{id},
					queue.HeaderBatch:     []string{p.batch},
					queue.HeaderRow:       []string{strconv.Itoa(first)},
					queue.HeaderKind:      []string{"rows"},
				}}
				return emit(m, (first+k-1)/p.ackEvery > (first-1)/p.ackEvery)
			}
			// Rows too long for one chunk: one message each.
		}
		for _, r := range block {
			msg := blockBuf[r.start:r.end]
			// A message keeps its data until its span is acknowledged: the
			// data, messages and header values of many rows share one
			// allocation (3 fewer allocations a row, and 4 of the header's).
			if cap(data)-len(data) < len(msg) {
				data = make([]byte, 0, max(dataSlab, len(msg)))
			}
			if len(msgs) == 0 {
				msgs, vals = make([]nats.Msg, publishChunk), make([][4]string, publishChunk)
			}
			m, v := &msgs[0], &vals[0]
			msgs, vals = msgs[1:], vals[1:]
			start := len(data)
			data = append(data, msg...)
			id := queue.RowMsgID(p.batch, r.index)
			v[0], v[1], v[2], v[3] = id, p.batch, id[len(p.batch)+1:], "row" // the id ends with ":<row>"
			m.Subject, m.Data = subject, data[start:len(data):len(data)]
			m.Header = nats.Header{
				jetstream.MsgIDHeader: v[0:1:1],
				queue.HeaderBatch:     v[1:2:2],
				queue.HeaderRow:       v[2:3:3],
				queue.HeaderKind:      v[3:4:4],
			}
			if !emit(m, r.index%p.ackEvery == 0) {
				return false
			}
		}
		return true
	}
	send := func() bool {
		if len(chunk) == 0 {
			return true
		}
		select {
		case chunks <- chunk:
			chunk = make([]outMsg, 0, publishChunk)
			return true
		case <-done:
			return false
		}
	}
	emit = func(m *nats.Msg, barrier bool) bool {
		if held.msg != nil {
			chunk = append(chunk, held)
			if len(chunk) == publishChunk && !send() {
				return false
			}
		}
		held = outMsg{msg: m, barrier: barrier}
		return true
	}
	for row, err := range batch.RowsChecked(src, bopts, res.sums, seal) {
		if err != nil {
			return "", skipped, err
		}
		count++
		if len(block) > 0 && (row.Index-1)/k != (block[0].index-1)/k && !flush() {
			// The block's last rows were stored before: it ends here.
			return "", skipped, errors.New("publish rows: stopped")
		}
		row.Batch = p.batch
		number := pan
		pan = ""
		var keyed [32]byte
		buf, keyed, err = rowMessage(buf[:0], env, row, number)
		if err != nil {
			return "", skipped, err
		}
		if prev, ok := p.stored[row.Index]; ok {
			same := prev.keyed && prev.identity == keyed ||
				!prev.keyed && prev.blank == sha256.Sum256(intake.AppendDigestInput(blank[:0], row, ""))
			if !same {
				return "", skipped, fmt.Errorf("batch %s already holds different data for row %d (was it uploaded with other upload keys?)", p.batch, row.Index)
			}
			digest.Write(prev.identity[:])
			skipped++
			p.rows.Add(1)
			continue
		}
		digest.Write(keyed[:])
		// The row waits in its block (rows lo..lo+k-1 of the file) until
		// the block is complete: then it goes in its block's chunk.
		if len(block) == 0 {
			blockBuf = blockBuf[:0]
		}
		start := len(blockBuf)
		blockBuf = append(blockBuf, buf...)
		block = append(block, blockRow{index: row.Index, start: start, end: len(blockBuf)})
		if row.Index%k == 0 {
			if !flush() {
				return "", skipped, errors.New("publish rows: stopped")
			}
		}
	}
	if !flush() {
		return "", skipped, errors.New("publish rows: stopped")
	}
	if held.msg != nil {
		held.barrier = true // the last row published covers the rows before it
		chunk = append(chunk, held)
	}
	if !send() {
		return "", skipped, errors.New("publish rows: stopped")
	}
	// The file must not have changed between the two passes.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return "", skipped, fmt.Errorf("read payout file: %w", err)
	}
	if got := hex.EncodeToString(fileHash.Sum(nil)); got != res.FileSHA256 || count != res.Rows {
		return "", skipped, fmt.Errorf("payout file changed while it was ingested (sha256 %s, validated %s); the batch was not sealed, upload it again", got, res.FileSHA256)
	}
	return hex.EncodeToString(digest.Sum(nil)), skipped, nil
}

// rowMessage completes a row read from the file, whose card number (if
// any) is number: the card's fingerprint and the row's keyed digest, from
// the upload's envelope. It appends the row message to buf and returns it
// with the digest. The row is encoded once: the digest covers its message
// with the number in place of the sealed value (intake.WriteDigestInput),
// so the number goes only into the HMAC, never into a buffer. row.Digest
// is left empty (the message holds it).
func rowMessage(buf []byte, s *secret.Envelope, row *payout.Row, number string) ([]byte, [32]byte, error) {
	if row.Card != nil {
		if number == "" {
			return nil, [32]byte{}, fmt.Errorf("row %d: card row without a sealed number", row.Index)
		}
		row.Card.Fingerprint = s.Fingerprint(number)
	}
	row.Digest = ""
	start := len(buf)
	buf = intake.AppendRow(buf, row)
	keyed, ok := s.RowDigestFrom(func(w io.Writer) bool { return intake.WriteDigestInput(w, buf[start:], number) })
	if !ok {
		return nil, [32]byte{}, fmt.Errorf("row %d: cannot digest its message", row.Index)
	}
	return intake.AppendDigestSum(buf, keyed), keyed, nil
}

// publishManifest seals the batch, after every row was acknowledged. Of
// concurrent uploads of the same content exactly one seals it: the
// manifest is published only onto an empty manifest subject (expected last
// subject sequence 0; its message id deduplicates as well), so every other
// upload is refused, reads the stored manifest and returns it (sealed).
// Which upload won is told by the Payrun-Upload header, a random id of this
// call: a retry after an answer that was lost finds its own manifest and
// still counts as the winner. sealed is nil when this call sealed it.
func publishManifest(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, m *payout.Manifest) (sealed *payout.Manifest, err error) {
	data, err := intake.EncodeManifest(m)
	if err != nil {
		return nil, err
	}
	upload := make([]byte, 16)
	if _, err := rand.Read(upload); err != nil {
		return nil, fmt.Errorf("publish manifest of %s: %w", m.Batch, err)
	}
	uploadID := hex.EncodeToString(upload)
	msg := &nats.Msg{Subject: queue.IntakeManifestSubject(m.Batch), Data: data, Header: nats.Header{
		queue.HeaderBatch:  []string{m.Batch},
		queue.HeaderKind:   []string{"manifest"},
		queue.HeaderUpload: []string{uploadID},
	}}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ack, err := js.PublishMsg(tctx, msg, jetstream.WithMsgID(queue.ManifestMsgID(m.Batch)),
			jetstream.WithExpectStream(queue.StreamIntake), jetstream.WithExpectLastSequencePerSubject(0))
		cancel()
		if err == nil && !ack.Duplicate {
			return nil, nil
		}
		if (err == nil && ack.Duplicate) || wrongLastSequence(err) {
			stored, hdr, err := storedManifest(ctx, stream, m.Batch)
			if err != nil {
				return nil, err
			}
			if stored == nil {
				return nil, fmt.Errorf("publish manifest of %s: refused as sealed, but no manifest is stored", m.Batch)
			}
			if hdr.Get(queue.HeaderUpload) == uploadID {
				return nil, nil // ours: an earlier attempt's answer was lost
			}
			return stored, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("publish manifest of %s: %w", m.Batch, last)
}

// wrongLastSequence tells a refused expected-last-sequence publish (a
// replicated stream answers with its own code).
func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
