package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/payrun/payrun/internal/payout"
)

// What the seal needs of an open batch's rows, kept by the intake as it
// records them, so that sealing a batch does not read its rows again.
//
// Decision: the seal read a batch's rows three times (the count, the sums
// per currency and method, the digest in row order): 0.35–0.42 of the
// writer's 2.86 CPU-seconds of a 200k-row intake (pprof, 2026-12-02,
// bench/README.md "s2"), about 2 µs a row on the single writer, and each
// read walks every page of the batch's rows. The intake sees every row it
// records, in order, so it keeps the three answers as it goes, and the
// rows are read only when it cannot vouch for them.
//
// The kept answers (sealAcc) stand for exactly the batch's rows 1..next-1,
// recorded in that order by this service since it made the batch record.
// Anything else — a batch made before this process started, a row out of
// order or recorded already (a redelivery), a row left out (past 64 bits),
// an amount sum past 64 bits — drops them, and the seal reads the rows as
// before. They change only with a committed group (Tx.After): a group
// rolled back or not committed leaves them as they were. At the seal they
// are checked against what SQLite counted in the same transaction
// (batches.rows_recorded, batch_counts per currency); any difference reads
// the rows instead.

// sealAcc is an open batch's rows as the seal reads them.
type sealAcc struct {
	next  int       // rows 1..next-1 are recorded, in this order
	keyed hash.Hash // SHA-256 over coalesce(row_digest, digest), in row order
	// plainLost: a row carried a keyed digest, so the SHA-256 over the
	// rows' message digests (an older manifest's) is no longer keyed's
	// and is not kept: such a manifest reads the rows. (SHA-256 is ~1.3k
	// instructions a row on this machine's CPU, which has no SHA
	// instructions: a second hash per row was a third of the seal's cost.)
	plainLost bool
	groups    map[sealKey]*sealSum
}

// sealKey is the seal's group of rows: a currency and a method.
type sealKey struct {
	currency string
	method   payout.Method
}

// sealSum is a group's rows, total and largest amount.
type sealSum struct {
	rows           int
	total, largest int64
}

func newSealAcc() *sealAcc {
	return &sealAcc{next: 1, keyed: sha256.New(), groups: map[sealKey]*sealSum{}}
}

func (a *sealAcc) clone() *sealAcc {
	keyed, err := a.keyed.(hash.Cloner).Clone()
	if err != nil {
		return nil
	}
	c := &sealAcc{next: a.next, keyed: keyed, plainLost: a.plainLost, groups: make(map[sealKey]*sealSum, len(a.groups))}
	for k, s := range a.groups {
		v := *s
		c.groups[k] = &v
	}
	return c
}

// add takes the next row in; false when it is not the next row or its
// group's total passes 64 bits (the kept answers are then dropped).
func (a *sealAcc) add(m *intakeMsg) bool {
	r := m.Row
	if r.Row != a.next {
		return false
	}
	k := sealKey{r.Amount.Currency, r.Method}
	g := a.groups[k]
	if g == nil {
		g = &sealSum{largest: r.Amount.Minor}
		a.groups[k] = g
	}
	t, ok := addMinor(g.total, r.Amount.Minor)
	if !ok {
		return false
	}
	g.rows++
	g.total = t
	g.largest = max(g.largest, r.Amount.Minor)
	a.keyed.Write(m.identity())
	if r.RowDigest != nil {
		a.plainLost = true
	}
	a.next++
	return true
}

// sealAccs are the kept answers of the open batches a group of intake
// messages touches, staged for the group's commit; a nil entry drops a
// batch's.
type sealAccs struct {
	s      *Service
	staged map[string]*sealAcc
}

// start keeps answers for a batch the group made (no rows yet).
func (x *sealAccs) start(batch string) {
	if x.staged == nil {
		x.staged = map[string]*sealAcc{}
	}
	x.staged[batch] = newSealAcc()
}

// get returns the batch's staged answers, staging a copy of the committed
// ones first; nil: none.
func (x *sealAccs) get(batch string) *sealAcc {
	if a, ok := x.staged[batch]; ok {
		return a
	}
	var a *sealAcc
	if c := x.s.seals[batch]; c != nil {
		a = c.clone()
	}
	if x.staged == nil {
		x.staged = map[string]*sealAcc{}
	}
	x.staged[batch] = a
	return a
}

// add takes rows of one batch just recorded, in order.
func (x *sealAccs) add(msgs []intakeMsg) {
	batch := msgs[0].Row.Batch
	a := x.get(batch)
	if a == nil {
		return
	}
	for i := range msgs {
		if !a.add(&msgs[i]) {
			x.drop(batch)
			return
		}
	}
}

// drop drops a batch's answers.
func (x *sealAccs) drop(batch string) {
	if _, ok := x.staged[batch]; ok || x.s.seals[batch] != nil {
		if x.staged == nil {
			x.staged = map[string]*sealAcc{}
		}
		x.staged[batch] = nil
	}
}

// commit makes the staged answers the service's once tx commits.
func (x *sealAccs) commit(tx *Tx) {
	if len(x.staged) == 0 {
		return
	}
	staged, s := x.staged, x.s
	tx.After(func() {
		if s.seals == nil {
			s.seals = map[string]*sealAcc{}
		}
		for b, a := range staged {
			if a == nil {
				delete(s.seals, b)
			} else {
				s.seals[b] = a
			}
		}
	})
}

// rowFacts are what the seal reads of a batch's rows.
type rowFacts struct {
	count, maxRow int
	groups        map[sealKey]sealSum
	digest        string // payout.DigestRows over the rows, keyed or not as asked
	overflow      bool   // a group's total does not fit in 64 bits
}

// facts are the kept answers as rowFacts, if what SQLite counted in tx
// agrees with them (the rows recorded, their number and amount per
// currency); ok is false otherwise.
func (a *sealAcc) facts(tx *Tx, batch string, keyed bool) (f rowFacts, ok bool, err error) {
	if !keyed && a.plainLost {
		return f, false, nil
	}
	var recorded int
	if err := tx.QueryRow(`SELECT rows_recorded FROM batches WHERE id = ?`, batch).Scan(&recorded); err != nil {
		return f, false, fmt.Errorf("read batch %s: %w", batch, err)
	}
	if recorded != a.next-1 {
		return f, false, nil
	}
	type counted struct {
		rows  int
		total int64
	}
	want := map[string]counted{}
	for k, g := range a.groups {
		c := want[k.currency]
		t, ok := addMinor(c.total, g.total)
		if !ok {
			return f, false, nil
		}
		want[k.currency] = counted{c.rows + g.rows, t}
	}
	rows, err := tx.Query(`SELECT currency, sum(rows), sum(amount_minor) FROM batch_counts WHERE batch_id = ? GROUP BY currency`, batch)
	if err != nil {
		return f, false, fmt.Errorf("read counts of %s: %w", batch, err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var cur string
		var c counted
		if err := rows.Scan(&cur, &c.rows, &c.total); err != nil {
			return f, false, nil // a sum past 64 bits: read the rows
		}
		if c.rows == 0 && c.total == 0 {
			continue
		}
		if want[cur] != c {
			return f, false, nil
		}
		seen++
	}
	if err := rows.Err(); err != nil {
		return f, false, nil
	}
	if seen != len(want) {
		return f, false, nil
	}
	f = rowFacts{count: a.next - 1, maxRow: a.next - 1, groups: make(map[sealKey]sealSum, len(a.groups))}
	for k, g := range a.groups {
		f.groups[k] = *g
	}
	f.digest = hex.EncodeToString(a.keyed.Sum(nil))
	return f, true, nil
}

// readRowFacts reads what the seal needs from the batch's rows.
func readRowFacts(tx *Tx, batch string, keyed bool) (rowFacts, error) {
	f := rowFacts{groups: map[sealKey]sealSum{}}
	if err := tx.QueryRow(`SELECT count(*), coalesce(max(row_no), 0) FROM rows WHERE batch_id = ?`, batch).
		Scan(&f.count, &f.maxRow); err != nil {
		return f, fmt.Errorf("count rows of %s: %w", batch, err)
	}
	rows, err := tx.Query(`SELECT currency, method, count(*), sum(amount_minor), max(amount_minor) FROM rows WHERE batch_id = ?
		GROUP BY currency, method`, batch)
	if err != nil {
		return f, fmt.Errorf("sum rows of %s: %w", batch, err)
	}
	for rows.Next() {
		var k sealKey
		var g sealSum
		if err := rows.Scan(&k.currency, &k.method, &g.rows, &g.total, &g.largest); err != nil {
			rows.Close()
			return f, fmt.Errorf("sum rows of %s: %w", batch, err)
		}
		f.groups[k] = g
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		if isIntegerOverflow(err) {
			f.overflow = true
			return f, nil
		}
		return f, fmt.Errorf("sum rows of %s: %w", batch, err)
	}
	if f.digest, err = rowsDigest(tx, batch, keyed); err != nil {
		return f, err
	}
	return f, nil
}

// verifySealAcc, set by the package's tests, makes every seal that has
// kept answers read the rows as well and fail when the two differ.
var verifySealAcc = false

// sealRowFacts are the batch's rowFacts: the kept answers when they
// stand, else read from the rows.
func (x *sealAccs) sealRowFacts(tx *Tx, batch string, keyed bool) (rowFacts, error) {
	a := x.get(batch)
	x.drop(batch) // sealed: nothing more is added
	if a != nil {
		f, ok, err := a.facts(tx, batch, keyed)
		if err != nil {
			return f, err
		}
		if ok {
			if verifySealAcc {
				r, err := readRowFacts(tx, batch, keyed)
				if err != nil {
					return f, err
				}
				if !r.equal(f) {
					return f, fmt.Errorf("seal of %s: the intake's kept answers %+v differ from the rows' %+v", batch, f, r)
				}
			}
			x.s.stats.sealKept.Add(1)
			return f, nil
		}
	}
	return readRowFacts(tx, batch, keyed)
}

func (f rowFacts) equal(o rowFacts) bool {
	if f.count != o.count || f.maxRow != o.maxRow || f.digest != o.digest || f.overflow != o.overflow || len(f.groups) != len(o.groups) {
		return false
	}
	for k, g := range f.groups {
		if o.groups[k] != g {
			return false
		}
	}
	return true
}
