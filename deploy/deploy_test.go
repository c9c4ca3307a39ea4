// Package deploy holds the deployment's files (NATS configuration, systemd
// units, Prometheus rules); its tests check them.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/payrun/payrun/internal/metrics"
)

func units(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob("systemd/*.service")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = string(b)
	}
	return out
}

// hardening is what every unit sets; the exposure score test below is the
// judge, this list keeps the directives from going missing unnoticed where
// systemd-analyze is absent.
var hardening = []string{
	"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
	"UMask=0077", "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
	"SystemCallFilter=@system-service", "SystemCallArchitectures=native", "MemoryDenyWriteExecute=yes",
	"ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectControlGroups=yes", "RestrictNamespaces=yes",
	"LockPersonality=yes", "RestrictSUIDSGID=yes", "PrivateUsers=yes",
}

func TestUnitsAreHardened(t *testing.T) {
	for name, text := range units(t) {
		for _, d := range hardening {
			require.Contains(t, text, d, "%s sets %s", name, strings.TrimSpace(d))
		}
		require.Regexp(t, `(?m)^User=payrun`, text, name)
		if strings.Contains(text, "/var/lib/") {
			require.Regexp(t, `(?m)^StateDirectory=`, text, "%s writes under /var/lib: its StateDirectory", name)
		}
	}
}

// TestUnitsBindNoPrivilegedPort: an unprivileged user (and PrivateUsers)
// binds no port below 1024; the processor's instance is its metrics port
// (payrun-processor@9101), which the old scheme (91%i: port 911) broke.
func TestUnitsBindNoPrivilegedPort(t *testing.T) {
	addr := regexp.MustCompile(`--(?:metrics|listen|http) (\S+)`)
	for name, text := range units(t) {
		for _, m := range addr.FindAllStringSubmatch(text, -1) {
			port := m[1][strings.LastIndex(m[1], ":")+1:]
			if port == "%i" {
				require.True(t, strings.HasSuffix(name, "@.service"), name)
				continue
			}
			n, err := strconv.Atoi(port)
			require.NoError(t, err, "%s: %s", name, m[0])
			require.GreaterOrEqual(t, n, 1024, "%s: %s", name, m[0])
		}
	}
	require.Contains(t, units(t)["payrun-processor@.service"], "--metrics 127.0.0.1:%i")
}

// TestUnitsExposureScore scores every unit with systemd-analyze security
// --offline=true (.ci/run installs systemd when it is missing): each must
// be 4 or below.
func TestUnitsExposureScore(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd); TestUnitsAreHardened still checks the directives")
	}
	score := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	for name := range units(t) {
		unit := name
		if strings.HasSuffix(name, "@.service") {
			unit = strings.TrimSuffix(name, "@.service") + "@9101.service"
		}
		cmd := exec.Command(tool, "security", "--offline=true", "--no-pager", unit)
		cmd.Dir = "systemd"
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", unit, out)
		m := score.FindSubmatch(out)
		require.NotNil(t, m, "%s: no score in\n%s", unit, out)
		v, err := strconv.ParseFloat(string(m[1]), 64)
		require.NoError(t, err)
		t.Logf("%s: exposure %.1f", unit, v)
		require.LessOrEqual(t, v, 4.0, "%s scores %.1f:\n%s", unit, v, out)
	}
}

// TestAlertRulesNameExportedMetrics: every rules file in prometheus/ is
// YAML of the Prometheus shape, and every payrun_ metric it names is one a component
// exports (internal/metrics), so a renamed metric cannot leave an alert
// that never fires.
func TestAlertRulesNameExportedMetrics(t *testing.T) {
	files, err := filepath.Glob("prometheus/*.yml")
	require.NoError(t, err)
	require.Len(t, files, 2, "payrun-rules.yml and ledger-disk.rules.yml")
	known := map[string]bool{"payrun_build_info": true}
	for _, g := range []*metrics.Group{metrics.Ledger, metrics.Processor, metrics.Relay, metrics.Ingest} {
		for _, n := range g.Names() {
			known[n] = true
		}
	}
	alerts := 0
	for _, f := range files {
		alerts += checkRules(t, f, known)
	}
	require.GreaterOrEqual(t, alerts, 13)
}

// checkRules checks one rules file and counts its alerts.
func checkRules(t *testing.T, file string, known map[string]bool) int {
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(b, &doc), file)
	require.NotEmpty(t, doc.Groups, file)
	name := regexp.MustCompile(`payrun_[a-z_]+`)
	alerts := 0
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.NotEmpty(t, r.Expr, r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			require.Contains(t, []string{"page", "ticket"}, r.Labels["severity"], r.Alert)
			for _, m := range name.FindAllString(r.Expr, -1) {
				base := m
				for _, suf := range []string{"_bucket", "_count", "_sum"} {
					if !known[base] {
						base = strings.TrimSuffix(base, suf)
					}
				}
				require.True(t, known[base], "%s names %s, which no component exports", r.Alert, m)
			}
			alerts++
		}
	}
	return alerts
}

// TestLedgerUnitReadsTheWallet: the ledger reads the wallet before each
// release chunk (--wallet-check), with the bank flags that call needs, the
// processors' bank and key.
func TestLedgerUnitReadsTheWallet(t *testing.T) {
	u := units(t)
	ledger, proc := u["payrun-ledger.service"], u["payrun-processor@.service"]
	for _, f := range []string{"--bank-url ${BANK131_URL}", "--project ${BANK131_PROJECT}", "--private-key /etc/payrun/partner_private.pem"} {
		require.Contains(t, ledger, f)
		require.Contains(t, proc, f, "the ledger reads the wallet of the project the processors pay from")
	}
	require.Contains(t, ledger, "--wallet-check")
}
