package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/hookrelay"
	"github.com/payrun/payrun/internal/httpserve"
	"github.com/payrun/payrun/internal/queue"
)

// run serves until ctx ends. ready, if not nil, receives the bound address.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("hookrelay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var logs cli.LogFlags
	logs.Register(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "`address` serving POST "+hookrelay.Path+", /healthz and /readyz (the bank's side)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus /metrics on this `address` (an operations network, not the bank's listener); empty: off")
	keyFile := fs.String("bank-public-key", "samples/keys/bank_public.pem", "Bank 131's public key `file` (PEM) that verifies webhooks; every block is a key, so the old and the new key overlap during a rotation; the default is the sandbox's")
	var nf cli.NATSFlags
	nf.Register(fs, cli.NATSURL(), "NATS server `URL`s, comma-separated ($NATS_URL)")
	maxBody := fs.Int64("max-body", hookrelay.DefaultMaxBody, "largest webhook body in bytes")
	var prof cli.ProfileFlag
	prof.Register(fs)
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	stopProfile, err := prof.Start()
	if err != nil {
		return err
	}
	defer stopProfile()
	log, err := logs.Logger(stderr)
	if err != nil {
		return err
	}
	pemBytes, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("read bank public key: %w", err)
	}
	verifier, err := bank131.NewVerifierPEM(pemBytes)
	if err != nil {
		return fmt.Errorf("bank public key %s: %w", *keyFile, err)
	}
	nc, err := nf.Connect("payrun-hookrelay", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx = queue.ExitOnClose(ctx, nc, log)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	// The ledger creates the streams (PAYRUN_PROBE among them); the relay
	// may only publish webhooks and its probes (deploy/nats), so until the
	// ledger has made them it is not ready, as it cannot store a webhook.
	host, _ := os.Hostname()
	relay := hookrelay.New(hookrelay.Config{Verifier: verifier, JS: js, Conn: nc, MaxBody: *maxBody, Logger: log,
		Probe: hookrelay.StoreProbe(js, host+"-"+strconv.Itoa(os.Getpid()))})
	go relay.RunProbe(ctx, 5*time.Second)
	if _, err := cli.ServeMetrics(ctx, *metricsAddr, log); err != nil {
		return err
	}

	srv, err := httpserve.Listen(*listen, relay, httpserve.ReadTimeout(30*time.Second),
		httpserve.ShutdownGrace(10*time.Second), httpserve.Logger(log))
	if err != nil {
		return err
	}
	log.Info("hookrelay listening", "addr", srv.Addr(), "path", hookrelay.Path, "bank_keys", verifier.Keys())
	if ready != nil {
		ready <- srv.Addr()
	}
	if err := srv.Run(ctx); err != nil {
		return err
	}
	if err := queue.ClosedError(ctx); err != nil {
		return err
	}
	log.Info("hookrelay stopped")
	return nc.Drain()
}
