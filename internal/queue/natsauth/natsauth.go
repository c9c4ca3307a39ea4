// Package natsauth makes what a locked-down payrun NATS cluster needs, for a
// test or a small install: a certificate authority, a TLS certificate per
// server (clients and routes), a client certificate and a user nkey per
// component, and nkeys.conf, the file of public keys that
// deploy/nats/payrun-auth.conf (the permissions) reads. `payrun keys nats`
// runs it.
//
// Everything is made with the standard library and nkeys, no openssl:
// ECDSA P-256 certificates, the CA valid ten years, the others two.
package natsauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
)

// Components are the identities of payrun's NATS users, one per component,
// as deploy/nats/payrun-auth.conf names them: ledger (`ledger run`),
// processor, hookrelay, ingest (the ingest command and the upload API), ops
// (an operator's read-only `ledger status`), reports (the bank report
// watcher, `ledger import-report --watch`: it may only import).
var Components = []string{"ledger", "processor", "hookrelay", "ingest", "ops", "reports"}

// Files of a folder Make fills.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca.key" // keep it off the servers; only Make needs it
	NKeysConf = "nkeys.conf"
)

// ServerCert and ServerKey name a server's certificate and key.
func ServerCert(server string) string { return "server-" + server + ".pem" }

// ServerKey is the key of ServerCert(server).
func ServerKey(server string) string { return "server-" + server + ".key" }

// ClientCert and ClientKey name a component's client certificate and key;
// Seed its nkey seed (queue.Security.NKey).
func ClientCert(component string) string { return component + ".pem" }

// ClientKey is the key of ClientCert(component).
func ClientKey(component string) string { return component + ".key" }

// Seed is the user nkey seed file of a component.
func Seed(component string) string { return component + ".nk" }

// Variable is the name nkeys.conf gives a component's public nkey:
// PAYRUN_LEDGER_NKEY.
func Variable(component string) string { return "PAYRUN_" + strings.ToUpper(component) + "_NKEY" }

// Server is one nats-server: its name (the certificate's common name) and
// the host names and addresses clients and peers reach it by. localhost
// and 127.0.0.1 are always added.
type Server struct {
	Name  string
	Hosts []string
}

// Make fills dir with whatever is missing: the CA (kept if present, so more
// servers or a renewed certificate can be added later), each server's
// certificate, each component's client certificate and nkey, and
// nkeys.conf (written again from the seeds present). It returns the files
// it wrote. Private files are 0600.
func Make(dir string, servers []Server) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("nats keys folder: %w", err)
	}
	var made []string
	ca, caKey, wrote, err := ensureCA(dir)
	if err != nil {
		return nil, err
	}
	made = append(made, wrote...)
	for _, s := range servers {
		if s.Name == "" {
			return nil, errors.New("nats keys: a server without a name")
		}
		hosts := append([]string{s.Name, "localhost", "127.0.0.1"}, s.Hosts...)
		w, err := ensureCert(dir, ServerCert(s.Name), ServerKey(s.Name), s.Name, hosts, true, ca, caKey)
		if err != nil {
			return nil, err
		}
		made = append(made, w...)
	}
	for _, c := range Components {
		w, err := ensureCert(dir, ClientCert(c), ClientKey(c), "payrun-"+c, nil, false, ca, caKey)
		if err != nil {
			return nil, err
		}
		made = append(made, w...)
		path := filepath.Join(dir, Seed(c))
		if exists(path) {
			continue
		}
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, fmt.Errorf("nkey of %s: %w", c, err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return nil, fmt.Errorf("nkey of %s: %w", c, err)
		}
		if err := writeFile(path, append(seed, '\n'), 0o600); err != nil {
			return nil, err
		}
		made = append(made, path)
	}
	conf, err := nkeysConf(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, NKeysConf)
	if old, err := os.ReadFile(path); err != nil || string(old) != conf {
		if err := writeFile(path, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		made = append(made, path)
	}
	sort.Strings(made)
	return made, nil
}

// PublicKey reads a component's seed file and returns its public nkey.
func PublicKey(seedFile string) (string, error) {
	b, err := os.ReadFile(seedFile)
	if err != nil {
		return "", fmt.Errorf("nkey seed: %w", err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(b))))
	if err != nil {
		return "", fmt.Errorf("nkey seed %s: %w", seedFile, err)
	}
	defer kp.Wipe()
	return kp.PublicKey()
}

// nkeysConf is the NATS configuration that defines each component's public
// key as a variable, for payrun-auth.conf.
func nkeysConf(dir string) (string, error) {
	var b strings.Builder
	b.WriteString("# The public nkeys of payrun's components, made by `payrun keys nats`.\n" +
		"# payrun-auth.conf (the users and their permissions) refers to these names.\n" +
		"# Public keys only: the seeds (*.nk) go to the component's host alone.\n")
	for _, c := range Components {
		pub, err := PublicKey(filepath.Join(dir, Seed(c)))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s: %q\n", Variable(c), pub)
	}
	return b.String(), nil
}

func ensureCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, []string, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	if exists(certPath) {
		cert, key, err := readPair(certPath, keyPath)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("nats CA: %w", err)
		}
		return cert, key, nil, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "payrun NATS CA", Organization: []string{"payrun"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("nats CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return nil, nil, nil, err
	}
	return cert, key, []string{certPath, keyPath}, nil
}

// ensureCert makes a certificate signed by the CA unless the file exists:
// a server's serves clients and routes (server and client auth, its host
// names), a component's is a client certificate.
func ensureCert(dir, certName, keyName, cn string, hosts []string, server bool, ca *x509.Certificate, caKey *ecdsa.PrivateKey) ([]string, error) {
	certPath, keyPath := filepath.Join(dir, certName), filepath.Join(dir, keyName)
	if exists(certPath) {
		return nil, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"payrun"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		// Routes dial their peers: a server's certificate is also a client's.
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		seen := map[string]bool{}
		for _, h := range hosts {
			if h == "" || seen[h] {
				continue
			}
			seen[h] = true
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", certName, err)
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return nil, err
	}
	return []string{certPath, keyPath}, nil
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func readPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (the CA's key is needed to sign new certificates)", err)
	}
	cblk, _ := pem.Decode(cb)
	kblk, _ := pem.Decode(kb)
	if cblk == nil || kblk == nil {
		return nil, nil, fmt.Errorf("%s or %s is not PEM", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kblk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not an ECDSA key", keyPath)
	}
	return cert, key, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeFile writes through a temporary file and a rename, so a file is
// whole or absent.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
