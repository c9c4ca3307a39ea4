package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/console"
	"github.com/payrun/payrun/internal/hookrelay"
	"github.com/payrun/payrun/internal/queue"
)

// up runs the embedded system until ctx ends.
func up(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("payrun up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f systemFlags
	f.register(fs, "payrun-data/up")
	listen := fs.String("listen", "127.0.0.1:8080", "`address` of people's endpoints: uploads, reports, /metrics")
	webhookListen := fs.String("webhook-listen", "127.0.0.1:8081", "`address` of the bank's endpoints, a listener of their own: "+hookrelay.Path+", /healthz, /readyz")
	bankListen := fs.String("sandbox-listen", "127.0.0.1:8131", "`address` of the embedded Bank 131 sandbox")
	submerchant := fs.String("submerchant", "", "X-PARTNER-SUBMERCHANT sent with every call to the bank, if the bank gave you one")
	natsListen := fs.String("nats-listen", "127.0.0.1:4222", "`address` of the embedded NATS server (port 0: any free port)")
	fs.BoolVar(&f.auto3DS, "auto-3ds", false, "let the sandbox complete 3-D Secure without anyone opening the link")
	zoneName := fs.String("time-zone", console.DefaultZone, "the time `zone` the web console shows times in")
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	zone, err := console.LoadZone(*zoneName)
	if err != nil {
		return &cli.UsageError{Err: fmt.Errorf("--time-zone: %w", err)}
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	log, closeLog, err := f.logger(f.data, stderr, false)
	if err != nil {
		return err
	}
	defer closeLog()
	a, err := app.Start(ctx, app.Config{Dir: f.data, KeysDir: f.keys, Listen: *listen, NATSListen: *natsListen, WebhookListen: *webhookListen,
		SandboxListen: *bankListen, AutoThreeDS: f.auto3DS, Zone: zone, AdminPassword: true,
		Rate: f.rate, Burst: f.burst, Concurrency: f.concurrency, Submerchant: *submerchant, Logger: log,
		WalletCheck: f.walletCheck, WalletID: f.walletID})
	if err != nil {
		return err
	}
	tokenNote := "the first admin's API token, written on the first start of this folder"
	if !a.AdminCreated {
		tokenNote = "the first admin's API token (this folder's users and tokens are kept)"
	}
	signIn := fmt.Sprintf("sign in as admin with the password in %s", a.AdminPassword)
	if _, err := os.Stat(a.AdminPassword); err != nil {
		signIn = "sign in as a user with a password"
	}
	fmt.Fprintf(stdout, `payrun is up (data in %[2]s). Stop with Ctrl-C.

  web console     %[1]s/   (%[9]s)
                  set a password: go run ./cmd/ledger users password --db %[10]s --name NAME --password-stdin
                  add people in the console (Users) or with curl below; times are shown in %[11]s
  NATS            %[6]s   (ingest --nats-url %[6]s FILE)
  admin token     %[4]s  (%[5]s)
                  A="Authorization: Bearer $(cat %[4]s)"
  people          curl -H "$A" -d '{"name":"mia","roles":["maker"],"password":"a long passphrase"}' %[1]s/users
                  curl -H "$A" -d '{"name":"carl","roles":["checker"],"password":"another passphrase"}' %[1]s/users
  their tokens    curl -H "$A" -d '{"user":"mia","name":"curl"}' %[1]s/tokens     (the answer's "token", shown once)
  upload a file   curl -H "Authorization: Bearer MIA_TOKEN" -F file=@samples/payroll.csv %[1]s/batches
  approve         curl -H "Authorization: Bearer CARL_TOKEN" -d '{"file_sha256":"…","totals":{…}}' %[1]s/batches/ID/approve
  batches         curl -H "$A" %[1]s/batches        (one batch: /batches/ID; report: -OJ /batches/ID/report.csv)
  audit log       curl -H "$A" '%[1]s/audit?format=csv'
  bank sandbox    %[3]s/sandbox/payouts
  bank webhooks   %[7]s%[8]s (a listener of its own)
`, a.URL, f.data, a.BankURL, a.AdminToken, tokenNote, a.NATS.URL(), a.WebhookURL, hookrelay.Path, signIn,
		filepath.Join(f.data, "ledger.db"), zone)
	ctx = queue.ExitOnClose(ctx, a.Conn, log)
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping: finishing the work in flight")
	if err := a.Close(); err != nil {
		return err
	}
	return queue.ClosedError(ctx)
}
