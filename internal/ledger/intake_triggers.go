package ledger

import (
	"fmt"
	"slices"
)

// The intake inserts its rows with no insert trigger on rows: it does
// their work itself. Any row trigger makes SQLite write the rows of a
// multi-row INSERT into a temporary table before inserting them, and runs
// a sub-program per row whose WHEN is evaluated inside it. Without the two
// triggers below SQLite executed 20k intake rows in 50-row INSERTs in
// 0.90 G instructions against 1.13 G with them (sqlite3VdbeExec, callgrind
// of the sqlite3 shell over the ledger's schema, dropping and restoring
// the triggers every 4000 rows included); BenchmarkRecordRows' SQLite step
// took 1.01–1.18 s against 1.37–1.60 s per 200k rows without them (pprof,
// under load).
//
// Every other insert into rows (a resubmit's child rows, test seeds, the
// archive's copy) keeps the triggers: the intake drops them inside its own
// savepoint, before its first INSERT of a group, and puts them back, as
// sqlite_master held them and in the order they were made, before it counts and guards the rows (or the
// writer rolls the savepoint back, schema and all). Readers never see the
// schema without them: they read committed states only (WAL).
const (
	// triggerCardWait sets card_wait for an encrypted_card row without a
	// destination hash (migration 0110); the intake's INSERT sets it.
	triggerCardWait = "rows_card_wait"
	// triggerCountsInsert counts a row in batch_counts unless its batch is
	// counted by its inserter (migrations 0101, 0120); while it is dropped
	// the intake counts every row it recorded (countRows).
	triggerCountsInsert = "batch_counts_insert"
)

// intakeTriggers are the insert triggers whose work the intake does.
var intakeTriggers = []string{triggerCardWait, triggerCountsInsert}

// droppedTriggers are the intake's triggers it dropped, with their SQL.
type droppedTriggers struct {
	names, sqls []string
}

// dropIntakeTriggers drops those of intakeTriggers that exist.
func dropIntakeTriggers(tx *Tx) (*droppedTriggers, error) {
	d := &droppedTriggers{}
	rows, err := tx.db.wc.QueryContext(tx.ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'trigger' AND tbl_name = 'rows' AND name IN (?, ?) ORDER BY rowid`, intakeTriggers[0], intakeTriggers[1])
	if err != nil {
		return nil, fmt.Errorf("read insert triggers: %w", err)
	}
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read insert triggers: %w", err)
		}
		d.names, d.sqls = append(d.names, name), append(d.sqls, sql)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read insert triggers: %w", err)
	}
	for _, name := range d.names {
		// Not a cached statement: its text is prepared anew each time. In
		// main: unqualified, SQLite would drop a TEMP trigger of the name first.
		if _, err := tx.db.wc.ExecContext(tx.ctx, `DROP TRIGGER main."`+name+`"`); err != nil {
			return nil, fmt.Errorf("drop trigger %s: %w", name, err)
		}
	}
	return d, nil
}

// has says the trigger name was dropped (false for a nil d).
func (d *droppedTriggers) has(name string) bool {
	return d != nil && slices.Contains(d.names, name)
}

// restore creates the dropped triggers again, as they were; a nil d has none.
func (d *droppedTriggers) restore(tx *Tx) error {
	if d == nil {
		return nil
	}
	for i, sql := range d.sqls {
		if _, err := tx.db.wc.ExecContext(tx.ctx, sql); err != nil {
			return fmt.Errorf("restore trigger %s: %w", d.names[i], err)
		}
	}
	d.names, d.sqls = nil, nil
	return nil
}
