package queue

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure an in-process nats-server with JetStream.
type EmbeddedOptions struct {
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
}

// Embedded is a running in-process nats-server.
type Embedded struct {
	Server *server.Server
}

// StartEmbedded starts nats-server with JetStream (file store) in this
// process and waits until it accepts connections.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
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
		opts.Routes = server.RoutesFromStr(joinComma(o.Routes))
	}
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
	return &Embedded{Server: s}, nil
}

// URL is the client URL of the embedded server.
func (e *Embedded) URL() string { return e.Server.ClientURL() }

// Close shuts the server down and waits for it.
func (e *Embedded) Close() {
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}
