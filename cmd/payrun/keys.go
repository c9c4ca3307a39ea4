package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/payrun/payrun/internal/cli"
	"github.com/payrun/payrun/internal/queue/natsauth"
	"github.com/payrun/payrun/internal/secret"
)

const keysUsage = `usage: payrun keys COMMAND [--dir DIR]

The keys that seal card numbers (README "Keys"), in a folder (default %s):
card.key (processors only, 0600), card.pub (the upload side) and upload.key (the upload side only, 0600).

	init     make whichever of the three files is missing
	rotate   add a new key pair to card.key and card.pub; uploads seal to it once they read the new card.pub
	retire   --key-id ID: remove a key pair once every batch sealed with it is done
	list     show the key ids in card.key and card.pub, and which one uploads seal to
	nats     --dir DIR --server NAME[=HOST,...]...: the NATS cluster's CA and TLS certificates, a
	         client certificate and nkey per component, nkeys.conf (deploy/nats, deploy/README.md)
`

// keys is `payrun keys`.
func keys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, keysUsage, secret.DefaultDir)
		return &cli.UsageError{Err: errors.New("keys: no command"), Reported: true}
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stderr, keysUsage, secret.DefaultDir)
		return nil
	case "nats":
		return natsKeys(args[1:], stdout, stderr)
	case "init", "rotate", "retire", "list":
	default:
		return cli.Usagef("keys: unknown command %q (want init, rotate, retire, list or nats)", name)
	}
	fs := flag.NewFlagSet("payrun keys "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", secret.DefaultDir, "keys `folder`")
	keyID := fs.String("key-id", "", "the key pair to retire (`id` from payrun keys list)")
	if err := cli.NoArgs(fs, args[1:]); err != nil {
		return err
	}
	if *keyID != "" && name != "retire" {
		return cli.Usagef("--key-id is for payrun keys retire")
	}
	switch name {
	case "init":
		made, err := secret.EnsureKeys(*dir)
		if err != nil {
			return err
		}
		for _, p := range made {
			fmt.Fprintf(stdout, "made %s (%s)\n", p, keyFileRole(filepath.Base(p)))
		}
		if len(made) == 0 {
			fmt.Fprintf(stdout, "%s has its keys already; nothing made\n", *dir)
		}
		return listKeys(stdout, *dir)
	case "rotate":
		old, err := secret.ReadCardKeys(filepath.Join(*dir, secret.CardKeyFile))
		if err != nil {
			return err
		}
		k, err := secret.RotateCardKey(*dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, `added card key %[1]s, last in %[2]s and %[3]s.
Next: give the new %[2]s to every processor and restart them, then give %[3]s to the
upload side (ingest, the upload API); uploads seal to %[1]s from then on. Once every batch
sealed with %[4]s is done: payrun keys retire --key-id %[4]s --dir %[5]s
`, k.ID, secret.CardKeyFile, secret.CardPublicFile, strings.Join(secret.IDs(old), ", "), *dir)
		return nil
	case "retire":
		if *keyID == "" {
			return cli.Usagef("keys retire: give --key-id ID (payrun keys list shows them)")
		}
		if err := secret.RetireCardKey(*dir, *keyID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "retired card key %s; give the new %s to every processor and %s to the upload side\n",
			*keyID, secret.CardKeyFile, secret.CardPublicFile)
		return listKeys(stdout, *dir)
	}
	return listKeys(stdout, *dir)
}

func keyFileRole(name string) string {
	switch name {
	case secret.CardKeyFile:
		return "processors only, mode 0600"
	case secret.CardPublicFile:
		return "the upload side: ingest, the upload API"
	case secret.UploadKeyFile:
		return "the upload side only, mode 0600"
	}
	return ""
}

// listKeys prints what the folder's key files hold.
func listKeys(w io.Writer, dir string) error {
	found := false
	if keys, err := secret.ReadCardKeys(filepath.Join(dir, secret.CardKeyFile)); err == nil {
		fmt.Fprintf(w, "%-10s %s\n", secret.CardKeyFile, strings.Join(secret.IDs(keys), ", "))
		found = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if pubs, err := secret.ReadPublicKeys(filepath.Join(dir, secret.CardPublicFile)); err == nil {
		ids := make([]string, len(pubs))
		for i, p := range pubs {
			ids[i] = p.ID
		}
		fmt.Fprintf(w, "%-10s %s (uploads seal to %s)\n", secret.CardPublicFile, strings.Join(ids, ", "), ids[len(ids)-1])
		found = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if _, err := secret.ReadUploadKeys(filepath.Join(dir, secret.UploadKeyFile)); err == nil {
		fmt.Fprintf(w, "%-10s row digest and card fingerprint keys\n", secret.UploadKeyFile)
		found = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !found {
		return fmt.Errorf("no key files in %s (payrun keys init makes them)", dir)
	}
	return nil
}

// serverList collects --server NAME[=HOST,HOST...] values.
type serverList []natsauth.Server

func (l *serverList) String() string { return fmt.Sprint(len(*l), " servers") }
func (l *serverList) Set(v string) error {
	name, hosts, _ := strings.Cut(v, "=")
	if name == "" {
		return errors.New("a server needs a name: NAME or NAME=HOST,HOST")
	}
	s := natsauth.Server{Name: name}
	if hosts != "" {
		s.Hosts = strings.Split(hosts, ",")
	}
	*l = append(*l, s)
	return nil
}

// natsKeys is `payrun keys nats`: the files of a locked-down NATS cluster.
func natsKeys(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("payrun keys nats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "nats-keys", "keys `folder`")
	var servers serverList
	fs.Var(&servers, "server", "a nats-server's `NAME[=HOST,...]`: its certificate names NAME, the HOSTs (names or addresses), localhost and 127.0.0.1; repeatable")
	if err := cli.NoArgs(fs, args); err != nil {
		return err
	}
	made, err := natsauth.Make(*dir, servers)
	if err != nil {
		return err
	}
	for _, p := range made {
		fmt.Fprintln(stdout, "made", p)
	}
	if len(made) == 0 {
		fmt.Fprintf(stdout, "%s has every file already; nothing made\n", *dir)
	}
	fmt.Fprintf(stdout, `Servers: %[1]s, server-NAME.pem/.key and %[2]s (with deploy/nats/payrun-auth.conf) in /etc/payrun/nats.
Each component's host: %[1]s, COMPONENT.pem/.key and COMPONENT.nk only (--nats-ca, --nats-cert,
--nats-key, --nats-nkey). Keep %[3]s off the servers.
`, natsauth.CAFile, natsauth.NKeysConf, natsauth.CAKeyFile)
	return nil
}
