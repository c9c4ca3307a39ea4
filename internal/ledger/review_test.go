package ledger

// Reviewer's tests (branch rev1): each one demonstrates a problem found by
// trying to break the merge of issues 11, 12 and 13. They fail until the
// problem is fixed.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
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
