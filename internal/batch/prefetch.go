// Reading a CSV file's records ahead, in a goroutine of its own, while
// the rules check the records read before.

package batch

import (
	"encoding/csv"
	"errors"
	"io"
	"sync"
)

// prefetchBatch is how many records go from the reading goroutine to the
// scanner at a time.
const prefetchBatch = 256

// prefetched is one record as csv.Reader returned it, with where each of
// its fields starts.
type prefetched struct {
	rec []string
	pos [][2]int // line and column of each field
	err error
}

// prefetcher is the records of a csv.Reader read by a goroutine of its
// own: validation is the only phase of an ingest that runs on one core
// (nothing may be published before it ends), and parsing the CSV (with
// the file's SHA-256 and content digest, which the readers below it
// compute) is about a third of it. Records, errors and field positions
// are the reader's, in its order; after an error other than a
// *csv.ParseError nothing more is read, and that error is returned again.
type prefetcher struct {
	batches chan []prefetched
	done    chan struct{}
	wg      sync.WaitGroup
	cur     []prefetched
	last    *prefetched
	sticky  error
}

func newPrefetcher(r *csv.Reader) *prefetcher {
	p := &prefetcher{batches: make(chan []prefetched, 4), done: make(chan struct{})}
	p.wg.Add(1)
	go p.read(r)
	return p
}

func (p *prefetcher) read(r *csv.Reader) {
	defer p.wg.Done()
	defer close(p.batches)
	var strs []string // the records' fields share allocations
	var pos [][2]int
	batch := make([]prefetched, 0, prefetchBatch)
	for {
		rec, err := r.Read()
		if len(strs) < len(rec) {
			strs = make([]string, max(len(rec), 16*prefetchBatch))
		}
		if len(pos) < len(rec) {
			pos = make([][2]int, max(len(rec), 16*prefetchBatch))
		}
		item := prefetched{err: err}
		if rec != nil {
			item.rec = strs[:len(rec):len(rec)]
			copy(item.rec, rec)
			strs = strs[len(rec):]
			item.pos = pos[:len(rec):len(rec)]
			pos = pos[len(rec):]
			fieldPositions(r, item.pos)
		}
		batch = append(batch, item)
		var pe *csv.ParseError
		last := err != nil && !errors.As(err, &pe)
		if len(batch) == prefetchBatch || last {
			select {
			case p.batches <- batch:
			case <-p.done:
				return
			}
			batch = make([]prefetched, 0, prefetchBatch)
		}
		if last {
			return
		}
	}
}

// fieldPositions fills pos with where the last record's fields start; a
// record csv.Reader returned with an error may have fewer positions than
// fields (those stay zero).
func fieldPositions(r *csv.Reader, pos [][2]int) {
	defer func() { recover() }() //nolint:errcheck // FieldPos panics past the fields it kept
	for i := range pos {
		pos[i][0], pos[i][1] = r.FieldPos(i)
	}
}

// Read returns the next record.
func (p *prefetcher) Read() ([]string, error) {
	if p.sticky != nil {
		return nil, p.sticky
	}
	if len(p.cur) == 0 {
		b, ok := <-p.batches
		if !ok {
			p.sticky = io.EOF
			return nil, io.EOF
		}
		p.cur = b
	}
	item := &p.cur[0]
	p.cur = p.cur[1:]
	p.last = item
	var pe *csv.ParseError
	if item.err != nil && !errors.As(item.err, &pe) {
		p.sticky = item.err
	}
	return item.rec, item.err
}

// FieldPos is where field of the last record starts, as csv.Reader says.
func (p *prefetcher) FieldPos(field int) (line, column int) {
	if p.last == nil || field < 0 || field >= len(p.last.pos) {
		panic("out of range index passed to FieldPos")
	}
	return p.last.pos[field][0], p.last.pos[field][1]
}

// stop ends the reading goroutine and waits for it, so the reader below
// is the caller's again.
func (p *prefetcher) stop() {
	close(p.done)
	for range p.batches {
	}
	p.wg.Wait()
}
