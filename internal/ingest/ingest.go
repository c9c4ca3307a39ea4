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
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/cardmask"
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
	// Published is the rows stored by this upload and AlreadyStored those an
	// earlier, unfinished (or concurrent) upload had stored; together they
	// are the file's rows. Rows ask for an acknowledgement one in 64
	// (publisher), so after a lost acknowledgement (a server restart) or
	// with concurrent uploads of the same file the split between the two
	// is an estimate; the rows themselves are stored once and counted
	// before the manifest (rev4's TestRev4ServerRestartMidUpload and
	// TestRev4ConcurrentSameFileSparse).
	Published     int              `json:"published"`
	AlreadyStored int              `json:"already_stored,omitempty"`
	Manifest      *payout.Manifest `json:"manifest,omitempty"`
	Errors        []batch.Error    `json:"errors,omitempty"`
	ErrorCount    int              `json:"error_count"`
	Warnings      []batch.Error    `json:"warnings,omitempty"`
	WarningCount  int              `json:"warning_count,omitempty"`
	// CrossFileCheck says whether the rows were checked against the
	// ledger's duplicate guard before the upload (CheckDuplicates):
	// "checked against the ledger", or "not run: …" and why.
	CrossFileCheck string `json:"cross_file_check,omitempty"`

	// sums are the validated records' hashes (batch.Result.Sums): Publish
	// and CheckDuplicates read the file again without validating its rows
	// a second time, record by record against what Check validated.
	sums *batch.RecordSums
	// resends is how many rows were published again with an
	// acknowledgement each, refilled whether the file was published a
	// second time because rows were missing (publisher): for tests.
	resends  int
	refilled bool
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

	p := &publisher{js: js, stream: stream, batch: res.Batch, window: opts.Window, stored: stored, log: log}
	rowsDigest, err := p.publishFile(ctx, src, &res, opts)
	if err != nil {
		return nil, err
	}
	res.Published, res.AlreadyStored = p.published, p.skipped
	res.resends, res.refilled = p.resends, p.refilled

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
	log.Info("batch published and sealed", "rows", res.Rows, "published", p.published, "already_stored", p.skipped, "resent", p.resends)
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
