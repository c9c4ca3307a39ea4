package ingest

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progressInterval is how often Options.Progress is called.
const progressInterval = 200 * time.Millisecond

// progressReader counts the bytes a phase read and reports them, with the
// rows counter, to a callback from its own goroutine.
type progressReader struct {
	r     io.Reader
	n     atomic.Int64
	rows  *atomic.Int64
	phase string
	total int64
	fn    func(Progress)
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// newProgressReader returns nil when there is no callback.
func newProgressReader(r io.Reader, phase string, total int64, rows *atomic.Int64, fn func(Progress)) *progressReader {
	if fn == nil {
		return nil
	}
	p := &progressReader{r: r, rows: rows, phase: phase, total: total, fn: fn, done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.fn(p.snapshot(false))
			}
		}
	}()
	return p
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n.Add(int64(n))
	return n, err
}

func (p *progressReader) snapshot(done bool) Progress {
	return Progress{Phase: p.phase, Bytes: p.n.Load(), Total: p.total, Rows: int(p.rows.Load()), Done: done}
}

// stop ends the reports with a final one marked Done.
func (p *progressReader) stop() {
	p.once.Do(func() {
		close(p.done)
		p.wg.Wait()
		p.fn(p.snapshot(true))
	})
}
