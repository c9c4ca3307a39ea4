// Publishing a checked file: its rows through a bounded window of
// acknowledgements, then the manifest that seals the batch.

package ingest

import (
	"bytes"
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
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
)

// publisher publishes a batch's rows with a bounded window of
// unacknowledged publishes.
type publisher struct {
	js        jetstream.JetStream
	batch     string
	window    int
	stored    map[int]storedRow
	log       *slog.Logger
	ring      []jetstream.PubAckFuture
	head, n   int
	published int
	skipped   int
	rows      atomic.Int64
}

// publishChunk is how many row messages go from the reading goroutine to
// the publishing one at a time.
const publishChunk = 256

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
	p.ring = make([]jetstream.PubAckFuture, p.window)
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

	chunks := make(chan []*nats.Msg, 4)
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
		for _, msg := range chunk {
			if pubErr = p.publish(ctx, msg); pubErr != nil {
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
func (p *publisher) readFile(src io.Reader, fileHash hash.Hash, res *Result, opts Options, env *secret.Envelope, chunks chan<- []*nats.Msg, done <-chan struct{}) (string, int, error) {
	buf := make([]byte, 0, 2048)
	var blank []byte       // a stored row of an older upload is compared without its number
	digest := sha256.New() // DigestRows, incrementally
	subject := queue.IntakeRowSubject(p.batch)
	aadPrefix := p.batch + "/"
	var pan string // the card number of the row being read, if it has one
	seal := func(number string, row int) string {
		pan = number
		return env.Seal(number, aadPrefix+strconv.Itoa(row))
	}
	bopts := opts.Batch
	bopts.OnRecord, bopts.OnError, bopts.OnWarning = nil, nil, nil

	count, skipped := 0, 0
	chunk := make([]*nats.Msg, 0, publishChunk)
	send := func() bool {
		if len(chunk) == 0 {
			return true
		}
		select {
		case chunks <- chunk:
			chunk = make([]*nats.Msg, 0, publishChunk)
			return true
		case <-done:
			return false
		}
	}
	for row, err := range batch.RowsChecked(src, bopts, res.sums, seal) {
		if err != nil {
			return "", skipped, err
		}
		count++
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
		data := bytes.Clone(buf) // an async publish keeps its message until the ack
		chunk = append(chunk, &nats.Msg{Subject: subject, Data: data, Header: nats.Header{
			jetstream.MsgIDHeader: []string{queue.RowMsgID(p.batch, row.Index)},
			queue.HeaderBatch:     []string{p.batch},
			queue.HeaderRow:       []string{strconv.Itoa(row.Index)},
			queue.HeaderKind:      []string{"row"},
		}})
		if len(chunk) == publishChunk && !send() {
			return "", skipped, errors.New("publish rows: stopped")
		}
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
// so the number goes only into the HMAC, never into a buffer.
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
	row.Digest = hex.EncodeToString(keyed[:])
	return intake.AppendDigest(buf, row.Digest), keyed, nil
}

// publish sends msg asynchronously, first waiting for the oldest publish
// when the window is full.
func (p *publisher) publish(ctx context.Context, msg *nats.Msg) error {
	if p.n == len(p.ring) {
		if err := p.waitOldest(ctx); err != nil {
			return err
		}
	}
	fut, err := p.js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute))
	if err != nil {
		return fmt.Errorf("publish row %s: %w", msg.Header.Get(queue.HeaderRow), err)
	}
	p.ring[(p.head+p.n)%len(p.ring)] = fut
	p.n++
	return nil
}

func (p *publisher) drain(ctx context.Context) error {
	for p.n > 0 {
		if err := p.waitOldest(ctx); err != nil {
			return err
		}
	}
	return nil
}

// waitOldest waits for the oldest unacknowledged publish; a failed one is
// retried synchronously (its message id makes a retry safe).
func (p *publisher) waitOldest(ctx context.Context) error {
	fut := p.ring[p.head]
	p.ring[p.head] = nil
	p.head = (p.head + 1) % len(p.ring)
	p.n--
	select {
	case ack := <-fut.Ok():
		if ack.Duplicate {
			// A concurrent upload of the same file stored this row first.
			p.skipped++
			p.rows.Add(1)
			return nil
		}
	case err := <-fut.Err():
		if err := p.retry(ctx, fut.Msg(), err); err != nil {
			return err
		}
	case <-ctx.Done():
		return fmt.Errorf("publish rows: %w", ctx.Err())
	}
	p.published++
	p.rows.Add(1)
	return nil
}

func (p *publisher) retry(ctx context.Context, msg *nats.Msg, cause error) error {
	row := msg.Header.Get(queue.HeaderRow)
	for attempt := 1; attempt <= 3; attempt++ {
		p.log.Warn("row publish failed; retrying", logkey.Row, row, logkey.Error, cause)
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := p.js.PublishMsg(tctx, msg)
		cancel()
		if err == nil {
			return nil
		}
		cause = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish row %s: %w", row, ctx.Err())
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	return fmt.Errorf("publish row %s: %w", row, cause)
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
