// Package ingest turns a payout file into a batch in the intake stream: it
// validates the whole file first (package batch) and publishes nothing from
// a file with a blocking error; then it publishes every row, waits until
// JetStream acknowledged each of them, and seals the batch with a manifest.
// The same content always names the same batch (the batch id comes from
// the file's bytes without a BOM, with LF line endings and one final line
// break: batch.Result.ContentSHA256), so uploading a file again, or the same
// payroll saved again with CRLF or extra blank lines at the end, reports the
// existing batch, and an upload that crashed before its manifest is
// completed by the next one. It also serves uploads over HTTP (Handler).
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
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
)

// DefaultWindow is how many row publishes may wait for their
// acknowledgement at once.
const DefaultWindow = 2048

// Options configure one ingest.
type Options struct {
	// Batch holds the validation options: the per-row limit, control totals
	// and clock, and hooks such as the errors report.
	Batch batch.Options
	// FileName is the name the manifest and result show; default the
	// path's base name.
	FileName string
	// Name is the batch's human name (e.g. "Payroll November 2026").
	Name string
	// ScheduleAt, if set, is the earliest time payouts may start.
	ScheduleAt *time.Time
	// RequireApproval holds the batch until an operator approves it.
	RequireApproval bool
	// UploadedBy and UploaderID name the person uploading (the API sets
	// them from the authenticated principal); they go into the manifest,
	// and the ledger never lets that person approve the batch.
	UploadedBy string
	UploaderID int64
	// Sealer seals card numbers to the processors' public key and digests
	// rows with the upload keys; required to publish.
	Sealer *secret.Sealer
	// Progress, if set, is called a few times a second from another
	// goroutine, and once at the end of each phase.
	Progress func(Progress)
	// Window is the number of unacknowledged row publishes; default DefaultWindow.
	Window int
	// Logger receives one line per batch; default slog.Default().
	Logger *slog.Logger
	// Now stamps the manifest; default time.Now.
	Now func() time.Time
	// CardFingerprint, if set, is the deployment's keyed fingerprint of a
	// card number (payout.Card.Fingerprint); default the Sealer's: CheckDuplicates sends it
	// to the ledger so card rows are compared across files too.
	CardFingerprint func(pan string) string
}

// Phases reported in Progress.
const (
	PhaseValidate = "validate"
	PhasePublish  = "publish"
)

// Progress tells how far a phase is.
type Progress struct {
	Phase string
	Bytes int64 // read so far in this phase
	Total int64 // the file's size
	Rows  int   // validated or published so far
	Done  bool  // the phase ended
}

// Status is the outcome of an upload.
type Status string

// Outcomes.
const (
	StatusCreated  Status = "created"  // the batch was published and sealed now
	StatusExisting Status = "existing" // the same content was ingested before; nothing published
	StatusInvalid  Status = "invalid"  // the file has blocking errors; nothing published
	StatusValid    Status = "valid"    // validated only (Check), nothing published
)

// Result is the outcome of Ingest or Check, as the CLI's --json and the
// HTTP handler show it.
type Result struct {
	Status          Status            `json:"status"`
	Batch           string            `json:"batch,omitempty"`
	FileName        string            `json:"file_name"`
	FileSHA256      string            `json:"file_sha256"`
	Size            int64             `json:"size"`
	Format          string            `json:"format,omitempty"` // csv or xlsx
	Sheet           string            `json:"sheet,omitempty"`  // the sheet read, for a workbook
	Encoding        string            `json:"encoding,omitempty"`
	Delimiter       string            `json:"delimiter,omitempty"`
	Rows            int               `json:"rows"`
	Totals          money.Totals      `json:"totals"`         // minor units per currency
	TotalsDecimal   map[string]string `json:"totals_decimal"` // "1500.50" per currency
	ByMethod        map[string]int    `json:"by_method,omitempty"`
	TotalsLine      *batch.TotalsLine `json:"totals_line,omitempty"`
	Name            string            `json:"name,omitempty"`
	ScheduleAt      *time.Time        `json:"schedule_at,omitempty"`
	RequireApproval bool              `json:"require_approval,omitempty"`
	Published       int               `json:"published"`                // rows stored by this upload
	AlreadyStored   int               `json:"already_stored,omitempty"` // rows an earlier, unfinished upload had stored
	Manifest        *payout.Manifest  `json:"manifest,omitempty"`
	Errors          []batch.Error     `json:"errors,omitempty"`
	ErrorCount      int               `json:"error_count"`
	Warnings        []batch.Error     `json:"warnings,omitempty"`
	WarningCount    int               `json:"warning_count,omitempty"`
	// CrossFileCheck says whether the rows were checked against the
	// ledger's duplicate guard before the upload (CheckDuplicates):
	// "checked against the ledger", or "not run: …" and why.
	CrossFileCheck string `json:"cross_file_check,omitempty"`

	// sums are the validated records' hashes (batch.Result.Sums): Publish
	// and CheckDuplicates read the file again without validating its rows
	// a second time, record by record against what Check validated.
	sums *batch.RecordSums
}

// A Source is a payout file that can be read more than once: Check reads
// it once, Publish once more. A file on disk is one (File); the upload
// handler's encrypted spool (internal/spool) is another.
type Source interface {
	// Open returns a reader from the file's first byte.
	Open() (io.ReadCloser, error)
	// Size is the file's size in bytes (for progress; 0 if unknown).
	Size() int64
}

// File is a payout file on disk as a Source.
type File string

// Open opens the file.
func (f File) Open() (io.ReadCloser, error) { return os.Open(string(f)) }

// Size is the file's size, 0 if it cannot be read.
func (f File) Size() int64 {
	st, err := os.Stat(string(f))
	if err != nil {
		return 0
	}
	return st.Size()
}

// Check validates the file at path without publishing anything. The
// result's status is StatusValid (with the batch id the file would get) or
// StatusInvalid.
func Check(path string, opts Options) (*Result, error) {
	if opts.FileName == "" {
		opts.FileName = filepath.Base(path)
	}
	return CheckSource(File(path), opts)
}

// CheckSource is Check of a Source; the result's file name is
// opts.FileName.
func CheckSource(source Source, opts Options) (*Result, error) {
	f, err := source.Open()
	if err != nil {
		return nil, fmt.Errorf("open payout file: %w", err)
	}
	defer f.Close()
	size := source.Size()
	var rows atomic.Int64
	pr := newProgressReader(f, PhaseValidate, size, &rows, opts.Progress)
	bopts := opts.Batch
	bopts.Name = opts.Name // checked with the file: no card numbers, no invisible characters
	if pr != nil {
		onRecord := bopts.OnRecord
		bopts.OnRecord = func(r *batch.Record) {
			rows.Store(int64(r.Row))
			if onRecord != nil {
				onRecord(r)
			}
		}
	}
	var src io.Reader = f
	if pr != nil {
		src = pr
	}
	vr, err := batch.Validate(src, bopts)
	if pr != nil {
		pr.stop()
	}
	if err != nil {
		return nil, err
	}
	res := &Result{
		FileName:        cardmask.Redact(opts.FileName),
		FileSHA256:      vr.SHA256,
		Size:            vr.Size,
		Format:          vr.Format,
		Sheet:           vr.Sheet,
		Encoding:        vr.Encoding,
		Delimiter:       vr.Delimiter,
		Rows:            vr.Rows,
		Totals:          vr.Totals,
		TotalsDecimal:   decimals(vr.Totals),
		ByMethod:        vr.ByMethod,
		TotalsLine:      vr.TotalsLine,
		Name:            cardmask.Redact(opts.Name), // as given when valid
		ScheduleAt:      opts.ScheduleAt,
		RequireApproval: opts.RequireApproval,
		Errors:          vr.Errors,
		ErrorCount:      vr.ErrorCount,
		Warnings:        vr.Warnings,
		WarningCount:    vr.WarningCount,
	}
	if !vr.Valid() {
		res.Status = StatusInvalid
	} else {
		res.Status = StatusValid
		res.Batch = payout.BatchID(vr.ContentDigest())
		res.sums = vr.Sums
	}
	return res, nil
}

func decimals(t money.Totals) map[string]string {
	out := make(map[string]string, len(t))
	for _, a := range t.Amounts() {
		out[a.Currency] = a.Decimal()
	}
	return out
}

// Ingest validates the file at path and, when it is valid, publishes it as
// a batch into the intake stream (which must exist: queue.EnsureStreams).
// An invalid file is not an error: the result has StatusInvalid and the
// errors, and nothing was published. It is Check followed by Publish.
func Ingest(ctx context.Context, js jetstream.JetStream, path string, opts Options) (*Result, error) {
	if opts.FileName == "" {
		opts.FileName = filepath.Base(path)
	}
	return IngestSource(ctx, js, File(path), opts)
}

// IngestSource is Ingest of a Source; the result's file name is
// opts.FileName.
func IngestSource(ctx context.Context, js jetstream.JetStream, src Source, opts Options) (*Result, error) {
	if opts.Sealer == nil {
		return nil, errors.New("ingest: no card public key and upload keys to seal card numbers")
	}
	res, err := CheckSource(src, opts)
	if err != nil {
		return nil, err
	}
	if res.Status == StatusInvalid {
		logger(opts).Info("payout file rejected; nothing published", "file", res.FileName, "errors", res.ErrorCount)
		return res, nil
	}
	return PublishSource(ctx, js, src, res, opts)
}

func logger(opts Options) *slog.Logger {
	if opts.Logger != nil {
		return opts.Logger
	}
	return slog.Default()
}

// Publish publishes a file that Check found valid (checked is Check's
// result) as a batch: it reports an existing batch of the same content, or
// publishes the rows not yet stored, waits for every acknowledgement and
// seals the batch with its manifest. It reads the file again and refuses
// to seal if the file changed since Check.
func Publish(ctx context.Context, js jetstream.JetStream, path string, checked *Result, opts Options) (*Result, error) {
	return PublishSource(ctx, js, File(path), checked, opts)
}

// PublishSource is Publish of a Source.
func PublishSource(ctx context.Context, js jetstream.JetStream, src Source, checked *Result, opts Options) (*Result, error) {
	if opts.Sealer == nil {
		return nil, errors.New("ingest: no card public key and upload keys to seal card numbers")
	}
	if checked.Status != StatusValid {
		return nil, fmt.Errorf("ingest: publish a file whose check status is %q", checked.Status)
	}
	res := *checked
	log := logger(opts).With("file", res.FileName, logkey.Batch, res.Batch)

	stream, err := js.Stream(ctx, queue.StreamIntake)
	if err != nil {
		return nil, fmt.Errorf("open intake stream: %w", err)
	}
	for _, id := range []string{res.Batch, legacyBatchID(&res)} {
		if id == "" {
			continue
		}
		if m, err := existingManifest(ctx, stream, id); err != nil {
			return nil, err
		} else if m != nil {
			res.Status = StatusExisting
			res.Batch = id
			res.Manifest = m
			log = logger(opts).With("file", res.FileName, logkey.Batch, id)
			log.Info("batch already ingested; nothing published", "rows", m.Rows)
			return &res, nil
		}
	}
	stored, err := storedRows(ctx, stream, res.Batch)
	if err != nil {
		return nil, err
	}

	p := &publisher{js: js, batch: res.Batch, window: opts.Window, stored: stored, log: log}
	rowsDigest, err := p.publishFile(ctx, src, &res, opts)
	if err != nil {
		return nil, err
	}
	res.Published, res.AlreadyStored = p.published, p.skipped

	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	m := &payout.Manifest{
		Batch:            res.Batch,
		Name:             opts.Name,
		FileName:         res.FileName,
		FileSHA256:       res.FileSHA256,
		Rows:             res.Rows,
		Totals:           res.Totals,
		RowDigestsSHA256: rowsDigest,
		ScheduleAt:       opts.ScheduleAt,
		RequireApproval:  opts.RequireApproval,
		CreatedAt:        now().UTC(),
		UploadedBy:       opts.UploadedBy,
		UploaderID:       opts.UploaderID,
	}
	sealed, err := publishManifest(ctx, js, stream, m)
	if err != nil {
		return nil, err
	}
	metrics.IngestRows.Add(float64(p.published))
	if sealed != nil {
		// A concurrent upload of the same content sealed it first.
		res.Status = StatusExisting
		res.Manifest = sealed
		log.Info("batch sealed by a concurrent upload; nothing more published", "rows", res.Rows, "published", p.published, "already_stored", p.skipped)
		return &res, nil
	}
	res.Status = StatusCreated
	res.Manifest = m
	log.Info("batch published and sealed", "rows", res.Rows, "published", p.published, "already_stored", p.skipped)
	return &res, nil
}

// legacyBatchID is the id the file had when batch ids were the SHA-256 of
// its bytes, if that differs from its id now (a BOM, CRLF, or not exactly
// one final line break): an upload sealed under it is the same batch.
func legacyBatchID(res *Result) string {
	raw, err := hex.DecodeString(res.FileSHA256)
	if err != nil || len(raw) != sha256.Size {
		return ""
	}
	if id := payout.BatchID(raw); id != res.Batch {
		return id
	}
	return ""
}

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
