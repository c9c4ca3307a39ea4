// What the intake stream already holds of a batch: its manifest and the
// rows an earlier upload of the same file stored, so an upload again
// reports the batch or completes it.

package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

// existingManifest returns the batch's manifest if it was sealed before.
func existingManifest(ctx context.Context, stream jetstream.Stream, batchID string) (*payout.Manifest, error) {
	m, _, err := storedManifest(ctx, stream, batchID)
	return m, err
}

// storedManifest returns the batch's manifest and its message's headers if
// it was sealed before. A stream created a moment ago (in a cluster, by
// this very ingest) may not answer direct gets yet: "no responders" is
// retried for a few seconds.
func storedManifest(ctx context.Context, stream jetstream.Stream, batchID string) (*payout.Manifest, nats.Header, error) {
	var msg *jetstream.RawStreamMsg
	var err error
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		msg, err = stream.GetLastMsgForSubject(ctx, queue.IntakeManifestSubject(batchID))
		if !errors.Is(err, nats.ErrNoResponders) || wait > 2*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("look up manifest of %s: %w", batchID, ctx.Err())
		case <-time.After(wait):
		}
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up manifest of %s: %w", batchID, err)
	}
	m, err := intake.DecodeManifest(msg.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest of %s: %w", batchID, err)
	}
	return m, msg.Header, nil
}

// storedRow is what an earlier upload stored for a row, as a new upload
// compares it.
type storedRow struct {
	// identity is the row's keyed digest, or for a message without one
	// (stored before public-key sealing) the SHA-256 of the message: what
	// the ledger compares and the manifest's row digests cover.
	identity [32]byte
	keyed    bool
	// blank, for a message without a keyed digest, is the SHA-256 of the
	// row without its sealed card number (intake.AppendDigestInput with no
	// number): the part a new upload can compare.
	blank [32]byte
}

// readStoredRow reads a stored row message, its own bytes (alone or in
// a chunk), and returns it with its row number.
func readStoredRow(data []byte) (storedRow, int, error) {
	m, err := intake.DecodeRow(data)
	if err != nil {
		return storedRow{}, 0, err
	}
	if m.Digest != "" {
		raw, err := hex.DecodeString(m.Digest)
		if err != nil || len(raw) != sha256.Size {
			return storedRow{}, 0, fmt.Errorf("row %d: digest %q is not 64 hex characters", m.Index, m.Digest)
		}
		return storedRow{identity: [32]byte(raw), keyed: true}, m.Index, nil
	}
	r := m.Row
	if r.Meta, err = intake.DecodeMeta(m.Meta); err != nil {
		return storedRow{}, 0, err
	}
	return storedRow{identity: sha256.Sum256(data), blank: sha256.Sum256(intake.AppendDigestInput(nil, &r, ""))}, m.Index, nil
}

// batchRows counts what the stream holds of a batch's rows, from a stream
// info filtered on queue.IntakeBatchSubjects: the messages on its row and
// chunk subjects, and the rows they carry (a chunk subject names its rows
// a message, queue.IntakeChunkSubject).
func batchRows(info *jetstream.StreamInfo, batchID string) (msgs, rows uint64) {
	single := queue.IntakeRowSubject(batchID)
	chunk := strings.TrimSuffix(queue.IntakeChunkSubject(batchID, 1), "1")
	for subject, n := range info.State.Subjects {
		switch {
		case subject == single:
			msgs, rows = msgs+n, rows+n
		case strings.HasPrefix(subject, chunk):
			if k, err := strconv.Atoi(subject[len(chunk):]); err == nil && k > 0 {
				msgs, rows = msgs+n, rows+n*uint64(k)
			}
		}
	}
	return msgs, rows
}

// storedRows finds the rows an earlier, unfinished upload of the same
// batch stored, alone or in chunks. Usually there are none and it costs
// one stream info request.
func storedRows(ctx context.Context, stream jetstream.Stream, batchID string) (map[int]storedRow, error) {
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(queue.IntakeBatchSubjects(batchID)))
	if err != nil {
		return nil, fmt.Errorf("look up rows of %s: %w", batchID, err)
	}
	n, rows := batchRows(info, batchID)
	if n == 0 {
		return nil, nil
	}
	var subjects []string
	for subject := range info.State.Subjects {
		if subject != queue.IntakeManifestSubject(batchID) {
			subjects = append(subjects, subject)
		}
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: subjects})
	if err != nil {
		return nil, fmt.Errorf("read stored rows of %s: %w", batchID, err)
	}
	stored := make(map[int]storedRow, rows)
	var seen uint64
	for seen < n {
		batch, err := cons.Fetch(int(min(n-seen, 1000)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read stored rows of %s: %w", batchID, err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			seen++
			if err := readStored(stored, msg.Data(), msg.Headers().Get(queue.HeaderRow)); err != nil {
				return nil, fmt.Errorf("stored row %s of %s: %w", msg.Headers().Get(queue.HeaderRow), batchID, err)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("read stored rows of %s: %w", batchID, err)
		}
		if got == 0 {
			break // fewer than the info said (a purge meanwhile); what we have is what counts
		}
	}
	return stored, nil
}

// readStored adds a stored message's rows to stored: a row message (its
// number from the header), or each row of a chunk.
func readStored(stored map[int]storedRow, data []byte, header string) error {
	if !intake.IsChunk(data) {
		row, err := strconv.Atoi(header)
		if err != nil {
			return errors.New("without a row number")
		}
		r, _, err := readStoredRow(data)
		if err != nil {
			return err
		}
		stored[row] = r
		return nil
	}
	c, err := intake.SplitChunk(data)
	if err != nil {
		return err
	}
	for i, msg := range c.Rows {
		r, no, err := readStoredRow(msg)
		if err != nil {
			return err
		}
		if no != c.First+i {
			return fmt.Errorf("a chunk of rows %d+%d holds row %d in the place of row %d", c.First, len(c.Rows), no, c.First+i)
		}
		stored[no] = r
	}
	return nil
}
