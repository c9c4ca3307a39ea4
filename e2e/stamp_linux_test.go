package e2e

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// stamper reads a TCP connection with the kernel's receive timestamps
// (SO_TIMESTAMPNS: recvmsg reports when the bytes it returns were
// received), falling back to the time of the read.
type stamper struct {
	raw syscall.RawConn // nil: the socket gives no timestamps
	oob [64]byte
}

func newStampedConn(c *net.TCPConn) *stampedConn {
	sc := &stampedConn{TCPConn: c}
	raw, err := c.SyscallConn()
	if err != nil {
		return sc
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err == nil && serr == nil {
		sc.stamps.raw = raw
	}
	return sc
}

func (s *stamper) read(c *net.TCPConn, b []byte) (int, time.Time, error) {
	if s.raw == nil || len(b) == 0 {
		n, err := c.Read(b)
		return n, time.Now(), err
	}
	var n, oobn int
	var rerr error
	err := s.raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), b, s.oob[:], 0)
		return !errors.Is(rerr, syscall.EAGAIN)
	})
	now := time.Now()
	if err != nil { // a deadline, or closed
		return 0, now, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	if rerr != nil {
		return 0, now, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("recvmsg", rerr)}
	}
	if n == 0 {
		return 0, now, io.EOF
	}
	at := now
	if msgs, err := syscall.ParseSocketControlMessage(s.oob[:oobn]); err == nil {
		for _, m := range msgs {
			if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
				sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
				nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
				at = time.Unix(sec, nsec)
			}
		}
	}
	return n, at, nil
}
