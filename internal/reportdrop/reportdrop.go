// Package reportdrop imports the bank's daily report files that appear in
// a folder: the SFTP drop folder the bank delivers to (or where finance
// saves the e-mailed report). Each new file is read once it stopped
// changing, parsed, sent to the ledger, and then moved to imported/, or
// to failed/ with a <name>.reason.txt saying why (card numbers masked).
//
// Exactly once: the ledger names a report by the SHA-256 of its bytes and
// records it once, so a file delivered twice, or found again after a crash
// between its import and its move, changes nothing the second time and is
// moved to imported/ as well.
//
// Half-written files are never read: a file is taken only when its size
// and modification time were the same at the previous scan and it was
// last modified at least Settle ago; names an upload in progress uses
// (dot files, *.part, *.tmp, *.filepart, *.partial, *~) are skipped. The
// SFTP side should upload under such a name and rename the file into
// place when done (atomic on the same file system); the settle time covers
// clients that write in place.
package reportdrop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/logkey"
)

// Subfolders of the drop folder.
const (
	ImportedDir = "imported"
	FailedDir   = "failed"
)

// maxFile bounds a file the watcher reads (the bank's report limit).
const maxFile = 1 << 30

// Config says what to watch and how to import.
type Config struct {
	Dir string
	// Parse reads one file as a report; an error fails the file.
	Parse func(f bank131.NamedFile) (*bank131.DailyReport, error)
	// Send records a parsed report in the ledger. A refusal of the report
	// itself (ledgerapi.CodeInvalid) fails the file; any other error (the
	// ledger unreachable) leaves it for the next scan.
	Send func(ctx context.Context, rep *bank131.DailyReport) (*ledgerapi.ReportImport, error)
	// Settle is how long a file must be unchanged before it is read
	// (default 5s). Interval is the time between scans (default 2s).
	Settle, Interval time.Duration
	Logger           *slog.Logger
	Now              func() time.Time
}

// Result is what a scan did with one file.
type Result struct {
	Name   string                  // the file's name in the folder
	Moved  string                  // where it is now
	Import *ledgerapi.ReportImport // the ledger's answer (nil when it failed)
	Err    error                   // why it failed (the file is in failed/)
}

// Watcher scans the folder.
type Watcher struct {
	cfg  Config
	seen map[string]observed
}

type observed struct {
	size  int64
	mtime time.Time
}

// New checks cfg and creates the subfolders.
func New(cfg Config) (*Watcher, error) {
	if cfg.Dir == "" || cfg.Parse == nil || cfg.Send == nil {
		return nil, errors.New("report drop: a folder, a parser and a sender are needed")
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 5 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	st, err := os.Stat(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("report drop folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("report drop folder %s is not a folder", cfg.Dir)
	}
	for _, sub := range []string{ImportedDir, FailedDir} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("report drop folder: %w", err)
		}
	}
	return &Watcher{cfg: cfg, seen: map[string]observed{}}, nil
}

// Run scans every Interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	w.cfg.Logger.Info("watching for bank reports", "folder", w.cfg.Dir, "settle", w.cfg.Settle.String())
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := w.Scan(ctx); err != nil {
			w.cfg.Logger.Error("report drop scan", logkey.Error, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// inProgress reports whether a name is one an upload in progress uses.
func inProgress(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	for _, ext := range []string{".part", ".tmp", ".filepart", ".partial", ".crdownload"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// Scan looks at the folder once and imports every file that is ready, in
// name order (a report's parts in their order).
func (w *Watcher) Scan(ctx context.Context) ([]Result, error) {
	entries, err := os.ReadDir(w.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("read report drop folder: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	now := w.cfg.Now()
	present := map[string]bool{}
	var out []Result
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || inProgress(name) {
			continue
		}
		present[name] = true
		info, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		obs := observed{size: info.Size(), mtime: info.ModTime()}
		prev, ok := w.seen[name]
		w.seen[name] = obs
		if !ok || prev.size != obs.size || !prev.mtime.Equal(obs.mtime) || now.Sub(obs.mtime) < w.cfg.Settle {
			continue // new, still changing, or too fresh
		}
		res, retry := w.take(ctx, name)
		if retry {
			continue
		}
		delete(w.seen, name)
		out = append(out, res)
	}
	for name := range w.seen {
		if !present[name] {
			delete(w.seen, name)
		}
	}
	return out, nil
}

// take imports one file and moves it; retry means it stays for the next
// scan (the ledger could not be reached).
func (w *Watcher) take(ctx context.Context, name string) (Result, bool) {
	// A file's name is whoever dropped it's text: logged masked.
	log := w.cfg.Logger.With("file", cardmask.Redact(name))
	path := filepath.Join(w.cfg.Dir, name)
	res := Result{Name: name}
	data, err := readFile(path)
	if err != nil {
		res.Err = err
		return w.fail(res, log), false
	}
	rep, err := w.cfg.Parse(bank131.NamedFile{Name: name, Data: data})
	if err != nil {
		res.Err = err
		return w.fail(res, log), false
	}
	imp, err := w.cfg.Send(ctx, rep)
	switch {
	case err != nil && ledgerapi.ErrorCode(err) == ledgerapi.CodeInvalid:
		res.Err = err
		return w.fail(res, log), false
	case err != nil:
		log.Warn("bank report not imported yet: the ledger did not answer; trying again", logkey.Error, cardmask.Redact(err.Error()))
		return res, true
	}
	res.Import = imp
	dest, err := moveTo(path, filepath.Join(w.cfg.Dir, ImportedDir))
	if err != nil {
		log.Error("bank report imported but not moved; the next scan finds it imported", logkey.Error, cardmask.Redact(err.Error()))
		return res, true
	}
	res.Moved = dest
	if imp.Already {
		log.Info("bank report was imported before: nothing changed", "report", imp.Report, "moved", cardmask.Redact(dest))
	} else {
		log.Info("bank report imported", "report", imp.Report, "days", strings.Join(imp.Days, ","), "lines", imp.Lines,
			"settled", imp.Settled, "fees", imp.Fees, "not_paid", imp.NotPaid, "unknown", imp.Unknown,
			"partial", strings.Join(imp.Partial, ","), "covered", strings.Join(imp.Covered, ","), "moved", cardmask.Redact(dest))
	}
	return res, false
}

// fail moves a file to failed/ and writes the reason beside it.
func (w *Watcher) fail(res Result, log *slog.Logger) Result {
	reason := cardmask.Redact(res.Err.Error())
	log.Error("bank report refused; moved to "+FailedDir+"/", "reason", reason)
	dest, err := moveTo(filepath.Join(w.cfg.Dir, res.Name), filepath.Join(w.cfg.Dir, FailedDir))
	if err != nil {
		log.Error("move refused bank report", logkey.Error, cardmask.Redact(err.Error()))
		return res
	}
	res.Moved = dest
	text := fmt.Sprintf("%s\nrefused at %s: %s\n", cardmask.Redact(filepath.Base(dest)), w.cfg.Now().UTC().Format(time.RFC3339), reason)
	if err := os.WriteFile(dest+".reason.txt", []byte(text), 0o640); err != nil {
		log.Error("write the reason of a refused bank report", logkey.Error, cardmask.Redact(err.Error()))
	}
	return res
}

func readFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFile {
		return nil, fmt.Errorf("%s: larger than %d MB", filepath.Base(path), maxFile>>20)
	}
	return os.ReadFile(path)
}

// moveTo moves path into dir under its name, or the name with a number
// when dir already has a file of that name.
func moveTo(path, dir string) (string, error) {
	base := filepath.Base(path)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	dest := filepath.Join(dir, base)
	for n := 2; ; n++ {
		if _, err := os.Lstat(dest); errors.Is(err, os.ErrNotExist) {
			break
		}
		dest = filepath.Join(dir, fmt.Sprintf("%s.%d%s", stem, n, ext))
	}
	if err := os.Rename(path, dest); err != nil {
		return "", err
	}
	return dest, nil
}
