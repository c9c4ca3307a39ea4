package console_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/payrun/payrun/internal/payout"
)

// seed writes batches and rows straight into a ledger's database file (the
// schema the ledger made when it opened it), as the ledger's intake would
// have recorded them, for the pages' tests and benchmarks: a real SQLite
// file of the real schema, much faster to fill than through NATS.
type seed struct {
	db  *sql.DB
	now time.Time
}

func openSeed(tb testing.TB, path string) *seed {
	tb.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000&_journal_mode=WAL")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return &seed{db: db, now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
}

const seedTime = "2006-01-02T15:04:05.000000000Z"

// batchSpec is a batch to seed.
type batchSpec struct {
	name     string
	status   payout.BatchStatus
	rows     int
	uploader int64 // users.id
	by       string
	required int
	states   func(i int) (payout.State, string) // state and error code of row i (1-based)
	seen     time.Time
}

// batch seeds one batch and its rows and returns its id and file hash.
func (s *seed) batch(tb testing.TB, b batchSpec) (id, sha string) {
	tb.Helper()
	sum := sha256.Sum256([]byte(b.name))
	id, sha = payout.BatchID(sum[:]), hex.EncodeToString(sum[:])
	if b.seen.IsZero() {
		b.seen = s.now
	}
	total := int64(0)
	for i := 1; i <= b.rows; i++ {
		total += amountOf(i)
	}
	tx, err := s.db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	at := b.seen.UTC().Format(seedTime)
	var uploader any
	if b.uploader > 0 {
		uploader = b.uploader
	}
	if _, err := tx.Exec(`INSERT INTO batches (id, status, name, file_name, file_sha256, manifest_rows, manifest_totals, created_at,
		first_seen_at, accepted_at, rows_recorded, rows_terminal, uploaded_by, uploader_id, policy_version, approvals_required)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 0, ?)`,
		id, string(b.status), b.name, b.name+".csv", sha, b.rows, fmt.Sprintf(`{"RUB":%d}`, total), at, at, at, b.rows,
		b.by, uploader, b.required); err != nil {
		tb.Fatal(err)
	}
	st, err := tx.Prepare(`INSERT INTO rows (batch_id, row_no, line, reference, method, amount_minor, currency, recipient, destination,
		bin, last4, intake_seq, digest, received_at, state, error_code, reason, action_url, moved_at, updated_at)
		VALUES (?, ?, ?, ?, 'card', ?, 'RUB', ?, '424242******4242', '424242', '4242', ?, x'00', ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	terminal := 0
	for i := 1; i <= b.rows; i++ {
		state, code := payout.StateReceived, ""
		if b.states != nil {
			state, code = b.states(i)
		}
		if state.Terminal() {
			terminal++
		}
		action := ""
		if state == payout.StateActionRequired {
			action = fmt.Sprintf("http://127.0.0.1:1/sandbox/3ds/tok%d", i)
		}
		if _, err := st.Exec(id, i, i+1, fmt.Sprintf("E-%06d", i), amountOf(i), fmt.Sprintf("Иванов Иван %d", i), i, at,
			string(state), code, "", action, at, at); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := tx.Exec(`UPDATE batches SET rows_terminal = ? WHERE id = ?`, terminal, id); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return id, sha
}

func amountOf(i int) int64 { return 100000 + int64(i%1000)*101 }
