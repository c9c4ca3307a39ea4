package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
)

// eachRaw runs a read on one of the pool's connections through the SQLite
// driver itself and calls fn with every row's values, as the driver gives
// them (int64, string, []byte, float64 or nil; the slice is reused from
// row to row). A report's reads of a batch go through it: database/sql's
// Scan (its conversions by reflection and the locking around each row) was
// ~8 % of a 100k-row report's CPU. args are int64 or string.
func eachRaw(ctx context.Context, pool *sql.DB, query string, args []any, fn func(rawRow) error) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("the SQLite driver's connection (%T) does not query", dc)
		}
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		rows, err := qc.QueryContext(ctx, query, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		r := rawRow{v: make([]driver.Value, len(rows.Columns()))}
		for {
			if err := rows.Next(r.v); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if err := fn(r); err != nil {
				return err
			}
		}
	})
}

// rawRow is a row's values as the driver gave them (eachRaw). A value of
// another type than a column's is an error (check), never a silent zero.
type rawRow struct{ v []driver.Value }

// rawCheck collects the first value of an unexpected type.
type rawCheck struct{ err error }

func (c *rawCheck) bad(r rawRow, i int, want string) {
	if c.err == nil {
		c.err = fmt.Errorf("column %d: %T, want %s", i+1, r.v[i], want)
	}
}

// text is a TEXT column (NULL reads as "").
func (c *rawCheck) text(r rawRow, i int) string {
	switch v := r.v[i].(type) {
	case string:
		return v
	case nil:
		return ""
	case []byte:
		return string(v)
	}
	c.bad(r, i, "text")
	return ""
}

// int is an INTEGER column (NULL reads as 0).
func (c *rawCheck) int(r rawRow, i int) int64 {
	switch v := r.v[i].(type) {
	case int64:
		return v
	case nil:
		return 0
	}
	c.bad(r, i, "an integer")
	return 0
}

// nullInt is an INTEGER column that may be NULL.
func (c *rawCheck) nullInt(r rawRow, i int) (int64, bool) {
	if r.v[i] == nil {
		return 0, false
	}
	return c.int(r, i), true
}
