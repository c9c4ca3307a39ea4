package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
	"github.com/payrun/payrun/internal/queue"
)

// TestRev11ResubmitAfterRestoreOfTheParent: a ledger restored from a
// backup taken before a resubmit lacks the child batch, while the bank
// paid the child's row (its webhooks, in PAYRUN_HOOKS, name the child's
// row and the reference). Resubmitting the parent's failed rows again
// (another selection makes another child id, so new idempotency keys)
// must not release a row the bank reported paid: it is refused or held.
func TestRev11ResubmitAfterRestoreOfTheParent(t *testing.T) {
	ctx := context.Background()
	env := startNATS(t)
	require.NoError(t, queue.EnsureStreams(ctx, env.js, queue.Config{}))
	c := newClock()
	dir := t.TempDir()
	db := openDB(t, dir, c)
	s := startService(t, db, env, testConfig())
	p := releaseBatch(t, s, 3, t.Name())
	finish(t, s, p.ID, 1, payout.StateFailed, "card_number_does_not_exist")
	finish(t, s, p.ID, 2, payout.StateFailed, "card_number_does_not_exist")
	finish(t, s, p.ID, 3, payout.StateSucceeded, "")

	// The backup, taken before the resubmit.
	backup := filepath.Join(t.TempDir(), "backup.db")
	snapshotLedger(t, db.Path(), backup)

	reply, err := s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: p.ID, Rows: []int{1}, By: "anna", Reason: "card fixed"})
	require.NoError(t, err)
	child := reply.Batch.Batch
	// The bank pays the child's row; its webhooks are in PAYRUN_HOOKS.
	for _, typ := range []string{"ready_to_confirm", "payment_finished"} {
		body := fmt.Sprintf(`{"type":%q,"session":{"id":"ps_child","status":"in_progress","payout_list":[{"id":"po_child","status":"succeeded","metadata":{"payrun":"%s/1","reference":%q}}]}}`,
			typ, child, p.Rows[0].Reference)
		publishHook(t, env.js, typ, []byte(body))
	}
	s.Close()
	require.NoError(t, db.Close())

	// The disk is lost; the ledger is restored from the backup.
	rs := restoredService(t, backup, c, env)
	require.Equal(t, payout.StateFailed, mustRow(t, rs, p.ID, 1).State, "the restored record lacks the resubmit")

	// Someone resubmits every failed row: rows 1 and 2, a new child id.
	// Row 1's reference was paid by the bank in the lost child: held, the
	// hold naming it; row 2 goes.
	again, err := rs.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: p.ID, Failed: true, By: "anna", Reason: "card fixed"})
	require.NoError(t, err)
	require.NotEqual(t, child, again.Batch.Batch)
	require.Equal(t, []ledgerapi.Resubmitted{{ParentRow: 1, ChildRow: 1}, {ParentRow: 2, ChildRow: 2}}, again.Rows)
	require.NoError(t, rs.ReleaseDue(ctx))
	require.Equal(t, payout.StateReceived, mustRow(t, rs, again.Batch.Batch, 1).State,
		"the bank paid %s in batch %s row 1; resubmitted again, it must not be released", p.Rows[0].Reference, child)
	require.Equal(t, payout.StateQueued, mustRow(t, rs, again.Batch.Batch, 2).State)
	h := holdsOf(t, rs, again.Batch.Batch)
	require.Len(t, h, 1)
	require.Equal(t, HoldRepeat, h[1].Kind)
	require.Equal(t, child, h[1].EarlierBatch)
	require.Contains(t, h[1].Reason, p.Rows[0].Reference+" was paid on ")
	require.Contains(t, h[1].Reason, "this ledger does not have that batch")

	// A corrected re-export uploaded after the restore: the same.
	re := makeRows("re-export", []*payout.Row{p.Rows[0]})
	record(t, rs, re.msgs(nextSeq.Add(1000)))
	h = holdsOf(t, rs, re.ID)
	require.Len(t, h, 1)
	require.Equal(t, child, h[1].EarlierBatch)
}

// TestRev11SameResubmitAfterRestore: the same resubmit asked again after
// the restore makes the same child id, so the child's row is the row the
// bank's webhooks name: before its release it adopts the session they
// name and waits in doubt for the bank's word, never a new session (a
// two-step create repeated with its key gets idempotency_key_already_exists,
// and the processor would open a new attempt beside the paid one).
func TestRev11SameResubmitAfterRestore(t *testing.T) {
	ctx := context.Background()
	env := startNATS(t)
	require.NoError(t, queue.EnsureStreams(ctx, env.js, queue.Config{}))
	c := newClock()
	dir := t.TempDir()
	db := openDB(t, dir, c)
	s := startService(t, db, env, testConfig())
	p := releaseBatch(t, s, 2, t.Name())
	finish(t, s, p.ID, 1, payout.StateFailed, "card_number_does_not_exist")
	finish(t, s, p.ID, 2, payout.StateSucceeded, "")
	backup := filepath.Join(t.TempDir(), "backup.db")
	snapshotLedger(t, db.Path(), backup)
	cmd := ledgerapi.ResubmitCommand{Batch: p.ID, Rows: []int{1}, By: "anna", Reason: "card fixed"}
	reply, err := s.Resubmit(ctx, cmd)
	require.NoError(t, err)
	child := reply.Batch.Batch
	body := fmt.Sprintf(`{"type":"ready_to_confirm","session":{"id":"ps_child","status":"in_progress","payout_list":[{"id":"po_child","status":"in_progress","metadata":{"payrun":"%s/1","reference":%q}}]}}`,
		child, p.Rows[0].Reference)
	publishHook(t, env.js, "ready_to_confirm", []byte(body))
	s.Close()
	require.NoError(t, db.Close())

	rs := restoredService(t, backup, c, env)

	again, err := rs.Resubmit(ctx, cmd)
	require.NoError(t, err)
	require.Equal(t, child, again.Batch.Batch, "the same request, the same child")
	require.NoError(t, rs.ReleaseDue(ctx))
	row := mustRow(t, rs, child, 1)
	require.Equal(t, payout.StateInDoubt, row.State, "the bank has a session for this row: never a second one")
	require.Equal(t, "ps_child", row.SessionID)
}

// TestRev11ParentPaidAfterAllStopsItsChild: a failed row resubmitted, then
// the bank reports the parent's row paid after all (a paid_after_cancel:
// say a row failed as not_in_bank_report that the bank paid late). The
// child's row, not at the bank yet, must not be paid a second time: it is
// put on hold (nothing starts; a checker resumes or cancels it), and an
// exception names it.
func TestRev11ParentPaidAfterAllStopsItsChild(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	p := releaseBatch(t, s, 2, t.Name())
	finish(t, s, p.ID, 1, payout.StateFailed, "card_number_does_not_exist")
	reply, err := s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: p.ID, Rows: []int{1}, By: "anna", Reason: "card fixed"})
	require.NoError(t, err)
	child := reply.Batch.Batch
	// A corrected re-export of row 2 (failed too), let through by the guard.
	finish(t, s, p.ID, 2, payout.StateFailed, "card_number_does_not_exist")
	re := makeRows("re-export", []*payout.Row{p.Rows[1]})
	record(t, s, re.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.StateQueued, mustRow(t, s, child, 1).State)
	require.Equal(t, payout.StateQueued, mustRow(t, s, re.ID, 1).State)

	// The bank: the parent's row was paid.
	r := move(t, s, ledgerapi.Transition{Batch: p.ID, Row: 1, To: payout.StateSucceeded, SessionID: "ps_late",
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookType: "payment_finished"}})
	require.Equal(t, ledgerapi.CodeIllegal, code(r))

	cr := mustRow(t, s, child, 1)
	var stop string
	require.NoError(t, s.db.r.QueryRow(`SELECT stop FROM rows WHERE batch_id = ? AND row_no = 1`, child).Scan(&stop))
	require.Equal(t, stopHold, stop, "the child's row is stopped: the parent's was paid")
	r = move(t, s, ledgerapi.Transition{Batch: child, Row: 1, To: payout.StateClaimed, Gen: cr.Gen, Worker: "w"})
	require.Equal(t, ledgerapi.CodeIllegal, code(r), "nothing new starts for the child's row")
	var open int
	require.NoError(t, s.db.r.QueryRow(`SELECT count(*) FROM exceptions WHERE batch_id = ? AND row_no = 1 AND closed_at IS NULL`, child).Scan(&open))
	require.Equal(t, 1, open)

	// Row 2 paid after all: its re-export stops.
	r = move(t, s, ledgerapi.Transition{Batch: p.ID, Row: 2, To: payout.StateSucceeded, SessionID: "ps_late2",
		Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookType: "payment_finished"}})
	require.Equal(t, ledgerapi.CodeIllegal, code(r))
	require.NoError(t, s.db.r.QueryRow(`SELECT stop FROM rows WHERE batch_id = ? AND row_no = 1`, re.ID).Scan(&stop))
	require.Equal(t, stopHold, stop, "the re-export's row is stopped: the row it repeats was paid")
}

// restoredService starts a ledger on a copy of the backup file, its
// restore recorded, as `ledger restore` leaves it.
func restoredService(t *testing.T, backup string, c *clock, env *natsEnv) *Service {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(backup)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ledger.db"), data, 0o600))
	db := openDB(t, dir, c)
	t.Cleanup(func() { db.Close() })
	_, err = db.RecordRestore(context.Background(), "file:///backup/ledger")
	require.NoError(t, err)
	return startService(t, db, env, testConfig())
}

// snapshotLedger copies the ledger file at path to to, as a backup taken
// at this moment holds it.
func snapshotLedger(t *testing.T, path, to string) {
	t.Helper()
	c, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Exec(`VACUUM INTO ?`, to)
	require.NoError(t, err)
}

// TestRev11IntakeAgainAfterRestore: a batch recorded, released and taken
// to the bank after the backup is recorded again from the intake stream
// after the restore's replay (which found no row for its webhooks). Before
// its release, the row the bank named adopts that session (in doubt); the
// others go as usual.
func TestRev11IntakeAgainAfterRestore(t *testing.T) {
	ctx := context.Background()
	env := startNATS(t)
	require.NoError(t, queue.EnsureStreams(ctx, env.js, queue.Config{}))
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	s := startService(t, db, env, testConfig())
	backup := filepath.Join(t.TempDir(), "backup.db")
	snapshotLedger(t, db.Path(), backup)
	b := makeBatch(2, t.Name())
	record(t, s, b.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.ReleaseDue(ctx))
	body := fmt.Sprintf(`{"type":"ready_to_confirm","session":{"id":"ps_tail","status":"in_progress","payout_list":[{"id":"po_tail","status":"pending","metadata":{"payrun":"%s/1","reference":%q}}]}}`,
		b.ID, b.Rows[0].Reference)
	publishHook(t, env.js, "ready_to_confirm", []byte(body))
	s.Close()
	require.NoError(t, db.Close())

	rs := restoredService(t, backup, c, env)
	// The intake delivers the batch again.
	record(t, rs, b.msgs(nextSeq.Add(1000)))
	require.NoError(t, rs.ReleaseDue(ctx))
	row := mustRow(t, rs, b.ID, 1)
	require.Equal(t, payout.StateInDoubt, row.State, "the bank has a session for this row: never a second one")
	require.Equal(t, "ps_tail", row.SessionID)
	require.Equal(t, payout.StateQueued, mustRow(t, rs, b.ID, 2).State)
}
