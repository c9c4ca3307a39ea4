package natsserver

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCommandsDoNotLinkServer fails when a command that only talks to NATS
// depends on nats-server (it made each binary about 15 MB). The embedded
// server belongs to payrun demo/up, the benchmarks and the tests.
func TestCommandsDoNotLinkServer(t *testing.T) {
	for _, cmd := range []string{"processor", "hookrelay", "ingest", "ledger"} {
		t.Run(cmd, func(t *testing.T) {
			pkg := "github.com/payrun/payrun/cmd/" + cmd
			out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				if strings.HasPrefix(dep, "github.com/nats-io/nats-server/") || dep == "github.com/payrun/payrun/internal/queue/natsserver" {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		})
	}
}

func TestStart(t *testing.T) {
	if _, err := Start(Options{}); err == nil || !strings.Contains(err.Error(), "data folder is required") {
		t.Errorf("got %v, want a data folder error", err)
	}
	dir := t.TempDir()
	s, err := Start(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "nats://127.0.0.1:") || s.Dir != dir {
		t.Errorf("got URL %s and dir %s", s.URL(), s.Dir)
	}
}
