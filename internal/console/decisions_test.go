package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/payout"
)

// The batch page's decisions (issue 11) act through the ledger's rules:
// who may, a reason each time, and an audit entry whatever the outcome.
func TestBatchDecisions(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	id, _ := s.seed.batch(t, batchSpec{name: "december", status: payout.BatchReleased, rows: 4, uploader: s.users["mia"], by: "mia",
		states: func(i int) (payout.State, string) {
			switch i {
			case 1:
				return payout.StateReceived, "" // held by the guard
			case 2:
				return payout.StateFailed, "bank_card_expired"
			}
			return payout.StateQueued, ""
		}})
	_, err := s.seed.db.Exec(`UPDATE rows SET held = 1 WHERE batch_id = ? AND row_no = 1`, id)
	require.NoError(t, err)
	_, err = s.seed.db.Exec(`INSERT INTO holds (batch_id, row_no, kind, earlier_batch, earlier_row, reason, held_at)
		VALUES (?, 1, 'repeat', 'b-earlier', 3, 'paid in b-earlier row 3', '2026-11-25T09:00:00.000000000Z')`, id)
	require.NoError(t, err)
	_, err = s.svc.AddUser(ctx, auth.HostActor("test"), ledger.NewUser{Name: "max", Roles: auth.Roles{auth.RoleMaker}, Password: testPassword})
	require.NoError(t, err)

	// The viewer sees no decision and may not post one.
	vera := s.browser(t, "en")
	vera.signIn("vera")
	status, body, _ := vera.get("/console/batches/" + id)
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, body, "/act/hold")
	status, _, _ = vera.post("/console/batches/"+id+"/act/hold", url.Values{"reason": {"look"}})
	require.Equal(t, http.StatusForbidden, status)

	// A maker decides only on batches they uploaded: max is refused, and
	// the refusal is audited.
	max := s.browser(t, "en")
	max.signIn("max")
	status, _, _ = max.post("/console/batches/"+id+"/act/hold", url.Values{"reason": {"not mine"}})
	require.Equal(t, http.StatusForbidden, status)

	// mia holds her batch (a reason is required), carl resumes it.
	mia := s.browser(t, "ru")
	mia.signIn("mia")
	status, body, _ = mia.get("/console/batches/" + id)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Приостановить реестр")
	require.Contains(t, body, "Отправить невыплаченные строки новым реестром", "one row failed")
	require.NotContains(t, body, "/act/release", "a maker does not release held rows")
	status, _, _ = mia.post("/console/batches/"+id+"/act/hold", url.Values{"reason": {" "}})
	require.Equal(t, http.StatusBadRequest, status)
	status, _, h := mia.post("/console/batches/"+id+"/act/hold", url.Values{"reason": {"сверяем реквизиты"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/batches/"+id+"?done=action", h.Get("Location"))
	b, err := s.svc.DB().Batch(ctx, id)
	require.NoError(t, err)
	require.NotNil(t, b.Hold)
	require.Equal(t, "mia", b.Hold.By)
	_, body, _ = mia.get("/console/batches/" + id)
	require.Contains(t, body, `id="on-hold"`)
	require.Contains(t, body, "сверяем реквизиты")

	carl := s.browser(t, "en")
	carl.signIn("carl")
	_, body, _ = carl.get("/console/batches/" + id)
	require.Contains(t, body, "Resume the batch")
	require.Contains(t, body, "/act/release", "the held row offers release and drop to a checker")
	status, _, _ = carl.post("/console/batches/"+id+"/act/resume", url.Values{"reason": {"checked"}})
	require.Equal(t, http.StatusSeeOther, status)
	b, err = s.svc.DB().Batch(ctx, id)
	require.NoError(t, err)
	require.Nil(t, b.Hold)

	// carl drops the held row: it is cancelled and never paid.
	status, body, _ = carl.post("/console/batches/"+id+"/act/drop", url.Values{"row": {"1"}, "reason": {"paid already in October"}})
	require.Equal(t, http.StatusSeeOther, status, body)
	held, err := s.svc.DB().Holds(ctx, id, 0)
	require.NoError(t, err)
	require.Len(t, held, 1)
	require.Equal(t, "dropped", held[0].Decision)
	require.Equal(t, "carl", held[0].DecidedBy)

	// mia resubmits the failed row: the child batch opens.
	status, _, h = mia.post("/console/batches/"+id+"/act/resubmit", url.Values{"reason": {"новая карта"}})
	require.Equal(t, http.StatusSeeOther, status)
	child := strings.TrimPrefix(strings.TrimSuffix(h.Get("Location"), "?done=action"), "/console/batches/")
	require.NotEqual(t, id, child)
	cb, err := s.svc.DB().Batch(ctx, child)
	require.NoError(t, err)
	require.Equal(t, id, cb.Parent)
	require.Equal(t, 1, cb.Rows)

	// Every decision, refused or done, is in the audit log.
	entries, err := s.svc.DB().AuditEntries(ctx, ledger.AuditFilter{Batch: id})
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		switch e.Action {
		case auth.ActHold, auth.ActResume, auth.ActReleaseHeld, auth.ActDropHeld, auth.ActResubmit:
			got = append(got, e.User+" "+string(e.Action)+" "+string(e.Outcome))
		}
	}
	require.Equal(t, []string{"vera hold refused", "max hold refused", "mia hold refused", "mia hold ok", "carl resume ok",
		"carl drop_held ok", "mia resubmit ok"}, got)
}
