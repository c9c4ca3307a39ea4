package ledger

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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

// TestRev7ArchiveIsAudited: `ledger archive` is a person's action on the
// ledger's host that takes a batch's rows out of the ledger file (and out
// of the duplicate guard). Like every other host command that changes the
// record (users, tokens, policy), it is in the audit log, in the prune's
// transaction, with who ran it.
func TestRev7ArchiveIsAudited(t *testing.T) {
	s, c, a, _ := archivedPair(t)
	ctx := context.Background()
	c.Add(25 * time.Hour)
	out := filepath.Join(t.TempDir(), "a.archive.db")
	_, err := s.db.Archive(ctx, a.ID, ArchiveOptions{Out: out, MinAge: 24 * time.Hour, By: auth.HostActor("olga")})
	require.NoError(t, err)
	entries, err := s.db.AuditEntries(ctx, AuditFilter{Batch: a.ID})
	require.NoError(t, err)
	var found *auth.Entry
	for i := range entries {
		if entries[i].Action == auth.ActArchive {
			found = &entries[i]
		}
	}
	require.NotNil(t, found, "no archive entry in %+v", entries)
	require.Equal(t, "olga", found.User)
	require.Equal(t, auth.ViaHost, found.Via)
	require.Contains(t, found.Detail, "10 rows")
	_, _, err = s.db.VerifyAudit(ctx)
	require.NoError(t, err, "the chain holds across the archive's entry")
}

// TestRev7RestoreIsAudited: `ledger restore` puts an older copy of the
// record in place (what the lost tail held is taken again from the
// streams, a person's decision of the lost second is not): the audit log
// of the restored file says who restored it, from where and up to when,
// so the end of its chain is explained.
func TestRev7RestoreIsAudited(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	_, err := s.db.RecordRestoreBy(ctx, "file:///backup/ledger", auth.HostActor("olga"))
	require.NoError(t, err)
	entries, err := s.db.AuditEntries(ctx, AuditFilter{})
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	last := entries[len(entries)-1]
	require.Equal(t, auth.ActRestore, last.Action)
	require.Equal(t, "olga", last.User)
	require.Equal(t, auth.ViaHost, last.Via)
	require.Equal(t, "file:///backup/ledger", last.Target)
	require.Contains(t, last.Detail, "last write")
	_, _, err = s.db.VerifyAudit(ctx)
	require.NoError(t, err)
}
