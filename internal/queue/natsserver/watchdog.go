package natsserver

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The JetStream watchdog. When its disk fills, nats-server's file store
// stops answering writes, and it stays so after the space came back: every
// webhook, job and intake message times out until the server is restarted
// (issue 16: over five minutes, until a restart; 176 of 200 transfers lost
// to the bank's confirm timeout), while the server still reports JetStream
// enabled. (Some write errors make it turn JetStream off instead, "will be
// DISABLED"; it never turns it on again by itself either.) Measured on a
// full 20 MB tmpfs with nats-server 2.15.2: small messages into pages
// already allocated still stored, anything that needed new space hung, and
// 25 s after the space was freed every publish still timed out; disabling
// and enabling JetStream in place (streams and consumers are read back
// from the store) made the next publish succeed.
//
// So the embedded server watches itself: every second it writes a probe
// of probeSize bytes to PAYRUN_PROBE (when that stream exists; payrun's
// components create it) through an in-process connection. When probes
// have failed for stallAfter, or JetStream is off, and the store's
// filesystem has room again (reenableFree), it restarts JetStream. A
// standalone nats-server is restarted by its supervisor instead
// (deploy/README.md, "A full data disk").

const (
	probeStream  = "PAYRUN_PROBE" // queue.StreamProbe (this package does not import queue)
	probeSubject = "payrun.probe.natsserver.watchdog"
	// probeSize needs new pages on every write: a small probe fits pages
	// a full disk already gave and passes while real messages hang.
	probeSize  = 16 << 10
	stallAfter = 5 * time.Second
)

// reenableFree is the room the store's filesystem needs before JetStream
// is restarted: a tenth of it, at least 4 MiB.
func reenableFree(size uint64) uint64 { return max(size/10, 4<<20) }

// diskRoom reports whether dir's filesystem has room to restart JetStream.
func diskRoom(dir string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	free, size := st.Bavail*uint64(st.Bsize), st.Blocks*uint64(st.Bsize)
	return free, free >= reenableFree(size)
}

// watchJetStream runs until the server shuts down.
func (s *Server) watchJetStream(cfg server.JetStreamConfig) {
	// EnableJetStream adds the "jetstream" folder to the store dir again.
	if filepath.Base(cfg.StoreDir) == server.JetStreamStoreDir {
		cfg.StoreDir = filepath.Dir(cfg.StoreDir)
	}
	nc, err := nats.Connect("", nats.InProcessServer(s.Server), nats.Name("payrun-natsserver-watchdog"), nats.MaxReconnects(-1))
	if err != nil {
		s.Server.Warnf("JetStream watchdog: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		s.Server.Warnf("JetStream watchdog: %v", err)
		return
	}
	payload := make([]byte, probeSize)
	var failingSince time.Time
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if !s.Server.Running() {
			continue
		}
		stuck := !s.Server.JetStreamEnabled()
		if !stuck {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := js.Publish(ctx, probeSubject, payload)
			cancel()
			switch {
			case err == nil || errorsIsNoStream(err):
				failingSince = time.Time{}
			case failingSince.IsZero():
				failingSince = time.Now()
				s.Server.Warnf("JetStream watchdog: a probe was not stored: %v", err)
			default:
				stuck = time.Since(failingSince) >= stallAfter
			}
		}
		if !stuck {
			continue
		}
		free, room := diskRoom(s.Dir)
		if !room {
			continue
		}
		if s.Server.JetStreamEnabled() {
			if err := s.Server.DisableJetStream(); err != nil {
				s.Server.Warnf("JetStream watchdog: stop JetStream: %v", err)
				continue
			}
		}
		c := cfg
		if err := s.Server.EnableJetStream(&c); err != nil {
			s.Server.Warnf("JetStream watchdog: start JetStream again: %v", err)
			continue
		}
		s.Server.Noticef("JetStream watchdog: JetStream restarted (writes had stopped; %d bytes free)", free)
		failingSince = time.Time{}
		s.reenabled.Add(1)
	}
}

// errorsIsNoStream: no PAYRUN_PROBE (a server payrun has not set up yet)
// is no evidence of a stuck store.
func errorsIsNoStream(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}
