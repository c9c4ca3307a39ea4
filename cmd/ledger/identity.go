package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/ledger"
)

// hostCommand is a command run on the ledger's host against its database
// (`ledger users`, `tokens`, `policy`): it writes through the ledger
// package's writer into the file, and SQLite's lock orders it with a
// running ledger's writes. These tables hold no money state.
type hostCommand struct {
	name   string
	stdout io.Writer
}

func (c *hostCommand) out() io.Writer {
	if c.stdout != nil {
		return c.stdout
	}
	return os.Stdout
}

func (c *hostCommand) Usage() {
	switch c.name {
	case "users":
		fmt.Fprint(os.Stderr, `usage: ledger users add --name NAME --roles maker,checker,viewer,admin [--password-file FILE | --password-stdin] [--db FILE]
       ledger users list | disable --name NAME | enable --name NAME | roles --name NAME --roles R
       ledger users password --name NAME (--password-file FILE | --password-stdin) | totp --name NAME [--off]
`)
	case "tokens":
		fmt.Fprint(os.Stderr, `usage: ledger tokens create --user NAME --name WHAT [--roles R] [--out FILE] [--db FILE]
       ledger tokens list [--user NAME] [--all] | revoke --id ID
`)
	case "policy":
		fmt.Fprint(os.Stderr, "usage: ledger policy show [--db FILE] | ledger policy set [--db FILE] FILE|-\n")
	}
}

func (c *hostCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		c.Usage()
		return fmt.Errorf("ledger %s: name a subcommand", c.name)
	}
	sub := args[0]
	fs := flag.NewFlagSet("ledger "+c.name+" "+sub, flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	dbPath := fs.String("db", "ledger.db", "the ledger's SQLite `file`")
	name := fs.String("name", "", "the user's (or token's) `name`")
	user := fs.String("user", "", "the token's `user`")
	roles := fs.String("roles", "", "`roles`, comma-separated: maker, checker, viewer, admin")
	pwFile := fs.String("password-file", "", "read the password from the first line of `FILE`")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	outFile := fs.String("out", "", "write the token to `FILE` (mode 0600) instead of printing it")
	id := fs.Int64("id", 0, "the token's `id`")
	all := fs.Bool("all", false, "list revoked tokens too")
	off := fs.Bool("off", false, "totp: remove the second factor")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	// The first user and the first policy may come before the first
	// `ledger run`; anything else on a missing file is a wrong --db.
	if _, err := os.Stat(*dbPath); err != nil && !(sub == "add" || sub == "set") {
		return fmt.Errorf("ledger database: %w", err)
	}
	db, err := ledger.Open(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := ledger.NewService(db, ledger.Config{Logger: quietLogger()})
	defer svc.Close()
	by := auth.HostActor(os.Getenv("USER"))
	w := c.out()
	need := func(v, flagName string) error {
		if v == "" {
			fs.Usage()
			return fmt.Errorf("--%s is required", flagName)
		}
		return nil
	}
	password := func() (string, error) {
		switch {
		case *pwFile != "":
			b, err := os.ReadFile(*pwFile)
			if err != nil {
				return "", fmt.Errorf("password file: %w", err)
			}
			return strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r"), nil
		case *pwStdin:
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return "", fmt.Errorf("password: %w", err)
			}
			return strings.TrimRight(line, "\r\n"), nil
		}
		return "", nil
	}
	switch c.name + " " + sub {
	case "users add":
		if err := need(*name, "name"); err != nil {
			return err
		}
		rs, err := auth.ParseRoles(*roles)
		if err != nil {
			return err
		}
		pw, err := password()
		if err != nil {
			return err
		}
		u, err := svc.AddUser(ctx, by, ledger.NewUser{Name: *name, Roles: rs, Password: pw})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "user %s (id %d): %s; password %s\n", u.Name, u.ID, u.Roles, map[bool]string{true: "set", false: "none (tokens only)"}[u.HasPassword()])
		return nil
	case "users list":
		list, err := db.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tROLES\tPASSWORD\tTOTP\tDISABLED\tLAST SIGN-IN")
		for _, u := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%v\t%v\t%s\n", u.ID, u.Name, u.Roles, u.HasPassword(), u.HasTOTP(), u.Disabled, timeOr(u.LastSignIn))
		}
		return tw.Flush()
	case "users disable", "users enable":
		if err := need(*name, "name"); err != nil {
			return err
		}
		if err := svc.DisableUser(ctx, by, *name, sub == "disable"); err != nil {
			return err
		}
		fmt.Fprintf(w, "user %s %sd\n", *name, sub)
		return nil
	case "users roles":
		if err := need(*name, "name"); err != nil {
			return err
		}
		rs, err := auth.ParseRoles(*roles)
		if err != nil {
			return err
		}
		return svc.SetRoles(ctx, by, *name, rs)
	case "users password":
		if err := need(*name, "name"); err != nil {
			return err
		}
		pw, err := password()
		if err != nil {
			return err
		}
		if pw == "" {
			return errors.New("give the password with --password-file or --password-stdin")
		}
		return svc.SetPassword(ctx, by, *name, pw)
	case "users totp":
		if err := need(*name, "name"); err != nil {
			return err
		}
		_, url, err := svc.EnrollTOTP(ctx, by, *name, *off)
		if err != nil {
			return err
		}
		if !*off {
			fmt.Fprintf(w, "add this to %s's authenticator app (shown once):\n%s\n", *name, url)
		}
		return nil
	case "tokens create":
		if err := need(*user, "user"); err != nil {
			return err
		}
		if err := need(*name, "name"); err != nil {
			return err
		}
		var rs auth.Roles
		if *roles != "" {
			if rs, err = auth.ParseRoles(*roles); err != nil {
				return err
			}
		}
		text, t, err := svc.CreateToken(ctx, by, ledger.NewToken{User: *user, Name: *name, Roles: rs})
		if err != nil {
			return err
		}
		if *outFile != "" {
			if err := os.WriteFile(*outFile, []byte(text+"\n"), 0o600); err != nil {
				return fmt.Errorf("token file: %w", err)
			}
			fmt.Fprintf(w, "token %d %q of %s (%s) written to %s\n", t.ID, t.Name, t.User, t.Roles, *outFile)
			return nil
		}
		fmt.Fprintf(w, "token %d %q of %s (%s); shown once, keep it safe:\n%s\n", t.ID, t.Name, t.User, t.Roles, text)
		return nil
	case "tokens list":
		list, err := db.Tokens(ctx, *user, *all)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tNAME\tROLES\tTOKEN\tCREATED\tLAST USED\tREVOKED")
		for _, t := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Name, t.Roles, t.Hint,
				t.CreatedAt.UTC().Format(time.RFC3339), timeOr(t.LastUsed), timeOr(t.RevokedAt))
		}
		return tw.Flush()
	case "tokens revoke":
		if *id == 0 {
			fs.Usage()
			return errors.New("--id is required (ledger tokens list shows them)")
		}
		if err := svc.RevokeToken(ctx, by, *id); err != nil {
			return err
		}
		fmt.Fprintf(w, "token %d revoked\n", *id)
		return nil
	case "policy show":
		p, err := db.Policy(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	case "policy set":
		if fs.NArg() != 1 {
			fs.Usage()
			return errors.New("name the policy file (JSON), or - for standard input")
		}
		var b []byte
		if fs.Arg(0) == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(fs.Arg(0))
		}
		if err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		p, err := auth.ParsePolicy(b)
		if err != nil {
			return err
		}
		saved, err := svc.SetPolicy(ctx, by, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "policy version %d saved; batches sealed from now on are judged by it\n", saved.Version)
		return nil
	}
	c.Usage()
	return fmt.Errorf("unknown command ledger %s %s", c.name, sub)
}

func timeOr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// auditCommand exports the audit log: from the database on the ledger's
// host, or through the API with a token.
type auditCommand struct {
	stdout io.Writer
}

func (c *auditCommand) Usage() {
	fmt.Fprintln(os.Stderr, "usage: ledger audit [--db FILE | --api URL --token-file FILE] [--batch ID] [--since DAY|TIME] [--format csv|json] [--verify]")
}

func (c *auditCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledger audit", flag.ContinueOnError)
	fs.Usage = func() { c.Usage(); fs.PrintDefaults() }
	dbPath := fs.String("db", "", "read the ledger's SQLite `file` (on its host)")
	batch := fs.String("batch", "", "only entries about this batch `id`")
	since := fs.String("since", "", "only entries at or after this `day` (2026-11-25) or RFC 3339 time")
	format := fs.String("format", "csv", "`csv` or json")
	verify := fs.Bool("verify", false, "check the whole log's hash chain (with --db) and print its last hash")
	var api cli.APIFlags
	api.Register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *format != "csv" && *format != "json" {
		return fmt.Errorf("--format %q: use csv or json", *format)
	}
	w := c.stdout
	if w == nil {
		w = os.Stdout
	}
	if *dbPath == "" {
		if *verify {
			return errors.New("--verify reads the database: give --db")
		}
		client, err := api.Client()
		if err != nil {
			return err
		}
		q := "?format=" + *format
		if *batch != "" {
			q += "&batch=" + *batch
		}
		if *since != "" {
			q += "&since=" + *since
		}
		b, err := client.Raw(ctx, "GET", "/audit"+q, "", nil)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	db, err := ledger.OpenReadOnly(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if *verify {
		n, last, err := db.VerifyAudit(ctx)
		if err != nil {
			return fmt.Errorf("the audit log does not verify: %w", err)
		}
		fmt.Fprintf(w, "audit log: %d entries, chain intact; last hash %s\n", n, last)
		return nil
	}
	f := ledger.AuditFilter{Batch: *batch}
	if *since != "" {
		if f.Since, err = ledger.ParseSince(*since); err != nil {
			return err
		}
	}
	entries, err := db.AuditEntries(ctx, f)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Entries []auth.Entry `json:"entries"`
		}{entries})
	}
	return ledger.WriteAuditCSV(w, entries)
}

// quietLogger drops the service's logs: host commands print their own
// result.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
