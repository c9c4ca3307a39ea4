package spool

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// pan is a test card number (passes Luhn) written into spools.
const pan = "4242424242424242"

func payload(n int) []byte {
	line := []byte("E-001," + pan + ",Ivan Petrov,1500.00\n")
	var b bytes.Buffer
	for b.Len() < n {
		b.Write(line)
	}
	return b.Bytes()[:n]
}

// raw returns the bytes on disk through the open descriptor (the name is
// gone).
func raw(t *testing.T, s *File) []byte {
	t.Helper()
	st, err := s.f.Stat()
	require.NoError(t, err)
	b := make([]byte, st.Size())
	_, err = s.f.ReadAt(b, 0)
	require.NoError(t, err)
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 5} {
		dir := t.TempDir()
		s, err := Create(dir, "payrun-upload-*.spool")
		require.NoError(t, err)
		want := payload(n)
		// Written in odd pieces, so chunks fill across writes.
		for rest := want; len(rest) > 0; {
			k := min(len(rest), 7919)
			m, err := s.Write(rest[:k])
			require.NoError(t, err)
			require.Equal(t, k, m)
			rest = rest[k:]
		}
		require.Equal(t, int64(n), s.Size())
		require.NoError(t, s.Finish())
		require.NoError(t, s.Finish(), "twice is fine")

		onDisk := raw(t, s)
		require.Len(t, onDisk, n+(n/ChunkSize+1)*overhead, "size %d", n)
		if n >= len(pan) {
			require.False(t, bytes.Contains(onDisk, []byte(pan)), "plain text on disk")
			require.False(t, bytes.Contains(onDisk, want[:len(pan)+6]), "plain text on disk")
		}

		// Readers are independent, also concurrently.
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := s.Open()
				require.NoError(t, err)
				got, err := io.ReadAll(r)
				require.NoError(t, err)
				require.True(t, bytes.Equal(want, got), "size %d: read back %d bytes", n, len(got))
				require.NoError(t, r.Close())
			}()
		}
		wg.Wait()
		_, err = s.Write([]byte("x"))
		require.Error(t, err, "write after Finish")
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "twice is fine")
		left, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, left)
	}
}

// TestNoNameWhileWritten: on Unix the spool file is not in its folder even
// while it is being written, so a crash leaves nothing to find.
func TestNoNameWhileWritten(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows cannot remove an open file; Close and Clean remove it there")
	}
	dir := t.TempDir()
	s, err := Create(dir, "payrun-upload-*.spool")
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Write(payload(ChunkSize * 2))
	require.NoError(t, err)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left)
}

func TestOpenBeforeFinish(t *testing.T) {
	s, err := Create(t.TempDir(), "x-*")
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Open()
	require.Error(t, err)
}

// TestTamper: a changed, dropped or cut-off chunk does not read back.
func TestTamper(t *testing.T) {
	cases := map[string]func(t *testing.T, s *File){
		"flipped byte": func(t *testing.T, s *File) {
			b := raw(t, s)
			b[ChunkSize+overhead+10] ^= 1
			_, err := s.f.WriteAt(b, 0)
			require.NoError(t, err)
		},
		"chunks swapped": func(t *testing.T, s *File) {
			b := raw(t, s)
			c := ChunkSize + overhead
			swapped := append(append(bytes.Clone(b[c:2*c]), b[:c]...), b[2*c:]...)
			_, err := s.f.WriteAt(swapped, 0)
			require.NoError(t, err)
		},
		"cut off": func(t *testing.T, s *File) {
			require.NoError(t, s.f.Truncate(int64(2*(ChunkSize+overhead))))
		},
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := Create(t.TempDir(), "x-*")
			require.NoError(t, err)
			defer s.Close()
			_, err = s.Write(payload(3*ChunkSize + 100))
			require.NoError(t, err)
			require.NoError(t, s.Finish())
			tamper(t, s)
			r, err := s.Open()
			require.NoError(t, err)
			_, err = io.ReadAll(r)
			require.Error(t, err)
		})
	}
}

// TestKeyPerFile: the same bytes spooled twice are not the same on disk.
func TestKeyPerFile(t *testing.T) {
	data := payload(1000)
	var disks [][]byte
	for range 2 {
		s, err := Create(t.TempDir(), "x-*")
		require.NoError(t, err)
		defer s.Close()
		_, err = s.Write(data)
		require.NoError(t, err)
		require.NoError(t, s.Finish())
		disks = append(disks, raw(t, s))
	}
	require.NotEqual(t, disks[0], disks[1])
}

func TestClean(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(pan), 0o600))
	}
	write("payrun-upload-123.csv")   // an older version's plain-text spool
	write("payrun-upload-456.spool") // left where the name could not be removed
	write("payroll.csv")             // not a spool file
	require.NoError(t, os.Mkdir(filepath.Join(dir, "payrun-upload-dir.spool"), 0o700))

	removed, err := Clean(dir, "payrun-upload-*.csv", "payrun-upload-*.spool")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{filepath.Join(dir, "payrun-upload-123.csv"), filepath.Join(dir, "payrun-upload-456.spool")}, removed)
	var left []string
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	require.ElementsMatch(t, []string{"payroll.csv", "payrun-upload-dir.spool"}, left)

	removed, err = Clean(dir, "[")
	require.Error(t, err, "bad pattern")
	require.Empty(t, removed)
}

func TestWriteFailure(t *testing.T) {
	s, err := Create(t.TempDir(), "x-*")
	require.NoError(t, err)
	require.NoError(t, s.f.Close()) // the descriptor goes away under it
	_, err = s.Write(payload(ChunkSize + 1))
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "write spool file"), err)
	require.Equal(t, err, s.Finish(), "a failed spool stays failed")
	_, err = s.Open()
	require.Error(t, err)
	s.Close()
}

func BenchmarkWriteRead(b *testing.B) {
	data := make([]byte, 16<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)) * 2)
	for b.Loop() {
		s, err := Create(b.TempDir(), "x-*")
		if err != nil {
			b.Fatal(err)
		}
		s.Write(data)
		s.Finish()
		r, _ := s.Open()
		io.Copy(io.Discard, r)
		s.Close()
	}
}
