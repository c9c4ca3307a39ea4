package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/queue"
)

// Config tunes the ledger service. A zero field takes its value from
// DefaultConfig, the production default; tests shrink the durations.
type Config struct {
	// StuckAfter: a row before the bank (queued, claimed, quoted, opening,
	// session_open, starting) that did not move for this long is
	// re-enqueued with gen+1.
	StuckAfter time.Duration
	// PollAfter: a row waiting for the bank (payout_started, confirming,
	// confirmed, action_required, in_doubt with a session) that did not move
	// for this long gets a poll job; the interval then doubles per poll up
	// to PollMax.
	PollAfter time.Duration
	PollMax   time.Duration
	// DoubtDeadline: an in_doubt row older than this opens an exception.
	DoubtDeadline time.Duration
	// StallAfter: a row waiting at the bank (payout_started, confirming,
	// confirmed, action_required) this long without a final word opens an
	// exception; polls go on.
	StallAfter time.Duration
	// ReleaseInterval is how often due batches are looked for.
	ReleaseInterval time.Duration
	// SweepInterval is how often the sweeper runs.
	SweepInterval time.Duration
	// FXToleranceBps is how far (in basis points) the FX rate the bank
	// shows at ready_to_confirm may differ from the recorded quote's.
	FXToleranceBps int64
	// CommissionToleranceBps and CommissionToleranceMinor bound how far the
	// commission the bank shows may differ from the quote's fees: the
	// larger of the two applies.
	CommissionToleranceBps   int64
	CommissionToleranceMinor int64
	// GroupMax is how many requests one write transaction takes.
	GroupMax int
	// IntakeBatch is how many intake rows are recorded per transaction
	// (in whole messages: a chunk of rows is never split).
	IntakeBatch int
	// ReleaseChunk is how many rows one release transaction moves.
	ReleaseChunk int
	// ReportZone is the bank's time zone: the daily report's times
	// without an offset are read in it, its days are its days, and a day
	// is over (its report complete) at its midnight. Default
	// bank131.ReportZone() (Europe/Moscow).
	ReportZone *time.Location
	// ReportParts is how many part files the bank splits a day's report
	// into: a day is covered once that many distinct parts of it (or one
	// whole report) were imported after it ended. Default 1.
	ReportParts int
	// RepeatRetention is how long a row counts for the duplicate guard's
	// repeats (the same reference paid or in flight in another batch).
	RepeatRetention time.Duration
	// DuplicateWindow is how long a row counts for probable duplicates
	// (the same payee and amount under another reference).
	DuplicateWindow time.Duration
	// HeldNeedApproval makes a batch whose rows the guard held wait for
	// approval as a whole; otherwise the rest of it goes on and only the
	// held rows wait.
	HeldNeedApproval bool
	// BreakerFailures of the last BreakerWindow finished rows of a batch
	// failing with the same bank code put the batch on hold (the circuit
	// breaker). A negative BreakerFailures turns the breaker off.
	BreakerFailures int
	BreakerWindow   int
	// LinkTTL is how long a recipient link stays open (default 72 h).
	// CardWait: a row of a released batch that waits for its card with
	// no recipient link fails this long after the release (default 72 h);
	// with a link, it fails when its newest link expires unused.
	LinkTTL  time.Duration
	CardWait time.Duration
	// Wallet, when set, is read before each release chunk and while a
	// batch waits for funds (wallet.go); nil: no check, and a batch the
	// bank held for funds waits for a person's resume.
	Wallet Wallet
	// ExpectedFee is the fee the wallet check reckons per payout.
	ExpectedFee ExpectedFee
	// WalletRecheck is how often a batch waiting for funds reads the
	// wallet again.
	WalletRecheck time.Duration
	// Streams sizes the JetStream streams the service ensures at start.
	Streams queue.Config
	// Logger receives the service's logs; default slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the ledger's defaults: what a zero field of Config
// means, and the defaults of `ledger run`'s flags. Logger and Streams are
// left zero (slog.Default(), the embedded stream sizes).
func DefaultConfig() Config {
	return Config{
		StuckAfter:             5 * time.Minute,
		PollAfter:              2 * time.Minute,
		PollMax:                time.Hour,
		DoubtDeadline:          24 * time.Hour,
		StallAfter:             24 * time.Hour,
		ReleaseInterval:        time.Second,
		SweepInterval:          10 * time.Second,
		FXToleranceBps:         50,  // 0.5 %
		CommissionToleranceBps: 100, // 1 %
		GroupMax:               256,
		IntakeBatch:            4000,
		ReleaseChunk:           10000,
		ReportZone:             bank131.ReportZone(),
		ReportParts:            1,
		RepeatRetention:        400 * 24 * time.Hour,
		DuplicateWindow:        35 * 24 * time.Hour,
		BreakerFailures:        20,
		BreakerWindow:          50,
		LinkTTL:                72 * time.Hour,
		CardWait:               72 * time.Hour,
		// The sandbox's invented tariff (0.5 %, at least 15.00 RUB);
		// tariffs are contractual: set the contract's.
		ExpectedFee:   ExpectedFee{Bps: 50, Min: 1500},
		WalletRecheck: 30 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	def := func(v *time.Duration, dv time.Duration) {
		if *v <= 0 {
			*v = dv
		}
	}
	def(&c.StuckAfter, d.StuckAfter)
	def(&c.PollAfter, d.PollAfter)
	def(&c.PollMax, d.PollMax)
	def(&c.DoubtDeadline, d.DoubtDeadline)
	def(&c.StallAfter, d.StallAfter)
	def(&c.ReleaseInterval, d.ReleaseInterval)
	def(&c.SweepInterval, d.SweepInterval)
	def(&c.WalletRecheck, d.WalletRecheck)
	if c.ExpectedFee == (ExpectedFee{}) {
		c.ExpectedFee = d.ExpectedFee
	}
	if c.FXToleranceBps <= 0 {
		c.FXToleranceBps = d.FXToleranceBps
	}
	if c.CommissionToleranceBps <= 0 {
		c.CommissionToleranceBps = d.CommissionToleranceBps
	}
	if c.GroupMax <= 0 {
		c.GroupMax = d.GroupMax
	}
	if c.IntakeBatch <= 0 {
		c.IntakeBatch = d.IntakeBatch
	}
	if c.ReleaseChunk <= 0 {
		c.ReleaseChunk = d.ReleaseChunk
	}
	if c.ReportZone == nil {
		c.ReportZone = d.ReportZone
	}
	if c.ReportParts <= 0 {
		c.ReportParts = d.ReportParts
	}
	def(&c.RepeatRetention, d.RepeatRetention)
	def(&c.DuplicateWindow, d.DuplicateWindow)
	def(&c.LinkTTL, d.LinkTTL)
	def(&c.CardWait, d.CardWait)
	if c.BreakerFailures == 0 {
		c.BreakerFailures = d.BreakerFailures
	}
	if c.BreakerWindow <= 0 {
		c.BreakerWindow = max(d.BreakerWindow, c.BreakerFailures)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Service is the running ledger: it reads the intake, records webhooks and
// dead letters, releases due batches, serves the API and sweeps. It owns
// the DB's only writer. Create it with NewService, run it with Start, stop
// it with Close.
type Service struct {
	db  *DB
	cfg Config
	log *slog.Logger
	w   *writer

	nc  *nats.Conn
	js  jetstream.JetStream
	svc micro.Service

	touched touches // last writes of token and sign-in times

	kick    chan struct{} // wakes the job publisher
	release chan struct{} // wakes the releaser

	// gidx is the duplicate guard's indexes in memory (guardindex.go),
	// loaded at start (guardIndex loads them if that failed); gidxDay is
	// the day the payees were last compacted.
	gidx    *guardIndex
	gidxMu  sync.Mutex
	gidxDay int32
	// fresh is recordIntake's list of the rows a group recorded, kept
	// between groups (the writer goroutine's only): grown anew for every
	// group it was 400 bytes a row of the intake's allocations.
	fresh []guardRow
	// seals are the seal's answers the intake keeps for the open batches
	// it made (intake_seal.go); the writer goroutine's only.
	seals map[string]*sealAcc
	// stats is the intake pipeline's time (intakeStats).
	stats intakeStats

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

// NewService returns a service over db. The writer starts at once, so the
// service's methods may be used before Start (tests drive it directly).
func NewService(db *DB, cfg Config) *Service {
	metrics.Ledger.Register()
	cfg = cfg.withDefaults()
	s := &Service{
		db:      db,
		cfg:     cfg,
		log:     cfg.Logger,
		w:       newWriter(db, cfg.GroupMax),
		kick:    make(chan struct{}, 1),
		release: make(chan struct{}, 1),
	}
	db.ReportZone = cfg.ReportZone
	go s.w.run()
	if _, err := s.guardIndex(); err != nil {
		s.log.Error("load the duplicate guard's indexes; retried before the next intake", logkey.Error, err)
	}
	return s
}

// DB returns the service's database.
func (s *Service) DB() *DB { return s.db }

// Start connects the service to NATS: it ensures the streams and its
// consumers, starts the API (a nats.go/micro service) and the intake,
// hooks, dead-letter, release, publish and sweep loops. They run until
// Close or until ctx ends.
func (s *Service) Start(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("start ledger: %w", err)
	}
	if err := queue.EnsureStreams(ctx, js, s.cfg.Streams); err != nil {
		return fmt.Errorf("start ledger: %w", err)
	}
	// The processors' shared rate limit lives beside the streams, with
	// their replicas.
	if _, err := queue.EnsureRateBucket(ctx, js, s.cfg.Streams); err != nil {
		return fmt.Errorf("start ledger: %w", err)
	}
	s.nc, s.js = nc, js
	// After a restore, the bank's answers the replica lacked are recorded
	// again before anything is served or driven (restore.go).
	if err := s.replayAfterRestore(ctx); err != nil {
		return fmt.Errorf("start ledger: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel

	intake, err := s.intakeConsumer(ctx)
	if err != nil {
		cancel()
		return err
	}
	hooks, err := s.hooksConsumer(ctx)
	if err != nil {
		cancel()
		return err
	}
	dead, err := s.deadConsumer(ctx)
	if err != nil {
		cancel()
		return err
	}
	if err := s.startAPI(); err != nil {
		cancel()
		return err
	}
	loops := []func(context.Context){
		func(ctx context.Context) { s.runIntake(ctx, intake) },
		func(ctx context.Context) { s.runHooks(ctx, hooks) },
		func(ctx context.Context) { s.runDead(ctx, dead) },
		s.runReleaser,
		s.runPublisher,
		s.runSweeper,
	}
	for _, loop := range loops {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			loop(ctx)
		}()
	}
	s.log.Info("ledger started", "db", s.db.Path())
	return nil
}

// Close stops the loops and the API, lets the writer finish what it took,
// and stops the writer. It does not close the DB or the NATS connection.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var errs []error
	if s.svc != nil {
		errs = append(errs, s.svc.Stop())
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	s.w.stop()
	return errors.Join(errs...)
}

// wake signals a loop without blocking.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
