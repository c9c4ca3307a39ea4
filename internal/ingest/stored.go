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

// readStoredRow reads a stored row message.
func readStoredRow(data []byte) (storedRow, error) {
	m, err := intake.DecodeRow(data)
	if err != nil {
		return storedRow{}, err
	}
	if m.Digest != "" {
		raw, err := hex.DecodeString(m.Digest)
		if err != nil || len(raw) != sha256.Size {
			return storedRow{}, fmt.Errorf("row %d: digest %q is not 64 hex characters", m.Index, m.Digest)
		}
		return storedRow{identity: [32]byte(raw), keyed: true}, nil
	}
	r := m.Row
	if r.Meta, err = intake.DecodeMeta(m.Meta); err != nil {
		return storedRow{}, err
	}
	return storedRow{identity: sha256.Sum256(data), blank: sha256.Sum256(intake.AppendDigestInput(nil, &r, ""))}, nil
}

// storedRows finds the rows an earlier, unfinished upload of the same
// batch stored. Usually there are none and it costs one stream info
// request.
func storedRows(ctx context.Context, stream jetstream.Stream, batchID string) (map[int]storedRow, error) {
	subject := queue.IntakeRowSubject(batchID)
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil, fmt.Errorf("look up rows of %s: %w", batchID, err)
	}
	n := info.State.Subjects[subject]
	if n == 0 {
		return nil, nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return nil, fmt.Errorf("read stored rows of %s: %w", batchID, err)
	}
	stored := make(map[int]storedRow, n)
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
			row, err := strconv.Atoi(msg.Headers().Get(queue.HeaderRow))
			if err != nil {
				return nil, fmt.Errorf("stored row of %s without a row number", batchID)
			}
			if stored[row], err = readStoredRow(msg.Data()); err != nil {
				return nil, fmt.Errorf("stored row %d of %s: %w", row, batchID, err)
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
