package metrics

import "github.com/prometheus/client_golang/prometheus"

// Disk and store health (issue 16: a full data disk must be seen before
// it happens, and a store that cannot take a webhook must say so).
var (
	// DiskFree and DiskSize are the data folder's filesystem: bytes
	// available to the process and its size (the ledger's database folder).
	DiskFree = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "payrun_disk_free_bytes",
		Help: "Bytes available to payrun on the filesystem of a data folder (the ledger's database folder).",
	}, []string{"folder"})
	DiskSize = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "payrun_disk_size_bytes",
		Help: "Size in bytes of the filesystem of a data folder.",
	}, []string{"folder"})

	// HookStoreReady is 1 while hookrelay's probe can store a message in
	// JetStream (what /readyz answers), 0 while it cannot.
	HookStoreReady = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "payrun_hookrelay_store_ready",
		Help: "1 while hookrelay can store a webhook in JetStream (its store probe succeeds), else 0.",
	})
)
