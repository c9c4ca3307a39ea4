package cardmask

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRev8RedactJSONMasksTextThatIsNotJSON: a verified webhook body that
// is not valid JSON is kept as evidence (hookrelay publishes it, the
// ledger stores it), so RedactJSON must leave no card number in it:
// neither in a string the body never ends nor in text outside quotes.
// It kept both as they came (a full card number on JetStream and disk).
func TestRev8RedactJSONMasksTextThatIsNotJSON(t *testing.T) {
	for _, in := range []string{
		`{"d":"4111111111111111`, // an unterminated string
		`{"type":"payment_finished","note":"card 4111 1111 1111 1111`, // cut off in free text
		`card 4111111111111111 refused`,                               // plain text
		`{"a":"ok"} 4111111111111111`,                                 // text after a document
		`{"a":"\u0034111111111111111", "b":"5555555555554444`,         // an escaped card, then an unterminated one
	} {
		out, n := RedactJSON([]byte(in))
		_, found := Find(string(out))
		require.False(t, found, "%q → %q: a card number left", in, out)
		require.Positive(t, n, "%q: what it changed is counted", in)
	}
	// Valid JSON is still masked string by string, every other byte kept.
	out, n := RedactJSON([]byte(`{"amount":4111111111111111,"d":"4111111111111111"}`))
	require.Equal(t, `{"amount":4111111111111111,"d":"411111******1111"}`, string(out))
	require.Equal(t, 1, n)
}

// TestRev8RedactJSONKeepsRowReferences: payrun's reference of a row in
// the metadata the bank echoes ("<batch id>/<row>") is kept, whole, even
// where its digits read as a card number across the slash; a card number
// beside it, or inside a batch-id-shaped word, is still masked.
func TestRev8RedactJSONKeepsRowReferences(t *testing.T) {
	const ref = "be81c16bdc85757367707/398"
	_, found := Find(ref)
	require.True(t, found, "read as text, the reference holds a card number")
	for _, tt := range []struct{ in, want string }{
		{`{"metadata":{"payrun":"` + ref + `","reference":"F-1"}}`, ""},
		{`{"m":"{\"payrun\":\"` + ref + `\"}"}`, ""},
		{`{"d":"row ` + ref + ` refused"}`, ""},
		{`{"d":"` + ref + ` card 4111 1111 1111 1111"}`, `{"d":"` + ref + ` card 411111******1111"}`},
		{`{"d":"bab4111111111111111cd/1"}`, `{"d":"bab411111******1111cd/1"}`},
		{`{"d":"x` + ref + `"}`, `{"d":"xbe81c16bdc857573******7398"}`},
		{`not JSON "` + ref + `" 4111111111111111`, `not JSON "` + ref + `" 411111******1111`},
	} {
		out, _ := RedactJSON([]byte(tt.in))
		want := tt.want
		if want == "" {
			want = tt.in
		}
		require.Equal(t, want, string(out), tt.in)
	}
}
