package sandbox_test

import (
	"net/http/httptest"
	"testing"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
	"github.com/payrun/payrun/internal/testutil"
)

// The two benchmarks below run in the same `go test -bench` invocation so
// their figures can be compared: BenchmarkSign is the ceiling (bare
// RSA-2048 PKCS#1 v1.5 signing on every core), BenchmarkSignedRequests is
// session/status calls through the client (sign, HTTP) and the sandbox
// (verify, look up, render) on loopback. See the README's sandbox section.
//
//	go test -run XXX -bench 'Sign' -benchtime 3s ./internal/bank131/sandbox/

const benchParallelism = 2 // goroutines per GOMAXPROCS

func BenchmarkSign(b *testing.B) {
	key := loadPriv(b, "partner_pkcs1.pem")
	body := []byte(`{"session_id":"ps_1000"}`)
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := bank131.Sign(key, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signs/s")
}

func BenchmarkSignedRequests(b *testing.B) {
	cfg := fastConfig(b)
	cfg.Logger = testutil.QuietLogger()
	srv, err := sandbox.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer func() { ts.Close(); srv.Close() }()
	c, err := bank131.NewClient(bank131.Config{BaseURL: ts.URL, Project: "payrun", PrivateKey: loadPriv(b, "partner_pkcs1.pem")})
	if err != nil {
		b.Fatal(err)
	}
	created, err := c.CreateSession(ctx, bank131.CreateSessionRequest{})
	if err != nil {
		b.Fatal(err)
	}
	id := created.Session.ID
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Status(ctx, id); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
