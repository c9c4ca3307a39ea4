package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/processor"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
)

// DefaultDataKey is where the embedded default keeps its data key.
const DefaultDataKey = "payrun-data/data.key"

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		logs     cli.LogFlags
		bank     cli.BankFlags
		cardBank cli.BankFlags
		cfg      processor.Config
	)
	logs.Register(fs)
	bank.Register(fs, "", "for every flow")
	cardBank.Register(fs, "card-", "for card-number payouts (PCI DSS)")
	url := fs.String("nats-url", cli.NATSURL(), "NATS server `URL`s, comma-separated ($NATS_URL)")
	cardFlow := fs.String("card-flow", "single", "how card-number rows are paid: single (session/init/payout) or two-step")
	dataKey := fs.String("data-key", DefaultDataKey, "data key `file` that opens sealed card numbers ($"+secret.EnvKey+" takes precedence)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "Bank 131 calls per second for this process (0: unlimited)")
	fs.IntVar(&cfg.Burst, "burst", 1, "rate limiter burst")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "jobs and webhooks worked on at once (each)")
	fs.StringVar(&cfg.Worker, "worker", "", "this processor's name in the ledger (default host-pid)")
	fs.IntVar(&cfg.MaxDeliver, "max-deliver", 20, "deliveries of a job or webhook before it becomes a dead letter")
	fs.DurationVar(&cfg.AckWait, "ack-wait", 30*time.Second, "redeliver a message whose processor went silent this `long`")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 20*time.Second, "on SIGTERM, wait this `long` for the work in flight")
	metricsAddr := fs.String("metrics", "", "serve Prometheus /metrics on this `address` (e.g. 127.0.0.1:9102)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log, err := logs.Logger(stderr)
	if err != nil {
		return err
	}
	cfg.Logger = log
	cfg.CardFlow = processor.CardFlow(*cardFlow)
	if cfg.Bank, err = bank.Client(nil, log); err != nil {
		return err
	}
	if cfg.CardBank, err = cardBank.Client(&bank, log); err != nil {
		return err
	}
	key, err := secret.LoadKey(*dataKey, false)
	if err != nil {
		log.Warn("no data key: rows paid by card number will fail", "error", err)
	} else if cfg.Sealer, err = secret.NewSealer(key); err != nil {
		return err
	}
	if _, err := cli.ServeMetrics(ctx, *metricsAddr, log); err != nil {
		return err
	}
	nc, err := queue.Connect(*url, "payrun-processor")
	if err != nil {
		return err
	}
	defer nc.Close()
	cfg.Conn = nc
	p, err := processor.New(cfg)
	if err != nil {
		return err
	}
	if err := p.Run(ctx); err != nil {
		return err
	}
	if err := nc.Drain(); err != nil {
		return fmt.Errorf("drain NATS: %w", err)
	}
	return nil
}
