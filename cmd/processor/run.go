package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/payrun/payrun/internal/cli"
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
	var nf cli.NATSFlags
	nf.Register(fs, cli.NATSURL(), "NATS server `URL`s, comma-separated ($NATS_URL)")
	cardKey := fs.String("card-key", filepath.Join(secret.DefaultDir, secret.CardKeyFile), "card private keys `file` (PEM) that open card numbers (README \"Keys\")")
	dataKey := fs.String("data-key", "", "the shared data key `file` of an earlier payrun (64 hex characters), only to open card numbers sealed with it")
	noCardRows := fs.Bool("no-card-rows", false, "start without card keys: no batch has rows paid by card number (a card row is handed back)")
	cfg := configFlags(fs)
	metricsAddr := fs.String("metrics", "", "serve Prometheus /metrics on this `address` (e.g. 127.0.0.1:9102)")
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
	cfg.Logger = log
	if cfg.Bank, err = bank.Client(nil, log); err != nil {
		return err
	}
	if cfg.CardBank, err = cardBank.Client(&bank, log); err != nil {
		return err
	}
	if cfg.Opener, err = opener(fs, *cardKey, *dataKey, *noCardRows); err != nil {
		return err
	}
	if cfg.Opener == nil {
		log.Warn("no card keys (--no-card-rows): rows paid by card number are handed back to other processors")
	} else {
		log.Info("card keys loaded", "key_ids", cfg.Opener.KeyIDs(), "legacy_data_key", cfg.Opener.Legacy())
	}
	if _, err := cli.ServeMetrics(ctx, *metricsAddr, log); err != nil {
		return err
	}
	nc, err := nf.Connect("payrun-processor", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx = queue.ExitOnClose(ctx, nc, log)
	cfg.Conn = nc
	p, err := processor.New(*cfg)
	if err != nil {
		return err
	}
	if err := p.Run(ctx); err != nil {
		return err
	}
	if err := queue.ClosedError(ctx); err != nil {
		return err
	}
	if err := nc.Drain(); err != nil {
		return fmt.Errorf("drain NATS: %w", err)
	}
	return nil
}

// opener reads the card keys (and the legacy data key, when given), or
// none with --no-card-rows. A processor without its card keys refuses to
// start: every card row would wait for another processor.
func opener(fs *flag.FlagSet, cardKey, dataKey string, noCardRows bool) (*secret.Opener, error) {
	if noCardRows {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["card-key"] || set["data-key"] {
			return nil, cli.Usagef("--no-card-rows starts without card keys: give it without --card-key and --data-key")
		}
		return nil, nil
	}
	keys, err := secret.ReadCardKeys(cardKey)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w; a processor needs the card keys to pay rows paid by card number (make them with payrun keys init), or --no-card-rows when no batch has such rows", err)
	}
	if err != nil {
		return nil, err
	}
	var legacy []byte
	if dataKey != "" {
		if legacy, err = secret.LoadLegacyKey(dataKey); err != nil {
			return nil, err
		}
	}
	return secret.NewOpener(keys, legacy)
}

// configFlags adds the processor's tunables to fs and returns the config
// they fill. It starts as processor.DefaultConfig(), so the flags'
// defaults (and their help) are the processor's one set.
func configFlags(fs *flag.FlagSet) *processor.Config {
	cfg := processor.DefaultConfig()
	fs.StringVar((*string)(&cfg.CardFlow), "card-flow", string(cfg.CardFlow), "how card-number rows are paid: single (session/init/payout) or two-step")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "Bank 131 calls per second for this process (0: unlimited); see --bank-rate")
	fs.Float64Var(&cfg.BankRate, "bank-rate", cfg.BankRate, "the bank's limit in calls per second for all processors together, shared among the live ones (NATS KV payrun_rate); --burst is then their burst. Instead of --rate")
	fs.IntVar(&cfg.Burst, "burst", cfg.Burst, "rate limiter burst (with --bank-rate: of all processors together)")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "jobs and webhooks worked on at once (each)")
	fs.StringVar(&cfg.Worker, "worker", cfg.Worker, "this processor's name in the ledger (default host-pid)")
	fs.IntVar(&cfg.MaxDeliver, "max-deliver", cfg.MaxDeliver, "deliveries of a job or webhook before it becomes a dead letter")
	fs.DurationVar(&cfg.AckWait, "ack-wait", cfg.AckWait, "redeliver a message whose processor went silent this long")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "on SIGTERM, wait this long for the work in flight")
	return &cfg
}
