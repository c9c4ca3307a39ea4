// Command bank131 measures signed requests per second through the bank131
// client and the sandbox on one machine, next to the bare RSA signing rate
// measured in the same run. The two are measured in alternating rounds so
// that load from other processes on a shared machine hits both alike; the
// median of the per-round ratios is the figure to compare with the target
// (at least 0.6 of the signing ceiling).
//
//	go run ./bench/bank131 -rounds 6 -round 2s
package main

import (
	"context"
	"crypto/rsa"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/bank131/sandbox"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	rounds := flag.Int("rounds", 6, "measurement rounds (each measures signing, then requests)")
	round := flag.Duration("round", 2*time.Second, "length of one measurement")
	workers := flag.Int("workers", 2*runtime.GOMAXPROCS(0), "concurrent goroutines")
	keyFile := flag.String("partner-key", "samples/keys/partner_private.pem", "partner private key")
	pubFile := flag.String("partner-public-key", "samples/keys/partner_public.pem", "partner public key")
	bankFile := flag.String("bank-key", "samples/keys/bank_private.pem", "bank private key")
	flag.Parse()

	priv, err := loadPriv(*keyFile)
	if err != nil {
		return err
	}
	bankKey, err := loadPriv(*bankFile)
	if err != nil {
		return err
	}
	pubPEM, err := os.ReadFile(*pubFile)
	if err != nil {
		return err
	}
	pub, err := bank131.LoadPublicKey(pubPEM)
	if err != nil {
		return err
	}
	srv, err := sandbox.New(sandbox.Config{
		Projects: []sandbox.Project{{Name: "payrun", PublicKey: pub}},
		BankKey:  bankKey,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		return err
	}
	defer srv.Close()
	client, err := bank131.NewClient(bank131.Config{BaseURL: srv.URL(), Project: "payrun", PrivateKey: priv})
	if err != nil {
		return err
	}
	ctx := context.Background()
	created, err := client.CreateSession(ctx, bank131.CreateSessionRequest{})
	if err != nil {
		return err
	}
	id := created.Session.ID
	body := []byte(`{"session_id":"` + id + `"}`)

	sign := func() error { _, err := bank131.Sign(priv, body); return err }
	call := func() error { _, err := client.Status(ctx, id); return err }

	fmt.Printf("GOMAXPROCS=%d workers=%d round=%s\n", runtime.GOMAXPROCS(0), *workers, *round)
	fmt.Printf("%-6s %12s %14s %7s\n", "round", "signs/s", "requests/s", "ratio")
	var ratios []float64
	for i := 1; i <= *rounds; i++ {
		s, err := measure(*workers, *round, sign)
		if err != nil {
			return err
		}
		r, err := measure(*workers, *round, call)
		if err != nil {
			return err
		}
		ratios = append(ratios, r/s)
		fmt.Printf("%-6d %12.0f %14.0f %7.2f\n", i, s, r, r/s)
	}
	sort.Float64s(ratios)
	fmt.Printf("median ratio %.2f (min %.2f, max %.2f)\n", median(ratios), ratios[0], ratios[len(ratios)-1])
	return nil
}

// measure runs fn on workers goroutines for d and returns calls per second.
func measure(workers int, d time.Duration, fn func() error) (float64, error) {
	var n atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := fn(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}()
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

func median(sorted []float64) float64 {
	m := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[m]
	}
	return (sorted[m-1] + sorted[m]) / 2
}

func loadPriv(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return bank131.LoadPrivateKey(b)
}
