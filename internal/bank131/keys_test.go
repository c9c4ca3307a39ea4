package bank131

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	require.NoError(t, err)
	return b
}

func TestSignKnownAnswer(t *testing.T) {
	priv, err := LoadPrivateKey(readFile(t, "keys/partner_pkcs1.pem"))
	require.NoError(t, err)
	for _, name := range []string{"empty_object", "create_session"} {
		t.Run(name, func(t *testing.T) {
			body := readFile(t, "sign/"+name+".body")
			want := strings.TrimSpace(string(readFile(t, "sign/"+name+".sig")))
			got, err := Sign(priv, body)
			require.NoError(t, err)
			require.Len(t, got, 344, "2048-bit signature is 344 Base64 characters")
			require.Equal(t, want, got, "signature of %s", body)
		})
	}
}

func TestLoadPrivateKeyForms(t *testing.T) {
	pkcs1, err := LoadPrivateKey(readFile(t, "keys/partner_pkcs1.pem"))
	require.NoError(t, err)
	pkcs8, err := LoadPrivateKey(readFile(t, "keys/partner_pkcs8.pem"))
	require.NoError(t, err)
	require.True(t, pkcs1.Equal(pkcs8), "PKCS#1 and PKCS#8 files hold the same key")

	withComment := append([]byte("SANDBOX ONLY - a comment line before the block\n"), readFile(t, "keys/partner_pkcs1.pem")...)
	k, err := LoadPrivateKey(withComment)
	require.NoError(t, err)
	require.True(t, k.Equal(pkcs1))

	for name, bad := range map[string][]byte{
		"empty":      nil,
		"not pem":    []byte("hello"),
		"public key": readFile(t, "keys/partner_public.pem"),
	} {
		_, err := LoadPrivateKey(bad)
		require.Error(t, err, name)
	}
}

func TestLoadPublicKeyForms(t *testing.T) {
	priv, err := LoadPrivateKey(readFile(t, "keys/partner_pkcs1.pem"))
	require.NoError(t, err)
	for _, f := range []string{"keys/partner_public.pem", "keys/partner_public_pkcs1.pem"} {
		pub, err := LoadPublicKey(readFile(t, f))
		require.NoError(t, err, f)
		require.True(t, pub.Equal(&priv.PublicKey), f)
	}
	_, err = LoadPublicKey(readFile(t, "keys/partner_pkcs1.pem"))
	require.Error(t, err, "a private key is not a public key")
}

func TestSignVerifyRoundTrip(t *testing.T) {
	priv, err := LoadPrivateKey(readFile(t, "keys/partner_pkcs8.pem"))
	require.NoError(t, err)
	other, err := LoadPrivateKey(readFile(t, "keys/other_private.pem"))
	require.NoError(t, err)
	body := []byte(`{"session_id":"ps_1","metadata":{"payrun":"b0123/1","note":"Ольга \/ <&>"}}`)
	sig, err := Sign(priv, body)
	require.NoError(t, err)
	again, err := Sign(priv, body)
	require.NoError(t, err)
	require.Equal(t, sig, again, "PKCS#1 v1.5 is deterministic")

	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-3] = 'X'
	tests := []struct {
		name string
		body []byte
		sig  string
		pub  *Verifier
		ok   bool
	}{
		{"good", body, sig, mustVerifier(t, &priv.PublicKey), true},
		{"rotation: second key", body, sig, mustVerifier(t, &other.PublicKey, &priv.PublicKey), true},
		{"tampered body", tampered, sig, mustVerifier(t, &priv.PublicKey), false},
		{"trailing newline added", append(append([]byte(nil), body...), '\n'), sig, mustVerifier(t, &priv.PublicKey), false},
		{"wrong key", body, sig, mustVerifier(t, &other.PublicKey), false},
		{"empty signature", body, "", mustVerifier(t, &priv.PublicKey), false},
		{"not base64", body, "!!!" + sig[3:], mustVerifier(t, &priv.PublicKey), false},
		{"hex instead of base64", body, strings.Repeat("ab", 32), mustVerifier(t, &priv.PublicKey), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.pub.Verify(tt.body, tt.sig)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrBadSignature)
		})
	}
}

func mustVerifier(t *testing.T, keys ...*rsa.PublicKey) *Verifier {
	t.Helper()
	v, err := NewVerifier(keys...)
	require.NoError(t, err)
	return v
}

func TestNewVerifierPEM(t *testing.T) {
	v, err := NewVerifierPEM(readFile(t, "keys/bank_public.pem"))
	require.NoError(t, err)
	priv, err := LoadPrivateKey(readFile(t, "keys/bank_private.pem"))
	require.NoError(t, err)
	sig, err := Sign(priv, []byte("{}"))
	require.NoError(t, err)
	require.NoError(t, v.Verify([]byte("{}"), sig))
	_, err = NewVerifier()
	require.Error(t, err)
}

// TestVerifierPEMRotation: a key file with the old and the new bank key
// accepts a webhook signed with either; with the old key removed, a
// webhook signed with it is refused.
func TestVerifierPEMRotation(t *testing.T) {
	oldPriv, err := LoadPrivateKey(readFile(t, "keys/bank_private.pem"))
	require.NoError(t, err)
	newPriv, err := LoadPrivateKey(readFile(t, "keys/other_private.pem"))
	require.NoError(t, err)
	body := []byte(`{"type":"payment_finished","session":{"id":"ps_1"}}`)
	oldSig, err := Sign(oldPriv, body)
	require.NoError(t, err)
	newSig, err := Sign(newPriv, body)
	require.NoError(t, err)

	both := append(append([]byte("# the bank's webhook keys: the old one until the rotation is over\n"),
		readFile(t, "keys/bank_public.pem")...), readFile(t, "keys/other_public.pem")...)
	v, err := NewVerifierPEM(both)
	require.NoError(t, err)
	require.Equal(t, 2, v.Keys())
	require.NoError(t, v.Verify(body, oldSig), "signed with the old key")
	require.NoError(t, v.Verify(body, newSig), "signed with the new key")
	require.ErrorIs(t, v.Verify(append(body, ' '), newSig), ErrBadSignature)

	onlyNew, err := NewVerifierPEM(readFile(t, "keys/other_public.pem"))
	require.NoError(t, err)
	require.Equal(t, 1, onlyNew.Keys())
	require.NoError(t, onlyNew.Verify(body, newSig))
	require.ErrorIs(t, onlyNew.Verify(body, oldSig), ErrBadSignature, "the old key was removed")

	// A bad second block names itself; a private key is not a public one.
	_, err = NewVerifierPEM(append(readFile(t, "keys/bank_public.pem"), readFile(t, "keys/partner_pkcs1.pem")...))
	require.ErrorContains(t, err, "PEM block 2: parse public key")
	_, err = NewVerifierPEM([]byte("no keys here"))
	require.ErrorContains(t, err, "no PEM block found")
}
