package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/payrun/payrun/internal/buildinfo"
)

// BuildInfo is 1, labelled with the running binary's build
// (internal/buildinfo), so a dashboard shows which build each process runs.
var BuildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "payrun_build_info",
	Help: "Always 1; the labels name the build: module version, VCS revision (empty when unknown), whether the checkout was modified, Go version.",
}, []string{"version", "revision", "modified", "goversion"})

func init() {
	Registry.MustRegister(BuildInfo)
	b := buildinfo.Read()
	modified := "false"
	if b.Modified {
		modified = "true"
	}
	BuildInfo.WithLabelValues(b.Version, b.Revision, modified, b.GoVersion).Set(1)
}
