package ledger

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
)

// TestCommandInput: JSON, JSON that curl -d labels as a form, and a real
// form (a page without JavaScript) are read alike; unknown fields are
// refused.
func TestCommandInput(t *testing.T) {
	s, _ := newService(t)
	h := NewCommandHandler(s, WithHTTPLogger(quiet))
	admin, err := s.AddUser(context.Background(), testAdmin, NewUser{Name: "ada", Roles: auth.Roles{auth.RoleAdmin}})
	require.NoError(t, err)
	p := &auth.Principal{UserID: admin.ID, Name: "ada", Roles: admin.Roles, Via: auth.ViaToken, Remote: "127.0.0.1:1"}
	post := func(ct, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/users", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req = req.WithContext(auth.WithPrincipal(req.Context(), p))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	require.Equal(t, http.StatusCreated, post("application/json", `{"name":"mia","roles":["maker"]}`).Code)
	require.Equal(t, http.StatusCreated, post("application/x-www-form-urlencoded", `{"name":"carl","roles":["checker"]}`).Code)
	w := post("application/x-www-form-urlencoded", url.Values{"name": {"vera"}, "roles": {"viewer,maker"}}.Encode())
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	w = post("application/json", `{"name":"x","roles":["maker"],"admin":true}`)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), `unknown field \"admin\"`)
	w = post("application/json", `{"name":"y","roles":["boss"]}`)
	require.Equal(t, http.StatusBadRequest, w.Code)
	u, err := s.UserByName(context.Background(), "vera")
	require.NoError(t, err)
	require.Equal(t, auth.Roles{auth.RoleMaker, auth.RoleViewer}, u.Roles)
	entries, err := s.db.AuditEntries(context.Background(), AuditFilter{})
	require.NoError(t, err)
	last := entries[len(entries)-1]
	require.Equal(t, auth.ActUserAdd, last.Action)
	require.Equal(t, "ada", last.User)
	require.Equal(t, "127.0.0.1:1", last.Remote)
}
