package payout

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPayeeKey(t *testing.T) {
	fp := strings.Repeat("0f", 32)
	iban := func(s string) *Row {
		return &Row{Method: MethodTransfer, Transfer: &Transfer{Type: TransferIBAN, IBAN: s}}
	}
	tests := []struct {
		name string
		a, b *Row
		same bool
	}{
		{"same token", &Row{Method: MethodToken, CardToken: "tok_1"}, &Row{Method: MethodToken, CardToken: "tok_1"}, true},
		{"other token", &Row{Method: MethodToken, CardToken: "tok_1"}, &Row{Method: MethodToken, CardToken: "tok_2"}, false},
		{"IBAN spaces and case", iban("TR33 0006 1005 1978 6457 8413 26"), iban("tr330006100519786457841326"), true},
		{"widget hash case", &Row{Method: MethodEncryptedCard, Encrypted: &EncryptedCard{NumberHash: strings.Repeat("AB", 32)}},
			&Row{Method: MethodEncryptedCard, Encrypted: &EncryptedCard{NumberHash: strings.Repeat("ab", 32)}}, true},
		{"fingerprint", &Row{Method: MethodCard, Card: &Card{Fingerprint: fp}}, &Row{Method: MethodCard, Card: &Card{Fingerprint: strings.ToUpper(fp)}}, true},
		{"a token is not an IBAN", &Row{Method: MethodToken, CardToken: "TR330006100519786457841326"}, iban("TR330006100519786457841326"), false},
		{"recipient token is not a card token", &Row{Method: MethodToken, CardToken: "tok_1"},
			&Row{Method: MethodTransfer, Transfer: &Transfer{Type: TransferCard, RecipientCardToken: "tok_1"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, ok := tt.a.PayeeKey()
			require.True(t, ok)
			kb, ok := tt.b.PayeeKey()
			require.True(t, ok)
			require.Equal(t, tt.same, ka == kb)
			back, err := ParsePayeeKey(ka.String())
			require.NoError(t, err)
			require.Equal(t, ka, back)
			back, err = PayeeKeyFromBytes(ka.Bytes())
			require.NoError(t, err)
			require.Equal(t, ka, back)
			require.NotContains(t, ka.String(), "tok_1", "the key never holds the identifier")
		})
	}
	k, _ := (&Row{Method: MethodCard, Card: &Card{Fingerprint: fp}}).PayeeKey()
	require.Equal(t, "c:"+fp, k.String(), "a 32-byte fingerprint is the key itself")
	for _, r := range []*Row{
		{Method: MethodCard},
		{Method: MethodTransfer, Transfer: &Transfer{Type: TransferCash}},
		{Method: MethodToken},
	} {
		_, ok := r.PayeeKey()
		require.False(t, ok, "%+v names no payee", r)
	}
	for _, s := range []string{"", "x:" + fp, "c:" + fp[:10], "c-" + fp, "c:" + strings.Repeat("zz", 32)} {
		_, err := ParsePayeeKey(s)
		require.ErrorIs(t, err, ErrPayeeKey, s)
	}
}
