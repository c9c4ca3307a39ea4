// Package natsserver runs nats-server with JetStream inside this process:
// the zero-setup default (`payrun demo`, `payrun up`), the benchmarks and the
// tests. It is a package of its own so that the commands which only talk to
// NATS (processor, hookrelay, ingest, ledger) do not link the server;
// TestCommandsDoNotLinkServer holds them to it.
package natsserver

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure an in-process nats-server with JetStream.
type Options struct {
	Dir        string // JetStream file store folder (required)
	Host       string // default 127.0.0.1
	Port       int    // 0 picks a free port
	ServerName string // default "payrun"
	// Cluster joins a JetStream cluster: this node's route listener and the
	// routes of its peers (nats-route://host:port). Empty runs standalone.
	ClusterName   string
	ClusterListen string
	Routes        []string
	Logs          bool // print the server's own log lines
	// ConfigFile, when set, is a nats-server configuration file (TLS,
	// accounts, permissions, cluster: deploy/nats); it gives every setting
	// but Dir, which is still the JetStream store. Host, Port and the
	// cluster fields above are then ignored.
	ConfigFile string
}

// Server is a running in-process nats-server.
type Server struct {
	Server *server.Server
	Dir    string // the JetStream file store folder (Options.Dir)

	stop      chan struct{}
	closeOnce sync.Once
	reenabled atomic.Int64
}

// Start starts nats-server with JetStream (file store) in this process and
// waits until it accepts connections.
func Start(o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("embedded nats-server: a data folder is required")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.ServerName == "" {
		o.ServerName = "payrun"
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	} else {
		// nats-server reports a port it cannot bind only in its log and
		// never becomes ready; try it first for a plain error.
		ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("embedded nats-server: %w", err)
		}
		ln.Close()
	}
	if o.ConfigFile != "" {
		return startFile(o)
	}
	opts := &server.Options{
		ServerName: o.ServerName,
		Host:       o.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.Dir,
		NoSigs:     true,
		NoLog:      !o.Logs,
		// Large batches publish fast; give slow consumers room.
		MaxPayload:    4 << 20,
		WriteDeadline: 10 * time.Second,
	}
	if o.ClusterListen != "" {
		h, p, err := net.SplitHostPort(o.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats-server: cluster listen %q: %w", o.ClusterListen, err)
		}
		opts.Cluster.Name = o.ClusterName
		opts.Cluster.Host = h
		opts.Cluster.Port, _ = strconv.Atoi(p)
		opts.Routes = server.RoutesFromStr(strings.Join(o.Routes, ","))
	}
	return run(opts, o)
}

// startFile starts a server from a configuration file.
func startFile(o Options) (*Server, error) {
	opts, err := server.ProcessConfigFile(o.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	opts.StoreDir = o.Dir
	opts.JetStream = true
	opts.NoSigs = true
	opts.NoLog = !o.Logs
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 4 << 20
	}
	return run(opts, o)
}

func run(opts *server.Options, o Options) (*Server, error) {
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	if o.Logs {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded nats-server: not ready after 30s")
	}
	srv := &Server{Server: s, Dir: o.Dir, stop: make(chan struct{})}
	if o.ClusterListen == "" {
		// A clustered node is restarted by its supervisor instead: enabling
		// JetStream in place does not rejoin its meta group.
		if jc := s.JetStreamConfig(); jc != nil {
			go srv.watchJetStream(*jc)
		}
	}
	return srv, nil
}

// Reenabled is how many times the watchdog enabled JetStream again.
func (s *Server) Reenabled() int64 { return s.reenabled.Load() }

// URL is the client URL of the server.
func (s *Server) URL() string { return s.Server.ClientURL() }

// Close shuts the server down and waits for it.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			close(s.stop)
		}
	})
	s.Server.Shutdown()
	s.Server.WaitForShutdown()
}
