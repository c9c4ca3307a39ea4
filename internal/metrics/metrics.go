// Package metrics declares the Prometheus metrics payrun's long-running
// commands expose on /metrics, in one place so the all-in-one process and
// the separate commands publish the same names.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds every payrun metric plus the Go and process collectors.
var Registry = prometheus.NewRegistry()

var (
	// RowsByState is the number of rows in each state, per batch status
	// snapshot; the ledger refreshes it.
	RowsByState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "payrun_rows",
		Help: "Rows in the ledger by state.",
	}, []string{"state"})

	// Transitions counts ledger transitions by target state and outcome.
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

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		RowsByState, Transitions, BankCalls, LimiterWait, RateShares, RateLimit, Throttled, QueueLag, Webhooks, IngestRows,
	)
}

// Handler serves the registry in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}
