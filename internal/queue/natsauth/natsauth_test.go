package natsauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/queue/natsauth"
)

func TestMakeIsIdempotentAndPrivate(t *testing.T) {
	dir := t.TempDir()
	made, err := natsauth.Make(dir, []natsauth.Server{{Name: "payrun-nats-1", Hosts: []string{"10.0.0.1", "nats1.example"}}})
	require.NoError(t, err)
	require.Contains(t, made, filepath.Join(dir, natsauth.CAFile))
	require.Contains(t, made, filepath.Join(dir, natsauth.NKeysConf))
	for _, c := range natsauth.Components {
		require.Contains(t, made, filepath.Join(dir, natsauth.Seed(c)))
		fi, err := os.Stat(filepath.Join(dir, natsauth.Seed(c)))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "%s seed is private", c)
		fi, err = os.Stat(filepath.Join(dir, natsauth.ClientKey(c)))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
	// A second run makes nothing; a new server only its certificate.
	again, err := natsauth.Make(dir, nil)
	require.NoError(t, err)
	require.Empty(t, again)
	more, err := natsauth.Make(dir, []natsauth.Server{{Name: "payrun-nats-2"}})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{filepath.Join(dir, natsauth.ServerCert("payrun-nats-2")), filepath.Join(dir, natsauth.ServerKey("payrun-nats-2"))}, more)

	// The server certificate names its hosts and verifies against the CA.
	ca := readCert(t, filepath.Join(dir, natsauth.CAFile))
	srv := readCert(t, filepath.Join(dir, natsauth.ServerCert("payrun-nats-1")))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, host := range []string{"payrun-nats-1", "nats1.example", "10.0.0.1", "127.0.0.1", "localhost"} {
		_, err := srv.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		require.NoError(t, err, host)
	}
	cli := readCert(t, filepath.Join(dir, natsauth.ClientCert("processor")))
	_, err = cli.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)

	conf, err := os.ReadFile(filepath.Join(dir, natsauth.NKeysConf))
	require.NoError(t, err)
	pub, err := natsauth.PublicKey(filepath.Join(dir, natsauth.Seed("ledger")))
	require.NoError(t, err)
	require.Contains(t, string(conf), natsauth.Variable("ledger")+`: "`+pub+`"`)
	for _, c := range natsauth.Components {
		seed, err := os.ReadFile(filepath.Join(dir, natsauth.Seed(c)))
		require.NoError(t, err)
		require.NotContains(t, string(conf), strings.TrimSpace(string(seed)), "no seed in nkeys.conf")
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	blk, _ := pem.Decode(b)
	require.NotNil(t, blk)
	c, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	return c
}

// TestShippedConfigsLoad loads deploy/nats/nats-{1,2,3}.conf as nats-server
// would, with the files `payrun keys nats` makes in place of
// /etc/payrun/nats: TLS on clients and routes, each component's user with
// its permissions.
func TestShippedConfigsLoad(t *testing.T) {
	dir := t.TempDir()
	var servers []natsauth.Server
	for _, n := range []string{"1", "2", "3"} {
		servers = append(servers, natsauth.Server{Name: "payrun-nats-" + n})
	}
	_, err := natsauth.Make(dir, servers)
	require.NoError(t, err)
	deploy := filepath.Join("..", "..", "..", "deploy", "nats")
	auth, err := os.ReadFile(filepath.Join(deploy, "payrun-auth.conf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "payrun-auth.conf"), auth, 0o644))
	for _, n := range []string{"1", "2", "3"} {
		b, err := os.ReadFile(filepath.Join(deploy, "nats-"+n+".conf"))
		require.NoError(t, err)
		conf := strings.ReplaceAll(string(b), "/etc/payrun/nats/", dir+"/")
		path := filepath.Join(dir, "nats-"+n+".conf")
		require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
		opts, err := server.ProcessConfigFile(path)
		require.NoError(t, err, "nats-%s.conf", n)
		require.Equal(t, "payrun-nats-"+n, opts.ServerName)
		require.NotNil(t, opts.TLSConfig, "client TLS")
		require.Equal(t, tls.RequireAndVerifyClientCert, opts.TLSConfig.ClientAuth, "client certificates required")
		require.NotNil(t, opts.Cluster.TLSConfig, "route TLS")
		require.Equal(t, tls.RequireAndVerifyClientCert, opts.Cluster.TLSConfig.ClientAuth, "routes verify their peers")
		require.Len(t, opts.Routes, 3)
		require.Len(t, opts.Nkeys, len(natsauth.Components), "one user per component")
		for _, u := range opts.Nkeys {
			require.NotNil(t, u.Permissions, "user %s has permissions", u.Nkey)
			require.Equal(t, "PAYRUN", u.Account.Name)
		}
	}
}
