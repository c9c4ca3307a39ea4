//go:build !linux

package e2e

import (
	"net"
	"time"
)

// stamper reads a connection and stamps each read with its time (the
// kernel's receive timestamps are read on Linux only).
type stamper struct{}

func newStampedConn(c *net.TCPConn) *stampedConn { return &stampedConn{TCPConn: c} }

func (s *stamper) read(c *net.TCPConn, b []byte) (int, time.Time, error) {
	n, err := c.Read(b)
	return n, time.Now(), err
}
