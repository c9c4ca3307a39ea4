package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/payrun/payrun/internal/metrics"
)

// Tx is the writer's open transaction. Every operation in one group commit
// shares it and its one Now, read once from the clock.
type Tx struct {
	db  *DB
	ctx context.Context
	Now time.Time
	// after holds work to run once the transaction committed (publishing
	// jobs, for example); it is dropped when the operation's savepoint is
	// rolled back or the commit fails.
	after []func()
}

// stmt returns the prepared statement for query on the writer connection.
func (tx *Tx) stmt(query string) (*sql.Stmt, error) {
	if s, ok := tx.db.stmts[query]; ok {
		return s, nil
	}
	s, err := tx.db.wc.PrepareContext(tx.ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	tx.db.stmts[query] = s
	return s, nil
}

// Exec runs a statement.
func (tx *Tx) Exec(query string, args ...any) (sql.Result, error) {
	s, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(tx.ctx, args...)
}

// execRaw runs a statement on the writer's driver connection, with args
// that are driver values already (int64, string, []byte, nil): the
// intake's multi-row INSERT, whose 903 arguments database/sql would check
// one by one into a new []driver.NamedValue of 36 KB per statement (the
// largest allocation of the SQLite side of intake, 144 MB per 200k rows,
// each a large object with its pages faulted in anew). The statement is
// prepared once and only used inside Raw, with the connection locked.
//
// A nil argument is left unbound (SQLite reads an unbound parameter as
// NULL: the driver clears a statement's bindings before binding anew), and
// so is "" when sparse is set, for a query that reads every parameter that
// may be "" as coalesce(?N, the empty text): each bind is a cgo call and a copy of the
// value, about a third of the intake's insert in the writer.
func (tx *Tx) execRaw(query string, args []any, sparse bool) (driver.Result, error) {
	var res driver.Result
	err := tx.db.wc.Raw(func(dc any) error {
		st, ok := tx.db.rawStmts[query]
		if !ok {
			p, ok := dc.(driver.ConnPrepareContext)
			if !ok {
				return fmt.Errorf("prepare: the driver's connection %T cannot prepare with a context", dc)
			}
			var err error
			if st, err = p.PrepareContext(tx.ctx, query); err != nil {
				return fmt.Errorf("prepare: %w", err)
			}
			if tx.db.rawStmts == nil {
				tx.db.rawStmts = map[string]driver.Stmt{}
			}
			tx.db.rawStmts[query] = st
		}
		ex, ok := st.(driver.StmtExecContext)
		if !ok {
			return fmt.Errorf("exec: the driver's statement %T cannot execute with a context", st)
		}
		nv := tx.db.rawArgs[:0]
		for i, a := range args {
			switch v := a.(type) {
			case nil:
				continue
			case []byte:
				if v == nil {
					continue
				}
			case string:
				if sparse && v == "" {
					continue
				}
			}
			nv = append(nv, driver.NamedValue{Ordinal: i + 1, Value: a})
		}
		tx.db.rawArgs = nv
		var err error
		res, err = ex.ExecContext(tx.ctx, nv)
		clear(nv)
		return err
	})
	return res, err
}

// QueryRow runs a query expected to return at most one row.
func (tx *Tx) QueryRow(query string, args ...any) *sql.Row {
	s, err := tx.stmt(query)
	if err != nil {
		// Surface the error through Scan.
		return tx.db.wc.QueryRowContext(tx.ctx, query, args...)
	}
	return s.QueryRowContext(tx.ctx, args...)
}

// Query runs a query.
func (tx *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	s, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(tx.ctx, args...)
}

// After schedules fn to run after the transaction committed.
func (tx *Tx) After(fn func()) { tx.after = append(tx.after, fn) }

// op is one unit of work for the writer goroutine.
type op struct {
	fn   func(tx *Tx) error
	done func(error) // called from the writer goroutine after the commit; must not block
}

// writer applies operations one group at a time: it takes every pending
// operation (up to max), runs each under its own savepoint inside one
// transaction, commits once and only then reports to every caller. A
// failing operation is rolled back to its savepoint and does not disturb
// the others.
type writer struct {
	db     *DB
	ops    chan *op
	max    int
	mu     sync.RWMutex // held for reading while sending on ops
	closed bool
	quit   chan struct{}
	done   chan struct{}
}

func newWriter(db *DB, max int) *writer {
	if max <= 0 {
		max = 256
	}
	return &writer{db: db, ops: make(chan *op, 4*max), max: max, quit: make(chan struct{}), done: make(chan struct{})}
}

// ErrClosed is returned for work submitted after the ledger stopped.
var ErrClosed = errors.New("ledger closed")

// Do runs fn in the writer's next transaction and returns once that
// transaction committed (nil) or fn or the commit failed.
func (w *writer) Do(ctx context.Context, fn func(tx *Tx) error) error {
	ch := make(chan error, 1)
	o := &op{fn: fn, done: func(err error) { ch <- err }}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.ops <- o:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued, the operation is applied or refused; wait for it even if
	// ctx ends, so the caller never mistakes a committed write for a failure.
	return <-ch
}

// Submit queues fn without waiting; done is called after the commit with
// the outcome, from the writer goroutine, so it must not block.
func (w *writer) Submit(fn func(tx *Tx) error, done func(error)) {
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		done(ErrClosed)
		return
	}
	w.ops <- &op{fn: fn, done: done}
	w.mu.RUnlock()
}

// run is the writer goroutine.
func (w *writer) run() {
	defer close(w.done)
	batch := make([]*op, 0, w.max)
	for {
		select {
		case o := <-w.ops:
			batch = append(batch[:0], o)
		case <-w.quit:
			// Answer what was queued before the quit.
			for {
				select {
				case o := <-w.ops:
					o.done(ErrClosed)
				default:
					return
				}
			}
		}
	drain:
		for len(batch) < w.max {
			select {
			case o := <-w.ops:
				batch = append(batch, o)
			default:
				break drain
			}
		}
		w.apply(batch)
	}
}

func (w *writer) stop() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return
	}
	w.closed = true
	w.mu.Unlock()
	close(w.quit)
	<-w.done
}

// apply runs one group of operations in one transaction.
func (w *writer) apply(batch []*op) {
	ctx := context.Background()
	start := time.Now()
	tx := &Tx{db: w.db, ctx: ctx, Now: w.db.Now().UTC()}
	errs := make([]error, len(batch))
	var after []func()
	if _, err := w.db.wc.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		for _, o := range batch {
			o.done(fmt.Errorf("begin: %w", err))
		}
		return
	}
	for i, o := range batch {
		tx.after = nil
		if _, err := w.db.wc.ExecContext(ctx, "SAVEPOINT op"); err != nil {
			errs[i] = fmt.Errorf("savepoint: %w", err)
			continue
		}
		err := safeRun(o.fn, tx)
		if err != nil {
			errs[i] = err
			if _, rerr := w.db.wc.ExecContext(ctx, "ROLLBACK TO op"); rerr != nil {
				errs[i] = errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
			}
		} else {
			after = append(after, tx.after...)
		}
		if _, err := w.db.wc.ExecContext(ctx, "RELEASE op"); err != nil && errs[i] == nil {
			errs[i] = fmt.Errorf("release savepoint: %w", err)
		}
	}
	if err := w.db.checkFence(); err != nil {
		// The lease is gone (or going): nothing of this group is written.
		w.db.wc.ExecContext(ctx, "ROLLBACK")
		for _, o := range batch {
			o.done(err)
		}
		return
	}
	if _, err := w.db.wc.ExecContext(ctx, "COMMIT"); err != nil {
		w.db.wc.ExecContext(ctx, "ROLLBACK")
		for _, o := range batch {
			o.done(fmt.Errorf("commit: %w", err))
		}
		return
	}
	metrics.Commit.Observe(time.Since(start).Seconds())
	metrics.CommitOps.Add(float64(len(batch)))
	for _, fn := range after {
		fn()
	}
	for i, o := range batch {
		o.done(errs[i])
	}
}

// safeRun turns a panic in an operation into its error, so one bad request
// cannot stop the only writer.
func safeRun(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ledger operation panicked: %v", r)
		}
	}()
	return fn(tx)
}
