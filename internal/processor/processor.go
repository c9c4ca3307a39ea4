// Package processor drives released rows through Bank 131: it consumes pay
// and poll jobs from PAYRUN_JOBS and verified webhooks from PAYRUN_HOOKS,
// calls the bank through one rate limiter, and asks the ledger for every
// transition before and after each call. It keeps nothing that matters
// after a crash: whoever picks a row up next reads the row's state from the
// ledger and continues from there.
package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/metrics"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/ratelimit"
	"github.com/payrun/payrun/internal/secret"
)

// CardFlow is how rows with a card number are paid.
type CardFlow string

// Card flows.
const (
	// CardSingleRequest pays with session/init/payout (seed 001): one call,
	// no ready_to_confirm. An unknown outcome makes the row in_doubt.
	CardSingleRequest CardFlow = "single"
	// CardTwoStep pays with session/create, session/start/payout and
	// session/confirm after the gate, like the other domestic methods.
	CardTwoStep CardFlow = "two-step"
)

// Ledger is what the processor asks of the ledger: a row's state, a
// transition, the confirm gate. ledgerapi.Client serves it over NATS (the
// default); ledger.Service serves it in process (the step machine's tests).
// A refusal is a *ledgerapi.Error, returned with the reply and the current
// row by Transition and Gate; a CodeInternal one, or any other error,
// means the ledger could not answer and the work is handed back.
type Ledger interface {
	Get(context.Context, ledgerapi.RowRequest) (*ledgerapi.RowState, error)
	Transition(context.Context, ledgerapi.Transition) (*ledgerapi.TransitionReply, error)
	Gate(context.Context, ledgerapi.GateRequest) (*ledgerapi.GateReply, error)
}

// Config configures a Processor.
type Config struct {
	Conn *nats.Conn // required
	// Ledger answers the processor's ledger requests; default a
	// ledgerapi.Client on Conn with LedgerTimeout.
	Ledger Ledger
	// Bank is the Bank 131 client for every flow (and card rows, unless
	// CardBank is set).
	Bank *bank131.Client
	// CardBank, when set, is the client for rows paid by card number: a
	// separate (PCI DSS) project, often in single-request mode.
	CardBank *bank131.Client
	CardFlow CardFlow // default CardSingleRequest
	// Opener opens sealed card numbers (the card keys, and the legacy data
	// key for older rows); a processor without one hands card rows back.
	Opener *secret.Opener
	// Rate is bank calls per second for this process (0: unlimited), Burst
	// the bucket size. Limiter, when set, is used instead (tests share one).
	Rate    float64
	Burst   int
	Limiter *ratelimit.Limiter
	// BankRate, when above 0, is the bank's limit for all processors
	// together (and Burst their burst), instead of Rate: the live
	// processors share it through leases in the KV bucket
	// queue.RateBucket (ratelimit.Shared), so a processor that is down
	// leaves its part to the others.
	BankRate float64
	// Concurrency is how many jobs and how many webhooks are worked on at
	// once. Default 16 each.
	Concurrency int
	// Worker names this processor in the ledger. Default host-pid.
	Worker string
	// MaxDeliver is how often a job or webhook is delivered before it goes
	// to the dead letters. Default 20.
	MaxDeliver int
	// AckWait is how long a delivered message may go without an ack or a
	// progress signal before JetStream redelivers it. Default 30s.
	AckWait time.Duration
	// CallRetries is how often a call the bank did not act on (5xx, 429,
	// transient codes) is retried in place before the job is handed back.
	// Default 3.
	CallRetries int
	// RetryBase is the first in-place retry delay (doubling, with jitter).
	// Default 200ms.
	RetryBase time.Duration
	// DrainTimeout bounds how long a stopping processor waits for the work
	// in flight. Default 20s.
	DrainTimeout  time.Duration
	LedgerTimeout time.Duration // default 10s
	Streams       queue.Config  // used only when the streams do not exist yet
	Logger        *slog.Logger
}

// DefaultConfig returns the processor's defaults: what a zero field of
// Config means (a negative CallRetries means none), and the defaults of the
// processor's and payrun's flags. Worker's default (host-pid) is computed.
func DefaultConfig() Config {
	return Config{
		CardFlow:     CardSingleRequest,
		Burst:        1,
		Concurrency:  16,
		MaxDeliver:   20,
		AckWait:      30 * time.Second,
		CallRetries:  3,
		RetryBase:    200 * time.Millisecond,
		DrainTimeout: 20 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.CardFlow == "" {
		c.CardFlow = d.CardFlow
	}
	if c.Burst <= 0 {
		c.Burst = d.Burst
	}
	if c.Concurrency <= 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Worker == "" {
		host, _ := os.Hostname()
		c.Worker = host + "-" + strconv.Itoa(os.Getpid())
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = d.MaxDeliver
	}
	if c.AckWait <= 0 {
		c.AckWait = d.AckWait
	}
	if c.CallRetries < 0 {
		c.CallRetries = 0
	} else if c.CallRetries == 0 {
		c.CallRetries = d.CallRetries
	}
	if c.RetryBase <= 0 {
		c.RetryBase = d.RetryBase
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = d.DrainTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Processor is a running processor. Create it with New, run it with Run.
type Processor struct {
	cfg    Config
	log    *slog.Logger
	js     jetstream.JetStream
	ledger Ledger
	lim    *ratelimit.Limiter
	ownLim bool
	shared *ratelimit.Shared
	intake jetstream.Stream
	hooks  jetstream.Stream // read by sequence for hook jobs
	stop   atomic.Bool
	busy   sync.Map      // rowKey(batch, row) → struct{}: rows a pay job of this process works on
	fills  chan cardFill // finished rows waiting for their token/info (cards.go)
	// dropped counts the rows a full fills queue turned away since the
	// last warning; dropLogged is when that was (UnixNano).
	dropped, dropLogged atomic.Int64
}

// New checks cfg and returns a processor.
func New(cfg Config) (*Processor, error) {
	metrics.Processor.Register()
	cfg = cfg.withDefaults()
	if cfg.Conn == nil {
		return nil, errors.New("processor: no NATS connection")
	}
	if cfg.Bank == nil {
		return nil, errors.New("processor: no Bank 131 client")
	}
	switch cfg.CardFlow {
	case CardSingleRequest, CardTwoStep:
	default:
		return nil, fmt.Errorf("processor: card flow %q is not single or two-step", cfg.CardFlow)
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("processor: jetstream: %w", err)
	}
	p := &Processor{cfg: cfg, log: cfg.Logger, js: js, ledger: cfg.Ledger, lim: cfg.Limiter, fills: make(chan cardFill, cardFillQueue)}
	if p.ledger == nil {
		p.ledger = ledgerapi.NewClient(cfg.Conn, cfg.LedgerTimeout)
	}
	if cfg.BankRate > 0 && cfg.Rate > 0 {
		return nil, errors.New("processor: a rate of its own or a share of the bank's rate, not both")
	}
	if p.lim == nil && cfg.BankRate == 0 {
		p.lim = ratelimit.New(cfg.Rate, cfg.Burst)
		p.ownLim = true
	}
	return p, nil
}

// Limiter returns the processor's rate limiter (with BankRate, once Run
// has set it up).
func (p *Processor) Limiter() *ratelimit.Limiter { return p.lim }

// sharedRate sets up the limiter that holds this processor's part of
// BankRate.
func (p *Processor) sharedRate(ctx context.Context) error {
	if p.cfg.BankRate == 0 || p.shared != nil {
		return nil
	}
	kv, err := queue.EnsureRateBucket(ctx, p.js, p.cfg.Streams)
	if err != nil {
		return fmt.Errorf("processor: shared rate limit: %w", err)
	}
	s, err := ratelimit.NewShared(ratelimit.SharedConfig{KV: kv, TTL: queue.RateLeaseTTL, Rate: p.cfg.BankRate,
		Burst: p.cfg.Burst, ID: p.cfg.Worker + "-" + nuid.Next(), Logger: p.log,
		Changed: func(held, live int, r float64) {
			metrics.RateShares.Set(float64(held))
			metrics.RateLimit.Set(r)
		}})
	if err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	p.shared, p.lim = s, s.Limiter()
	return nil
}

// Run consumes jobs and webhooks until ctx ends, then stops taking new
// messages, lets the work in flight finish (at most DrainTimeout; what is
// still running then is handed back to JetStream) and returns.
func (p *Processor) Run(ctx context.Context) error {
	if p.ownLim {
		defer p.lim.Close()
	}
	var jobs, hooks jetstream.Consumer
	for attempt := 1; ; attempt++ {
		var err error
		jobs, hooks, err = p.setup(ctx)
		if err == nil {
			break
		}
		// A cluster that is still electing leaders answers "insufficient
		// resources" or times out for a while: keep trying.
		p.log.Warn("processor cannot set up its consumers yet; retrying", logkey.Error, err, "attempt", attempt)
		select {
		case <-ctx.Done():
			return fmt.Errorf("processor: stopped before set-up: %w", err)
		case <-time.After(min(time.Duration(attempt)*time.Second, 10*time.Second)):
		}
	}

	// Work runs under its own context: a stop request lets it finish, the
	// drain deadline cancels it.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	if p.shared != nil {
		// The shares are held until the work in flight is done, then given
		// back.
		shareDone := make(chan struct{})
		go func() { defer close(shareDone); p.shared.Run(work) }()
		defer func() { cancelWork(); <-shareDone }()
		p.log.Info("processor shares the bank's rate limit", "limit", p.shared.String())
	}

	var wg sync.WaitGroup
	var iters []jetstream.MessagesContext
	for _, c := range []struct {
		cons   jetstream.Consumer
		handle func(context.Context, jetstream.Msg) error
		name   string
	}{
		{hooks, p.handleHook, queue.ConsumerHooks},
		{jobs, p.handleJob, queue.ConsumerJobs},
	} {
		it, err := c.cons.Messages(jetstream.PullMaxMessages(p.cfg.Concurrency))
		if err != nil {
			for _, it := range iters {
				it.Stop()
			}
			return fmt.Errorf("processor: consume %s: %w", c.name, err)
		}
		iters = append(iters, it)
		for i := 0; i < p.cfg.Concurrency; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.loop(work, it, c.handle)
			}()
		}
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.watchLag(ctx, jobs, hooks)
	}()
	go func() {
		defer wg.Done()
		p.fillCards(ctx, work)
	}()
	p.log.Info("processor running", "worker", p.cfg.Worker)

	<-ctx.Done()
	p.stop.Store(true)
	p.log.Info("processor stopping: finishing the work in flight", "worker", p.cfg.Worker)
	for _, it := range iters {
		it.Drain()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.cfg.DrainTimeout):
		p.log.Warn("processor: drain timeout; handing back what is still running")
		cancelWork()
		<-done
	}
	p.log.Info("processor stopped", "worker", p.cfg.Worker)
	return nil
}

// setup finds the streams and creates the durable consumers.
func (p *Processor) setup(ctx context.Context) (jobs, hooks jetstream.Consumer, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.ensureStreams(ctx); err != nil {
		return nil, nil, err
	}
	if err := p.sharedRate(ctx); err != nil {
		return nil, nil, err
	}
	intake, err := p.js.Stream(ctx, queue.StreamIntake)
	if err != nil {
		return nil, nil, fmt.Errorf("processor: intake stream: %w", err)
	}
	p.intake = intake
	if p.hooks, err = p.js.Stream(ctx, queue.StreamHooks); err != nil {
		return nil, nil, fmt.Errorf("processor: hooks stream: %w", err)
	}
	if jobs, err = p.consumer(ctx, queue.StreamJobs, queue.ConsumerJobs, queue.JobsPrefix+">"); err != nil {
		return nil, nil, err
	}
	if hooks, err = p.consumer(ctx, queue.StreamHooks, queue.ConsumerHooks, queue.HooksPrefix+">"); err != nil {
		return nil, nil, err
	}
	return jobs, hooks, nil
}

// ensureStreams creates the streams only when they do not exist: the ledger
// owns their configuration (replicas, limits).
func (p *Processor) ensureStreams(ctx context.Context) error {
	for _, name := range []string{queue.StreamIntake, queue.StreamJobs, queue.StreamHooks} {
		if _, err := p.js.Stream(ctx, name); err != nil {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return queue.EnsureStreams(ctx, p.js, p.cfg.Streams)
			}
			return fmt.Errorf("processor: stream %s: %w", name, err)
		}
	}
	return nil
}

func (p *Processor) consumer(ctx context.Context, stream, name, filter string) (jetstream.Consumer, error) {
	c, err := p.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "payrun processors",
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       p.cfg.AckWait,
		MaxDeliver:    p.cfg.MaxDeliver,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("processor: consumer %s on %s: %w", name, stream, err)
	}
	return c, nil
}

// loop hands messages to handle until the iterator closes. While stopping,
// messages still buffered are handed back at once.
func (p *Processor) loop(ctx context.Context, it jetstream.MessagesContext, handle func(context.Context, jetstream.Msg) error) {
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if p.stop.Load() {
			_ = msg.Nak()
			continue
		}
		err = handle(ctx, msg)
		p.settle(msg, err)
	}
}

// later marks an error after which the message is handed back for a
// delayed redelivery: the ledger or the bank is unavailable for now.
func later(err error) error { return fmt.Errorf("retry later: %w", err) }

// settle acks, naks or leaves a message according to the handler's result.
func (p *Processor) settle(msg jetstream.Msg, err error) {
	if err == nil {
		_ = msg.Ack()
		return
	}
	delivered := uint64(1)
	if md, mdErr := msg.Metadata(); mdErr == nil {
		delivered = md.NumDelivered
	}
	delay := backoff(delivered)
	p.log.Warn("handing a message back", logkey.Error, err, "delivered", delivered, "subject", msg.Subject())
	_ = msg.NakWithDelay(delay)
}

// backoff is the redelivery delay after n deliveries: 1s, 2s, 4s ... 60s.
func backoff(n uint64) time.Duration {
	if n > 6 {
		n = 6
	}
	d := time.Second << (n - 1)
	if d > time.Minute {
		d = time.Minute
	}
	return d
}

// watchLag publishes the consumers' lag as metrics.
func (p *Processor) watchLag(ctx context.Context, jobs, hooks jetstream.Consumer) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		for _, c := range []struct {
			cons   jetstream.Consumer
			stream string
			name   string
		}{{jobs, queue.StreamJobs, queue.ConsumerJobs}, {hooks, queue.StreamHooks, queue.ConsumerHooks}} {
			qctx, cancel := context.WithTimeout(ctx, time.Second)
			info, err := c.cons.Info(qctx)
			cancel()
			if err != nil {
				continue
			}
			metrics.QueueLag.WithLabelValues(c.stream, c.name).Set(float64(info.NumPending + uint64(info.NumAckPending)))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
