package queue

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecurityOptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	for _, tc := range []struct {
		name string
		s    Security
		err  string
	}{
		{"none", Security{}, ""},
		{"ca only", Security{CA: file}, ""},
		{"both identities", Security{Creds: file, NKey: file}, "not both"},
		{"cert without key", Security{Cert: file}, "go together"},
		{"missing file", Security{CA: filepath.Join(dir, "nope.pem")}, "--nats-ca"},
		{"not a seed", Security{NKey: file}, "--nats-nkey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.Options()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
	require.Equal(t, "_INBOX.payrun-processor", InboxPrefix("payrun-processor"))
	require.Equal(t, "_INBOX.a_b", InboxPrefix("a.b"), "one subject token")
}
