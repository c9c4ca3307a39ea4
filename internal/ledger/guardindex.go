package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
)

// The duplicate guard's indexes in memory: the payees (payeeIndex) and a
// filter of the references (refFilter) in front of the references' SQLite
// index. Both are built at start from the ledger's rows and added to as
// the guard checks new rows, in the order it checks them.

// guardIndex is the guard's in-memory state.
type guardIndex struct {
	payees *payeeIndex
	refs   atomic.Pointer[refFilter] // swapped when rebuilt larger
}

// loadGuardIndex builds the indexes from the rows recorded since the
// retention (references) and the window (payees).
func loadGuardIndex(ctx context.Context, db *DB, retention, window time.Time) (*guardIndex, error) {
	g := &guardIndex{payees: newPayeeIndex()}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM rows WHERE received_at >= ?`, formatTime(retention)).Scan(&n); err != nil {
		return nil, fmt.Errorf("load references: %w", err)
	}
	refs := newRefFilter(n)
	g.refs.Store(refs)
	rows, err := db.r.QueryContext(ctx, `SELECT reference FROM rows WHERE received_at >= ?`, formatTime(retention))
	if err != nil {
		return nil, fmt.Errorf("load references: %w", err)
	}
	defer rows.Close()
	var ref string
	for rows.Next() {
		if err := rows.Scan(&ref); err != nil {
			return nil, fmt.Errorf("load references: %w", err)
		}
		refs.add(ref)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load references: %w", err)
	}
	if err := g.payees.load(ctx, db, window); err != nil {
		return nil, err
	}
	return g, nil
}

// refFilter is a Bloom filter of the references recorded: a reference it
// does not have was never recorded, so the guard asks SQLite only about
// the references it may have (a repeat, or one in a few thousand by
// chance). A filter over its capacity is rebuilt twice as large from
// SQLite; references past the retention stay until then (they are only
// asked about).
//
// Decision: a row's reference was first looked up in SQLite by its index
// for every row, which cost the intake about 6.5 µs a row on a loaded
// machine (1.3 s of 200k rows' 10 s); the filter answers in well under a
// microsecond, four bits of 32 per reference set.
type refFilter struct {
	mu    sync.RWMutex
	bits  []uint64
	mask  uint64
	count int
}

// refBits is the filter's size per reference it holds; it is rebuilt when
// it holds more than one per refFull bits.
const (
	refBits = 32
	refFull = 12
)

func newRefFilter(n int) *refFilter {
	size := uint64(1 << 23) // 1 MB at least
	for size < uint64(max(n, 1)*refBits) {
		size <<= 1
	}
	return &refFilter{bits: make([]uint64, size/64), mask: size - 1}
}

// guardSeed seeds the guard's hashes (the reference filter's and the
// payee index's) for the process, so that the intake can hash a row's
// reference and payee while it parses the row, off the writer
// (guardHashes), whichever filter is in use when the row is checked.
var guardSeed = maphash.MakeSeed()

// refHash is a reference's hash for the filter.
func refHash(ref string) uint64 { return maphash.String(guardSeed, ref) }

// probes are the filter's bit positions of a reference's hash h: four,
// by double hashing.
func (f *refFilter) probes(h uint64) [4]uint64 {
	a, b := h, h>>32|h<<32|1
	return [4]uint64{a & f.mask, (a + b) & f.mask, (a + 2*b) & f.mask, (a + 3*b) & f.mask}
}

func (f *refFilter) add(ref string) { f.testAndAdd(refHash(ref)) }

// testAndAdd adds the reference of hash h and reports whether the filter
// may have had it before (mayHave, then add, in one pass).
func (f *refFilter) testAndAdd(h uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.testAndAddLocked(h)
}

func (f *refFilter) testAndAddLocked(h uint64) bool {
	p := f.probes(h)
	had := true
	for _, i := range p {
		w, bit := &f.bits[i/64], uint64(1)<<(i%64)
		if *w&bit == 0 {
			had = false
			*w |= bit
		}
	}
	f.count++
	return had
}

// mayHave reports whether the reference may have been recorded.
func (f *refFilter) mayHave(ref string) bool {
	p := f.probes(refHash(ref))
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, i := range p {
		if f.bits[i/64]&(1<<(i%64)) == 0 {
			return false
		}
	}
	return true
}

// full reports whether the filter holds more than it was sized for.
func (f *refFilter) full() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return uint64(f.count)*refFull > f.mask+1
}

// payeeIndex finds the earlier rows that paid (or are paying) a payee an
// amount: the probable duplicates' lookup. It is kept in memory, built at
// start from the rows recorded within DuplicateWindow and added to as rows
// are recorded, in the order the ledger records them (so an entry present
// when a row is checked is an earlier row).
//
// Decision: not an SQLite index. Payee keys are digests, so an index on
// them takes every insert at a random page: with 1M paid rows in the
// ledger, recording 1M rows ran at 32k rows/s with rows(payee, amount,
// currency) indexed and at 100k rows/s without it, the same run on the
// same loaded machine (BenchmarkRecordRowsPaidLedger, 200k rows; the
// commits carried the dirtied index pages). References keep their index:
// a file's references come in order, so its inserts stay together.
//
// The index may hold entries of rows whose write was rolled back, or that
// failed since: every candidate is read back from SQLite before it counts.
// Memory is about 40 bytes a row within the window; compact drops entries
// older than the window.
type payeeIndex struct {
	mu      sync.RWMutex
	heads   map[uint64]int32 // key → newest entry
	entries []payeeEntry
	batches map[string]int32
	names   []string
}

// payeeEntry is one row in the index, chained to the older entry of the
// same key.
type payeeEntry struct {
	batch, row int32
	next       int32 // -1: none
	day        int32 // days since the Unix epoch the row was recorded
}

func newPayeeIndex() *payeeIndex {
	return &payeeIndex{heads: map[uint64]int32{}, batches: map[string]int32{}}
}

// key is the index key of a payee and an amount.
func (x *payeeIndex) key(payee []byte, a money.Amount) uint64 { return payeeKey(payee, a) }

// payeeKey is the payee index's key of a payee and an amount.
func payeeKey(payee []byte, a money.Amount) uint64 {
	var h maphash.Hash
	h.SetSeed(guardSeed)
	h.Write(payee)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(a.Minor))
	h.Write(n[:])
	h.WriteString(a.Currency)
	return h.Sum64()
}

func dayNumber(t time.Time) int32 { return int32(t.Unix() / 86400) }

// add records a row.
func (x *payeeIndex) add(payee []byte, a money.Amount, batch string, row int, at time.Time) {
	k := x.key(payee, a)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.addLocked(k, batch, row, at)
}

func (x *payeeIndex) addLocked(k uint64, batch string, row int, at time.Time) {
	b, ok := x.batches[batch]
	if !ok {
		b = int32(len(x.names))
		x.batches[batch] = b
		x.names = append(x.names, batch)
	}
	next, ok := x.heads[k]
	if !ok {
		next = -1
	}
	x.heads[k] = int32(len(x.entries))
	x.entries = append(x.entries, payeeEntry{batch: b, row: int32(row), next: next, day: dayNumber(at)})
}

// rowRef names a row.
type rowRef struct {
	batch string
	row   int
}

// candidates lists the rows recorded with the payee and amount since
// (by day).
func (x *payeeIndex) candidates(payee []byte, a money.Amount, since time.Time) []rowRef {
	k := x.key(payee, a)
	x.mu.RLock()
	defer x.mu.RUnlock()
	i, ok := x.heads[k]
	if !ok {
		return nil
	}
	return x.chainLocked(i, dayNumber(since))
}

func (x *payeeIndex) chainLocked(i int32, first int32) []rowRef {
	var out []rowRef
	for ; i >= 0; i = x.entries[i].next {
		if e := x.entries[i]; e.day >= first {
			out = append(out, rowRef{x.names[e.batch], int(e.row)})
		}
	}
	return out
}

// candidatesAdd is candidates of the key k (payeeKey), then add of a row
// with it, in one visit of the index: the guard's step for a row of the
// intake.
func (x *payeeIndex) candidatesAdd(k uint64, since time.Time, batch string, row int, at time.Time) []rowRef {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.candidatesAddLocked(k, since, batch, row, at)
}

func (x *payeeIndex) candidatesAddLocked(k uint64, since time.Time, batch string, row int, at time.Time) []rowRef {
	var out []rowRef
	if i, ok := x.heads[k]; ok {
		out = x.chainLocked(i, dayNumber(since))
	}
	x.addLocked(k, batch, row, at)
	return out
}

// compact drops the entries recorded before since.
func (x *payeeIndex) compact(since time.Time) {
	first := dayNumber(since)
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.entries
	x.entries = make([]payeeEntry, 0, len(old))
	heads := make(map[uint64]int32, len(x.heads))
	// Keep the chains' order: walk every chain from its oldest kept entry.
	for k, i := range x.heads {
		var chain []payeeEntry
		for ; i >= 0; i = old[i].next {
			if old[i].day >= first {
				chain = append(chain, old[i])
			}
		}
		next := int32(-1)
		for j := len(chain) - 1; j >= 0; j-- {
			e := chain[j]
			e.next = next
			next = int32(len(x.entries))
			x.entries = append(x.entries, e)
		}
		if next >= 0 {
			heads[k] = next
		}
	}
	x.heads = heads
}

// load fills the index from the rows recorded since, in one pass (no
// order: a chain is read whole).
func (x *payeeIndex) load(ctx context.Context, db *DB, since time.Time) error {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM rows WHERE payee IS NOT NULL AND received_at >= ?`,
		formatTime(since)).Scan(&n); err != nil {
		return fmt.Errorf("load payees: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT batch_id, row_no, payee, amount_minor, currency, received_at FROM rows o
		WHERE payee IS NOT NULL AND received_at >= ? AND (state NOT IN ('failed', 'cancelled', 'returned') OR `+paidAfterAll+`)`,
		formatTime(since))
	if err != nil {
		return fmt.Errorf("load payees: %w", err)
	}
	defer rows.Close()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.heads = make(map[uint64]int32, n)
	x.entries = make([]payeeEntry, 0, n)
	var batch, at string
	var row int
	var payee []byte
	var a money.Amount
	for rows.Next() {
		if err := rows.Scan(&batch, &row, &payee, &a.Minor, &a.Currency, &at); err != nil {
			return fmt.Errorf("load payees: %w", err)
		}
		x.addLocked(x.key(payee, a), batch, row, parseTime(at))
	}
	return rows.Err()
}

// earlierPayee checks one row against the index: the best of the earlier
// rows with its payee and amount under another reference that count (paid
// or in flight, recorded within the window), read back from q; nil for
// none. self is the row itself (row 0: every row of that batch) and never
// counts.
//
// before, when set, is the row's own place in the intake (recorded at
// before.at with stream sequence before.seq): a candidate recorded in the
// same transaction that comes later in the stream is not earlier (an
// entry left by a write rolled back and recorded again). skipHeld leaves
// out rows still received and held (a release's check: each of those is
// checked at its own release).
func earlierPayee(q queryer, x *payeeIndex, payee []byte, a money.Amount, reference string, self rowRef, since time.Time,
	before *intakePlace, skipHeld bool) (*earlierRow, error) {
	return earlierAmong(q, x.candidates(payee, a, since), payee, a, reference, self, since, before, skipHeld)
}

// earlierAmong is earlierPayee over the index's candidates cands.
func earlierAmong(q queryer, cands []rowRef, payee []byte, a money.Amount, reference string, self rowRef, since time.Time,
	before *intakePlace, skipHeld bool) (*earlierRow, error) {
	var best *earlierRow
	for _, c := range cands {
		if c == self || self.row == 0 && c.batch == self.batch {
			continue
		}
		e := &earlierRow{kind: HoldDuplicate, batch: c.batch, no: c.row, payee: payee, amount: a}
		var p []byte
		var received, st string
		var seq int64
		var paid, held bool
		err := q.QueryRow(`SELECT o.reference, o.state, o.moved_at, o.payee, o.amount_minor, o.currency, o.received_at,
			(SELECT b.status FROM batches b WHERE b.id = o.batch_id), o.intake_seq,
			o.state IN ('failed', 'cancelled', 'returned') AND `+paidAfterAll+`, o.held FROM rows o WHERE o.batch_id = ? AND o.row_no = ?`,
			c.batch, c.row).Scan(&e.reference, &e.state, &e.movedAt, &p, &e.amount.Minor, &e.amount.Currency, &received, &st, &seq, &paid,
			&held)
		if err != nil {
			if isNoRows(err) {
				continue // a write rolled back
			}
			return nil, fmt.Errorf("read row %s/%d: %w", c.batch, c.row, err)
		}
		if paid {
			e.state = payout.StateSucceeded // the bank paid it after all
		}
		if !bytes.Equal(p, payee) || e.amount != a || e.reference == reference || st == "rejected" ||
			received < formatTime(since) || !countsForGuard(string(e.state)) {
			continue
		}
		if skipHeld && held && e.state == payout.StateReceived {
			continue // decided at its own release
		}
		if before != nil && c.batch != self.batch && received == before.at && uint64(seq) > before.seq {
			continue // later in this group's stream
		}
		if before != nil && c.batch == self.batch && c.row > self.row {
			continue // later in this file
		}
		if best == nil || e.better(best) {
			best = e
		}
	}
	return best, nil
}

// queryer reads one row: the writer's Tx or the read pool.
type queryer interface {
	QueryRow(query string, args ...any) *sql.Row
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// countsForGuard reports whether a row in state st counts as paid or in
// flight for the duplicate guard.
func countsForGuard(st string) bool {
	switch st {
	case "failed", "cancelled", "returned":
		return false
	}
	return true
}

// intakePlace is where a row stands in the intake: the time its group was
// recorded and its stream sequence.
type intakePlace struct {
	at  string
	seq uint64
}
