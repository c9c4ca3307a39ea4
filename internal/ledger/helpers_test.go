package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/intake"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/money"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
	"github.com/payrun/payrun/internal/queue/natsserver"
	"github.com/payrun/payrun/internal/testutil"
)

// clock is the tests' settable clock; newClock starts it at a fixed time.
type clock = testutil.Clock

func newClock() *clock { return testutil.NewClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)) }

var quiet = testutil.QuietLogger()

// testConfig has thresholds that the tests move the clock past.
func testConfig() Config {
	return Config{
		StuckAfter:      time.Minute,
		PollAfter:       time.Minute,
		PollMax:         8 * time.Minute,
		DoubtDeadline:   time.Hour,
		ReleaseInterval: 20 * time.Millisecond,
		SweepInterval:   time.Hour, // tests call Sweep themselves
		Logger:          quiet,
	}
}

// openDB opens a ledger file in dir with the clock.
func openDB(t *testing.T, dir string, c *clock) *DB {
	t.Helper()
	db, err := Open(filepath.Join(dir, "ledger.db"))
	require.NoError(t, err)
	db.Now = c.Now
	return db
}

// newService returns a service over a fresh database, not connected to
// NATS: tests drive it through its methods.
func newService(t *testing.T) (*Service, *clock) {
	t.Helper()
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	s := NewService(db, testConfig())
	t.Cleanup(func() {
		s.Close()
		db.Close()
	})
	noApprovals(t, s)
	return s, c
}

// testAdmin is who changes the tests' policies and users.
var testAdmin = auth.HostActor("test")

// noApprovals saves a policy under which no batch needs approval (unless
// its manifest asks), for the tests about everything after it.
func noApprovals(t testing.TB, s *Service) {
	t.Helper()
	_, err := s.SetPolicy(context.Background(), testAdmin, auth.Policy{Approvals: 1})
	require.NoError(t, err)
}

// natsEnv is an embedded nats-server and a connection to it.
type natsEnv struct {
	srv *natsserver.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func startNATS(t testing.TB, opts ...jetstream.JetStreamOpt) *natsEnv {
	t.Helper()
	srv := testutil.NATS(t)
	nc, js := testutil.JetStream(t, srv.URL(), opts...)
	return &natsEnv{srv: srv, nc: nc, js: js}
}

// startService runs a service over db on the NATS env.
func startService(t *testing.T, db *DB, env *natsEnv, cfg Config) *Service {
	t.Helper()
	s := NewService(db, cfg)
	noApprovals(t, s)
	require.NoError(t, s.Start(context.Background(), env.nc))
	t.Cleanup(func() { s.Close() })
	return s
}

// testBatch is a batch built in memory: its row messages and manifest.
type testBatch struct {
	ID       string
	Rows     []*payout.Row
	Data     [][]byte
	Manifest *payout.Manifest
}

// makeBatch builds n card rows of 1000.00 RUB + row kopecks, and a
// manifest that matches them.
func makeBatch(n int, seed string) *testBatch {
	var rows []*payout.Row
	for i := 1; i <= n; i++ {
		rows = append(rows, &payout.Row{
			Reference: fmt.Sprintf("E-%05d", i), Method: payout.MethodCard,
			Amount:   money.New(100000+int64(i), "RUB"),
			FullName: "Ivan Petrov " + strconv.Itoa(i),
			Card:     &payout.Card{Sealed: "c2VhbGVk" + strconv.Itoa(i), BIN: "424242", Last4: "4242"},
			Meta:     map[string]string{"employee": strconv.Itoa(i)},
		})
	}
	return makeRows(seed, rows)
}

// uniqueBatch is makeBatch with references of its own (seed/E-00001…),
// so the duplicate guard holds none of them for another batch's.
func uniqueBatch(n int, seed string) *testBatch {
	b := makeBatch(n, seed)
	for _, r := range b.Rows {
		r.Reference = strings.ReplaceAll(seed, " ", "-") + "/" + r.Reference
	}
	return makeRows(seed, b.Rows)
}

// makeRows makes a batch of the rows given (their batch, row number and
// line are filled in) and a manifest that matches them.
func makeRows(seed string, rows []*payout.Row) *testBatch {
	sum := sha256.Sum256([]byte(seed))
	b := &testBatch{ID: payout.BatchID(sum[:])}
	totals := money.Totals{}
	var digests [][]byte
	for i, r := range rows {
		r.Batch, r.Index, r.Line = b.ID, i+1, i+2
		data := intake.EncodeRow(r)
		d := sha256.Sum256(data)
		digests = append(digests, d[:])
		totals.Add(r.Amount)
		b.Rows = append(b.Rows, r)
		b.Data = append(b.Data, data)
	}
	b.Manifest = &payout.Manifest{Batch: b.ID, Name: "test " + seed, FileName: seed + ".csv",
		FileSHA256: hex.EncodeToString(sum[:]), Rows: len(rows), Totals: totals, RowsSHA256: payout.DigestRows(digests),
		CreatedAt: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	return b
}

// msgs returns the batch as intake messages (rows then manifest), with
// stream sequences from start.
func (b *testBatch) msgs(start uint64) []intakeMsg {
	var out []intakeMsg
	for i, data := range b.Data {
		m := intakeMsg{Seq: start + uint64(i), Digest: sha256.Sum256(data)}
		// As the intake's parse does: a message that does not read is
		// recorded as invalid (an intake_invalid exception), alone.
		if r, err := parseRow(data); err != nil {
			m.Invalid = err.Error()
		} else {
			m.Row = r
		}
		out = append(out, m)
	}
	raw, _ := intake.EncodeManifest(b.Manifest)
	m := *b.Manifest
	out = append(out, intakeMsg{Seq: start + uint64(len(b.Data)), Digest: sha256.Sum256(raw), Manifest: &m, Raw: raw})
	return out
}

// record feeds intake messages to the service's writer, as the intake
// consumer would.
func record(t *testing.T, s *Service, msgs []intakeMsg) *intakeResult {
	t.Helper()
	var res *intakeResult
	require.NoError(t, s.w.Do(context.Background(), func(tx *Tx) error {
		var err error
		res, err = s.recordIntake(tx, msgs)
		return err
	}))
	return res
}

// chunks are the batch's rows as chunks of k rows (rows 1..k, k+1..2k, …),
// with each chunk's first row.
func (b *testBatch) chunks(k int) (data [][]byte, first []int) {
	for lo := 0; lo < len(b.Data); lo += k {
		hi := min(lo+k, len(b.Data))
		c := intake.AppendChunkHead(nil, lo+1, hi-lo)
		for _, d := range b.Data[lo:hi] {
			c = intake.AppendChunkRow(c, d)
		}
		data, first = append(data, c), append(first, lo+1)
	}
	return data, first
}

// chunkMsg is the message of a chunk of count rows of batch from first.
func chunkMsg(batch string, first, count int, data []byte) *nats.Msg {
	return &nats.Msg{Subject: queue.IntakeRowSubject(batch), Data: data, Header: nats.Header{
		jetstream.MsgIDHeader: []string{queue.ChunkMsgID(batch, first, count)},
		queue.HeaderBatch:     []string{batch},
		queue.HeaderRow:       []string{strconv.Itoa(first)},
		queue.HeaderKind:      []string{"rows"},
	}}
}

// publishChunks sends the batch to PAYRUN_INTAKE in chunks of k rows,
// then its manifest.
func (b *testBatch) publishChunks(t *testing.T, js jetstream.JetStream, k int) {
	t.Helper()
	data, first := b.chunks(k)
	for i, d := range data {
		_, err := js.PublishMsgAsync(chunkMsg(b.ID, first[i], min(k, len(b.Data)-first[i]+1), d))
		require.NoError(t, err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publish timed out")
	}
	b.publishManifest(t, js)
}

// publish sends the batch to PAYRUN_INTAKE as ingest does.
func (b *testBatch) publish(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	for i, data := range b.Data {
		msg := &nats.Msg{Subject: queue.IntakeRowSubject(b.ID), Data: data, Header: nats.Header{
			jetstream.MsgIDHeader: []string{queue.RowMsgID(b.ID, i+1)},
			queue.HeaderBatch:     []string{b.ID},
			queue.HeaderRow:       []string{strconv.Itoa(i + 1)},
			queue.HeaderKind:      []string{"row"},
		}}
		_, err := js.PublishMsgAsync(msg)
		require.NoError(t, err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publish timed out")
	}
	b.publishManifest(t, js)
}

// publishManifest sends the batch's manifest to PAYRUN_INTAKE.
func (b *testBatch) publishManifest(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	raw, _ := intake.EncodeManifest(b.Manifest)
	_, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: queue.IntakeManifestSubject(b.ID), Data: raw, Header: nats.Header{
		jetstream.MsgIDHeader: []string{queue.ManifestMsgID(b.ID)},
		queue.HeaderBatch:     []string{b.ID},
		queue.HeaderKind:      []string{"manifest"},
	}})
	require.NoError(t, err)
}

// mustRow reads a row.
func mustRow(t *testing.T, s *Service, batch string, row int) *ledgerapi.RowState {
	t.Helper()
	r, err := s.db.Row(batch, row)
	require.NoError(t, err)
	return r
}

// summary reads a batch summary.
func summary(t *testing.T, db *DB, batch string) *ledgerapi.BatchSummary {
	t.Helper()
	b, err := db.Batch(context.Background(), batch)
	require.NoError(t, err)
	return b
}

func hexDecode(dst []byte, s string) (int, error) { return hex.Decode(dst, []byte(s)) }

// ledgerBefore is a ledger file with every migration before the one named
// (e.g. "migrations/0160") applied, open through database/sql alone, and
// its path: a ledger as an older payrun left it, for the tests that
// migrate it and compare what it reads.
func ledgerBefore(t *testing.T, first string) (string, *sql.DB) {
	t.Helper()
	path := t.TempDir() + "/ledger.db"
	old, err := sql.Open("sqlite3", "file:"+path)
	require.NoError(t, err)
	t.Cleanup(func() { old.Close() })
	_, err = old.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL) STRICT`)
	require.NoError(t, err)
	for _, name := range applyMigrationsBefore(t, old, first) {
		_, err = old.Exec(`INSERT INTO schema_migrations VALUES (?, '')`, name)
		require.NoError(t, err)
	}
	return path, old
}

// rawLedgerBefore is a database/sql handle on a new ledger file (WAL,
// synchronous=NORMAL, one connection) migrated up to before first, as the
// benchmarks of old and new table forms use it; closed when b ends.
func rawLedgerBefore(b *testing.B, first string) *sql.DB {
	b.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(b.TempDir(), "l.db")+"?_journal_mode=WAL&_synchronous=NORMAL")
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	applyMigrationsBefore(b, db, first)
	return db
}

// applyMigrationsBefore runs on db, in order, the embedded migrations whose
// names sort before first, and returns their names.
func applyMigrationsBefore(tb testing.TB, db *sql.DB, first string) []string {
	tb.Helper()
	names, err := migrationNames()
	require.NoError(tb, err)
	var applied []string
	for _, name := range names {
		if name >= first {
			break
		}
		body, err := migrationFS.ReadFile(name)
		require.NoError(tb, err)
		_, err = db.Exec(string(body))
		require.NoError(tb, err, name)
		applied = append(applied, name)
	}
	return applied
}

// queryAll reads a query's rows, every value as the driver gives it.
func queryAll(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}, query string, args ...any) [][]any {
	t.Helper()
	rows, err := q.Query(query, args...)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		out = append(out, vals)
	}
	require.NoError(t, rows.Err())
	return out
}

// rowsTriggers is every trigger on rows with its SQL, in the order they
// were made (the intake puts back the ones it drops in that order).
func rowsTriggers(t *testing.T, s *Service) string {
	t.Helper()
	var out []string
	rows, err := s.db.r.Query(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'rows' ORDER BY rowid`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var name, sql string
		require.NoError(t, rows.Scan(&name, &sql))
		out = append(out, name+": "+sql)
	}
	require.NoError(t, rows.Err())
	return strings.Join(out, "\n")
}

// openMigrated opens the ledger file at path (migrating it) with a running
// writer, both closed when the test ends.
func openMigrated(t *testing.T, path string) (*DB, *writer) {
	t.Helper()
	db, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	w := newWriter(db, 1)
	go w.run()
	t.Cleanup(w.stop)
	return db, w
}
