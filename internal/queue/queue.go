// Package queue wraps NATS JetStream for payrun: the streams and subjects the
// components share and connecting to a cluster. The embedded server that the
// zero-setup default and the tests run is in queue/natsserver, so that a
// command which only talks to NATS does not link nats-server.
package queue

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
)

// Stream names.
const (
	StreamIntake = "PAYRUN_INTAKE" // rows and sealed manifests from ingest (limits)
	StreamJobs   = "PAYRUN_JOBS"   // released rows for processors (work queue)
	StreamHooks  = "PAYRUN_HOOKS"  // verified Bank 131 webhooks (limits)
	StreamDead   = "PAYRUN_DEAD"   // max-deliveries advisories of jobs and hooks (dead letters)
)

// Durable consumer names.
const (
	ConsumerLedgerIntake = "ledger-intake" // the ledger reads the intake stream
	ConsumerLedgerHooks  = "ledger-hooks"  // the ledger records every verified webhook as evidence
	ConsumerLedgerDead   = "ledger-dead"   // the ledger turns dead letters into exceptions
	ConsumerJobs         = "processor"     // processors share the work queue
	ConsumerHooks        = "processor-hooks"
)

// Headers payrun sets on its messages (besides Nats-Msg-Id).
const (
	HeaderBatch    = "Payrun-Batch"
	HeaderRow      = "Payrun-Row"
	HeaderHookType = "Bank131-Hook-Type"
	HeaderSig      = "Bank131-Sign"    // the webhook's X-PARTNER-SIGN, kept with the verified body
	HeaderReceived = "Payrun-Received" // RFC 3339 time the relay received a webhook
	// HeaderMasked on a webhook: how many of its body's strings held a
	// card number the relay masked (cardmask.RedactJSON) after verifying
	// it; Bank131-Sign then signs the body as received, not as kept.
	HeaderMasked = "Payrun-Masked"
	HeaderKind   = "Payrun-Kind"   // "row", "rows" (a chunk) or "manifest" on intake messages
	HeaderUpload = "Payrun-Upload" // a manifest's random upload id: tells concurrent uploads which one sealed the batch
)

// Subject prefixes.
const (
	IntakePrefix = "payrun.intake."
	JobsPrefix   = "payrun.jobs."
	HooksPrefix  = "bank131.hooks."
	LedgerPrefix = "payrun.ledger." // request/reply API of the ledger
)

// IntakeRowSubject is where ingest publishes a batch's rows.
func IntakeRowSubject(batch string) string { return IntakePrefix + Token(batch) + ".row" }

// IntakeChunkSubject is where ingest publishes a batch's chunks of k rows
// (intake.ChunkRows): the subject names k, so the stream's count of
// messages per subject tells how many rows it holds of the batch.
func IntakeChunkSubject(batch string, k int) string {
	return IntakePrefix + Token(batch) + ".rows" + strconv.Itoa(k)
}

// IntakeBatchSubjects matches every intake subject of a batch (rows,
// chunks, manifest).
func IntakeBatchSubjects(batch string) string { return IntakePrefix + Token(batch) + ".*" }

// IntakeManifestSubject is where ingest publishes a batch's sealed manifest.
func IntakeManifestSubject(batch string) string { return IntakePrefix + Token(batch) + ".manifest" }

// JobSubject is where the ledger releases a batch's rows for processors.
func JobSubject(batch string) string { return JobsPrefix + Token(batch) }

// HookSubject is where hookrelay publishes a verified webhook of a type:
// the type as HookToken bounds it.
func HookSubject(hookType string) string { return HooksPrefix + HookToken(hookType) }

// MaxHookToken is the longest webhook type carried as it is.
const MaxHookToken = 64

// PublishAsyncTimeout bounds how long an asynchronous publish waits for
// its acknowledgement (jetstream.WithPublishAsyncTimeout on every context
// that uploads rows): without it a reply lost in a stream leader's change
// is waited for until the caller's context ends, and the lost publishes
// fill nats.go's pending window (rev4's TestRev4ClusterLeaderChange).
const PublishAsyncTimeout = 15 * time.Second

// HookToken is the one form in which a webhook's type, which comes from
// outside, goes into a subject, a header, a log line or a metric label:
// Token of the type when it has at most MaxHookToken bytes; else the
// Token of its first 32 bytes, "_h" and the first 16 hex digits of the
// type's SHA-256 (50 bytes), so types that share a beginning stay apart.
// A verified webhook whose type was 4 KB long made a subject longer than
// NATS's control line, and nats.go closed the relay's connection for good.
func HookToken(hookType string) string {
	if len(hookType) <= MaxHookToken {
		return Token(hookType)
	}
	sum := sha256.Sum256([]byte(hookType))
	return Token(hookType[:32]) + "_h" + hex.EncodeToString(sum[:8])
}

// RowMsgID is the Nats-Msg-Id of a row in the intake stream.
func RowMsgID(batch string, row int) string { return batch + ":" + strconv.Itoa(row) }

// ChunkMsgID is the Nats-Msg-Id of a chunk of count rows of a batch from
// row first (intake.ChunkRows): never a row's id, so a chunk and a row
// message of an older upload never deduplicate each other.
func ChunkMsgID(batch string, first, count int) string {
	return batch + ":" + strconv.Itoa(first) + "+" + strconv.Itoa(count)
}

// ManifestMsgID is the Nats-Msg-Id of a batch's manifest.
func ManifestMsgID(batch string) string { return batch + ":manifest" }

// JobMsgID is the Nats-Msg-Id of a job; gen counts releases of the row so a
// re-enqueue is not dropped as a duplicate of the first.
func JobMsgID(batch string, row, gen int) string {
	return batch + ":" + strconv.Itoa(row) + ":" + strconv.Itoa(gen)
}

// Token makes s safe as one subject token: letters, digits, '-' and '_' are
// kept, anything else becomes '_'. Empty input becomes "_".
func Token(s string) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Config sizes the streams. The zero value is the embedded default.
type Config struct {
	Replicas     int           // 1 embedded, 3 in a cluster
	IntakeMaxAge time.Duration // how long intake rows are kept (the processor reads rows from there); default 400 days
	JobsMaxAge   time.Duration // default 30 days
	HooksMaxAge  time.Duration // default 30 days
	DedupWindow  time.Duration // default 10 minutes
}

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.IntakeMaxAge == 0 {
		c.IntakeMaxAge = 400 * 24 * time.Hour
	}
	if c.JobsMaxAge == 0 {
		c.JobsMaxAge = 30 * 24 * time.Hour
	}
	if c.HooksMaxAge == 0 {
		c.HooksMaxAge = 30 * 24 * time.Hour
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = 10 * time.Minute
	}
	return c
}

// StreamConfigs returns the configuration of every payrun stream.
func StreamConfigs(c Config) []jetstream.StreamConfig {
	c = c.withDefaults()
	return []jetstream.StreamConfig{
		{
			Name:        StreamIntake,
			Description: "payrun: validated payout rows and sealed batch manifests from ingest",
			Subjects:    []string{IntakePrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			MaxAge:      c.IntakeMaxAge,
			Duplicates:  c.DedupWindow,
			AllowDirect: true,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamJobs,
			Description: "payrun: released rows waiting for a processor",
			Subjects:    []string{JobsPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			MaxAge:      c.JobsMaxAge,
			Duplicates:  c.DedupWindow,
			AllowDirect: true,
		},
		{
			Name:        StreamHooks,
			Description: "payrun: Bank 131 webhooks whose signature hookrelay verified",
			Subjects:    []string{HooksPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			MaxAge:      c.HooksMaxAge,
			Duplicates:  c.DedupWindow,
			AllowDirect: true,
		},
		{
			Name:        StreamDead,
			Description: "payrun: advisories of job and hook messages that exhausted their deliveries",
			Subjects: []string{
				"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + StreamJobs + ".>",
				"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + StreamHooks + ".>",
			},
			Retention: jetstream.LimitsPolicy,
			Storage:   jetstream.FileStorage,
			Replicas:  c.Replicas,
			MaxAge:    c.HooksMaxAge,
		},
		probeStream(c),
	}
}

// EnsureStreams creates the payrun streams that do not exist yet. With
// cfg.Replicas set it also updates existing streams to cfg (the ledger's
// --replicas); with Replicas 0 it leaves existing streams as their owner
// configured them, so a command started without --replicas never shrinks
// a cluster's R3 streams. Every component calls it at start, so any of
// them may be first.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	explicit := cfg.Replicas != 0
	for _, sc := range StreamConfigs(cfg) {
		if !explicit {
			_, err := js.Stream(ctx, sc.Name)
			if err == nil {
				continue
			}
			if !errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("look up stream %s: %w", sc.Name, err)
			}
		}
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// Connect dials NATS with the options payrun's long-running components want:
// a name, replies under InboxPrefix(name), unlimited reconnects, and a clear
// error when nothing listens. Security's Options add the identity and TLS
// (cli.NATSFlags builds them from the --nats-* flags).
func Connect(url, name string, opts ...nats.Option) (*nats.Conn, error) {
	if url == "" {
		url = nats.DefaultURL
	}
	base := []nats.Option{
		nats.Name(name),
		nats.CustomInboxPrefix(InboxPrefix(name)),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		if errors.Is(err, nats.ErrNoServers) {
			return nil, fmt.Errorf("cannot reach NATS at %s (is nats-server running? set --nats-url or NATS_URL): %w", RedactURL(url), err)
		}
		if errors.Is(err, nats.ErrAuthorization) {
			return nil, fmt.Errorf("NATS at %s refused this component's identity (check --nats-nkey or --nats-creds and the server's users): %w", RedactURL(url), err)
		}
		return nil, fmt.Errorf("connect to NATS at %s: %w", RedactURL(url), err)
	}
	return nc, nil
}

// RedactURL hides a password in a NATS URL before it is printed.
func RedactURL(url string) string {
	var out []string
	for _, u := range strings.Split(url, ",") {
		if at := strings.LastIndex(u, "@"); at > 0 {
			if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
				u = u[:scheme+3] + "***" + u[at:]
			}
		}
		out = append(out, u)
	}
	return strings.Join(out, ",")
}

// The KV bucket in which processors share the bank's rate limit
// (internal/ratelimit.Shared): a key per share of the limit and per live
// processor, each held with a lease. An entry not renewed within
// RateLeaseTTL is gone, so the shares of a processor that died pass to the
// others. Memory storage: leases are worth nothing after a restart.
const (
	RateBucket   = "payrun_rate"
	RateLeaseTTL = 3 * time.Second
)

// RateBucketConfig is the configuration of RateBucket.
func RateBucketConfig(c Config) jetstream.KeyValueConfig {
	c = c.withDefaults()
	return jetstream.KeyValueConfig{
		Bucket:      RateBucket,
		Description: "payrun: leases on shares of the bank's rate limit, one per key",
		History:     1,
		TTL:         RateLeaseTTL,
		Storage:     jetstream.MemoryStorage,
		Replicas:    c.Replicas,
	}
}

// EnsureRateBucket returns RateBucket, creating it when missing; with
// cfg.Replicas set it also updates it to cfg (the ledger's --replicas, as
// EnsureStreams does). It is apart from EnsureStreams: only the ledger and
// the processors may touch it (deploy/nats/payrun-auth.conf).
func EnsureRateBucket(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.KeyValue, error) {
	if cfg.Replicas != 0 {
		kv, err := js.CreateOrUpdateKeyValue(ctx, RateBucketConfig(cfg))
		if err != nil {
			return nil, fmt.Errorf("ensure KV bucket %s: %w", RateBucket, err)
		}
		return kv, nil
	}
	kv, err := js.KeyValue(ctx, RateBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, RateBucketConfig(cfg))
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, RateBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: %w", RateBucket, err)
	}
	return kv, nil
}
