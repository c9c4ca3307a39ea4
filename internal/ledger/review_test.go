package ledger

// Reviewer's tests (branch rev1): each one demonstrates a problem found by
// trying to break the merge of issues 11, 12 and 13. They fail until the
// problem is fixed.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/bank131"
	"github.com/payrun/payrun/internal/httpapi"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/payout"
)

// principalOf is the principal a signed-in actor with roles acts as.
func principalOf(a auth.Actor, roles ...auth.Role) *auth.Principal {
	rs, _ := auth.ParseRoles(func() string {
		var s []string
		for _, r := range roles {
			s = append(s, string(r))
		}
		return strings.Join(s, ",")
	}())
	return &auth.Principal{UserID: a.UserID, Name: a.Name, Roles: rs, Via: auth.ViaToken, Remote: a.Remote}
}

// TestReviewUploaderCannotReleaseOwnHeldRepeat: a person who is both maker
// and checker uploads a corrected re-export; the duplicate guard holds its
// repeat of a row already paid. Issue 11: only "a person allowed to
// approve" releases a held row, and issue 12: the uploader never approves
// their own batch. Today the uploader releases it themselves (MayDecide
// lets any checker decide on any batch, their own included), through the
// console's path (DecideAs) and the HTTP API, and the row is paid twice.
func TestReviewUploaderCannotReleaseOwnHeldRepeat(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	_, carol, dave := people(t, s) // dave: checker and maker
	a := releaseBatch(t, s, 2, "paid in november")
	finish(t, s, a.ID, 1, payout.StateSucceeded, "")
	finish(t, s, a.ID, 2, payout.StateSucceeded, "")

	// dave uploads a re-export of the same references.
	b := makeBatch(2, "corrected re-export")
	b.Manifest.UploadedBy, b.Manifest.UploaderID = dave.Name, dave.UserID
	record(t, s, b.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.BatchReleased, summary(t, s.db, b.ID).Status)
	require.Len(t, holdsOf(t, s, b.ID), 2, "both rows repeat a's paid rows")

	// The console's path: DecideAs.
	p := principalOf(dave, auth.RoleChecker, auth.RoleMaker)
	err := s.DecideAs(ctx, p, auth.ActReleaseHeld, ledgerapi.RowCommand{Batch: b.ID, Row: 1, Reason: "mine, pay it"}, s.ReleaseHeld)
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeForbidden), "the uploader released their own held repeat: %v", err)
	require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, 1).State, "row 1 must not be queued to be paid again")

	// The HTTP API's path, through the guard, with dave's token.
	tok, _, err := s.CreateToken(ctx, testAdmin, NewToken{User: dave.Name, Name: "review"})
	require.NoError(t, err)
	h := NewHTTPHandler(s.db, WithHTTPLogger(quiet), WithService(s))
	g := httpapi.NewGuard(httpapi.GuardConfig{Directory: s, Logger: quiet})
	srv := httptest.NewServer(httpapi.Routes{Reports: h, Decisions: h, Guard: g}.Handler())
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/batches/"+b.ID+"/rows/2/release", strings.NewReader(`{"reason":"mine"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the uploader released their own held repeat over HTTP")
	require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, 2).State, "row 2 must not be queued to be paid again")

	// Another checker may.
	require.NoError(t, s.DecideAs(ctx, principalOf(carol, auth.RoleChecker), auth.ActReleaseHeld,
		ledgerapi.RowCommand{Batch: b.ID, Row: 1, Reason: "a bonus on top, agreed"}, s.ReleaseHeld))
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 1).State)
}

// reviewPAN is a test card number (passes Luhn) a person might paste into
// a reason ("paid to 4111 1111 1111 1111 already").
const reviewPAN = "4111 1111 1111 1111"

// tableText renders every row of every table of the ledger.
func tableText(t *testing.T, db *DB) string {
	t.Helper()
	rows, err := db.r.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	var sb strings.Builder
	for _, table := range tables {
		rows, err := db.r.Query(`SELECT * FROM "` + table + `"`)
		require.NoError(t, err)
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			require.NoError(t, rows.Scan(ptrs...))
			for i, v := range vals {
				switch x := v.(type) {
				case string:
					sb.WriteString(table + "." + cols[i] + ": " + x + "\n")
				case []byte:
					sb.WriteString(table + "." + cols[i] + ": " + string(x) + "\n")
				}
			}
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return sb.String()
}

// TestReviewDecisionReasonsMaskedAtRest: a reason is text a person types;
// the project's rule is that user text passes the card masker before it
// reaches disk. The audit log masks it (appendAudit), but the decision
// itself keeps the reason as typed: decisions.reason, batches.hold_reason,
// rows.stop_reason, holds.decision_reason, approvals.reason,
// batches.reason and rows.reason of a cancelled row — and the HTTP API
// (GET /batches/{id}, /held, /decisions) and the console show them back.
func TestReviewDecisionReasonsMaskedAtRest(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	why := "the card " + reviewPAN + " was paid already"
	a := releaseBatch(t, s, 3, "masked reasons")
	finish(t, s, a.ID, 1, payout.StateSucceeded, "")
	require.NoError(t, s.Hold(ctx, ledgerapi.RowCommand{Batch: a.ID, By: "carol", Reason: why}))
	require.NoError(t, s.Resume(ctx, ledgerapi.RowCommand{Batch: a.ID, By: "carol", Reason: why}))
	require.NoError(t, s.Hold(ctx, ledgerapi.RowCommand{Batch: a.ID, Row: 2, By: "carol", Reason: why}))
	require.NoError(t, s.CancelRow(ctx, ledgerapi.RowCommand{Batch: a.ID, Row: 3, By: "carol", Reason: why}))
	b := releaseBatch(t, s, 2, "masked reasons again") // both rows repeat a's
	require.NoError(t, s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "carol", Reason: why}))
	require.NoError(t, s.DropHeld(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 2, By: "carol", Reason: why}))
	_, err := s.SetPolicy(ctx, testAdmin, auth.DefaultPolicy())
	require.NoError(t, err)
	c := uniqueBatch(1, "masked reasons rejected")
	c.Manifest.UploadedBy, c.Manifest.UploaderID = mia.Name, mia.UserID
	record(t, s, c.msgs(nextSeq.Add(1000)))
	_, err = s.Decide(ctx, carol, Decision{Batch: c.ID, Reason: why})
	require.NoError(t, err)

	text := tableText(t, s.db)
	compact := strings.ReplaceAll(reviewPAN, " ", "")
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, reviewPAN) || strings.Contains(line, compact) {
			t.Errorf("a full card number at rest: %s", line)
		}
	}

	// And the API answers it back.
	srv := httptest.NewServer(NewHTTPHandler(s.db, WithHTTPLogger(quiet), WithService(s)))
	defer srv.Close()
	for _, path := range []string{"/batches/" + a.ID + "/decisions", "/batches/" + b.ID + "/held", "/batches/" + c.ID} {
		_, body := get(t, srv, path)
		require.NotContains(t, string(body), reviewPAN, path)
	}
}

// TestReviewDecisionAndItsAuditEntryAreOneTransaction: approving, rejecting
// and cancelling a batch write their audit entry in the decision's own
// transaction (Decide, CancelAs). The decisions of issue 11 (DecideAs and
// the HTTP decision routes) commit the decision first and append the
// audit entry in a second transaction, whose failure is only logged: a
// crash (or a failed write) between the two leaves a hold, a release of a
// held row or a resubmit that changed money with no audit entry. Here
// the audit log refuses writes (a trigger stands in for the crash
// between the two commits): the decision must then not happen either.
func TestReviewDecisionAndItsAuditEntryAreOneTransaction(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	_, carol, _ := people(t, s)
	a := releaseBatch(t, s, 1, "audit is one transaction")
	finish(t, s, a.ID, 1, payout.StateSucceeded, "")
	b := releaseBatch(t, s, 1, "audit is one transaction again") // row 1 repeats a's paid row
	require.NoError(t, exec(s, `CREATE TRIGGER review_no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END`))

	err := s.DecideAs(ctx, principalOf(carol, auth.RoleChecker), auth.ActReleaseHeld,
		ledgerapi.RowCommand{Batch: b.ID, Row: 1, Reason: "a bonus on top"}, s.ReleaseHeld)
	require.NoError(t, exec(s, `DROP TRIGGER review_no_audit`))
	entries, aerr := s.db.AuditEntries(ctx, AuditFilter{Batch: b.ID})
	require.NoError(t, aerr)
	audited := false
	for _, e := range entries {
		audited = audited || e.Action == auth.ActReleaseHeld
	}
	released := mustRow(t, s, b.ID, 1).State != payout.StateReceived
	require.False(t, released && !audited, "the held row was released (now %s) with no audit entry; DecideAs answered %v",
		mustRow(t, s, b.ID, 1).State, err)
}

// TestReviewRowDecidedDuringBatchHoldIsPaidOnResume: a checker releases a
// held repeat (or resumes a row on hold) while its batch is on hold;
// releaseOne leaves it received ("its resume releases it"). But the
// batch's resume re-enqueues only the rows before the bank (queued …
// starting) and the releaser takes only batches whose release is not
// done: the row stays received for ever, never paid and never failed.
func TestReviewRowDecidedDuringBatchHoldIsPaidOnResume(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	a := releaseBatch(t, s, 1, "decided during a hold")
	finish(t, s, a.ID, 1, payout.StateSucceeded, "")
	b := makeBatch(1, "decided during a hold, again") // row 1 repeats a's paid row
	record(t, s, b.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Len(t, holdsOf(t, s, b.ID), 1)
	require.NoError(t, s.Hold(ctx, ledgerapi.RowCommand{Batch: b.ID, By: "carol", Reason: "month end"}))
	require.NoError(t, s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "carol", Reason: "a bonus on top"}))
	require.Equal(t, payout.StateReceived, mustRow(t, s, b.ID, 1).State, "on hold with its batch")
	require.NoError(t, s.Resume(ctx, ledgerapi.RowCommand{Batch: b.ID, By: "carol", Reason: "new month"}))
	require.NoError(t, s.ReleaseDue(ctx))
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 1).State,
		"the released repeat must be paid once its batch resumes; it stays received for ever")
}

// TestReviewReportImportOverNATSIsAudited: the bank's report over NATS
// (payrun.ledger.report.import, which deploy/nats/payrun-auth.conf lets
// the ops identity publish — the same nkey as the read-only `ledger status
// --nats-url`) settles rows: here a complete, empty register for the day
// a single-request payout was sent and the next proves it "never reached
// the bank", the row fails not_in_bank_report and may be resubmitted (paid
// again). Over HTTP the same import needs import_report (a checker) and is
// audited; over NATS it needs the ops nkey and leaves no audit entry.
func TestReviewReportImportOverNATSIsAudited(t *testing.T) {
	env := startNATS(t)
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	s := startService(t, db, env, testConfig())
	b := makeBatch(1, t.Name())
	record(t, s, b.msgs(nextSeq.Add(1000)))
	ctx := context.Background()
	require.NoError(t, s.ReleaseDue(ctx))
	sendAndLose(t, s, b.ID, 1)
	require.Equal(t, payout.StateInDoubt, mustRow(t, s, b.ID, 1).State)

	client := ledgerapi.NewClient(env.nc, 10*time.Second)
	c.Add(48 * time.Hour) // both days are over in Moscow
	for _, day := range []string{"2026-11-25", "2026-11-26"} {
		rep, err := bank131.ParseDailyReport(strings.NewReader(bankReportCSV()), "all_"+day+"_"+day+".csv", s.ReportOptions())
		require.NoError(t, err)
		_, err = ledgerapi.SendBankReport(ctx, client, rep, 600)
		require.NoError(t, err)
	}
	require.Equal(t, payout.StateFailed, mustRow(t, s, b.ID, 1).State, "settled not paid by the reports sent over NATS")

	entries, err := s.db.AuditEntries(ctx, AuditFilter{})
	require.NoError(t, err)
	imports := 0
	for _, e := range entries {
		if e.Action == auth.ActImportReport {
			imports++
		}
	}
	require.Positive(t, imports, "a report import that settled row 1 failed (resubmittable) has no audit entry")
}

// bankSaysPaid is the bank's word (a late webhook) that a row the ledger
// finished failed was paid after all: refused as a move, it opens
// paid_after_cancel and the row stays failed.
func bankSaysPaid(t *testing.T, s *Service, batch string, row int) {
	t.Helper()
	_, err := s.Transition(context.Background(), ledgerapi.Transition{Batch: batch, Row: row, To: payout.StateSucceeded,
		SessionID: "ps_late", Evidence: ledgerapi.Evidence{Source: ledgerapi.SourceWebhook, HookType: "payment_finished"}})
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeIllegal), "%v", err)
	require.Equal(t, payout.StateFailed, mustRow(t, s, batch, row).State)
	open, err := s.db.Exceptions(batch, false)
	require.NoError(t, err)
	var cats []string
	for _, e := range open {
		cats = append(cats, string(e.Category))
	}
	require.Contains(t, cats, "paid_after_cancel")
}

// TestReviewResubmitOfChildWhoseParentWasPaid: a parent's row failed and
// was resubmitted; the child's row failed too; then the bank says the
// parent's row was paid after all (paid_after_cancel, open). Resubmitting
// the child's failed row checks only the child row's own exceptions, not
// the row it resubmits (its parent, or the intake row src_*), so the
// grandchild pays the same person a second time. The guard does not hold
// it either: the parent's row is "failed".
func TestReviewResubmitOfChildWhoseParentWasPaid(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	p := releaseBatch(t, s, 1, "parent paid after all")
	finish(t, s, p.ID, 1, payout.StateFailed, "bank_card_expired")
	c, err := s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: p.ID, Rows: []int{1}, By: "anna", Reason: "new card"})
	require.NoError(t, err)
	child := c.Batch.Batch
	require.NoError(t, s.ReleaseDue(ctx))
	finish(t, s, child, 1, payout.StateFailed, "bank_card_expired")
	bankSaysPaid(t, s, p.ID, 1)

	g, err := s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: child, Rows: []int{1}, By: "anna", Reason: "once more"})
	if err == nil {
		require.NoError(t, s.ReleaseDue(ctx))
		t.Fatalf("the grandchild %s was made (its row now %s) though the bank paid the row it repeats (parent %s row 1)",
			g.Batch.Batch, mustRow(t, s, g.Batch.Batch, 1).State, p.ID)
	}
	require.True(t, ledgerapi.IsCode(err, ledgerapi.CodeInvalid), "%v", err)
}

// TestReviewReExportOfRowPaidAfterAll: the bank says a failed row was paid
// after all (paid_after_cancel open, the row stays failed). A corrected
// re-export of the payroll carries the same reference: the duplicate
// guard must hold it (the money went out), but its repeat query leaves
// out every failed row, so the re-export pays it again.
func TestReviewReExportOfRowPaidAfterAll(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	p := releaseBatch(t, s, 1, "paid after all, then re-exported")
	finish(t, s, p.ID, 1, payout.StateFailed, "bank_card_expired")
	bankSaysPaid(t, s, p.ID, 1)

	q := releaseBatch(t, s, 1, "the corrected re-export") // the same reference
	require.NoError(t, s.ReleaseDue(ctx))
	require.Len(t, holdsOf(t, s, q.ID), 1, "the re-export's row (now %s) repeats a row the bank paid", mustRow(t, s, q.ID, 1).State)
	require.Equal(t, payout.StateReceived, mustRow(t, s, q.ID, 1).State)
}

// TestReviewAuditTellsDropFromRelease: releasing a held repeat pays it;
// dropping it never pays it. Both are written to the audit log as
// action release_held with the reason as the detail (http_decide.go's
// route table and console.RowActions map drop to auth.ActReleaseHeld), so
// the audit trail cannot say which of the two a checker did.
func TestReviewAuditTellsDropFromRelease(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	_, carol, _ := people(t, s)
	a := releaseBatch(t, s, 2, "release or drop")
	finish(t, s, a.ID, 1, payout.StateSucceeded, "")
	finish(t, s, a.ID, 2, payout.StateSucceeded, "")
	b := releaseBatch(t, s, 2, "release or drop, again") // both rows repeat a's
	h := NewHTTPHandler(s.db, WithHTTPLogger(quiet), WithService(s))
	g := httpapi.NewGuard(httpapi.GuardConfig{Directory: s, Logger: quiet})
	srv := httptest.NewServer(httpapi.Routes{Reports: h, Decisions: h, Guard: g}.Handler())
	defer srv.Close()
	tok, _, err := s.CreateToken(ctx, testAdmin, NewToken{User: carol.Name, Name: "review"})
	require.NoError(t, err)
	for _, path := range []string{"/rows/1/release", "/rows/2/drop"} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/batches/"+b.ID+path, strings.NewReader(`{"reason":"checked with HR"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 1).State)
	require.Equal(t, payout.StateCancelled, mustRow(t, s, b.ID, 2).State)

	entries, err := s.db.AuditEntries(ctx, AuditFilter{Batch: b.ID})
	require.NoError(t, err)
	said := map[string]string{}
	for _, e := range entries {
		said[e.Target] = string(e.Action) + " " + string(e.Outcome) + " " + e.Detail
	}
	require.NotEqual(t, said[b.ID+"/1"], said[b.ID+"/2"], "a release and a drop read the same in the audit log")
}

// TestReviewResubmitAfterPaidAfterCancelResolved: the bank says a failed
// row was paid after all (paid_after_cancel); a checker resolves the
// exception ("noted: the bank paid it") — the ledger keeps the row failed.
// Resubmit refuses only rows with an open exception, so once resolved the
// row the bank paid can be resubmitted and paid a second time. A
// paid_after_cancel, open or closed, means the money went out.
func TestReviewResubmitAfterPaidAfterCancelResolved(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	_, carol, _ := people(t, s)
	p := releaseBatch(t, s, 1, "paid after all, resolved")
	finish(t, s, p.ID, 1, payout.StateFailed, "bank_card_expired")
	bankSaysPaid(t, s, p.ID, 1)
	open, err := s.db.Exceptions(p.ID, false)
	require.NoError(t, err)
	require.Len(t, open, 1)
	require.NoError(t, s.ResolveException(ctx, carol, open[0].ID, "noted: the bank paid it on the 26th"))

	c, err := s.Resubmit(ctx, ledgerapi.ResubmitCommand{Batch: p.ID, Failed: true, By: "anna", Reason: "retry the failed ones"})
	if err == nil {
		require.NoError(t, s.ReleaseDue(ctx))
		t.Fatalf("child %s resubmits the row the bank paid (child row now %s)", c.Batch.Batch, mustRow(t, s, c.Batch.Batch, 1).State)
	}
}

// TestReviewHeldRowNamesTheRowNowInFlight: two re-exports B and C both
// repeat A's row while A's row is in flight; both are held naming A. A's
// row then fails, and a checker rightly releases B's (now in flight). C's
// hold still says "in flight in batch A" (failed now), and its release is
// not checked again: a checker who looks at A sees it failed and releases
// C too — the person is paid by B and by C. The hold a checker decides
// on must name what the row repeats now (B's row), or the release must
// be refused.
func TestReviewHeldRowNamesTheRowNowInFlight(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	a := releaseBatch(t, s, 1, "A: in flight")
	var bSeed string
	for i := 0; ; i++ {
		bSeed = "B: a re-export " + strconv.Itoa(i)
		if makeBatch(1, bSeed).ID > a.ID { // C's hold names A (the first by batch id), not B
			break
		}
	}
	b := releaseBatch(t, s, 1, bSeed)
	c := releaseBatch(t, s, 1, "C: another re-export")
	require.Equal(t, a.ID, holdsOf(t, s, b.ID)[1].EarlierBatch)
	require.Equal(t, a.ID, holdsOf(t, s, c.ID)[1].EarlierBatch, "C's hold names A, the first by batch id")
	finish(t, s, a.ID, 1, payout.StateFailed, "bank_card_expired")
	require.NoError(t, s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "carol", Reason: "A failed; pay it from B"}))
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 1).State)

	h := holdsOf(t, s, c.ID)[1]
	err := s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: c.ID, Row: 1, By: "dave", Reason: "A failed, says its page"})
	if err == nil && mustRow(t, s, c.ID, 1).State == payout.StateQueued {
		require.Contains(t, h.Reason, b.ID, "C's row was released while B's row with the same reference is in flight; "+
			"its hold named only %s: %q", h.EarlierBatch, h.Reason)
	}
}

// TestReviewHeldNeedApprovalSurvivesAnEarlyRelease: with HeldNeedApproval
// a batch whose rows the guard held waits for a checker's approval of the
// whole batch. The rows are held as they are recorded, before the
// manifest seals the batch, and decideHeld accepts a release while the
// batch is still receiving; the seal then counts only undecided holds
// (heldByKind), finds none, and the batch is released with no approval —
// decided row by row before anyone could see the batch's totals. With the
// uploader's own release (TestReviewUploaderCannotReleaseOwnHeldRepeat)
// that is one person paying a repeat with no second pair of eyes.
func TestReviewHeldNeedApprovalSurvivesAnEarlyRelease(t *testing.T) {
	c := newClock()
	db := openDB(t, t.TempDir(), c)
	cfg := testConfig()
	cfg.HeldNeedApproval = true
	s := NewService(db, cfg)
	t.Cleanup(func() { s.Close(); db.Close() })
	noApprovals(t, s)
	ctx := context.Background()
	a := makeBatch(1, "paid, held need approval")
	record(t, s, a.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.ReleaseDue(ctx))
	finish(t, s, a.ID, 1, payout.StateSucceeded, "")

	b := makeBatch(2, "a re-export, released early")
	msgs := b.msgs(nextSeq.Add(1000))
	record(t, s, msgs[:len(msgs)-1]) // the rows; the manifest is still to come
	require.Equal(t, payout.BatchReceiving, summary(t, db, b.ID).Status)
	require.Len(t, holdsOf(t, s, b.ID), 1)
	err := s.ReleaseHeld(ctx, ledgerapi.RowCommand{Batch: b.ID, Row: 1, By: "carol", Reason: "looks fine"})
	record(t, s, msgs[len(msgs)-1:])
	require.NoError(t, s.ReleaseDue(ctx))
	if err == nil {
		require.Equal(t, payout.BatchAwaitingApproval, summary(t, db, b.ID).Status,
			"a batch with a held repeat was released without approval (row 1 now %s)", mustRow(t, s, b.ID, 1).State)
	}
}

// TestReviewMakerCannotLiftCheckersHold: a checker stops a row of mia's
// batch ("the account looks wrong, ask HR") or the whole batch; mia — the
// maker who uploaded it — resumes it herself and it is paid. MayDecide
// lets a maker decide anything on her own batch, so the person a checker
// is checking lifts the check. A hold placed by a checker (or the
// breaker) is lifted by a checker.
func TestReviewMakerCannotLiftCheckersHold(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	b := uniqueBatch(2, "a checker's hold")
	b.Manifest.UploadedBy, b.Manifest.UploaderID = mia.Name, mia.UserID
	record(t, s, b.msgs(nextSeq.Add(1000)))
	require.NoError(t, s.ReleaseDue(ctx))
	asCarol, asMia := principalOf(carol, auth.RoleChecker), principalOf(mia, auth.RoleMaker)
	require.NoError(t, s.DecideAs(ctx, asCarol, auth.ActHold, ledgerapi.RowCommand{Batch: b.ID, Row: 1, Reason: "the account looks wrong"}, s.Hold))
	require.NoError(t, s.DecideAs(ctx, asCarol, auth.ActHold, ledgerapi.RowCommand{Batch: b.ID, Reason: "checking the whole file"}, s.Hold))

	errRow := s.DecideAs(ctx, asMia, auth.ActResume, ledgerapi.RowCommand{Batch: b.ID, Row: 1, Reason: "it is fine"}, s.Resume)
	errBatch := s.DecideAs(ctx, asMia, auth.ActResume, ledgerapi.RowCommand{Batch: b.ID, Reason: "it is fine"}, s.Resume)
	require.True(t, ledgerapi.IsCode(errRow, ledgerapi.CodeForbidden), "the uploader lifted the checker's hold of row 1: %v", errRow)
	require.True(t, ledgerapi.IsCode(errBatch, ledgerapi.CodeForbidden), "the uploader lifted the checker's hold of the batch: %v", errBatch)
}
