package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/batch"
	"github.com/payrun/payrun/internal/spool"
	"github.com/payrun/payrun/internal/testutil"
)

// cardForms are the card numbers of the sample payroll as it writes them
// (grouped, dashed) and as digits.
var cardForms = append([]string{"4242 4242 4242 4242", "2200-0000-0000-0004"}, testPANs...)

// uploadBody is the sample payroll followed by 3000 rows with full card
// numbers (about 250 KB, several spool chunks).
func uploadBody(t *testing.T) []byte {
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	var b bytes.Buffer
	b.Write(data)
	for i := range 3000 {
		fmt.Fprintf(&b, "X-%04d,card,100,,Test Person,%s,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,Test\n", i, testPANs[i%len(testPANs)])
	}
	return b.Bytes()
}

// requireNoCardNumber fails if any file in dir, or (on Linux) any file
// this process holds open under dir — a spool without a name included —
// holds a card number in plain text. It returns how many open files under
// dir it read.
func requireNoCardNumber(t *testing.T, dir string) int {
	t.Helper()
	check := func(what string, b []byte) {
		for _, p := range cardForms {
			require.False(t, bytes.Contains(b, []byte(p)), "%s holds card number %s", what, p)
		}
	}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		check(path, b)
		return nil
	}))
	if runtime.GOOS != "linux" {
		return 0
	}
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	open := 0
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil || !strings.HasPrefix(link, dir+string(filepath.Separator)) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		open++
		check(link, b)
	}
	return open
}

// spooledBytes is the size of the largest file this process holds open
// under dir (Linux), or -1 elsewhere.
func spooledBytes(dir string) int64 {
	if runtime.GOOS != "linux" {
		return -1
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	var most int64
	for _, fd := range fds {
		p := filepath.Join("/proc/self/fd", fd.Name())
		if link, err := os.Readlink(p); err == nil && strings.HasPrefix(link, dir+string(filepath.Separator)) {
			if st, err := os.Stat(p); err == nil {
				most = max(most, st.Size())
			}
		}
	}
	return most
}

// TestHandlerHangingUploadLeavesNoCardNumber: an upload whose body never
// completes is spooled encrypted, in a file without a name; it is cut off
// after BodyTimeout with 408, and then nothing is left.
func TestHandlerHangingUploadLeavesNoCardNumber(t *testing.T) {
	e := startJS(t)
	tmp := t.TempDir()
	h := NewHandler(HandlerConfig{JS: e.js, Sealer: testSealer(t), Batch: batch.Options{Now: testNow},
		TempDir: tmp, BodyTimeout: 2 * time.Second, Logger: testutil.QuietLogger()})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	data := uploadBody(t)
	require.Contains(t, string(data), "4242 4242 4242 4242")
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	// All of the file but the announced last kilobyte.
	_, err = fmt.Fprintf(c, "POST /batches HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n", len(data)+1024)
	require.NoError(t, err)
	_, err = c.Write(data)
	require.NoError(t, err)

	// While it hangs: the spool holds every whole chunk of what was sent
	// (encrypted; the rest is in memory), the folder has no file, the
	// open spool no card number.
	require.Greater(t, len(data), 3*spool.ChunkSize)
	if spooledBytes(tmp) >= 0 {
		chunks := int64(len(data) / spool.ChunkSize)
		require.Eventually(t, func() bool { return spooledBytes(tmp) >= chunks*spool.ChunkSize }, 10*time.Second, 10*time.Millisecond,
			"the upload was not spooled")
	}
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, entries, "the spool has no name in the folder")
	if runtime.GOOS == "linux" {
		require.Equal(t, 1, requireNoCardNumber(t, tmp), "the open spool was read")
	}

	// Cut off with the one error answer.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	var out map[string]map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, "timeout", out["error"]["code"])
	require.Equal(t, "the upload did not arrive within 2s; nothing was kept, send it again", out["error"]["message"])

	// After: no file, nothing open, nothing published.
	require.Eventually(t, func() bool { return h.slots.inUse() == 0 }, 5*time.Second, 10*time.Millisecond)
	require.Zero(t, requireNoCardNumber(t, tmp), "the spool is closed")
	entries, err = os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, entries)
	require.Empty(t, streamMsgs(t, e.js))
}

// TestHandlerRemovesLeftovers: spool files a crashed run left (an older
// version's plain-text ones too) are removed when the handler is created,
// and the log says so; other files stay.
func TestHandlerRemovesLeftovers(t *testing.T) {
	tmp := t.TempDir()
	data := uploadBody(t)
	for _, name := range []string{"payrun-upload-123456.csv", "payrun-upload-789.spool"} {
		require.NoError(t, os.WriteFile(filepath.Join(tmp, name), data, 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "ledger.db"), []byte("keep"), 0o600))
	var logs bytes.Buffer
	NewHandler(HandlerConfig{TempDir: tmp, Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "ledger.db", entries[0].Name())
	requireNoCardNumber(t, tmp)
	require.Contains(t, logs.String(), `msg="removed partial uploads an earlier run left behind" count=2 dir=`+tmp)

	logs.Reset()
	NewHandler(HandlerConfig{TempDir: tmp, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.Empty(t, logs.String(), "nothing to remove, nothing logged")
}

// heldUpload is an upload whose body the test sends when it likes.
type heldUpload struct {
	w    *io.PipeWriter
	done chan answer
}

type answer struct {
	status int
	out    map[string]any
	header http.Header
	err    error
}

func postAs(url, user string, body io.Reader) answer {
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("X-Test-User", user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	a.err = json.NewDecoder(resp.Body).Decode(&a.out)
	return a
}

func holdUpload(url, user string) *heldUpload {
	pr, pw := io.Pipe()
	u := &heldUpload{w: pw, done: make(chan answer, 1)}
	go func() { u.done <- postAs(url, user, pr) }()
	return u
}

// TestHandlerUploadLimits: at most MaxUploadsPerKey uploads per uploader
// and MaxUploads in all are served at once; one more is answered 429
// too_many at once, with Retry-After, without its body being read.
func TestHandlerUploadLimits(t *testing.T) {
	e := startJS(t)
	h := NewHandler(HandlerConfig{JS: e.js, Sealer: testSealer(t), Batch: batch.Options{Now: testNow},
		TempDir: t.TempDir(), MaxUploads: 2, MaxUploadsPerKey: 1, Logger: testutil.QuietLogger(),
		UploadKey: func(r *http.Request) string { return r.Header.Get("X-Test-User") }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	url := srv.URL + "/batches?file_name=payroll.csv"

	refused := func(user, want string) {
		t.Helper()
		a := postAs(url, user, bytes.NewReader(data))
		require.NoError(t, a.err)
		require.Equal(t, http.StatusTooManyRequests, a.status, a.out)
		require.Equal(t, map[string]any{"code": "too_many", "message": want}, a.out["error"])
		require.Equal(t, "5", a.header.Get("Retry-After"))
	}

	anna := holdUpload(url, "anna")
	require.Eventually(t, func() bool { return h.slots.inUse() == 1 }, 5*time.Second, time.Millisecond)
	refused("anna", "1 uploads of yours are being served; try again when one has finished")

	boris := holdUpload(url, "boris")
	require.Eventually(t, func() bool { return h.slots.inUse() == 2 }, 5*time.Second, time.Millisecond)
	refused("clara", "2 uploads are being served; try again in a moment")

	// Anna's upload finishes: a slot is free again, for anyone.
	anna.w.Write(data)
	anna.w.Close()
	a := <-anna.done
	require.NoError(t, a.err)
	require.Equal(t, http.StatusCreated, a.status, a.out)
	a = postAs(url, "clara", bytes.NewReader(data))
	require.Equal(t, http.StatusOK, a.status, a.out)
	require.Equal(t, "existing", a.out["status"])

	// An upload that fails still gives its slot back.
	boris.w.CloseWithError(fmt.Errorf("client gave up"))
	<-boris.done
	require.Eventually(t, func() bool { return h.slots.inUse() == 0 }, 5*time.Second, time.Millisecond)
}

// TestHandlerConcurrentIdenticalUploads: ten uploads of the same file at
// once make one batch; exactly one answer is 201 created, nine are 200
// existing.
func TestHandlerConcurrentIdenticalUploads(t *testing.T) {
	e := startJS(t)
	h := NewHandler(HandlerConfig{JS: e.js, Sealer: testSealer(t), Batch: batch.Options{Now: testNow},
		TempDir: t.TempDir(), MaxUploads: 10, MaxUploadsPerKey: 10, Logger: testutil.QuietLogger()})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	data, err := os.ReadFile(samplePath)
	require.NoError(t, err)

	answers := make([]answer, 10)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = postAs(srv.URL+"/batches?file_name=payroll.csv", "anna", bytes.NewReader(data))
		}()
	}
	wg.Wait()
	count := map[string]int{}
	batches := map[any]bool{}
	for _, a := range answers {
		require.NoError(t, a.err)
		count[fmt.Sprintf("%d %v", a.status, a.out["status"])]++
		batches[a.out["batch"]] = true
	}
	require.Equal(t, map[string]int{"201 created": 1, "200 existing": 9}, count)
	require.Len(t, batches, 1)
	require.Len(t, streamMsgs(t, e.js), 24, "23 rows and one manifest")
}

func TestRemoteIP(t *testing.T) {
	for addr, want := range map[string]string{"127.0.0.1:51234": "127.0.0.1", "[::1]:8080": "::1", "pipe": "pipe"} {
		require.Equal(t, want, remoteIP(&http.Request{RemoteAddr: addr}))
	}
}
