package cardmask

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedactJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
		changed        int
	}{
		{"no card", `{"type":"payment_finished","session":{"id":"ps_3230","amount":{"amount":10000000000001}}}`, "", 0},
		{"masked by the bank", `{"card":{"number":"424242******4242"}}`, "", 0},
		{"card in free text", `{"error":{"code":"x","description":"card 4111 1111 1111 1111 refused"}}`,
			`{"error":{"code":"x","description":"card 411111******1111 refused"}}`, 1},
		{"two strings", `["4242424242424242",1,"ok","5555555555554444"]`, `["424242******4242",1,"ok","555555******4444"]`, 2},
		{"escaped digits", `{"d":"\u0034111111111111111"}`, `{"d":"411111******1111"}`, 1},
		{"escapes kept as JSON writes them", `{"d":"<b>4111111111111111</b> \"q\"\n"}`, `{"d":"<b>411111******1111</b> \"q\"\n"}`, 1},
		{"a number is money, not a card", `{"amount":4111111111111111}`, "", 0},
		{"a name too", `{"4111111111111111":1}`, `{"411111******1111":1}`, 1},
		{"not JSON: quoted runs still masked", `oops "4111111111111111" {`, `oops "411111******1111" {`, 1},
		{"unterminated: masked as text", `{"d":"4111111111111111`, `{"d":"411111******1111`, 1},
		{"empty", ``, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n := RedactJSON([]byte(tt.in))
			want := tt.want
			if want == "" {
				want = tt.in
			}
			require.Equal(t, want, string(got))
			require.Equal(t, tt.changed, n)
		})
	}
	doc := []byte(`{"a":"no card here, 2026-12-01"}`)
	got, _ := RedactJSON(doc)
	require.Equal(t, &doc[0], &got[0], "unchanged input is returned as it is")
}

// FuzzRedactJSON: the result is valid JSON when the input is, its strings
// hold no card number, and its other values are the input's; input that
// is not JSON holds no card number anywhere once masked.
func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{`{"d":"4111111111111111"}`, `["a",1,"\u0034242424242424242"]`, `{"x":{"y":["5555 5555 5555 4444"]}}`, `"x`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, n := RedactJSON(doc)
		if !json.Valid(doc) {
			// Kept as text: no card number anywhere in it but in
			// payrun's row references (rev8).
			require.Equal(t, redactText(string(out)), string(out), "%q → %q", doc, out)
			return
		}
		if n == 0 {
			require.Equal(t, doc, out)
			return
		}
		require.True(t, json.Valid(out), "%q → %q", doc, out)
		var a, b any
		require.NoError(t, json.Unmarshal(doc, &a))
		require.NoError(t, json.Unmarshal(out, &b))
		requireSameShape(t, a, b)
	})
}

// requireSameShape walks two decoded documents: the same numbers, bools
// and nulls, strings with no card number left in the second.
func requireSameShape(t *testing.T, a, b any) {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		require.True(t, ok)
		require.LessOrEqual(t, len(bm), len(a)) // two names masked alike become one
		for k := range bm {
			require.Equal(t, redactText(k), k, "a name with nothing left to mask")
		}
	case []any:
		bs, ok := b.([]any)
		require.True(t, ok)
		require.Len(t, bs, len(a))
		for i := range a {
			requireSameShape(t, a[i], bs[i])
		}
	case string:
		bs, ok := b.(string)
		require.True(t, ok)
		require.Equal(t, redactText(a), bs)
	default:
		require.Equal(t, a, b)
	}
}
