package ledger

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/payrun/payrun/internal/auth"
)

// TestRev7CardNumberInUserAndTokenNames: a user name or a token name is
// text a person types, kept as it is in users and tokens (and copied into
// batches' uploaded_by, approvals, tokens' created_by) and shown by GET
// /users and GET /tokens. A card number in it must be refused, as in every
// other field a person types, never stored.
func TestRev7CardNumberInUserAndTokenNames(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	for _, name := range []string{"4111111111111111", "4111.1111.1111.1111", "ivan.4242424242424242", "4242-4242-4242-4242"} {
		_, err := s.AddUser(ctx, testAdmin, NewUser{Name: name, Roles: auth.Roles{auth.RoleMaker}})
		require.Error(t, err, "user name %q holds a card number", name)
		require.NotContains(t, err.Error(), "4242424242424242")
		require.NotContains(t, err.Error(), "4111111111111111")
	}
	_, err := s.AddUser(ctx, testAdmin, NewUser{Name: "mia", Roles: auth.Roles{auth.RoleMaker}})
	require.NoError(t, err)
	for _, name := range []string{"erp 4111 1111 1111 1111", "4242424242424242"} {
		_, _, err := s.CreateToken(ctx, testAdmin, NewToken{User: "mia", Name: name})
		require.Error(t, err, "token name %q holds a card number", name)
		require.NotContains(t, err.Error(), "4242424242424242")
		require.NotContains(t, err.Error(), "4111 1111 1111 1111")
	}
	toks, err := s.db.Tokens(ctx, "", true)
	require.NoError(t, err)
	for _, tk := range toks {
		require.NotContains(t, tk.Name, "4111 1111")
		require.NotContains(t, tk.Name, "42424242")
	}
	users, err := s.db.Users(ctx)
	require.NoError(t, err)
	for _, u := range users {
		require.NotContains(t, u.Name, "1111111111")
		require.NotContains(t, u.Name, "42424242")
	}
}
