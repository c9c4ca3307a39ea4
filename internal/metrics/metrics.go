// Package metrics declares the Prometheus metrics payrun's long-running
// commands expose on /metrics, in one place so the all-in-one process and
// the separate commands publish the same names.
//
// Each family belongs to one component (Ledger, Processor, Relay, Ingest);
// a component registers its families when it is made (ledger.NewService,
// processor.New, hookrelay.New, ingest.NewHandler), so each process
// exports its own and no empty family of another: `ledger run` no bank
// calls, a processor no rows by state. Every process exports the Go and
// process collectors and payrun_build_info. `payrun up` runs every
// component and so exports everything.
package metrics

import (
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds the registered families plus the Go and process
// collectors.
var Registry = prometheus.NewRegistry()

// The ledger's families: the state of the record, refreshed by
// ledger.DB.ExportMetrics, and the writer's commits.
var (
	// RowsByState is the number of rows in each state.
	RowsByState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "payrun_rows",
		Help: "Rows in the ledger by state.",
	}, []string{"state"})

	// BatchesByStatus is the number of batches in each status (whatever
	// statuses the ledger has: held and waiting-for-funds batches too).
	BatchesByStatus = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "payrun_batches",
		Help: "Batches in the ledger by status.",
	}, []string{"status"})

	// ExceptionsOpen is the number of open exceptions by category
	// (reconcile.Category).
	ExceptionsOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "payrun_exceptions_open",
		Help: "Open exceptions in the ledger by category.",
	}, []string{"category"})

	// DeadLetters is the number of open dead-letter exceptions by the
	// stream whose message exhausted its deliveries.
	DeadLetters = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "payrun_dead_letters_open",
		Help: "Jobs and webhooks that exhausted their deliveries and whose exception is open, by stream.",
	}, []string{"stream"})

	// ReportImported is when the last bank daily report import completed.
	ReportImported = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "payrun_bank_report_last_import_timestamp_seconds",
		Help: "Unix time the last bank daily report import completed (0: never); its age is time() minus this.",
	})

	// Commit measures the writer's group commits: BEGIN to the end of
	// COMMIT (synchronous=FULL: the fsync included).
	Commit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "payrun_ledger_commit_seconds",
		Help:    "Time of one group commit of the ledger's writer, from BEGIN to the end of COMMIT.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})

	// CommitOps counts the requests committed, so ops per commit is
	// rate(payrun_ledger_commit_ops_total) / rate(payrun_ledger_commit_seconds_count).
	CommitOps = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "payrun_ledger_commit_ops_total",
		Help: "Requests the ledger's writer committed.",
	})

	// Requeued counts the rows the sweeper re-enqueued (a new gen and a
	// new job): rows stuck before the bank whose job is gone from
	// PAYRUN_JOBS. A healthy batch of any size adds none.
	Requeued = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "payrun_ledger_requeued_total",
		Help: "Rows the sweeper re-enqueued because their job was gone from PAYRUN_JOBS.",
	})
)

// The processor's families.
var (
	// Transitions counts transitions the processor asked of the ledger by
	// target state and outcome.
	Transitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "payrun_ledger_transitions_total",
		Help: "Transitions requested of the ledger, by target state and result (applied, repeat, refused).",
	}, []string{"to", "result"})

	// BankCalls measures calls to Bank 131 by method and outcome class.
	BankCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "payrun_bank_call_seconds",
		Help:    "Latency of calls to Bank 131 by method and result (ok, retry, final, unknown, conflict).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	}, []string{"method", "result"})

	// LimiterWait measures how long calls waited for the rate limiter.
	LimiterWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "payrun_rate_limiter_wait_seconds",
		Help:    "Time bank calls waited for the processor's rate limiter, by priority.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
	}, []string{"priority"})

	// RateShares is how many shares of the bank's rate limit this
	// processor holds (--bank-rate; ratelimit.Shared).
	RateShares = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "payrun_rate_shares_held",
		Help: "Shares of the bank's rate limit this processor holds (of 20), with --bank-rate.",
	})

	// RateLimit is the rate this processor's limiter runs at.
	RateLimit = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "payrun_rate_limit_calls_per_second",
		Help: "Bank calls per second this processor's rate limiter lets go (its part of --bank-rate).",
	})

	// Throttled counts HTTP 429 answers from the bank.
	Throttled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "payrun_bank_throttled_total",
		Help: "HTTP 429 answers from Bank 131.",
	})

	// QueueLag is the number of messages a consumer has not yet received or acknowledged.
	QueueLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "payrun_queue_lag",
		Help: "Messages pending plus unacknowledged for a JetStream consumer.",
	}, []string{"stream", "consumer"})
)

// The relay's and ingest's families.
var (
	// Webhooks counts webhooks received by hookrelay by type and result.
	Webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "payrun_webhooks_total",
		Help: "Webhooks received by hookrelay, by type and result (published, bad_signature, too_large, invalid, publish_failed).",
	}, []string{"type", "result"})

	// IngestRows counts rows published by ingest.
	IngestRows = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "payrun_ingest_rows_total",
		Help: "Rows published to the intake stream.",
	})
)

// Group is one component's families, registered once.
type Group struct {
	once sync.Once
	cs   []prometheus.Collector
}

// The components' groups.
var (
	Ledger    = &Group{cs: []prometheus.Collector{RowsByState, BatchesByStatus, ExceptionsOpen, DeadLetters, ReportImported, Commit, CommitOps, Requeued, DiskFree, DiskSize}}
	Processor = &Group{cs: []prometheus.Collector{Transitions, BankCalls, LimiterWait, RateShares, RateLimit, Throttled, QueueLag}}
	Relay     = &Group{cs: []prometheus.Collector{Webhooks, HookStoreReady}}
	Ingest    = &Group{cs: []prometheus.Collector{IngestRows}}
)

// Register adds the group's families to Registry (once; later calls do
// nothing).
func (g *Group) Register() {
	g.once.Do(func() { Registry.MustRegister(g.cs...) })
}

// Names returns the names of the group's families, as a scrape shows them.
func (g *Group) Names() []string {
	var out []string
	for _, c := range g.cs {
		ch := make(chan *prometheus.Desc, 4)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			out = append(out, descName(d))
		}
	}
	return out
}

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

// Handler serves the registry in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// descName is the family name in a Desc (its String is
// `Desc{fqName: "payrun_rows", ...}`).
func descName(d *prometheus.Desc) string {
	s := d.String()
	const key = `fqName: "`
	i := strings.Index(s, key)
	if i < 0 {
		return s
	}
	s = s[i+len(key):]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		s = s[:j]
	}
	return s
}
