package ledger

import (
	"context"
	"encoding/json"
	"io"
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

func post(t *testing.T, srv *httptest.Server, path, body string) (int, []byte) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

// TestHTTPDecisions: the decisions of people over HTTP, routed as payrun
// routes them (httpapi.Routes: Reports and Decisions), each recorded with
// who and why.
func TestHTTPDecisions(t *testing.T) {
	s, _ := newService(t)
	a := releaseBatch(t, s, 3, "paid")
	finish(t, s, a.ID, 1, payout.StateSucceeded, "")
	b := releaseBatch(t, s, 3, "again") // rows 2 and 3 repeat a's in flight, row 1 a's paid row
	h := NewHTTPHandler(s.db, WithHTTPLogger(quiet), WithService(s))
	// The handler itself, outside httpapi's guard: who decides is the
	// body's "by" (the guard's principal in production: TestDecisionsAsPrincipal).
	srv := httptest.NewServer(h)
	defer srv.Close()
	batchOf := func(data []byte) *ledgerapi.BatchSummary {
		var r ledgerapi.BatchReply
		require.NoError(t, json.Unmarshal(data, &r), string(data))
		return r.Batch
	}
	code, data := post(t, srv, "/batches/"+b.ID+"/rows/1/release", `{"by":"anna","reason":"the November bonus"}`)
	require.Equal(t, http.StatusOK, code, string(data))
	require.Equal(t, 2, batchOf(data).Held)
	require.Equal(t, payout.StateQueued, mustRow(t, s, b.ID, 1).State)
	code, data = post(t, srv, "/batches/"+b.ID+"/rows/2/drop", `{"by":"anna","reason":"paid already"}`)
	require.Equal(t, http.StatusOK, code, string(data))
	code, data = post(t, srv, "/batches/"+a.ID+"/rows/2/hold", `{"by":"boris","reason":"check the account"}`)
	require.Equal(t, http.StatusOK, code, string(data))
	require.Equal(t, 1, batchOf(data).RowsOnHold)
	code, data = post(t, srv, "/batches/"+a.ID+"/rows/2/resume", `{"by":"boris","reason":"checked"}`)
	require.Equal(t, http.StatusOK, code, string(data))
	code, data = post(t, srv, "/batches/"+a.ID+"/hold", `{"by":"boris","reason":"end of month"}`)
	require.Equal(t, http.StatusOK, code, string(data))
	hold := batchOf(data).Hold
	require.NotNil(t, hold)
	require.Equal(t, "boris", hold.By)
	require.Equal(t, "end of month", hold.Reason)
	code, _ = post(t, srv, "/batches/"+a.ID+"/resume", `{"by":"boris","reason":"new month"}`)
	require.Equal(t, http.StatusOK, code)
	code, _ = post(t, srv, "/batches/"+a.ID+"/rows/3/cancel", `{"by":"boris","reason":"left the company"}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, payout.StateCancelled, mustRow(t, s, a.ID, 3).State)
	finish(t, s, a.ID, 2, payout.StateFailed, "bank_card_expired")
	code, data = post(t, srv, "/batches/"+a.ID+"/resubmit", `{"by":"anna","reason":"new card","rows":[2]}`)
	require.Equal(t, http.StatusCreated, code, string(data))
	var re ledgerapi.ResubmitReply
	require.NoError(t, json.Unmarshal(data, &re))
	require.Equal(t, a.ID, re.Batch.Parent)
	// Cancelling a batch is the command handler's (bound to a principal);
	// here the service cancels it.
	require.NoError(t, s.Cancel(context.Background(), ledgerapi.BatchCommand{Batch: b.ID, By: "anna", Reason: "a re-export"}))

	resp, body := get(t, srv, "/batches/"+b.ID+"/held")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var held struct{ Held []Hold }
	require.NoError(t, json.Unmarshal(body, &held))
	require.Len(t, held.Held, 3)
	require.Equal(t, "released", held.Held[0].Decision)
	require.Equal(t, "the November bonus", held.Held[0].DecisionReason)
	require.Equal(t, "dropped", held.Held[2].Decision, "dropped with the batch")
	resp, body = get(t, srv, "/batches/"+a.ID+"/decisions")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var dec struct{ Decisions []DecisionRecord }
	require.NoError(t, json.Unmarshal(body, &dec))
	var got []string
	for _, d := range dec.Decisions {
		got = append(got, d.By+" "+d.Action)
	}
	require.Equal(t, []string{"boris hold", "boris resume", "boris hold", "boris resume", "boris cancel", "anna resubmit"}, got)

	// Refusals are the one error answer.
	for _, tt := range []struct {
		path, body string
		status     int
		code       ledgerapi.Code
	}{
		{"/batches/" + a.ID + "/hold", `{"by":"boris"}`, 400, ledgerapi.CodeInvalid},
		{"/batches/" + a.ID + "/hold", `{"reason":"x"}`, 400, ledgerapi.CodeInvalid},
		{"/batches/" + a.ID + "/hold", `not json`, 400, ledgerapi.CodeInvalid},
		{"/batches/" + a.ID + "/rows/x/hold", `{"by":"b","reason":"x"}`, 400, ledgerapi.CodeInvalid},
		{"/batches/" + a.ID + "/rows/9/hold", `{"by":"b","reason":"x"}`, 404, ledgerapi.CodeNotFound},
		{"/batches/b00000000000000000000/hold", `{"by":"b","reason":"x"}`, 404, ledgerapi.CodeNotFound},
		{"/batches/4242424242424242/hold", `{"by":"b","reason":"x"}`, 404, ledgerapi.CodeNotFound},
		{"/batches/" + a.ID + "/rows/1/release", `{"by":"b","reason":"x"}`, 400, ledgerapi.CodeInvalid},
		{"/batches/" + a.ID + "/resubmit", `{"by":"b","reason":"x"}`, 400, ledgerapi.CodeInvalid},
		{"/batches/" + a.ID + "/rows/2/cancel", `{"by":"b"}`, 400, ledgerapi.CodeInvalid},
		{"/batches/" + a.ID + "/hold", strings.Repeat(" ", maxDecisionBody+1), 413, ledgerapi.CodeTooLarge},
	} {
		code, data := post(t, srv, tt.path, tt.body)
		require.Equal(t, tt.status, code, "%s %s: %s", tt.path, tt.body, data)
		var e struct{ Error ledgerapi.Error }
		require.NoError(t, json.Unmarshal(data, &e))
		require.Equal(t, tt.code, e.Error.Code, tt.path)
		require.NotContains(t, string(data), "4242424242424242")
	}

	// Read-only: no decisions.
	ro := httptest.NewServer(NewHTTPHandler(s.db, WithHTTPLogger(quiet)))
	defer ro.Close()
	code, _ = post(t, ro, "/batches/"+a.ID+"/hold", `{"by":"b","reason":"x"}`)
	require.Equal(t, http.StatusNotFound, code, "no decision routes without the service")

	// An Actor names who decides (the identity of an authenticated
	// request), whatever the body says; it may refuse.
	who := NewHTTPHandler(s.db, WithHTTPLogger(quiet), WithService(s), WithActor(func(r *http.Request, by string) (string, error) {
		if r.Header.Get("X-User") == "" {
			return "", ledgerapi.Errorf(ledgerapi.CodeUnauthorized, "sign in")
		}
		return r.Header.Get("X-User"), nil
	}))
	srv2 := httptest.NewServer(who)
	defer srv2.Close()
	child := re.Batch.Batch
	code, _ = post(t, srv2, "/batches/"+child+"/hold", `{"by":"mallory","reason":"x"}`)
	require.Equal(t, http.StatusUnauthorized, code)
	req, _ := http.NewRequest(http.MethodPost, srv2.URL+"/batches/"+child+"/hold", strings.NewReader(`{"by":"mallory","reason":"audit"}`))
	req.Header.Set("X-User", "carla")
	resp, err := srv2.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "carla", summary(t, s.db, child).Hold.By)
}

// TestDecisionsAsPrincipal: through the guard, who decides is the signed-in
// person (a "by" in the body changes nothing), a maker decides only on a
// batch they uploaded, and every decision, refused or not, is in the audit
// log.
func TestDecisionsAsPrincipal(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	mia, carol, _ := people(t, s)
	token := func(a auth.Actor) string {
		tok, _, err := s.CreateToken(ctx, testAdmin, NewToken{User: a.Name, Name: "test"})
		require.NoError(t, err)
		return tok
	}
	miaTok, carolTok := token(mia), token(carol)
	a := releaseBatch(t, s, 3, "not mia's") // published by a component: no uploader
	h := NewHTTPHandler(s.db, WithHTTPLogger(quiet), WithService(s))
	g := httpapi.NewGuard(httpapi.GuardConfig{Directory: s, Logger: quiet})
	srv := httptest.NewServer(httpapi.Routes{Reports: h, Decisions: h, Guard: g}.Handler())
	defer srv.Close()
	as := func(tok, path, body string) (int, []byte) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	code, data := as(miaTok, "/batches/"+a.ID+"/hold", `{"reason":"month end"}`)
	require.Equal(t, http.StatusForbidden, code, string(data))
	require.Contains(t, string(data), "a maker decides only on their own batches")
	require.Nil(t, summary(t, s.db, a.ID).Hold)

	code, data = as(carolTok, "/batches/"+a.ID+"/hold", `{"by":"mallory","reason":"month end"}`)
	require.Equal(t, http.StatusOK, code, string(data))
	require.Equal(t, "carol", summary(t, s.db, a.ID).Hold.By, "the principal decides, not the body")

	entries, err := s.db.AuditEntries(ctx, AuditFilter{Batch: a.ID})
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		if e.Action == auth.ActHold {
			got = append(got, e.User+" "+string(e.Outcome))
		}
	}
	// The guard's route permission lets makers hold; the refusal of a
	// batch not theirs is the handler's, and it is audited too.
	require.Equal(t, []string{"mia refused", "carol ok"}, got)
}
