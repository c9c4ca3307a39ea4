// The harness's NATS: the cluster, its keys and configurations, and the
// flags and options each component connects with.

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/queue/natsauth"
	"github.com/payrun/payrun/internal/queue/natsserver"
	"github.com/payrun/payrun/internal/testutil"
)

// natsArgs are a component's --nats-* flags: the URL and, with secure, its
// nkey and client certificate (component is its identity in
// deploy/nats/payrun-auth.conf).
func (s *system) natsArgs(component string) []string {
	args := []string{"--nats-url", s.natsURL}
	if s.opts.secure {
		k := func(f string) string { return filepath.Join(s.natsKeys, f) }
		args = append(args, "--nats-nkey", k(natsauth.Seed(component)), "--nats-ca", k(natsauth.CAFile),
			"--nats-cert", k(natsauth.ClientCert(component)), "--nats-key", k(natsauth.ClientKey(component)))
	}
	return args
}

// natsOptions are the same for a connection of the test's own.
func (s *system) natsOptions(component string) []nats.Option {
	s.t.Helper()
	opts := []nats.Option{nats.MaxReconnects(-1)}
	if !s.opts.secure {
		return opts
	}
	k := func(f string) string { return filepath.Join(s.natsKeys, f) }
	sec, err := queue.Security{NKey: k(natsauth.Seed(component)), CA: k(natsauth.CAFile),
		Cert: k(natsauth.ClientCert(component)), Key: k(natsauth.ClientKey(component))}.Options()
	require.NoError(s.t, err)
	return append(opts, sec...)
}

// startCluster starts three nats-server nodes routed into one JetStream
// cluster and waits until it has a meta leader. With secure, each node runs
// a configuration like deploy/nats/nats-N.conf on loopback ports, including
// deploy/nats/payrun-auth.conf as shipped.
func (s *system) startCluster() {
	t := s.t
	routes := make([]string, 3)
	for i := range routes {
		routes[i] = "nats-route://" + freeAddr(t)
	}
	if s.opts.secure {
		s.makeNATSKeys()
	}
	var urls []string
	for i := 0; i < 3; i++ {
		o := natsserver.Options{
			Dir: filepath.Join(s.dir, fmt.Sprintf("nats-%d", i+1)), ServerName: fmt.Sprintf("payrun-nats-%d", i+1),
			ClusterName: "payrun", ClusterListen: strings.TrimPrefix(routes[i], "nats-route://"), Routes: routes,
		}
		if s.opts.secure {
			o.ConfigFile = s.nodeConfig(i+1, freeAddr(t), o.ClusterListen, routes)
		}
		e, err := natsserver.Start(o)
		require.NoError(t, err)
		t.Cleanup(e.Close)
		s.nodes = append(s.nodes, e)
		urls = append(urls, e.URL())
	}
	s.nats, s.natsURL = s.nodes[0], strings.Join(urls, ",")
	if s.opts.secure {
		// No identity may create a stream of its own: wait until there is
		// one meta leader that has every peer's current stats (what placing
		// an R3 stream needs) and every node is current; the ledger retries
		// its set-up until the R3 streams can be placed.
		testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
			var peers []string
			leaders := 0
			for _, n := range s.nodes {
				if !n.Server.JetStreamIsCurrent() {
					return fmt.Errorf("%s is not current", n.Server.Name())
				}
				if n.Server.JetStreamIsLeader() {
					leaders++
					peers = n.Server.JetStreamClusterPeers()
				}
			}
			if leaders != 1 || len(peers) != 3 {
				return fmt.Errorf("%d meta leaders; the leader sees JetStream peers %v", leaders, peers)
			}
			return nil
		})
		return
	}
	nc, err := nats.Connect(s.natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	// A meta leader answers account info before every peer has reported;
	// only a placed (and removed) R3 stream shows the cluster can hold ours.
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"},
			Replicas: 3, Storage: jetstream.MemoryStorage}); err != nil {
			return fmt.Errorf("JetStream cluster not ready for R3 streams: %w", err)
		}
		return js.DeleteStream(ctx, "PROBE")
	})
}

// makeNATSKeys runs `payrun keys nats` for the three nodes and puts the
// shipped permissions beside the keys, as deploy/README.md installs them.
func (s *system) makeNATSKeys() {
	t := s.t
	s.natsKeys = filepath.Join(s.dir, "nats-keys")
	cmd := exec.Command(filepath.Join(binDir, "payrun"), "keys", "nats", "--dir", s.natsKeys,
		"--server", "payrun-nats-1", "--server", "payrun-nats-2", "--server", "payrun-nats-3")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "payrun keys nats: %s", out)
	auth, err := os.ReadFile(s.repo("deploy/nats/payrun-auth.conf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(s.natsKeys, "payrun-auth.conf"), auth, 0o644))
}

// nodeConfig writes node n's configuration: deploy/nats/nats-N.conf's TLS
// and users on loopback ports.
func (s *system) nodeConfig(n int, listen, clusterListen string, routes []string) string {
	k := func(f string) string { return strconv.Quote(filepath.Join(s.natsKeys, f)) }
	name := fmt.Sprintf("payrun-nats-%d", n)
	tls := fmt.Sprintf("tls {\n  cert_file: %s\n  key_file: %s\n  ca_file: %s\n  verify: true\n  timeout: 5\n}\n",
		k(natsauth.ServerCert(name)), k(natsauth.ServerKey(name)), k(natsauth.CAFile))
	conf := fmt.Sprintf("server_name: %s\nlisten: %s\nmax_payload: 4MB\nwrite_deadline: \"10s\"\n%sinclude ./payrun-auth.conf\n"+
		"cluster {\n  name: payrun\n  listen: %s\n  %s  routes: [%s]\n}\n",
		name, listen, tls, clusterListen, strings.ReplaceAll(tls, "\n", "\n  "), strings.Join(routes, ", "))
	path := filepath.Join(s.natsKeys, name+".conf")
	require.NoError(s.t, os.WriteFile(path, []byte(conf), 0o644))
	return path
}
