package testutil

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	fatal string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestEventually(t *testing.T) {
	t.Run("returns once fn holds", func(t *testing.T) {
		r := &fatalRecorder{TB: t}
		calls := 0
		Eventually(r, time.Minute, time.Millisecond, func() error {
			if calls++; calls < 3 {
				return errors.New("not yet")
			}
			return nil
		})
		if r.fatal != "" || calls != 3 {
			t.Errorf("got %d calls and failure %q, want 3 calls and no failure", calls, r.fatal)
		}
	})
	t.Run("fails with the last error", func(t *testing.T) {
		r := &fatalRecorder{TB: t}
		calls := 0
		Eventually(r, 20*time.Millisecond, time.Millisecond, func() error {
			calls++
			return fmt.Errorf("call %d", calls)
		})
		if want := fmt.Sprintf("call %d", calls); !strings.HasSuffix(r.fatal, want) {
			t.Errorf("got failure %q, want it to end with %q", r.fatal, want)
		}
	})
}

func TestClock(t *testing.T) {
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	c := NewClock(start)
	c.Add(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestNATS(t *testing.T) {
	srv := NATS(t)
	nc, js := JetStream(t, srv.URL())
	if !nc.IsConnected() {
		t.Fatal("not connected")
	}
	if _, err := js.Stream(t.Context(), "PAYRUN_INTAKE"); err != nil {
		t.Errorf("the payrun streams are not there: %v", err)
	}
}

// TestOnlyTestsImport fails when code that is not a test imports testutil:
// it links nats-server and has no place in a command.
func TestOnlyTestsImport(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}", "github.com/payrun/payrun/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const self = "github.com/payrun/payrun/internal/testutil"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Fields(imports) {
			if imp == self {
				t.Errorf("%s imports %s outside its tests", pkg, self)
			}
		}
	}
}
