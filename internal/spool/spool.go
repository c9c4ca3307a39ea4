// Package spool keeps a temporary file that is written once and then read
// any number of times (ingest validates an upload, then reads it again to
// publish it) without its bytes ever being on disk in plain text.
//
// A File is encrypted with AES-256-GCM in chunks of ChunkSize bytes under
// a random key that exists only in the File's memory: it is never written
// anywhere, so what is on disk cannot be read by anyone, this process
// after a restart included. Each chunk's nonce is its index and a flag
// marking the last chunk, so chunks cannot be reordered, dropped or cut
// off without Open's reader failing.
//
// The file has no name while it is used: Create removes its directory
// entry right away and keeps only the open descriptor, so a process killed
// in the middle of an upload leaves nothing behind (the kernel frees the
// blocks). Where a platform cannot remove an open file, the name stays
// until Close; Clean removes such leftovers when the next process starts.
package spool

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// ChunkSize is the plaintext size of every chunk but the last.
const ChunkSize = 64 << 10

// overhead is what GCM adds to a chunk (its tag).
const overhead = 16

// ErrCorrupt is returned by a reader when a chunk does not authenticate.
var ErrCorrupt = errors.New("spool: the spooled data does not authenticate")

// File is an encrypted temporary file. Write it, Finish it, then Open any
// number of readers; Close removes it. Write and Finish are not safe for
// concurrent use; readers may run concurrently once Finish returned.
type File struct {
	f    *os.File
	aead cipher.AEAD
	name string // the directory entry, "" once removed

	buf    []byte // plaintext of the chunk being written
	out    []byte // ciphertext scratch
	size   int64  // plaintext bytes written
	chunks int64  // chunks written, the last one included once finished
	done   bool
	err    error // a write failure; every later call returns it

	closeOnce sync.Once
	closeErr  error
}

// Create creates a spool file in dir (os.TempDir() when "") named after
// pattern as os.CreateTemp names it. The name is removed at once where the
// platform allows it.
func Create(dir, pattern string) (*File, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("spool key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("spool cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("spool cipher: %w", err)
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("create spool file: %w", err)
	}
	s := &File{f: f, aead: aead, name: f.Name(), buf: make([]byte, 0, ChunkSize)}
	// Unlinking an open file works on Unix; elsewhere Close removes it. A
	// concurrent Clean (another process starting) may have removed it
	// already, which is just as good.
	if err := os.Remove(s.name); err == nil || errors.Is(err, fs.ErrNotExist) {
		s.name = ""
	}
	return s, nil
}

// Write encrypts p into the file.
func (s *File) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.done {
		return 0, errors.New("spool: write after Finish")
	}
	n := 0
	for len(p) > 0 {
		k := copy(s.buf[len(s.buf):ChunkSize], p)
		s.buf = s.buf[:len(s.buf)+k]
		p, n = p[k:], n+k
		if len(s.buf) == ChunkSize {
			if err := s.flush(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Finish writes the last chunk (possibly empty). The file can be opened
// for reading afterwards, and no longer written.
func (s *File) Finish() error {
	if s.err != nil {
		return s.err
	}
	if s.done {
		return nil
	}
	if err := s.flush(true); err != nil {
		return err
	}
	s.done = true
	return nil
}

func (s *File) flush(last bool) error {
	s.out = s.aead.Seal(s.out[:0], nonce(s.chunks, last), s.buf, nil)
	if _, err := s.f.Write(s.out); err != nil {
		s.err = fmt.Errorf("write spool file: %w", err)
		return s.err
	}
	s.size += int64(len(s.buf))
	s.chunks++
	s.buf = s.buf[:0]
	return nil
}

// nonce is a chunk's GCM nonce: its index, then 1 for the last chunk.
func nonce(chunk int64, last bool) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[:8], uint64(chunk))
	if last {
		n[11] = 1
	}
	return n[:]
}

// Size is the number of plaintext bytes written so far.
func (s *File) Size() int64 { return s.size + int64(len(s.buf)) }

// Open returns a reader of the plaintext from its first byte. The file
// must be finished.
func (s *File) Open() (io.ReadCloser, error) {
	if s.err != nil {
		return nil, s.err
	}
	if !s.done {
		return nil, errors.New("spool: open before Finish")
	}
	return &reader{s: s, buf: make([]byte, 0, ChunkSize+overhead)}, nil
}

// Close closes the file and removes it if its name was still there.
func (s *File) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.f.Close()
		if s.name != "" {
			if err := os.Remove(s.name); err != nil && !errors.Is(err, fs.ErrNotExist) && s.closeErr == nil {
				s.closeErr = fmt.Errorf("remove spool file: %w", err)
			}
		}
	})
	return s.closeErr
}

// reader decrypts a finished File chunk by chunk with ReadAt, so several
// readers do not share a file offset.
type reader struct {
	s     *File
	chunk int64  // next chunk to read
	buf   []byte // ciphertext scratch
	plain []byte // decrypted, not yet returned
	err   error
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// next decrypts the next chunk into r.plain, or sets r.err (io.EOF after
// the last chunk).
func (r *reader) next() {
	s := r.s
	if r.chunk >= s.chunks {
		r.err = io.EOF
		return
	}
	last := r.chunk == s.chunks-1
	size := ChunkSize + overhead
	if last {
		size = int(s.size-r.chunk*ChunkSize) + overhead
	}
	ct := r.buf[:size]
	if _, err := s.f.ReadAt(ct, r.chunk*(ChunkSize+overhead)); err != nil {
		r.err = fmt.Errorf("read spool file: %w", err)
		return
	}
	plain, err := s.aead.Open(ct[:0], nonce(r.chunk, last), ct, nil)
	if err != nil {
		r.err = ErrCorrupt
		return
	}
	r.plain = plain
	r.chunk++
}

func (r *reader) Close() error {
	r.err, r.plain = errors.New("spool: read after Close"), nil
	return nil
}

// Clean removes the files in dir whose names match pattern (filepath.Match;
// e.g. "payrun-upload-*.spool"): spool files a crashed process left where
// their name could not be removed early, or plain-text spool files of an
// older version. It returns the names it removed.
func Clean(dir string, patterns ...string) ([]string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	var removed []string
	var errs []error
	for _, pattern := range patterns {
		names, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return removed, fmt.Errorf("clean spool files: %w", err)
		}
		for _, name := range names {
			if st, err := os.Lstat(name); err != nil || !st.Mode().IsRegular() {
				continue
			}
			if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("clean spool file: %w", err))
				continue
			}
			removed = append(removed, name)
		}
	}
	return removed, errors.Join(errs...)
}
