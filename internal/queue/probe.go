package queue

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The store probe. A webhook is stored only when JetStream can write;
// whether it can is known only by writing. A relay's readiness publishes
// a probe to PAYRUN_PROBE (one subject per relay, the last message kept, an
// hour at most), a file stream with the replicas of the others, so a probe
// fails where a webhook would: a full disk (nats-server's file store then
// stops answering writes, and stays so after the space is back, until
// JetStream restarts), a stream without a leader, a lost quorum.
const (
	StreamProbe = "PAYRUN_PROBE"
	ProbePrefix = "payrun.probe."
	// ProbeSize is a probe's size: on a full disk a message that fits the
	// pages its file already has is stored while anything that needs new
	// space hangs, so a probe needs new space each time (16 KiB, four pages).
	ProbeSize = 16 << 10
)

// ProbeSubject is the probe subject of one component instance.
func ProbeSubject(component, instance string) string {
	return ProbePrefix + Token(component) + "." + Token(instance)
}

func probeStream(c Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              StreamProbe,
		Description:       "payrun: readiness probes (can JetStream store a message now?)",
		Subjects:          []string{ProbePrefix + ">"},
		Retention:         jetstream.LimitsPolicy,
		Storage:           jetstream.FileStorage,
		Replicas:          c.Replicas,
		MaxAge:            time.Hour,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		Duplicates:        time.Minute,
	}
}
