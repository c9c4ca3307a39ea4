package console_test

// Reviewer's tests (branch rev1): each demonstrates a problem found by
// trying to break the merge of issues 11, 12 and 13; it fails until fixed.

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/payout"
)

// TestReviewConsoleRoleRefusalIsAudited: the same refusal — a viewer
// asking to release a held row — is audited when it comes through the
// HTTP API (the guard's "denied" entry) but not through the console's
// POST /console/batches/{id}/act/{name}, whose route lets every reader in
// and whose act() refuses by the action's permission before DecideAs (the
// only place that writes the entry). Issue 12: every human action,
// refusals included, is in the audit log.
func TestReviewConsoleRoleRefusalIsAudited(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	id, _ := s.seed.batch(t, batchSpec{name: "refusals", status: payout.BatchReleased, rows: 1, uploader: s.users["mia"], by: "mia",
		states: func(int) (payout.State, string) { return payout.StateReceived, "" }})
	_, err := s.seed.db.Exec(`UPDATE rows SET held = 1 WHERE batch_id = ? AND row_no = 1`, id)
	require.NoError(t, err)
	_, err = s.seed.db.Exec(`INSERT INTO holds (batch_id, row_no, kind, earlier_batch, earlier_row, reason, held_at)
		VALUES (?, 1, 'repeat', 'b-earlier', 3, 'paid in b-earlier row 3', '2026-11-25T09:00:00.000000000Z')`, id)
	require.NoError(t, err)

	vera := s.browser(t, "en")
	vera.signIn("vera")
	status, _, _ := vera.post("/console/batches/"+id+"/act/release", url.Values{"row": {"1"}, "reason": {"pay it"}})
	require.Equal(t, http.StatusForbidden, status)

	entries, err := s.svc.DB().AuditEntries(ctx, ledger.AuditFilter{})
	require.NoError(t, err)
	var vera2 []string
	for _, e := range entries {
		if e.User == "vera" && e.Action != auth.ActSignIn {
			vera2 = append(vera2, string(e.Action)+" "+string(e.Outcome))
		}
	}
	require.NotEmpty(t, vera2, "vera's refused release of a held row is not in the audit log")
}
