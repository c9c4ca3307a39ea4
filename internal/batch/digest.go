package batch

import (
	"bytes"
	"crypto/sha256"
	"hash"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// contentHasher hashes a file's bytes as the batch sees them, so that
// saving the same payroll again with other line endings names the same
// batch: a UTF-8 BOM at the start is dropped, CRLF and CR become LF, and
// the line breaks at the end become one LF (none for a file without
// content). A file already in that form (no BOM, LF, one final line
// break) hashes to the SHA-256 of its bytes, as batch ids were before.
type contentHasher struct {
	h     hash.Hash
	start []byte // the first bytes, until the BOM question is settled
	begun bool
	cr    bool // the last byte was a CR (a following LF belongs to it)
	nl    int  // line breaks not yet hashed
	text  bool // anything but line breaks was hashed
}

func newContentHasher() *contentHasher { return &contentHasher{h: sha256.New()} }

func (c *contentHasher) Write(p []byte) (int, error) {
	n := len(p)
	if !c.begun {
		c.start = append(c.start, p...)
		if len(c.start) < len(utf8BOM) && bytes.HasPrefix(utf8BOM, c.start) {
			return n, nil // maybe a BOM; wait for more
		}
		c.settle()
		return n, nil
	}
	c.write(p)
	return n, nil
}

// settle hashes the buffered start of the file, without a BOM.
func (c *contentHasher) settle() {
	c.begun = true
	p := bytes.TrimPrefix(c.start, utf8BOM)
	c.start = nil
	c.write(p)
}

func (c *contentHasher) write(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if j := bytes.IndexByte(seg, '\r'); j >= 0 {
			i = j
		}
		if i < 0 {
			c.emit(p)
			return
		}
		if i > 0 {
			c.emit(p[:i])
		}
		switch {
		case p[i] == '\r':
			c.nl++
			c.cr = true
		case c.cr: // the LF of a CRLF
			c.cr = false
		default:
			c.nl++
		}
		p = p[i+1:]
	}
}

// emit hashes text that is not a line break, after the line breaks before it.
func (c *contentHasher) emit(b []byte) {
	for ; c.nl > 0; c.nl-- {
		c.h.Write([]byte{'\n'})
	}
	c.cr = false
	c.h.Write(b)
	c.text = true
}

// Sum returns the digest of everything written.
func (c *contentHasher) Sum() []byte {
	if !c.begun {
		c.settle()
	}
	if c.text {
		c.h.Write([]byte{'\n'})
	}
	return c.h.Sum(nil)
}
