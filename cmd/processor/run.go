package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/logkey"
	"github.com/payrun/payrun/internal/processor"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/secret"
)

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		logs     cli.LogFlags
		bank     cli.BankFlags
		cardBank cli.BankFlags
	)
	logs.Register(fs)
	bank.Register(fs, "", "for every flow")
	cardBank.Register(fs, "card-", "for card-number payouts (PCI DSS)")
	url := fs.String("nats-url", cli.NATSURL(), "NATS server `URL`s, comma-separated ($NATS_URL)")
	dataKey := fs.String("data-key", secret.DefaultKeyFile, "data key `file` that opens sealed card numbers ($"+secret.EnvKey+" takes precedence)")
	cfg := configFlags(fs)
	metricsAddr := fs.String("metrics", "", "serve Prometheus /metrics on this `address` (e.g. 127.0.0.1:9102)")
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	log, err := logs.Logger(stderr)
	if err != nil {
		return err
	}
	cfg.Logger = log
	if cfg.Bank, err = bank.Client(nil, log); err != nil {
		return err
	}
	if cfg.CardBank, err = cardBank.Client(&bank, log); err != nil {
		return err
	}
	key, err := secret.LoadKey(*dataKey, false)
	if err != nil {
		log.Warn("no data key: rows paid by card number will fail", logkey.Error, err)
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
	p, err := processor.New(*cfg)
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

// configFlags adds the processor's tunables to fs and returns the config
// they fill. It starts as processor.DefaultConfig(), so the flags'
// defaults (and their help) are the processor's one set.
func configFlags(fs *flag.FlagSet) *processor.Config {
	cfg := processor.DefaultConfig()
	fs.StringVar((*string)(&cfg.CardFlow), "card-flow", string(cfg.CardFlow), "how card-number rows are paid: single (session/init/payout) or two-step")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "Bank 131 calls per second for this process (0: unlimited)")
	fs.IntVar(&cfg.Burst, "burst", cfg.Burst, "rate limiter burst")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "jobs and webhooks worked on at once (each)")
	fs.StringVar(&cfg.Worker, "worker", cfg.Worker, "this processor's name in the ledger (default host-pid)")
	fs.IntVar(&cfg.MaxDeliver, "max-deliver", cfg.MaxDeliver, "deliveries of a job or webhook before it becomes a dead letter")
	fs.DurationVar(&cfg.AckWait, "ack-wait", cfg.AckWait, "redeliver a message whose processor went silent this long")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "on SIGTERM, wait this long for the work in flight")
	return &cfg
}
